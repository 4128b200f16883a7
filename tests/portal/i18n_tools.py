"""What the English catalogs must hold: every text marked in the code and the templates, and
no Chinese text left unmarked in a template.

`python -m tests.portal.i18n_tools` prints what is missing, so a translator can fill it in.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from pathlib import Path

from babel.messages.extract import extract_from_dir
from jinja2 import nodes

from tongban.portal.i18n import catalog
from tongban.portal.rendering import PORTAL_DIR, templates

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "src" / "tongban"
CHINESE = re.compile(r"[\u4e00-\u9fff]")
CHINESE_RUN = re.compile(r"[\u4e00-\u9fff]+")
GETTEXT_NAMES = {"_", "gettext", "ngettext", "N_"}
# Shown in Chinese in every language on purpose: the brand's seal character, and the name of
# the Chinese language on the language switch.
ALWAYS_CHINESE = {"通", "中文"}

METHODS = [
    ("**/portal/templates/**.html", "jinja2"),
    ("**.py", "python"),
]
OPTIONS = {
    "**/portal/templates/**.html": {"extensions": "jinja2.ext.i18n", "newstyle_gettext": "true"},
}


def marked_messages() -> dict[str | tuple[str, str], list[str]]:
    """Every message id marked in src/tongban, with where it is marked."""
    found: dict[str | tuple[str, str], list[str]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        SOURCE, METHODS, OPTIONS, strip_comment_tags=True
    ):
        key = message if isinstance(message, str) else (message[0], message[1])
        if isinstance(message, tuple) and len(message) == 1:
            key = message[0]
        found.setdefault(key, []).append(f"{filename}:{lineno}")
    return found


def missing_translations() -> dict[str | tuple[str, str], list[str]]:
    english = catalog("en")
    return {
        key: where
        for key, where in marked_messages().items()
        if _singular(key) not in english and CHINESE.search(_singular(key))
    }


def unused_translations() -> list[str]:
    marked = {_singular(k) for k in marked_messages()}
    return [k for k in catalog("en") if k not in marked]


def _singular(key: str | tuple[str, str]) -> str:
    return key[0] if isinstance(key, tuple) else key


def unmarked_chinese(template: str) -> Iterator[str]:
    """Chinese text in a template outside `{% trans %}` and `_()`: what English readers
    would see untranslated."""
    source = (PORTAL_DIR / "templates" / template).read_text(encoding="utf-8")
    tree = templates.env.parse(source)
    yield from _walk(tree, inside_gettext=False)


def _walk(node: nodes.Node, inside_gettext: bool) -> Iterator[str]:
    if isinstance(node, nodes.TemplateData) and not inside_gettext:
        yield from _chinese_in(node.data)
    if isinstance(node, nodes.Const) and isinstance(node.value, str) and not inside_gettext:
        yield from _chinese_in(node.value)
    is_gettext = (
        isinstance(node, nodes.Call)
        and isinstance(node.node, nodes.Name)
        and node.node.name in GETTEXT_NAMES
    )
    for child in node.iter_child_nodes():
        # The message is the first argument; its parameters (kwargs) are ordinary expressions.
        inside = inside_gettext or (is_gettext and child in node.args)  # type: ignore[attr-defined]
        yield from _walk(child, inside)


def _chinese_in(text: str) -> Iterator[str]:
    for line in text.splitlines():
        runs = CHINESE_RUN.findall(line)
        if runs and not all(run in ALWAYS_CHINESE for run in runs):
            yield line.strip()


def template_names() -> list[str]:
    base = PORTAL_DIR / "templates"
    return sorted(str(p.relative_to(base)) for p in base.rglob("*.html"))


if __name__ == "__main__":
    prefix = sys.argv[1] if len(sys.argv) > 1 else ""
    for name in template_names():
        if name.startswith(prefix):
            for text in unmarked_chinese(name):
                print(f"unmarked  {name}: {text}")
    for key, where in sorted(missing_translations().items(), key=lambda kv: kv[1][0]):
        if any(w.startswith(prefix) or prefix in w for w in where):
            print(f"missing   {where[0]}: {key!r}")
