"""Shared Hypothesis strategies and settings for the property tests (tests/**/test_*_properties.py).

The settings keep no example database: failures worth keeping are written into the tests as
explicit `@example`s, and the working tree stays clean (`.hypothesis/` is not ignored).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any, TypeVar

from hypothesis import HealthCheck, assume, settings
from hypothesis import strategies as st

T = TypeVar("T")
E = TypeVar("E", bound=BaseException)

# Pure parsers: many examples, each cheap.
FAST = settings(max_examples=200, deadline=None, database=None)
# Parsers fed nested structures: each example is large, fewer suffice.
STRUCTURED = settings(parent=FAST, max_examples=100)
# Signature checks and file-system work: fewer still.
SLOW = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

# Text as hostile input has it: any code point, lone surrogates too (JSON's "\ud800" decodes to
# one), with a bias toward the ASCII a parser looks for.
any_text = st.text(st.characters(exclude_categories=()), max_size=40) | st.text(max_size=40)
ascii_text = st.text(st.characters(min_codepoint=0, max_codepoint=127), max_size=40)

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
    | any_text
)


def json_values(max_leaves: int = 8) -> st.SearchStrategy[Any]:
    """What `json.loads` can return: scalars, lists and objects with string keys."""
    return st.recursive(
        json_scalars,
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(any_text, inner, max_size=4),
        max_leaves=max_leaves,
    )


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(value, dict):
        for k, v in value.items():
            found.extend(_paths(v, (*prefix, k)))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            found.extend(_paths(v, (*prefix, i)))
    return found


# Characters that trip text checks: line ends `$` lets through, digits `isdigit()` takes,
# letters whose upper case is ASCII, a lone surrogate, NUL.
tricky_characters = st.sampled_from(
    ["\n", "\r", " ", "\t", "\x00", "\x01", "３", "٣", "¹", "ſ", "ı", "\ud800", "\u2028", "=", "."]
) | st.characters(exclude_categories=())


@st.composite
def mutated(draw: st.DrawFn, document: Any) -> Any:
    """A copy of a JSON document with one member somewhere in it deleted, replaced by any JSON
    value, given a new sibling, or (a string) with one character changed, added or appended."""
    doc = copy.deepcopy(document)
    paths = _paths(doc)[1:]
    if not paths:
        return draw(json_values())
    path = draw(st.sampled_from(paths))
    parent = doc
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    action = draw(st.sampled_from(["delete", "replace", "add", "edit", "insert"]))
    if action == "delete":
        del parent[last]
    elif action == "add" and isinstance(parent, dict):
        parent[draw(any_text)] = draw(json_values(4))
    elif action in ("edit", "insert") and isinstance(parent[last], str) and parent[last]:
        text = parent[last]
        i = draw(st.integers(0, len(text)))
        new = draw(tricky_characters)
        if action == "edit" and i < len(text):
            assume(new != text[i])
            parent[last] = text[:i] + new + text[i + 1 :]
        else:
            parent[last] = text[:i] + new + text[i:]
    else:
        parent[last] = draw(json_values(4))
    return doc


def attempt(error: type[E], call: Callable[[], T]) -> tuple[T, None] | tuple[None, E]:
    """(result, None), or (None, the error) when `call` raises `error`: the two outcomes a
    property allows, with anything else left to fail the test."""
    try:
        return call(), None
    except error as exc:
        return None, exc


def shanghai_trusting(public_key: Any, now: int, since: int, **key: str) -> dict[str, Any]:
    """The trust lists a verifier holds for the property tests: Shanghai's, valid around `now`,
    with this one key active since `since` (`use`, `owner`, `alg` as the test needs)."""
    from tongban.crypto import sm2
    from tongban.crypto.trustlist import TrustedKey, TrustList

    kid = sm2.key_id(public_key)
    keys = {kid: TrustedKey(kid, public_key, "active", since, **key)}  # type: ignore[arg-type]
    return {"310000": TrustList("310000", "上海市", now - 60, now + 3600, "-", keys)}
