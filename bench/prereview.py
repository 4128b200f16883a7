"""政务智能办 pre-review: the rules, the document reader and the evaluation set.

Prints:
- rules: the approval elements of each of the eight matters on its sample application,
  next to validating the same form against its data elements (what every submission does
  anyway, the ceiling the rules are compared with);
- documents: reading one specimen of each kind (OCR, joining rows, recognising the kind,
  extracting fields), next to the raw OCR call on the same image, the ceiling;
- the evaluation set (generated under tests/data/prereview/set when missing): verdict
  accuracy, findings precision and recall, seconds per application, the rules that erred.

Run: `python bench/prereview.py [--runs 300] [--skip-eval]`.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.prereview.samples import catalog_rules, elements, samples  # noqa: E402
from tests.prereview.specimens import EXAMPLES, Noise, render  # noqa: E402

from tongban.catalog.elements import validate_form  # noqa: E402
from tongban.prereview import engine, ocr  # noqa: E402
from tongban.prereview.evaluation import evaluate, summary  # noqa: E402

SET = ROOT / "tests" / "data" / "prereview" / "set"


def timed(fn: Callable[[], object], runs: int) -> float:
    """The median in milliseconds."""
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples)


def bench_rules(runs: int) -> None:
    print("rules, p50 per application      rules   pre-review   form validation (ceiling)")
    facts = elements()
    for matter, sample in sorted(samples().items()):
        rules = catalog_rules()[matter]
        fields = {k: v for k, v in facts.items() if k in sample.form}
        ours = timed(partial(engine.run, rules, sample.application()), runs)
        ceiling = timed(partial(validate_form, fields, {}, sample.form), runs)
        print(f"  {matter}                 {len(rules):>5}  {ours:8.3f} ms  {ceiling:8.3f} ms")


def bench_documents(runs: int) -> None:
    print("documents, p50 per page (2 CPU cores)   reading    raw OCR (ceiling)")
    ocr.read_document(render("id_card", EXAMPLES["id_card"]), "image/jpeg")  # load models
    raw_ocr = ocr._ocr()
    for kind, values in EXAMPLES.items():
        data = render(kind, values, Noise(tilt=2, seal=True))
        image = ocr.pages_of(data, "image/jpeg")[0]
        ours = timed(partial(ocr.read_document, data, "image/jpeg"), runs)
        raw = timed(partial(raw_ocr, image), runs)
        print(f"  {kind:<22}               {ours / 1000:6.2f} s   {raw / 1000:6.2f} s")


def bench_evaluation() -> None:
    if not SET.exists():
        generator = ROOT / "tests" / "data" / "prereview" / "generate.py"
        subprocess.run([sys.executable, str(generator), str(SET)], check=True)
    figures = evaluate(SET).as_dict()
    print("evaluation set (tests/data/prereview/set)")
    for line in summary(figures):
        print(f"  {line}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--ocr-runs", type=int, default=3)
    parser.add_argument("--skip-eval", action="store_true")
    args = parser.parse_args()
    bench_rules(args.runs)
    bench_documents(args.ocr_runs)
    if not args.skip_eval:
        bench_evaluation()


if __name__ == "__main__":
    main()
