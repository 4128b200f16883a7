"""Properties of upload checks: any bytes are a PDF, JPEG or PNG by their first bytes or a 4xx
DomainError; any client file name becomes a short, printable name without a path."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from tests.strategies import FAST, any_text, attempt
from tongban.cases.files import SIGNATURES, checked_upload, clean_filename, sniff
from tongban.errors import DomainError

MAGICS = [m for magics in SIGNATURES.values() for m in magics]
uploads = st.binary(max_size=40) | st.builds(
    lambda m, rest: m + rest, st.sampled_from(MAGICS), st.binary(max_size=20)
)


@FAST
@given(uploads, st.integers(0, 64))
def test_any_bytes_are_a_known_type_or_a_4xx(data: bytes, max_bytes: int) -> None:
    content_type, refused = attempt(DomainError, lambda: checked_upload(data, max_bytes))
    if refused is not None:
        assert 400 <= refused.status < 500
        assert data == b"" or len(data) > max_bytes or sniff(data) is None
        return
    assert content_type is not None and 0 < len(data) <= max_bytes
    assert any(data.startswith(m) for m in SIGNATURES[content_type])


@FAST
@given(
    st.none() | any_text | st.builds("/".join, st.lists(any_text, max_size=4)),
    st.sampled_from(sorted(SIGNATURES)),
)
def test_any_file_name_becomes_a_plain_short_name(name: str | None, content_type: str) -> None:
    clean = clean_filename(name, content_type)
    assert 0 < len(clean) <= 120
    assert "/" not in clean and "\\" not in clean
    assert all(c.isprintable() and c not in '<>:"|?*' for c in clean)
    if not (name or "").strip():
        assert clean.startswith("material.")
