"""English beside Chinese: every marked text translated, no Chinese left unmarked, and the
language chosen by link, cookie and browser."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from tests.portal.i18n_tools import (
    missing_translations,
    template_names,
    unmarked_chinese,
    unused_translations,
)
from tongban.portal.i18n import _accepted, catalog, gettext, ngettext, speaking


@pytest.mark.parametrize("template", template_names())
def test_no_template_shows_chinese_without_a_translation(template: str) -> None:
    assert list(unmarked_chinese(template)) == []


def test_every_marked_text_has_an_english_translation() -> None:
    missing = missing_translations()
    assert not missing, "\n".join(f"{w[0]}: {k!r}" for k, w in list(missing.items())[:40])


def test_the_catalogs_hold_no_translation_of_text_the_code_no_longer_has() -> None:
    assert unused_translations() == []


def test_a_translation_keeps_every_placeholder_of_its_message() -> None:
    import re

    placeholder = re.compile(r"%\(\w+\)s")
    for msgid, text in catalog("en").items():
        for form in text if isinstance(text, tuple) else (text,):
            assert sorted(placeholder.findall(form)) == sorted(placeholder.findall(msgid)), (
                msgid,
                form,
            )


def test_chinese_is_the_default_and_english_is_looked_up() -> None:
    assert gettext("办事") == "办事"
    with speaking("en"):
        assert gettext("办事") == "Services"
        assert gettext("一句没有译文的话") == "一句没有译文的话"
    with speaking("fr"):
        assert gettext("办事") == "办事"


def test_english_plural_forms_follow_the_count() -> None:
    with speaking("en"):
        assert ngettext("%(num)s 件", "%(num)s 件", 1) == "%(num)s case"
        assert ngettext("%(num)s 件", "%(num)s 件", 3) == "%(num)s cases"
    assert ngettext("%(num)s 件", "%(num)s 件", 3) == "%(num)s 件"


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("en-US,en;q=0.9", "en"),
        ("zh-CN,zh;q=0.9,en;q=0.8", "zh"),
        ("fr-FR,en;q=0.5,zh;q=0.4", "en"),
        ("en;q=0.2,zh-TW;q=0.8", "zh"),
        ("de-DE", None),
        ("en;q=0", None),
        ("en;q=abc,zh", "zh"),
        ("", None),
    ],
)
def test_the_browser_language_is_taken_by_its_weights(header: str, language: str | None) -> None:
    assert _accepted(header) == language


@pytest.fixture
def browser(client: TestClient) -> TestClient:
    """A client with no cookies yet, as a browser that has not been here."""
    return TestClient(client.app)


def test_a_page_in_english_by_link_then_by_the_remembered_choice(browser: TestClient) -> None:
    client = browser
    first = client.get("/?lang=en")
    assert first.status_code == 200 and '<html lang="en">' in first.text
    assert ">Services</a>" in first.text and first.headers["content-language"] == "en"
    assert first.cookies.get("tb_lang") == "en"
    again = client.get("/departments")
    assert '<html lang="en">' in again.text and "中文</a>" in again.text
    back = client.get("/?lang=zh")
    assert '<html lang="zh-CN">' in back.text and ">办事</a>" in back.text
    assert '<html lang="zh-CN">' in client.get("/departments").text


def test_the_browser_language_chooses_when_nothing_was_chosen(browser: TestClient) -> None:
    client = browser
    english = client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert '<html lang="en">' in english.text and "tb_lang" not in english.cookies
    chinese = client.get("/", headers={"Accept-Language": "en;q=0.5,zh-CN;q=0.9"})
    assert '<html lang="zh-CN">' in chinese.text


def test_an_error_page_in_english_has_the_errors_english_title(browser: TestClient) -> None:
    page = browser.get("/matters/NO-SUCH-MATTER?lang=en", headers={"Accept": "text/html"})
    assert page.status_code == 404 and '<html lang="en">' in page.text
    assert "No such matter" in page.text and "未找到该事项" not in page.text


def test_no_two_catalogs_translate_one_text_differently() -> None:
    # The catalogs are merged into one table: a text two features share needs one English.
    from babel.messages.pofile import read_po

    from tongban.portal.i18n import LOCALE_DIR

    seen: dict[str, tuple[str, str]] = {}
    clashes = []
    for path in sorted((LOCALE_DIR / "en").glob("*.po")):
        with path.open("rb") as f:
            for message in read_po(f, locale="en"):
                if not message.id or not message.string:
                    continue
                key = message.id if isinstance(message.id, str) else message.id[0]
                text = str(message.string)
                if key in seen and seen[key][1] != text:
                    clashes.append(
                        f"{key!r}: {seen[key][0]} {seen[key][1]!r} / {path.name} {text!r}"
                    )
                seen.setdefault(key, (path.name, text))
    assert clashes == [], "\n".join(clashes)


def test_a_bundles_status_line_is_worded_in_the_pages_language() -> None:
    from types import SimpleNamespace as Row

    from tongban.onething.service import status_line

    bundle = Row(status="in_progress")
    tasks = [
        Row(status="approved", matter_name="出生医学证明"),
        Row(status="waiting", matter_name=""),
    ]
    assert status_line(bundle, tasks, gettext) == status_line(bundle, tasks)  # type: ignore[arg-type]
    with speaking("en"):
        english = status_line(bundle, tasks, gettext)  # type: ignore[arg-type]
    assert "1 of 2 complete" in english and not re.search(r"[\u4e00-\u9fff]", english)


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("满 100% 可办", "满 100% 可办"),
        ("50% off", "50% off"),
        ("a %(x)s b", "a %(x)s b"),
        ("<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"),
    ],
)
def test_a_runtime_text_through_underscore_is_shown_as_written(text: str, shown: str) -> None:
    # A message quoting what someone typed goes through `_()` in the templates: it must neither
    # break the page on a `%` nor be taken as markup.
    from tongban.portal.rendering import templates

    page = templates.env.from_string("{{ _(m) }}|{{ ngettext(m, m, 2) }}")
    for language in ("zh", "en"):
        with speaking(language):
            assert page.render(m=text) == f"{shown}|{shown}"


def test_our_own_texts_still_format_and_translate() -> None:
    from tongban.portal.rendering import templates

    page = templates.env.from_string('{{ _("近 %(n)s 天办件", n=3) }}')
    assert page.render() == "近 3 天办件"
    with speaking("en"):
        assert page.render() == "Cases in the last 3 days"
