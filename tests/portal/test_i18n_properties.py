"""Properties of Accept-Language reading: any header gives one of our languages or None, and a
header written by RFC 9110's grammar gives what its weights say (computed here on its own)."""

from __future__ import annotations

from hypothesis import example, given
from hypothesis import strategies as st

from tests.strategies import FAST, any_text
from tongban.portal.i18n import LANGUAGES, _accepted

RANGES = ["zh", "zh-CN", "zh-Hans-CN", "ZH-tw", "en", "en-US", "EN-gb", "fr", "de-DE", "ja", "*"]
qvalues = st.one_of(
    st.just("0"),
    st.builds(lambda d: "0." + d, st.text("0123456789", min_size=0, max_size=3)),
    st.sampled_from(["1", "1.", "1.0", "1.00", "1.000"]),
)
ows = st.sampled_from(["", " ", "\t", "  "])


@st.composite
def headers(draw: st.DrawFn) -> tuple[str, list[tuple[str, float]]]:
    """An Accept-Language header by the grammar, and its (range, weight) pairs."""
    members = draw(st.lists(st.tuples(st.sampled_from(RANGES), st.none() | qvalues), max_size=6))
    parts, pairs = [], []
    for tag, q in members:
        if q is None:
            parts.append(tag)
            pairs.append((tag, 1.0))
        else:
            # The parameter name is case-insensitive (RFC 9110 §12.4.2).
            name = draw(st.sampled_from(["q", "Q"]))
            parts.append(f"{tag}{draw(ows)};{draw(ows)}{name}={q}")
            pairs.append((tag, float(q)))
    return (draw(ows) + ",").join(parts), pairs


def oracle(pairs: list[tuple[str, float]]) -> str | None:
    best: tuple[float, int, str] | None = None
    for index, (tag, weight) in enumerate(pairs):
        primary = tag.split("-")[0].lower()
        if primary in LANGUAGES and weight > 0:
            key = (-weight, index, primary)
            best = key if best is None or key < best else best
    return best[2] if best else None


@FAST
@given(headers())
@example(("en;Q=0, zh;q=0.1", [("en", 0.0), ("zh", 0.1)]))  # `Q=0` was read as weight 1
@example(("zh;Q=0.1, en", [("zh", 0.1), ("en", 1.0)]))
def test_a_grammatical_header_gives_what_its_weights_say(
    drawn: tuple[str, list[tuple[str, float]]],
) -> None:
    header, pairs = drawn
    assert _accepted(header) == oracle(pairs)


@FAST
@given(any_text | st.text(",;=q.0123456789 enzh-*Qx", max_size=40))
@example("en;q=nan")
@example("en;q=1e999")
def test_any_header_gives_one_of_our_languages_or_none(header: str) -> None:
    assert _accepted(header) in (*LANGUAGES, None)
