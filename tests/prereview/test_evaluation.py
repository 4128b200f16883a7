"""The evaluation: a small generated set read by OCR and scored; the arithmetic of accuracy,
precision and recall checked on a label changed on purpose; the command's JSON."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

from typer.testing import CliRunner

from tongban.cli import app
from tongban.prereview.evaluation import evaluate

GENERATOR = Path(__file__).parents[1] / "data" / "prereview" / "generate.py"


def generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("generate", GENERATOR)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_generated_set_is_scored_and_the_command_reports_it(tmp_path: Path) -> None:
    root = tmp_path / "set"
    assert generator().build(root, per_matter=2) == 16  # 8 matters: one correct, one defect
    labels = [json.loads(p.read_text()) for p in sorted(root.glob("*/expected.json"))]
    assert sum(label["verdict"] == "pass" for label in labels) >= 8
    report = evaluate(root).as_dict()
    assert report["applications"] == 16 and report["documents"] > 0
    assert report["accuracy"] == 1.0
    assert report["findings_precision"] == 1.0 and report["findings_recall"] == 1.0
    assert report["seconds_per_application"] > 0

    # A label that asks for a rule the application does not break: one verdict wrong, one
    # finding missed, nothing else changes.
    correct = next(p for p in sorted(root.glob("*/expected.json")) if '"pass"' in p.read_text())
    correct.write_text(
        json.dumps({"verdict": "needs_correction", "findings": [{"rule": "made.up"}]})
    )
    result = CliRunner().invoke(app, ["prereview", "eval", str(root), "--json"])
    assert result.exit_code == 0, result.output
    figures = json.loads(result.output)
    assert figures["accuracy"] == round(15 / 16, 4)
    assert figures["per_rule"]["made.up"]["false_negative"] == 1
    found = sum(s["true_positive"] for s in figures["per_rule"].values())
    assert figures["findings_recall"] == round(found / (found + 1), 4)
    assert figures["findings_precision"] == 1.0
    assert figures["mistakes"][0]["missed"] == ["made.up"]


def test_an_empty_directory_is_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["prereview", "eval", str(tmp_path)])
    assert result.exit_code == 2
