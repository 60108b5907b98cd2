"""The public web page (一公开) through FastAPI's TestClient, on both backends: every page, the
published results and nothing else, masked identity numbers, paging, the empty state, escaping.

`Published` builds the data set the browser test (test_pages_browser.py) renders too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from ssj.api import create_app
from ssj.domain.identifiers import resident_id_check_character
from ssj.domain.tasks import CATEGORY_LABELS_ZH, ResultCategory
from ssj.services.draw_records import masked
from tests.services.conftest import (
    OWN,
    Jurisdiction,
    item_row,
    jurisdiction,
    target_row,
    uscc,
)
from tests.services.test_draws import World
from tests.services.test_tasks import ITEM, Tasks

__all__ = ["jurisdiction"]  # the services tests' fixture, shared here

SCRIPT_NAME = "<script>alert('x')</script>常州脚本测试有限公司"
RESIDENT_ITEM = f"{OWN}/TZ-002"


def resident_id(n: int) -> str:
    first17 = f"32040219800101{n:03d}"
    return first17 + resident_id_check_character(first17)


def zh(category: ResultCategory) -> str:
    return CATEGORY_LABELS_ZH[category]


class Published:
    """Two revealed draws and tasks in every state the public page must tell apart:

    - `published`: published with nothing redacted, then closed (its summary and category
      shown; its findings never);
    - `redacted`: published with its category redacted (the category must not appear);
    - `withheld`: withheld until final (nothing shown);
    - `unpublished`: inspected and the target informed, not yet published (nothing shown);
    - `resident`: an individual business registered by a resident identity number, published
      (shown, the number masked);
    and a target whose name is a script (escaped, never run)."""

    def __init__(self, j: Jurisdiction) -> None:
        world = World(j)
        world.publish()
        self.j = j
        self.world = world
        self.t = t = Tasks(world)
        self.draw_id = t.draw_id
        self.label = t.label
        reg = j.registry
        reg.save_target(world.operator, target_row(500, name=SCRIPT_NAME))
        self.secrets: dict[str, str] = {}
        self.summaries: dict[str, str] = {}
        self.categories: dict[str, ResultCategory] = {}
        self.targets: dict[str, str] = {}
        self._refs: dict[str, str] = {}
        cases = {
            "published": ResultCategory.RECTIFIED,
            "redacted": ResultCategory.OBSTRUCTED,
            "withheld": ResultCategory.CASE_FILED,
            "unpublished": ResultCategory.FALSE_PUBLICITY,
        }
        for n, (case, category) in enumerate(cases.items()):
            self._inspect(case, t.ref_of(n), category, ITEM)
            self.targets[case] = t.targets[n]
        self._publish("published", [], close=True)
        self._publish("redacted", ["category"])
        t.tasks.withhold(t.operator, self.ref("withheld"), "样品送检，待检验结论", until_final=True)

        # Individual businesses registered by a resident identity number.
        reg.save_item(world.operator, item_row("TZ-002", target_type="个体工商户"))
        for n in range(3):
            reg.save_target(
                world.operator,
                target_row(
                    900 + n,
                    identifier=resident_id(n),
                    id_kind="resident_id",
                    target_type="个体工商户",
                    name=f"常州某某小吃店{n}",
                ),
            )
        world.publish("2026-09", items=["TZ-002"], fixed_count=2, ratios=None)
        self.resident_draw = world.run("2026-09")
        drawn = world.draws.draw(self.resident_draw)
        assert drawn.outcome is not None
        resident = drawn.outcome["strata"][0]["sample"][0]
        self.targets["resident"] = resident
        self._refs["resident"] = f"{OWN}/2026-09/第1轮/{resident}"
        self._inspect("resident", self._refs["resident"], ResultCategory.NO_PROBLEM, RESIDENT_ITEM)
        self._publish("resident", [])
        self.resident_ids = [resident_id(n) for n in range(3)]

    def ref(self, case: str) -> str:
        return self._refs.get(case) or f"{self.label}/{self.targets[case]}"

    def _inspect(self, case: str, ref: str, category: ResultCategory, item: str) -> None:
        t = self.t
        self.categories[case] = category
        self.secrets[case] = f"检查记录{case}：商业秘密配方编号 SECRET-{case.upper()}"
        self.summaries[case] = f"公示摘要{case}：已检查"
        first, second = t.team(ref)
        t.tasks.notify(t.operator, ref, "2026-03-03", "电话通知")
        t.draft(first, ref, item=item, category=category.value, findings=self.secrets[case])
        t.tasks.sign_result(second, ref, item)
        t.tasks.complete(first, ref, "2026-03-05")
        t.tasks.inform(t.operator, ref, "2026-03-06")
        if case != "unpublished":
            t.tasks.confirm(t.operator, ref)

    def _publish(self, case: str, redacted: list[str], close: bool = False) -> None:
        t = self.t
        ref = self.ref(case)
        t.tasks.publish(
            t.operator,
            ref,
            on="2026-03-10",
            redacted_fields=redacted,
            public_summary=self.summaries[case],
        )
        if close:
            t.tasks.close(t.operator, ref, "2026-03-11")

    def page_of(self, case: str) -> str:
        """The target page's path (the identifier as the public sees it)."""
        state = self.j.services.queries.get("targets", [self.targets[case]])
        assert state is not None
        return f"/gongshi/targets/{masked(state['identifier'], state['id_kind'])}"


def text_of(html: str) -> str:
    """The visible text of a page (tags dropped, entities decoded), to assert on."""
    import html as html_module

    without = re.sub(r"<(style|script)\b.*?</\1>", " ", html, flags=re.S | re.I)
    return html_module.unescape(re.sub(r"<[^>]+>", " ", without))


@pytest.fixture
def pages(jurisdiction: Jurisdiction) -> Iterator[tuple[TestClient, Published]]:
    data = Published(jurisdiction)
    with TestClient(create_app(jurisdiction.services)) as client:
        yield client, data


def get(client: TestClient, url: str, status: int = 200, **params: Any) -> str:
    response = client.get(url, params=params or None)
    assert response.status_code == status, (url, response.text[:500])
    assert response.headers["content-type"].startswith("text/html")
    assert "script-src" not in response.headers["content-security-policy"]
    assert "default-src 'none'" in response.headers["content-security-policy"]
    return response.text


def assert_nothing_secret(data: Published, html: str) -> None:
    """What no public page may ever hold."""
    text = text_of(html)
    for case, secret in data.secrets.items():
        assert secret not in html, case
        assert f"SECRET-{case.upper()}" not in html
    for case in ("withheld", "unpublished"):
        assert data.summaries[case] not in text
        assert zh(data.categories[case]) not in text
    assert zh(data.categories["redacted"]) not in text
    for number in data.resident_ids:
        assert number not in html
    assert "<script>alert" not in html
    assert "样品送检" not in text  # a withholding's reason


def test_target_pages_show_published_results_only(pages: tuple[TestClient, Published]) -> None:
    client, data = pages
    shown = get(client, data.page_of("published"))
    text = text_of(shown)
    assert data.summaries["published"] in text and zh(ResultCategory.RECTIFIED) in text
    assert "2026-03-05" in text and "2026-03-10" in text  # completed, published
    assert f"{data.label}" in text and "2026年特种设备使用单位双随机抽查" in text
    assert "特种设备安全监察科" in text  # the inspecting department by name
    assert_nothing_secret(data, shown)

    redacted = get(client, data.page_of("redacted"))
    assert data.summaries["redacted"] in text_of(redacted) and "已依法隐去" in text_of(redacted)
    assert_nothing_secret(data, redacted)

    for case in ("withheld", "unpublished"):
        page = get(client, data.page_of(case))
        assert "暂无已公示的抽查检查结果" in text_of(page)
        assert_nothing_secret(data, page)

    resident = get(client, data.page_of("resident"))
    assert data.summaries["resident"] in text_of(resident)
    assert "320402********" in text_of(resident)
    assert_nothing_secret(data, resident)

    get(client, "/gongshi/targets/91320402MA0000000X", 404)
    get(client, f"/gongshi/targets/{data.resident_ids[0]}", 404)  # never by the whole number


def test_search_masks_pages_and_escapes(pages: tuple[TestClient, Published]) -> None:
    client, data = pages
    first = get(client, "/gongshi/search", q="机械")
    assert first.count('href="/gongshi/targets/') == 50
    assert "共 60 条" in text_of(first) and "第 1 / 2 页" in text_of(first)
    assert 'rel="next"' in first and 'rel="prev"' not in first
    second = get(client, "/gongshi/search", q="机械", page=2)
    assert second.count('href="/gongshi/targets/') == 10 and 'rel="prev"' in second

    escaped = get(client, "/gongshi/search", q="脚本测试")
    assert "&lt;script&gt;alert(" in escaped and "<script>alert" not in escaped
    assert SCRIPT_NAME in text_of(escaped)
    target_page = get(client, f"/gongshi/targets/{uscc(500)}")
    assert SCRIPT_NAME in text_of(target_page) and "<script>alert" not in target_page

    # A resident's number, whole, finds the business; the page shows and links it masked.
    found = get(client, "/gongshi/search", q=data.resident_ids[0])
    assert "常州某某小吃店0" in found and data.resident_ids[0] not in found.replace(
        f'value="{data.resident_ids[0]}"', ""
    )
    assert "320402********" in found
    # No prefix search on identifiers, and the empty state.
    none = get(client, "/gongshi/search", q=data.resident_ids[0][:15] + "000")
    assert "无结果" in text_of(none)
    assert "无结果" in text_of(get(client, "/gongshi/search", q="不存在的公司"))
    assert "请输入" in text_of(get(client, "/gongshi/search"))
    # Bad input: a clear error, in both languages.
    bad = client.get("/gongshi/search", params={"q": "机械", "page": 0})
    assert bad.status_code == 422 and bad.json()["message_zh"]


def test_home_plans_and_draws(pages: tuple[TestClient, Published]) -> None:
    client, data = pages
    for home in ("/", "/gongshi"):
        text = text_of(get(client, home))
        assert "2026年特种设备使用单位双随机抽查" in text and data.label in text
    listed = get(client, "/gongshi/plans")
    assert text_of(listed).count("2026年特种设备使用单位双随机抽查") == 2  # 2026-01, 2026-09
    plan = get(client, f"/gongshi/plans/{OWN}/2026-01")
    text = text_of(plan)
    assert "TZ-001 特种设备使用单位监督检查" in text and data.label in text
    assert "A 类 10%" in text
    get(client, f"/gongshi/plans/{OWN}/no-such-plan", 404)

    draws = get(client, "/gongshi/draws")
    assert f'/gongshi/draws/{data.draw_id}"' in draws and data.resident_draw in draws
    drawn = get(client, f"/gongshi/draws/{data.draw_id}")
    text = text_of(drawn)
    assert text.count("检查员") >= 2 * 11 and zh(ResultCategory.RECTIFIED) in text
    assert "已依法隐去" in text  # the redacted category
    assert data.summaries["published"] not in text  # summaries are on the target pages
    assert_nothing_secret(data, drawn)
    resident = get(client, f"/gongshi/draws/{data.resident_draw}")
    assert "320402********" in text_of(resident) and "常州某某小吃店" in text_of(resident)
    assert_nothing_secret(data, resident)
    get(client, "/gongshi/draws/not-a-uuid", 404)

    # A draw not yet revealed: its commit facts, no list.
    waiting = data.world.commit()
    assert "无结果" in text_of(get(client, f"/gongshi/draws/{waiting}"))
    # A plan sent back to draft leaves the page with its draws; published results stay, without
    # the plan's (now unapproved) title or links.
    data.world.plans.amend(data.world.operator, OWN, "2026-01", {"team_size": 3}, "增加检查人员")
    get(client, f"/gongshi/plans/{OWN}/2026-01", 404)
    get(client, f"/gongshi/draws/{data.draw_id}", 404)
    still = get(client, data.page_of("published"))
    assert data.summaries["published"] in text_of(still)
    assert f'href="/gongshi/draws/{data.draw_id}"' not in still


def test_empty_ledger_pages(jurisdiction: Jurisdiction) -> None:
    with TestClient(create_app(jurisdiction.services)) as client:
        for url in ("/gongshi", "/gongshi/plans", "/gongshi/draws"):
            assert "无结果" in text_of(get(client, url))
        assert "无结果" in text_of(get(client, "/gongshi/plans", page=3))


def test_public_results_api_follows_the_page_rule(pages: tuple[TestClient, Published]) -> None:
    """The JSON endpoints show what the page shows and never more."""
    client, data = pages
    for case in ("published", "redacted", "withheld", "unpublished", "resident"):
        public_id = data.page_of(case).rsplit("/", 1)[1]
        response = client.get(f"/public/targets/{public_id}/results")
        assert response.status_code == 200, response.text
        body = response.text
        assert_nothing_secret(data, body)
        results = [r for t in response.json()["targets"] for r in t["results"]]
        if case in ("published", "redacted", "resident"):
            assert any(data.summaries[case] in str(r) for r in results)
        else:
            assert results == []
    assert client.get("/public/targets/91320402MA0000000X/results").status_code == 404
    found = client.get("/public/results", params={"q": "常州"}).json()
    assert found["total"] >= 1 and {"public_id", "name"} <= set(found["items"][0])
    for number in data.resident_ids:
        assert number not in client.get("/public/results", params={"q": number}).text
