"""Generate the pre-review evaluation set: 40 applications for each of the eight matters, half
correct and half with one or two real-world defects (a wrong credit code, an address in
another district, a document that says something else than the form, a missing paper, an
expired licence, an under-age legal representative…), each labelled with the verdict and
the rules that must fire. Documents are drawn with the bundled CJK font and the noise of
real uploads (tilt, blur, JPEG loss, a red seal).

Deterministic (fixed seed, bundled font):
    .venv/bin/python tests/data/prereview/generate.py [OUT]   (default: tests/data/prereview/set)

The labels come from the defects' definitions (tests/prereview/samples.py), never from
running the engine.
"""

from __future__ import annotations

import copy
import json
import random
import shutil
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))

from tests.prereview.samples import DEFECTS, ON, Sample, catalog_rules, samples  # noqa: E402
from tests.prereview.specimens import Noise, render  # noqa: E402

SEED = 20261127
PER_MATTER = 40
HERE = Path(__file__).resolve().parent


def touched(base: Sample, rule: str) -> set[str]:
    """What a defect changes: form fields, materials, licences, registries."""
    spoiled = base.but(DEFECTS[rule][0])
    out = {
        f"form.{k}"
        for k in set(base.form) | set(spoiled.form)
        if base.form.get(k) != spoiled.form.get(k)
    }
    out |= {f"material.{m}" for m in base.provided ^ spoiled.provided}
    for m in set(base.readings) | set(spoiled.readings):
        a, b = base.readings.get(m), spoiled.readings.get(m)
        if a is None or b is None or a.fields != b.fields:
            out.add(f"material.{m}")
    for name in ("licenses", "people", "applicant", "enterprise"):
        if getattr(base, name) != getattr(spoiled, name):
            out.add(name)
    return out


INPUTS = ("field", "other", "id_field", "date_field", "gender_field", "at", "after_field")


def inputs(matter: str, rule_id: str) -> set[str]:
    """What a rule reads, in the terms `touched` uses."""
    rule = next(r for r in catalog_rules()[matter] if r.id == rule_id)
    names = {getattr(rule, a) for a in INPUTS if getattr(rule, a, None)}
    names |= set(getattr(rule, "fields", []))
    names |= set(getattr(rule, "reads", {}).values())
    out = {f"form.{n}" for n in names}
    material = getattr(rule, "material", None)
    if material:
        out.add(f"material.{material}")
    return out


def severity(matter: str) -> dict[str, str]:
    return {r.id: r.severity.value for r in catalog_rules()[matter]}


def plan(matter: str, rng: random.Random, per_matter: int = PER_MATTER) -> list[list[str]]:
    """Which defects each application of the matter gets: every other one none; of the rest
    most one (cycling so every rule is met), every third two that touch different things."""
    base = samples()[matter]
    rules = [r.id for r in catalog_rules()[matter]]
    reach = {r: touched(base, r) for r in rules}
    out: list[list[str]] = []
    single = 0
    for i in range(per_matter):
        if i % 2 == 0:
            out.append([])
        elif i % 6 != 5:
            out.append([rules[single % len(rules)]])
            single += 1
        else:
            first = rng.choice(rules)
            # Two defects only where neither touches what the other's rule reads: a wrong ID
            # number hides a birth date that disagrees with it (one mistake, one finding).
            # Nor where a third rule reads what both touch (the mother's and the father's ID
            # spoiled together leave no parent to check registration with).
            readers = [inputs(matter, r) for r in rules]
            others = [
                r
                for r in rules
                if r != first
                and not reach[r] & (reach[first] | inputs(matter, first))
                and not reach[first] & inputs(matter, r)
                and not any(read & reach[r] and read & reach[first] for read in readers)
            ]
            out.append([first, rng.choice(others)] if others else [first])
    return out


def write(folder: Path, sample: Sample, rng: random.Random, label: dict[str, Any]) -> None:
    folder.mkdir(parents=True)
    documents = {}
    for material, reading in sorted(sample.readings.items()):
        values = {k: v.value for k, v in reading.fields.items()}
        image = render(reading.kind, values, Noise.random(rng))
        (folder / f"{material}.jpg").write_bytes(image)
        documents[material] = f"{material}.jpg"
    case = {
        "matter": sample.matter,
        "on": ON.isoformat(),
        "form": sample.form,
        "provided": sorted(sample.provided),
        "documents": documents,
        "applicant": _person(sample.applicant),
        "enterprise": sample.enterprise.__dict__ if sample.enterprise else None,
        "licenses": [
            {
                "type": lic.type_key,
                "status": lic.status,
                "valid_from": lic.valid_from.isoformat() if lic.valid_from else None,
                "valid_until": lic.valid_until.isoformat() if lic.valid_until else None,
            }
            for lic in sample.licenses
        ],
        "people": [_person(p) for p in sample.people.values()],
        "hall_district": sample.hall_district,
    }
    dump = {"ensure_ascii": False, "indent": 1, "sort_keys": True}
    (folder / "case.json").write_text(json.dumps(case, **dump) + "\n", encoding="utf-8")  # type: ignore[arg-type]
    (folder / "expected.json").write_text(json.dumps(label, **dump) + "\n", encoding="utf-8")  # type: ignore[arg-type]


def _person(p: Any) -> dict[str, Any] | None:
    return (
        None
        if p is None
        else {"name": p.name, "id_number": p.id_number, "district_code": p.district_code}
    )


def build(out: Path, per_matter: int = PER_MATTER) -> int:
    rng = random.Random(SEED)
    if out.exists():
        shutil.rmtree(out)
    count = 0
    for matter, base in sorted(samples().items()):
        levels = severity(matter)
        for i, defects in enumerate(plan(matter, rng, per_matter)):
            sample = copy.deepcopy(base)
            fired: set[str] = set()
            for rule in defects:
                spoil, expected = DEFECTS[rule]
                sample = sample.but(spoil)
                fired |= expected or {rule}
            verdict = "needs_correction" if any(levels[r] == "error" for r in fired) else "pass"
            label = {
                "verdict": verdict,
                "findings": [{"rule": r} for r in sorted(fired)],
                "defects": defects,
            }
            write(out / f"{matter}-{i:03d}", sample, rng, label)
            count += 1
    return count


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else HERE / "set"
    print(f"{build(target)} applications in {target}")
