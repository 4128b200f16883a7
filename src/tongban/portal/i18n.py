"""The portal's languages: Chinese first, English by a toggle, a link or the browser.

Every text a page shows is written in Chinese in the templates and the code, marked for
translation (`{% trans %}`, `_()` in templates; `gettext`, `N_` in Python), and looked up in the
English message catalogs (`tongban/locale/en/*.po`, one per feature, read with Babel). The
language is chosen per request (`?lang=`, then the `tb_lang` cookie, then Accept-Language) and
held in a context variable while the page renders, so a label looked up deep in a macro or a
service's words speaks the same language as the page around it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from pathlib import Path
from typing import Any

from babel.messages.pofile import read_po
from fastapi import Request

LANG_COOKIE = "tb_lang"
DEFAULT_LANGUAGE = "zh"
LANGUAGES = ("zh", "en")
HTML_LANG = {"zh": "zh-CN", "en": "en"}
LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"

_language: ContextVar[str] = ContextVar("tongban_language", default=DEFAULT_LANGUAGE)


def N_(message: str) -> str:  # noqa: N802 (the name gettext tools look for)
    """Marks a text for the catalogs where it is written; it is translated where it is shown."""
    return message


@cache
def catalog(language: str) -> dict[str, str | tuple[str, ...]]:
    """Every translated message of a language by its (singular) Chinese id, merged from the
    feature catalogs. Fuzzy or empty entries are left out, so an unfinished translation shows
    the Chinese text."""
    messages: dict[str, str | tuple[str, ...]] = {}
    for path in sorted((LOCALE_DIR / language).glob("*.po")):
        with path.open("rb") as f:
            for message in read_po(f, locale=language):
                if not message.id or message.fuzzy:
                    continue
                key = message.id if isinstance(message.id, str) else str(message.id[0])
                text = message.string
                if isinstance(text, str):
                    if text:
                        messages[key] = text
                elif text and all(text):
                    messages[key] = tuple(str(t) for t in text)
    return messages


def current_language() -> str:
    return _language.get()


@contextmanager
def speaking(language: str) -> Iterator[None]:
    """Render (or word a message) in this language until the block ends."""
    token = _language.set(language if language in LANGUAGES else DEFAULT_LANGUAGE)
    try:
        yield
    finally:
        _language.reset(token)


def gettext(message: str) -> str:
    language = _language.get()
    if language == DEFAULT_LANGUAGE:
        return message
    found = catalog(language).get(message)
    return found if isinstance(found, str) else message


def ngettext(singular: str, plural: str, n: int) -> str:
    language = _language.get()
    if language == DEFAULT_LANGUAGE:
        return singular  # Chinese has one form
    found = catalog(language).get(singular)
    if isinstance(found, tuple):
        return found[0] if n == 1 else found[min(1, len(found) - 1)]
    return singular


def bilingual(pair: tuple[str, str] | list[str]) -> str:
    """A (Chinese, English) pair from the code's tables, in the page's language."""
    return pair[1] if _language.get() == "en" and len(pair) > 1 and pair[1] else pair[0]


def local(item: Any, attr: str = "name") -> str:
    """A catalog record's name in the page's language: its `name_en` in English when it has
    one (every matter, department and field does), else the Chinese name."""
    if item is None:
        return ""
    get = item.get if isinstance(item, Mapping) else lambda a, d=None: getattr(item, a, d)
    chinese = get(attr, "") or ""
    if _language.get() == "en":
        english = get(f"{attr}_en", None)
        if english:
            return str(english)
    return str(chinese)


class Words(Mapping[str, str]):
    """A table of words (states, kinds, channels) whose lookups come back translated, so a
    template's `state_words[c.status]` speaks the page's language without a filter."""

    def __init__(self, words: Mapping[str, str]) -> None:
        self._words = dict(words)

    def __getitem__(self, key: str) -> str:
        return gettext(self._words[key])

    def __iter__(self) -> Iterator[str]:
        return iter(self._words)

    def __len__(self) -> int:
        return len(self._words)


def _accepted(header: str) -> str | None:
    """The first of our languages the browser asks for, by its q weights."""
    ranked: list[tuple[float, int, str]] = []
    for index, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        weight = 1.0
        if params.strip().lower().startswith("q="):  # "Q=0.5" too: the name is case-insensitive
            try:
                weight = float(params.strip()[2:])
            except ValueError:
                continue
        primary = tag.strip().lower().split("-")[0]
        if primary in LANGUAGES and weight > 0:
            ranked.append((-weight, index, primary))
    return min(ranked)[2] if ranked else None


def requested_language(request: Request) -> str:
    """`?lang=` (which the page then remembers), the remembered choice, the browser's."""
    for chosen in (request.query_params.get("lang"), request.cookies.get(LANG_COOKIE)):
        if chosen in LANGUAGES:
            return chosen
    return _accepted(request.headers.get("accept-language", "")) or DEFAULT_LANGUAGE


def error_title(error: Any) -> str:
    """A DomainError's title as the page's reader reads it (every error has both)."""
    if _language.get() == "en" and getattr(error, "title_en", None):
        return str(error.title_en)
    return str(error.title)


def field_message(message: str) -> str:
    """A field error's message in the page's language: the message is a catalog msgid where
    the code that raised it marked it with `N_`; otherwise it stays as written."""
    return gettext(message)
