"""The approval elements of the eight pre-reviewed matters, one by one: a correct application
passes every rule; each defect makes its rule fire, and no other."""

from __future__ import annotations

import pytest

from tests.prereview.samples import DEFECTS, catalog_rules, fired, samples
from tongban.prereview import engine

MATTERS = sorted(samples())


def test_eight_high_frequency_matters_have_approval_elements() -> None:
    assert len(MATTERS) == 8
    assert set(MATTERS) <= set(catalog_rules())


@pytest.mark.parametrize("matter", MATTERS)
def test_a_correct_application_passes(matter: str) -> None:
    sample = samples()[matter]
    findings = engine.run(catalog_rules()[matter], sample.application())
    assert findings == []
    assert engine.verdict(findings) == "pass"


def test_every_rule_has_its_defect() -> None:
    ids = {r.id for m in MATTERS for r in catalog_rules()[m]}
    assert ids == set(DEFECTS)


RULES = [(m, r.id) for m in MATTERS for r in catalog_rules()[m]]


@pytest.mark.parametrize(("matter", "rule"), RULES, ids=[r for _, r in RULES])
def test_each_defect_fires_its_rule_alone(matter: str, rule: str) -> None:
    spoil, expected = DEFECTS[rule]
    assert fired(samples()[matter].but(spoil)) == (expected or {rule})


@pytest.mark.parametrize(("matter", "rule"), RULES, ids=[r for _, r in RULES])
def test_each_finding_says_the_fix_and_the_evidence(matter: str, rule: str) -> None:
    spoil, _ = DEFECTS[rule]
    findings = engine.run(catalog_rules()[matter], samples()[matter].but(spoil).application())
    finding = next(f for f in findings if f.rule == rule)
    spec = next(r for r in catalog_rules()[matter] if r.id == rule)
    assert finding.message == spec.message and finding.severity == spec.severity.value
    assert finding.evidence  # what was compared, or what is missing
    expected = "pass" if all(f.severity == "warning" for f in findings) else "needs_correction"
    assert engine.verdict(findings) == expected
