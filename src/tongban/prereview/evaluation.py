"""Measuring pre-review: a directory of labelled applications run through the very engine and
document reader the worker uses, scored against their labels (docs/prereview.md, "The
evaluation set").

Each application is a folder with `case.json` (the matter, the form, what the registries
say, which materials are there and which files to read), the material files, and
`expected.json` (the verdict and the rules that must fire). The registries' answers are in
the file, so a set runs anywhere without a database.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from tongban.catalog.loader import SHIPPED_CATALOG, read_catalog
from tongban.catalog.rules import ElementFacts
from tongban.catalog.schemas import DocumentRule, RuleIn
from tongban.prereview import engine
from tongban.prereview.address import Divisions
from tongban.prereview.documents import Reading

Reader = Callable[[bytes, str], Reading]
MEDIA_TYPES = {
    ".jpg": "image/jpeg",
    ".jpeg": "image/jpeg",
    ".png": "image/png",
    ".pdf": "application/pdf",
}


@dataclass(frozen=True)
class CatalogContext:
    """What the rules need from the catalog, read from its YAML."""

    rules: dict[str, list[RuleIn]]
    elements: dict[str, ElementFacts]
    divisions: Divisions


def catalog_context(root: Path = SHIPPED_CATALOG) -> CatalogContext:
    source = read_catalog(root)
    return CatalogContext(
        rules={c: list(m.approval_elements) for c, m in source.matters.items()},
        elements={
            k: ElementFacts(k, e.label, e.label_en, e.type.value, tuple(e.options), None)
            for k, e in source.elements.items()
        },
        divisions=Divisions.of(
            ((d.code, d.name) for d in source.districts.values()),
            ((s.name, s.district) for s in source.streets.values()),
        ),
    )


@dataclass
class Registries:
    """The population registry's answers, as the case file gives them."""

    people: dict[str, engine.PersonRecord]

    def person(self, id_number: str) -> engine.PersonRecord | None:
        return self.people.get(id_number)


def _person(data: dict[str, Any] | None) -> engine.PersonRecord | None:
    if not data:
        return None
    return engine.PersonRecord(data["name"], data["id_number"], data.get("district_code"))


def _day(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def application(
    folder: Path, ctx: CatalogContext, reader: Reader
) -> tuple[engine.Application, list[RuleIn]]:
    """The application in `folder`, its documents read with `reader`."""
    case = json.loads((folder / "case.json").read_text(encoding="utf-8"))
    rules = ctx.rules.get(case["matter"], [])
    wanted = {r.material for r in rules if isinstance(r, DocumentRule)}
    readings = {}
    for material, name in case.get("documents", {}).items():
        if material in wanted:
            path = folder / name
            readings[material] = reader(path.read_bytes(), MEDIA_TYPES[path.suffix.lower()])
    enterprise = case.get("enterprise")
    app = engine.Application(
        matter=case["matter"],
        form=case["form"],
        on=date.fromisoformat(case["on"]),
        provided=set(case.get("provided", [])),
        elements=ctx.elements,
        divisions=ctx.divisions,
        facts=Registries(
            {
                p["id_number"]: engine.PersonRecord(
                    p["name"], p["id_number"], p.get("district_code")
                )
                for p in case.get("people", [])
            }
        ),
        applicant=_person(case.get("applicant")),
        enterprise=engine.EnterpriseRecord(
            enterprise["name"],
            enterprise["uscc"],
            enterprise["legal_rep_name"],
            enterprise["district_code"],
        )
        if enterprise
        else None,
        licenses=[
            engine.HeldLicense(
                lic["type"],
                lic["status"],
                _day(lic.get("valid_from")),
                _day(lic.get("valid_until")),
            )
            for lic in case.get("licenses", [])
        ],
        hall_district=case.get("hall_district"),
        department_district=case.get("department_district"),
        readings=readings,
    )
    return app, rules


@dataclass
class RuleScore:
    true_positive: int = 0
    false_positive: int = 0
    false_negative: int = 0

    def as_dict(self) -> dict[str, Any]:
        tp, fp, fn = self.true_positive, self.false_positive, self.false_negative
        return {
            "true_positive": tp,
            "false_positive": fp,
            "false_negative": fn,
            "precision": round(tp / (tp + fp), 4) if tp + fp else None,
            "recall": round(tp / (tp + fn), 4) if tp + fn else None,
        }


@dataclass
class Report:
    applications: int = 0
    correct_verdicts: int = 0
    seconds: float = 0.0
    documents: int = 0
    unread: int = 0  # findings that a document could not be read well enough to compare
    per_rule: dict[str, RuleScore] = field(default_factory=dict)
    per_matter: dict[str, list[int]] = field(default_factory=dict)  # [right, total]
    mistakes: list[dict[str, Any]] = field(default_factory=list)

    def score(self, name: str) -> RuleScore:
        return self.per_rule.setdefault(name, RuleScore())

    def as_dict(self) -> dict[str, Any]:
        tp = sum(s.true_positive for s in self.per_rule.values())
        fp = sum(s.false_positive for s in self.per_rule.values())
        fn = sum(s.false_negative for s in self.per_rule.values())
        n = self.applications
        return {
            "applications": n,
            "accuracy": round(self.correct_verdicts / n, 4) if n else None,
            "findings_precision": round(tp / (tp + fp), 4) if tp + fp else None,
            "findings_recall": round(tp / (tp + fn), 4) if tp + fn else None,
            "seconds_per_application": round(self.seconds / n, 3) if n else None,
            "documents": self.documents,
            "unread_for_staff": self.unread,
            "per_rule": {k: v.as_dict() for k, v in sorted(self.per_rule.items())},
            "per_matter": {
                k: {"applications": t, "accuracy": round(r / t, 4)}
                for k, (r, t) in sorted(self.per_matter.items())
            },
            "mistakes": self.mistakes[:20],
        }


def folders(root: Path) -> list[Path]:
    return sorted(p.parent for p in root.rglob("case.json"))


def evaluate(root: Path, ctx: CatalogContext | None = None, reader: Reader | None = None) -> Report:
    """Every application under `root`: the verdict against the label, and each rule's
    findings against the rules the label says must fire (precision and recall per rule)."""
    if reader is None:
        from tongban.prereview.ocr import read_document

        reader = read_document
    ctx = ctx or catalog_context()
    report = Report()
    for folder in folders(root):
        expected = json.loads((folder / "expected.json").read_text(encoding="utf-8"))
        started = time.perf_counter()
        app, rules = application(folder, ctx, reader)
        findings = engine.run(rules, app)
        report.seconds += time.perf_counter() - started
        report.documents += len(app.readings)
        verdict = engine.verdict(findings)
        # What the machine could not read goes to staff; it is not a finding about the case.
        report.unread += sum(f.unread for f in findings)
        got = {f.rule for f in findings if not f.unread}
        want = {f["rule"] for f in expected["findings"]}
        right = verdict == expected["verdict"]
        report.applications += 1
        report.correct_verdicts += right
        tally = report.per_matter.setdefault(app.matter, [0, 0])
        tally[0] += right
        tally[1] += 1
        for rule in got & want:
            report.score(rule).true_positive += 1
        for rule in got - want:
            report.score(rule).false_positive += 1
        for rule in want - got:
            report.score(rule).false_negative += 1
        if not right or got != want:
            report.mistakes.append(
                {
                    "application": folder.name,
                    "verdict": verdict,
                    "expected": expected["verdict"],
                    "missed": sorted(want - got),
                    "extra": sorted(got - want),
                    "evidence": [f.evidence for f in findings if f.rule in got - want],
                }
            )
    return report


def summary(figures: dict[str, Any]) -> list[str]:
    """The figures as lines to print: the totals, then each rule that erred."""
    lines = [
        f"{figures['applications']} applications, {figures['documents']} documents read by OCR, "
        f"{figures['unread_for_staff']} fields left to staff as unreadable",
        f"verdict accuracy     {figures['accuracy']:.2%}   (the article: above 95%; aim 99%)",
        f"findings precision   {figures['findings_precision']:.2%}",
        f"findings recall      {figures['findings_recall']:.2%}",
        f"seconds/application  {figures['seconds_per_application']}",
    ]
    for rule, score in figures["per_rule"].items():
        if score["false_positive"] or score["false_negative"]:
            lines.append(
                f"  {rule}: {score['true_positive']} right, {score['false_positive']} extra, "
                f"{score['false_negative']} missed"
            )
    return lines
