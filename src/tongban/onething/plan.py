"""设计最优办理路径: from a bundle and the applicant's answers to one plan.

Pure functions over the catalog's facts (no database): which matters apply, one merged form
(each data element asked once), one merged material list (each material counted once), the
task DAG with its parallel stages, the critical path in working days, and the metrics before
and after the bundle. Every number here is computed from the matters; none is written down.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

from tongban.catalog.schemas import BundleIn, BundleMatterIn
from tongban.catalog.service import PlanField, PlanMaterial, PlanMatter

# Who does a step, and whether the bundle does it once for all its matters: the applicant
# fills one form and hands it in once (一表申请), one window accepts and hands out everything
# (一口受理, 统一发证). Each department still decides its own matter, and the systems behind
# them still run per matter, so those steps are kept as they are.
MERGED_ACTORS = ("applicant", "window")

# Enumerating every combination of answers to find the fullest scenario stays cheap up to this.
MAX_SCENARIOS = 4096


class AnswersInvalid(ValueError):
    """Answers missing or not among a question's options: (question, problem) pairs."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{q}: {p}" for q, p in problems))


def check_answers(bundle: BundleIn, answers: Mapping[str, str]) -> dict[str, str]:
    """Every question answered with one of its options; unknown questions are an error too."""
    problems: list[tuple[str, str]] = []
    known = {q.key: {o.value for o in q.options} for q in bundle.questions}
    for key in answers:
        if key not in known:
            problems.append((key, "unknown_question"))
    for key, options in known.items():
        value = answers.get(key)
        if value is None or value == "":
            problems.append((key, "missing"))
        elif value not in options:
            problems.append((key, "not_an_option"))
    if problems:
        raise AnswersInvalid(problems)
    return {k: answers[k] for k in known}


def applies(entry: BundleMatterIn, answers: Mapping[str, str]) -> bool:
    if not entry.when:
        return True
    return any(all(answers.get(k) == v for k, v in cond.items()) for cond in entry.when)


def fullest_answers(bundle: BundleIn) -> dict[str, str]:
    """The answers under which the most matters apply (the first such, in option order): the
    bundle's full scope, which its metrics describe unless told otherwise."""
    keys = [q.key for q in bundle.questions]
    choices = [[o.value for o in q.options] for q in bundle.questions]
    best: dict[str, str] = {k: c[0] for k, c in zip(keys, choices, strict=True)}
    best_count = -1
    for n, combo in enumerate(itertools.product(*choices)):
        if n >= MAX_SCENARIOS:
            break
        answers = dict(zip(keys, combo, strict=True))
        count = sum(applies(m, answers) for m in bundle.matters)
        if count > best_count:
            best, best_count = answers, count
    return best


@dataclass(frozen=True)
class MergedField:
    key: str
    label: str
    label_en: str
    type: str
    options: tuple[str, ...]
    required: bool
    registry: str | None
    prefillable: bool
    used_by: tuple[str, ...]  # matter codes that ask it
    provided_by: str | None  # a matter of the bundle whose result fills it; not asked then


@dataclass(frozen=True)
class MergedMaterial:
    identity: str
    name: str
    required: bool
    source: str  # applicant | department | license
    # license / department: the registry or a department supplies it (免提交); upstream: a
    # matter of this bundle issues it first; upload: the applicant hands it in.
    via: str
    provided_by: str | None
    license_type: str | None
    department_name: str | None
    keys: tuple[tuple[str, str], ...]  # (matter code, that matter's material key)

    @property
    def exempt(self) -> bool:
        return self.via != "upload"


@dataclass(frozen=True)
class Task:
    code: str
    name: str
    department_key: str
    department_name: str
    days: int
    needs: tuple[str, ...]  # the applying matters it waits for
    stage: int  # 0: starts at once; n: after the longest chain of n matters before it
    start: int  # earliest start, in working days from acceptance
    finish: int
    critical: bool


@dataclass(frozen=True)
class Counts:
    steps: int
    days: int
    materials: int
    trips: int
    fields: int

    def as_dict(self) -> dict[str, int]:
        return {
            "steps": self.steps,
            "days": self.days,
            "materials": self.materials,
            "trips": self.trips,
            "fields": self.fields,
        }


@dataclass(frozen=True)
class Plan:
    bundle: BundleIn
    answers: dict[str, str]
    tasks: tuple[Task, ...]  # in an order where every task comes after what it needs
    skipped: tuple[str, ...]  # matters of the bundle that these answers leave out
    fields: tuple[MergedField, ...]
    materials: tuple[MergedMaterial, ...]
    critical_path: tuple[str, ...]
    before: Counts
    after: Counts
    per_matter: tuple[dict[str, object], ...] = field(default=())

    @property
    def days(self) -> int:
        return self.after.days

    def reduction(self) -> dict[str, float | None]:
        return {k: reduction(b, self.after.as_dict()[k]) for k, b in self.before.as_dict().items()}

    def task(self, code: str) -> Task:
        return next(t for t in self.tasks if t.code == code)

    def asked_fields(self) -> list[MergedField]:
        return [f for f in self.fields if f.provided_by is None]

    def uploads(self) -> list[MergedMaterial]:
        return [m for m in self.materials if m.via == "upload"]


def reduction(before: int, after: int) -> float | None:
    """1 - after/before, to four places; nothing to reduce when there was nothing before."""
    return round(1 - after / before, 4) if before else None


class MatterMissing(LookupError):
    pass


def build_plan(
    bundle: BundleIn, answers: Mapping[str, str], facts: Mapping[str, PlanMatter]
) -> Plan:
    """The plan for these (already checked) answers."""
    entries = {e.matter: e for e in bundle.matters}
    for code in entries:
        if code not in facts:
            raise MatterMissing(code)
    chosen = [e for e in bundle.matters if applies(e, answers)]
    codes = {e.matter for e in chosen}
    needs = {e.matter: tuple(n for n in e.needs if n in codes) for e in chosen}
    order = _topological(needs, [e.matter for e in chosen])
    ancestors = _ancestors(needs, order)
    tasks = _schedule(order, needs, facts)
    provides = {e.matter: set(e.provides) for e in chosen}
    fields = _merge_fields(order, facts, provides, ancestors)
    materials = _merge_materials(order, facts, ancestors)
    path = _critical_path(tasks)
    tasks = tuple(replace(t, critical=t.code in path) for t in tasks)
    chosen_facts = [facts[c] for c in order]
    before = Counts(
        steps=sum(len(m.steps) for m in chosen_facts),
        days=sum(m.promised_days for m in chosen_facts),
        materials=sum(len(m.materials) for m in chosen_facts),
        trips=sum(m.trips for m in chosen_facts),
        fields=sum(len(m.fields) for m in chosen_facts),
    )
    after = Counts(
        steps=merged_steps(chosen_facts),
        days=max((t.finish for t in tasks), default=0),
        materials=sum(1 for m in materials if not m.exempt),
        trips=merged_trips(chosen_facts),
        fields=sum(1 for f in fields if f.provided_by is None),
    )
    return Plan(
        bundle=bundle,
        answers=dict(answers),
        tasks=tasks,
        skipped=tuple(e.matter for e in bundle.matters if e.matter not in codes),
        fields=fields,
        materials=materials,
        critical_path=path,
        before=before,
        after=after,
        per_matter=tuple(_breakdown(facts[t.code], t) for t in tasks),
    )


def _topological(needs: Mapping[str, Sequence[str]], listed: list[str]) -> list[str]:
    """Kahn's order, ties kept in the bundle's own order so a plan reads as written."""
    waiting = {c: set(needs[c]) for c in listed}
    order: list[str] = []
    while waiting:
        ready = [c for c in listed if c in waiting and not waiting[c]]
        if not ready:  # the loader refuses cycles; a hand-made bundle could still have one
            raise ValueError(f"the needs form a cycle among {sorted(waiting)}")
        for c in ready:
            order.append(c)
            del waiting[c]
        for rest in waiting.values():
            rest.difference_update(ready)
    return order


def _ancestors(needs: Mapping[str, Sequence[str]], order: list[str]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for c in order:
        found: set[str] = set()
        for up in needs[c]:
            found.add(up)
            found |= out[up]
        out[c] = found
    return out


def _schedule(
    order: list[str], needs: Mapping[str, Sequence[str]], facts: Mapping[str, PlanMatter]
) -> tuple[Task, ...]:
    done: dict[str, Task] = {}
    for c in order:
        m = facts[c]
        ups = [done[u] for u in needs[c]]
        start = max((u.finish for u in ups), default=0)
        stage = max((u.stage + 1 for u in ups), default=0)
        done[c] = Task(
            code=c,
            name=m.name,
            department_key=m.department_key,
            department_name=m.department_name,
            days=m.promised_days,
            needs=tuple(needs[c]),
            stage=stage,
            start=start,
            finish=start + m.promised_days,
            critical=False,
        )
    return tuple(done[c] for c in order)


def _critical_path(tasks: Sequence[Task]) -> tuple[str, ...]:
    """The chain that decides the bundle's time: from the task that finishes last, back
    through the upstream that finishes last (the earlier one, in plan order, on a tie)."""
    if not tasks:
        return ()
    by_code = {t.code: t for t in tasks}
    position = {t.code: i for i, t in enumerate(tasks)}
    last = max(tasks, key=lambda t: (t.finish, -position[t.code]))
    path = [last.code]
    while by_code[path[-1]].needs:
        ups = [by_code[u] for u in by_code[path[-1]].needs]
        path.append(max(ups, key=lambda t: (t.finish, -position[t.code])).code)
    return tuple(reversed(path))


def _merge_fields(
    order: list[str],
    facts: Mapping[str, PlanMatter],
    provides: Mapping[str, set[str]],
    ancestors: Mapping[str, set[str]],
) -> tuple[MergedField, ...]:
    """Each data element once. An element that a matter of the bundle provides is filled from
    its result, not asked — but only when every matter asking it comes after that matter."""
    merged: dict[str, list[tuple[str, PlanField]]] = {}
    for code in order:
        for f in facts[code].fields:
            merged.setdefault(f.key, []).append((code, f))
    out = []
    for key, uses in merged.items():
        askers = [c for c, _ in uses]
        provider = next(
            (
                p
                for p in order
                if key in provides.get(p, set()) and all(p in ancestors[a] for a in askers)
            ),
            None,
        )
        first = uses[0][1]
        out.append(
            MergedField(
                key=key,
                label=first.label,
                label_en=first.label_en,
                type=first.type,
                options=first.options,
                required=any(f.required for _, f in uses),
                registry=first.registry,
                prefillable=any(f.prefillable for _, f in uses),
                used_by=tuple(askers),
                provided_by=provider,
            )
        )
    return tuple(out)


# The catalog's key for a matter's own application form (申请书/申请表).
APPLICATION_FORM = "application"
ONE_FORM = "applicant:application"


def material_identity(m: PlanMaterial) -> str:
    """What makes two matters' materials the same paper: the license type; the department
    and the record it shares; each matter's own application form, which the one merged form
    replaces; for anything else the applicant brings, the same key and the same name."""
    if m.license_type:
        return f"license:{m.license_type}"
    if m.source == "department":
        return f"department:{m.department_key}:{m.key}"
    if m.key == APPLICATION_FORM:
        return ONE_FORM  # 一表申请: every matter's own application form becomes the one form
    return f"applicant:{m.key}:{m.name}"


def _merge_materials(
    order: list[str], facts: Mapping[str, PlanMatter], ancestors: Mapping[str, set[str]]
) -> tuple[MergedMaterial, ...]:
    issued_by = {facts[c].issues_license: c for c in order if facts[c].issues_license}
    merged: dict[str, list[tuple[str, PlanMaterial]]] = {}
    for code in order:
        for m in facts[code].materials:
            merged.setdefault(material_identity(m), []).append((code, m))
    out = []
    for identity, uses in merged.items():
        first = uses[0][1]
        provider = issued_by.get(first.license_type) if first.license_type else None
        # Upstream only if the issuing matter comes before every matter that needs the paper.
        if provider is not None and not all(provider in ancestors[c] for c, _ in uses):
            provider = None
        if provider is not None:
            via = "upstream"
        elif first.exempt:
            via = first.source
        else:
            via = "upload"
        name = first.license_type_name or first.name
        if identity == ONE_FORM and len({c for c, _ in uses}) > 1:
            name = "合并申请表（一表申请，代替各事项的申请书）"
        out.append(
            MergedMaterial(
                identity=identity,
                name=name,
                required=any(m.required for _, m in uses),
                source=first.source,
                via=via,
                provided_by=provider,
                license_type=first.license_type,
                department_name=first.department_name,
                keys=tuple((c, m.key) for c, m in uses),
            )
        )
    return tuple(out)


def merged_steps(matters: Sequence[PlanMatter]) -> int:
    """The applicant's and the window's steps happen once for the bundle: as many as the
    longest single matter has of each; department and system steps stay per matter."""
    total = 0
    for actor in MERGED_ACTORS:
        total += max((sum(1 for _, a in m.steps if a == actor) for m in matters), default=0)
    total += sum(1 for m in matters for _, a in m.steps if a not in MERGED_ACTORS)
    return total


def merged_trips(matters: Sequence[PlanMatter]) -> int:
    """One counter for all matters accepted at the general halls: the most trips any of them
    needs. A matter handled only at a specialized hall keeps its own trips there."""
    general = max((m.trips for m in matters if not m.specialized_halls), default=0)
    special: dict[str, int] = {}
    for m in matters:
        if m.specialized_halls:
            hall = m.specialized_halls[0]
            special[hall] = max(special.get(hall, 0), m.trips)
    return general + sum(special.values())


def _breakdown(m: PlanMatter, t: Task) -> dict[str, object]:
    return {
        "code": m.code,
        "name": m.name,
        "department": m.department_name,
        "steps": len(m.steps),
        "days": m.promised_days,
        "materials": len(m.materials),
        "trips": m.trips,
        "fields": len(m.fields),
        "needs": list(t.needs),
        "start_day": t.start,
        "finish_day": t.finish,
        "critical": t.critical,
    }
