"""The real-name provider interface and the demo provider, which says it is a demo."""

from __future__ import annotations

import pytest

from tongban.identity.realname import DemoRealNameProvider, provider_named


def test_the_demo_provider_checks_form_only_and_says_so() -> None:
    provider = provider_named("demo")
    assert isinstance(provider, DemoRealNameProvider)
    ok = provider.verify("张三", "310115198001010016", None)
    assert ok.verified and ok.demo and ok.provider == "demo" and ok.reference.startswith("demo-")
    bad = provider.verify("张三", "310115198001010017", None)
    assert not bad.verified and bad.reason and bad.demo
    assert not provider.verify(" ", "310115198001010016", None).verified


def test_an_unknown_provider_is_an_error() -> None:
    with pytest.raises(ValueError, match="known: demo"):
        provider_named("bank")
