"""Portal pages of the catalog, as served HTML (the browser journeys come with the portal work)."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

HTML = {"accept": "text/html"}


def first_code(client: TestClient, q: str) -> str:
    return str(client.get("/api/v1/matters", params={"q": q}).json()["items"][0]["code"])


def test_home_has_search_and_live_figures(client: TestClient) -> None:
    r = client.get("/", headers=HTML)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert '<html lang="zh-CN">' in r.text
    assert 'action="/matters"' in r.text and 'name="q"' in r.text
    stats = client.get("/api/v1/catalog/stats").json()
    assert f"{stats['matters']} 项政务服务" in r.text
    assert f"{round(stats['exemption_rate'] * 100)}%" in r.text


def test_pages_work_without_javascript(client: TestClient) -> None:
    for path in ("/", "/matters?q=生孩子", "/departments", "/halls"):
        text = client.get(path, headers=HTML).text
        assert "<script" not in text
        assert 'rel="stylesheet" href="/static/css/tongban.css"' in text
    assert client.get("/static/css/tongban.css").status_code == 200


def test_search_page_lists_results_with_filters(client: TestClient) -> None:
    r = client.get("/matters", params={"q": "生孩子"}, headers=HTML)
    assert r.status_code == 200
    assert "出生医学证明" in r.text
    assert re.search(r"共 \d+ 项", r.text)
    r = client.get("/matters", params={"q": "完全不存在的服务名称"}, headers=HTML)
    assert "没有找到相关服务" in r.text


def test_guide_page_shows_the_mian_labels_and_why(client: TestClient) -> None:
    code = first_code(client, "出生医学证明")
    guide = client.get(f"/api/v1/matters/{code}").json()
    r = client.get(f"/matters/{code}", headers=HTML)
    assert r.status_code == 200
    exempt = [m for m in guide["materials"] if m["exempt"]]
    assert r.text.count('aria-label="免提交"') == len(exempt)
    for m in exempt:
        assert m["exempt_reason"] in r.text
    assert f"{guide['promised_days']} 个工作日" in r.text
    assert guide["hall_rule"] in r.text


def test_guide_page_narrows_halls_by_district(client: TestClient) -> None:
    code = first_code(client, "出生登记")
    r = client.get(f"/matters/{code}", params={"district": "310101"}, headers=HTML)
    assert "黄浦区" in r.text and "徐汇区徐家汇街道" not in r.text


def test_an_old_version_says_so(client: TestClient) -> None:
    code = first_code(client, "退休")
    r = client.get(f"/matters/{code}", params={"version": 1}, headers=HTML)
    assert r.status_code == 200 and "指南第 1 版" in r.text


def test_unknown_pages_are_friendly_html(client: TestClient) -> None:
    r = client.get("/matters/NOPE", headers=HTML)
    assert r.status_code == 404 and "未找到该事项" in r.text and "12345" in r.text
    r = client.get("/no/such/page", headers=HTML)
    assert r.status_code == 404 and "回到首页" in r.text
    r = client.get("/matters", params={"page": 0}, headers=HTML)
    assert r.status_code == 422 and "请求参数有误" in r.text


def test_department_and_hall_pages(client: TestClient) -> None:
    r = client.get("/departments", headers=HTML)
    assert "市级部门" in r.text
    r = client.get("/departments/sh-gaj", headers=HTML)
    assert "上海市公安局" in r.text and "/matters/" in r.text
    r = client.get("/halls", params={"district": "310115"}, headers=HTML)
    assert "浦东新区" in r.text and "黄浦区南京东路" not in r.text
    hall = client.get("/api/v1/halls", params={"kind": "district_center"}).json()[0]
    r = client.get(f"/halls/{hall['code']}", headers=HTML)
    assert hall["name"] in r.text


def test_elder_mode_is_one_switch_and_remembered(client: TestClient) -> None:
    # The body's classes: the mode, then the language (lang-zh, lang-en).
    r = client.get("/?mode=elder", headers=HTML)
    assert '<body class="elder lang-zh">' in r.text
    assert "tb_mode=elder" in r.headers["set-cookie"]
    r = client.get("/matters", headers=HTML)  # the client keeps the cookie
    assert '<body class="elder lang-zh">' in r.text and "标准版" in r.text
    r = client.get("/?mode=standard", headers=HTML)
    assert '<body class=" lang-zh">' in r.text


def test_pager_links_are_relative_whatever_the_host_says(client: TestClient) -> None:
    r = client.get("/matters", headers={**HTML, "host": "evil.example"})
    assert r.status_code == 200
    assert "evil.example" not in r.text
    assert 'href="?page=2"' in r.text


def test_the_filter_form_with_all_options_works(client: TestClient) -> None:
    params = {"q": "登记", "audience": "", "department": "", "district": ""}
    r = client.get("/matters", params=params, headers=HTML)
    assert r.status_code == 200 and "共 " in r.text


def test_the_stats_page_shows_the_computed_figures(client: TestClient) -> None:
    stats = client.get("/api/v1/catalog/stats").json()
    r = client.get("/catalog/stats", headers=HTML)
    assert r.status_code == 200
    assert f"{stats['department_issued_exempt']} / {stats['department_issued_materials']}" in r.text
    assert f"{stats['exemption_rate'] * 100:.1f}%" in r.text


def test_a_guide_in_english_has_english_names_headings_and_sentences(client: TestClient) -> None:
    code = first_code(client, "出生医学证明")
    guide = client.get(f"/api/v1/matters/{code}").json()
    r = client.get(f"/matters/{code}", params={"lang": "en"}, headers=HTML)
    assert r.status_code == 200 and '<html lang="en">' in r.text
    assert guide["name_en"] in r.text and guide["department"]["name_en"] in r.text
    assert "Application materials" in r.text and "Where to go" in r.text
    assert "published in Chinese" in r.text  # the catalog's own text stays in Chinese
    assert guide["hall_rule"] not in r.text and "community affairs acceptance centre" in r.text
    assert 'aria-label="No need to submit"' in r.text
    for m in guide["materials"]:
        if m["exempt"]:
            assert m["exempt_reason"] not in r.text
    # The Chinese page says nothing of it.
    assert "published in Chinese" not in client.get(f"/matters/{code}?lang=zh", headers=HTML).text
