"""Properties of the catalog loader: whatever a catalog file holds (any text, any YAML
structure, a good file changed anywhere), reading the folder gives a catalog or CatalogInvalid
whose problems each name a file of the folder and a line inside it — never another exception."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml
from hypothesis import example, given, settings
from hypothesis import strategies as st

from tests.conftest import MINI_CATALOG
from tests.strategies import SLOW, attempt, json_values, mutated
from tongban.catalog.loader import CatalogInvalid, CatalogSource, read_catalog

# Each example reads the whole mini catalog (some 70 ms).
WHOLE_CATALOG = settings(parent=SLOW, max_examples=20)
MINI_FILES = sorted(p.relative_to(MINI_CATALOG).as_posix() for p in MINI_CATALOG.rglob("*.yaml"))
MINI_DATA = {
    name: yaml.safe_load((MINI_CATALOG / name).read_text(encoding="utf-8")) for name in MINI_FILES
}
# What YAML counts as a line break (a bare CR, NEL and the Unicode separators too).
BREAKS = ("\n", "\r", "\x85", "\u2028", "\u2029")


@contextmanager
def catalog_with(files: dict[str, str | bytes], base: Path | None = None) -> Iterator[Path]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "catalog"
        if base is not None:
            shutil.copytree(base, root)
        root.mkdir(exist_ok=True)
        for name, content in files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8", errors="surrogatepass")
        yield root


def read_or_problems(root: Path) -> CatalogSource | None:
    """The catalog, or None after checking that every problem points into the folder."""
    catalog, invalid = attempt(CatalogInvalid, lambda: read_catalog(root))
    if invalid is not None:
        assert invalid.problems
        for problem in invalid.problems:
            assert problem.message
            if problem.file == str(root):  # about the folder as a whole
                assert problem.line == 1
                continue
            path = root / problem.file
            assert path.is_file(), problem
            text = path.read_bytes().decode("utf-8", "replace")
            assert 1 <= problem.line <= sum(text.count(b) for b in BREAKS) + 1, problem
    return catalog


yaml_texts = (
    st.text(max_size=200)
    | st.text(st.characters(exclude_categories=()), max_size=60)
    | st.lists(
        st.sampled_from(
            [
                "matters:",
                "departments:",
                "  - ",
                "key: a",
                "{",
                "}",
                "[",
                "]",
                "&a",
                "*a",
                "!!int",
                "? ",
                ": ",
                "2024-02-30",
                "---",
                "\t",
                "'",
                '"',
                "- x",
                "#",
                "\x01",
                "include: [.]",
            ]
        ),
        max_size=12,
    ).map(" ".join)
)


@SLOW
@given(yaml_texts)
# A date YAML reads but the calendar lacks: PyYAML raises a bare ValueError.
@example("matters: 2024-02-30")
@example("matters: [!!int abc]")
@example("!!int")  # and other errors for other tags: IndexError here, found by Hypothesis
@example("matters: [!!bool abc, !!timestamp x]")
# A control character: ReaderError, a YAMLError without a mark.
@example("matters: \x01")
# An alias inside its own anchor: the duplicate-key walk recursed forever.
@example("matters: &a [*a]")
@example("departments: &a {x: *a}")
# Nesting deeper than Python's recursion limit.
@example("matters: " + "[" * 1000 + "]" * 1000)
def test_any_text_in_a_file_is_a_catalog_or_its_problems(text: str) -> None:
    with catalog_with({"f.yaml": text}) as root:
        read_or_problems(root)


@SLOW
@given(st.binary(max_size=80))
def test_any_bytes_in_a_file_are_a_catalog_or_its_problems(data: bytes) -> None:
    with catalog_with({"f.yaml": data}) as root:
        read_or_problems(root)


@SLOW
@given(
    json_values()
    | st.dictionaries(
        st.sampled_from(["matters", "departments", "halls", "data_elements", "include"]),
        json_values(6),
    )
)
def test_any_yaml_structure_is_a_catalog_or_its_problems(data: Any) -> None:
    text = yaml.safe_dump(data, allow_unicode=True)
    with catalog_with({"f.yaml": text}) as root:
        read_or_problems(root)


@st.composite
def changed_mini_catalog(draw: st.DrawFn) -> tuple[str, str]:
    name = draw(st.sampled_from(MINI_FILES))
    return name, yaml.safe_dump(draw(mutated(MINI_DATA[name])), allow_unicode=True)


def test_the_mini_catalog_reads() -> None:
    assert read_or_problems(MINI_CATALOG) is not None


@WHOLE_CATALOG
@given(changed_mini_catalog())
def test_a_good_catalog_changed_anywhere_is_a_catalog_or_its_problems(
    change: tuple[str, str],
) -> None:
    name, text = change
    with catalog_with({name: text}, base=MINI_CATALOG) as root:
        read_or_problems(root)


@WHOLE_CATALOG
@given(st.sampled_from(MINI_FILES), st.data())
def test_a_good_file_cut_or_spliced_is_a_catalog_or_its_problems(
    name: str, data: st.DataObject
) -> None:
    text = (MINI_CATALOG / name).read_text(encoding="utf-8")
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, min(len(text), start + 40)))
    insert = data.draw(st.text(max_size=10) | st.sampled_from(["\n", "  ", "- ", ": ", "\t"]))
    with catalog_with({name: text[:start] + insert + text[end:]}, base=MINI_CATALOG) as root:
        read_or_problems(root)
