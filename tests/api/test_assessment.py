"""`/assessment` on both backends: figures as JSON, drill-down pages, the XLSX workbook read
back with openpyxl (Chinese headers), the PNG chart; who may read; bilingual errors."""

from __future__ import annotations

import io

import openpyxl

from tests.api.test_registry_api import Api, api, assert_bilingual
from tests.services.conftest import OTHER, OWN, jurisdiction
from tests.services.test_assessment import ABANDON_REASON, ON, Year
from tests.services.test_draws import World

__all__ = ["api", "jurisdiction"]

PNG = b"\x89PNG\r\n\x1a\n"


def year_of(api: Api) -> Year:
    world = World(api.j)
    world.publish()
    return Year(world)


def test_assessment_over_http(api: Api) -> None:
    y = year_of(api)
    params = {"on": ON}
    found = api.get(f"/assessment/2026/{OWN}", who="leader", params=params)
    assert found.status_code == 200, found.text
    body = found.json()
    assert (body["department"], body["on"], body["tasks"]) == (OWN, ON, 11)
    figures = body["figures"]
    assert figures["rectifications"]["share_closed"] == 0.5
    assert figures["abandoned_draws"]["reasons"] == [ABANDON_REASON]
    assert figures["publication"]["share_on_time"] == 0.3333
    every = api.get("/assessment/2026", who="reviewer", params=params).json()
    own = next(d for d in every["departments"] if d["department"] == OWN)
    assert own["figures"] == figures
    # Drill-down, paged.
    page = api.get(
        f"/assessment/2026/{OWN}/coverage", who="supervisor", params={**params, "limit": 7}
    ).json()
    assert (page["total"], len(page["items"]), page["summary"]["covered"]) == (60, 7, 4)
    tasks = api.get(f"/assessment/2026/{OWN}/publication", who="leader", params=params).json()
    assert sorted(r["state"] for r in tasks["items"]) == ["late", "on_time", "overdue", "withheld"]
    # As of an earlier seq: the late publication had not happened.
    earlier = api.get(
        f"/assessment/2026/{OWN}", who="leader", params={**params, "as_of": y.before_late}
    ).json()
    assert earlier["figures"]["publication"]["late"] == 0


def test_workbook_and_chart(api: Api) -> None:
    year_of(api)
    found = api.get("/assessment/2026/export.xlsx", who="reviewer", params={"on": ON})
    assert found.status_code == 200, found.text
    assert found.headers["content-type"].startswith("application/vnd.openxmlformats")
    book = openpyxl.load_workbook(io.BytesIO(found.content), read_only=True)
    names = book.sheetnames
    assert f"{OWN} 汇总" in names and f"{OTHER} 汇总" in names
    assert f"{OWN} 结果按时公示" in names and f"{OWN} 名录库覆盖率" in names
    summary = list(book[f"{OWN} 汇总"].iter_rows(values_only=True))
    assert summary[1] == ("考核指标", "项目", "数值")
    values = {(r[0], r[1]): r[2] if len(r) > 2 else None for r in summary[2:]}  # empty: None
    assert values[("整改闭环", "整改闭环率")] == 0.5
    assert values[("作废的抽取", "作废原因")] == ABANDON_REASON
    assert values[("名录库覆盖率", "名录库对象数（事项范围内）")] == 60
    publication = list(book[f"{OWN} 结果按时公示"].iter_rows(values_only=True))
    assert publication[0][:3] == ("抽取", "检查对象", "检查完成日期")
    assert len(publication) == 1 + 4
    again = api.get("/assessment/2026/export.xlsx", who="reviewer", params={"on": ON})
    assert again.content == found.content  # same ledger, same day: same bytes
    one = api.get(
        "/assessment/2026/export.xlsx", who="leader", params={"on": ON, "department": OWN}
    )
    assert one.status_code == 200 and one.content != found.content
    chart = api.get(f"/assessment/2026/{OWN}/chart.png", who="leader", params={"on": ON})
    assert chart.status_code == 200, chart.text
    assert chart.headers["content-type"] == "image/png"
    assert chart.content.startswith(PNG) and len(chart.content) > 10_000


def test_who_may_read_and_bad_input(api: Api) -> None:
    year_of(api)
    size = api.size()
    assert_bilingual(api.get("/assessment/2026", who=None), 401, "unauthenticated")
    assert_bilingual(api.get("/assessment/2026", who="leader"), 403, "forbidden")
    assert_bilingual(api.get(f"/assessment/2026/{OTHER}", who="leader"), 403, "forbidden")
    assert_bilingual(api.get(f"/assessment/2026/{OWN}", who="operator"), 403, "forbidden")
    assert_bilingual(api.get("/assessment/2026/export.xlsx", who="leader"), 403, "forbidden")
    assert_bilingual(api.get(f"/assessment/2026/{OWN}/chart.png", who="inspector"), 403)
    # Each refusal recorded, or counted with an identical one before it; nothing else.
    assert api.size() + api.j.services.refusals.pending() == size + 5
    assert_bilingual(api.get(f"/assessment/二〇二六/{OWN}"), 422, "request_validation")
    assert_bilingual(api.get(f"/assessment/1999/{OWN}"), 422)
    assert_bilingual(api.get(f"/assessment/2026/{OWN}", params={"on": "2026-02-30"}), 422)
    assert_bilingual(api.get(f"/assessment/2026/{OWN}", params={"cycle_years": 9}), 422)
    assert_bilingual(api.get(f"/assessment/2026/{OWN}/speed"), 422, "validation")
    assert_bilingual(api.get("/assessment/2026/CZ-NOPE"), 404, "not_found")
    assert api.size() + api.j.services.refusals.pending() == size + 5
