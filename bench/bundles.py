"""一件事 planning: time to plan each shipped bundle, and a generated 50-matter bundle.

Loads the shipped catalog into a fresh SQLite file, then prints, per bundle:
- plan: the whole request path in-process (read the bundle and its matters' facts, build the
  plan: applying matters, merged form and materials, DAG, critical path, metrics);
- read only: reading the matters' facts alone, the floor the plan cannot go below;
- compute only: building the plan from facts already in memory.
Then each 一业一证 industry's checklist (the same planner over its permits, plus the
industry's own read), and a generated bundle of 50 of the catalog's real matters, each
needing up to 3 earlier ones, with 6 questions (64 scenarios for the fullest-scenario
search), the same three ways.

Run: `python bench/bundles.py [--runs 200]`.
"""

from __future__ import annotations

import argparse
import random
import tempfile
from pathlib import Path

from sqlalchemy import select

from support.timing import timed
from tongban.catalog.loader import read_catalog
from tongban.catalog.models import Matter
from tongban.catalog.schemas import BundleIn
from tongban.catalog.service import apply_catalog, plan_matters
from tongban.db import make_engine, make_sessionmaker, transaction
from tongban.industry import service as industry
from tongban.migrate import upgrade
from tongban.onething import service as onething
from tongban.onething.plan import build_plan, fullest_answers
from tongban.settings import sqlite_url


def generated(codes: list[str], seed: int = 7) -> BundleIn:
    """50 real matters, each needing up to 3 of those before it, some behind a question."""
    rng = random.Random(seed)
    questions = [{"key": f"q{i}", "text": f"问题{i}", "text_en": f"Q{i}"} for i in range(6)]
    matters = []
    for i, code in enumerate(codes):
        needs = rng.sample(codes[:i], k=min(i, rng.randint(0, 3)))
        entry: dict[str, object] = {"matter": code, "needs": needs}
        if i % 5 == 4:
            entry["when"] = [{f"q{i % 6}": "yes"}]
        matters.append(entry)
    # A need is kept only where its upstream is always there (when the upstream has a
    # condition, its dependents would be left waiting on a matter that does not apply).
    conditional = {m["matter"] for m in matters if "when" in m}
    for m in matters:
        m["needs"] = [n for n in m["needs"] if n not in conditional]  # type: ignore[union-attr]
    return BundleIn.model_validate(
        {
            "code": "generated-50",
            "name": "生成的五十项一件事",
            "name_en": "Generated 50-matter bundle",
            "audience": "person",
            "lead_department": "sh-gaj",
            "description": "bench",
            "questions": questions,
            "matters": matters,
        }
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        engine = make_engine(sqlite_url(Path(folder) / "b.db"))
        upgrade(engine)
        factory = make_sessionmaker(engine)
        with transaction(factory) as session:
            apply_catalog(session, read_catalog())
        print(
            f"{'bundle':<22}{'matters':>8}{'plan p50/p95 ms':>20}"
            f"{'read only':>16}{'compute only':>16}"
        )
        with factory() as session:
            for row in onething.bundles(session):
                b = row.entry
                codes = [m.matter for m in b.matters]
                facts = plan_matters(session, codes)
                answers = fullest_answers(b)
                whole = timed(lambda b=b: onething.plan_for(session, b.code), args.runs)
                read = timed(lambda codes=codes: plan_matters(session, codes), args.runs)
                compute = timed(lambda b=b, a=answers, f=facts: build_plan(b, a, f), args.runs)
                n = len(build_plan(b, answers, facts).tasks)
                print(
                    f"{b.code:<22}{n:>8}{whole[0]:>11.2f} /{whole[1]:>6.2f}"
                    f"{read[0]:>9.2f} /{read[1]:>5.2f}{compute[0]:>9.3f} /{compute[1]:>5.3f}"
                )
            first_50 = list(session.scalars(select(Matter.code).order_by(Matter.code).limit(50)))
            big = generated(first_50)
            codes = [m.matter for m in big.matters]
            facts = plan_matters(session, codes)

            def plan_big() -> object:
                f = plan_matters(session, codes)
                return build_plan(big, fullest_answers(big), f)

            answers = fullest_answers(big)
            whole = timed(plan_big, max(20, args.runs // 4))
            read = timed(lambda: plan_matters(session, codes), max(20, args.runs // 4))
            compute = timed(lambda: build_plan(big, answers, facts), args.runs)
            search = timed(lambda: fullest_answers(big), args.runs)
            p = build_plan(big, answers, facts)
            print(
                f"{'generated-50':<22}{len(p.tasks):>8}{whole[0]:>11.2f} /{whole[1]:>6.2f}"
                f"{read[0]:>9.2f} /{read[1]:>5.2f}{compute[0]:>9.3f} /{compute[1]:>5.3f}"
            )
            print(f"{'industry (一业一证)':<22}{'permits':>8}{'checklist p50/p95':>20}")
            for ind in industry.industries(session):
                code = ind.entry.code
                took = timed(lambda code=code: industry.checklist(session, code, None), args.runs)
                n = len(industry.checklist(session, code, None).plan.tasks)
                print(f"{code:<22}{n:>8}{took[0]:>11.2f} /{took[1]:>6.2f}")
            print(
                f"generated-50: {len(p.fields)} merged fields, {len(p.materials)} merged "
                f"materials, DAG depth {max(t.stage for t in p.tasks) + 1}, critical path "
                f"{p.days} working days; fullest-scenario search over 64 answers "
                f"{search[0]:.2f} ms p50"
            )
        engine.dispose()


if __name__ == "__main__":
    main()
