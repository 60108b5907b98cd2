"""The draw endpoints over DrawService, on both backends, through FastAPI's TestClient: the
ceremony over HTTP, who may do what, and what the public sees (and never sees)."""

from __future__ import annotations

from typing import Any

import pytest

from ssj.domain.access import Refusal
from tests.api.test_registry_api import Api, api, assert_bilingual
from tests.services.conftest import OTHER, OWN, jurisdiction
from tests.services.test_draws import DAY, DICE, WITNESSES, World

__all__ = ["api", "jurisdiction"]  # the registry API tests' fixtures, shared here

PLAN = f"{OWN}/2026-01"


@pytest.fixture
def draws_api(api: Api) -> tuple[Api, World]:
    world = World(api.j)
    world.publish()
    j = api.j
    j.registry.add_user(j.root, "operator-other", "食品科操作员", OTHER, ["operator"])
    api.tokens["other"] = j.registry.issue_token(j.root, "operator-other", "api tests")
    return api, world


def commit(api: Api, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "department": OWN,
        "plan_code": "2026-01",
        "witnesses": WITNESSES,
        "drawn_on": DAY,
    }
    body.update(overrides)
    created = api.post("/draws", body, who="operator")
    assert created.status_code == 201, created.text
    return created.json()


def test_ceremony_over_http(draws_api: tuple[Api, World]) -> None:
    api, world = draws_api
    size = api.size()
    assert_bilingual(
        api.post(
            "/draws",
            {"department": OWN, "plan_code": "2026-01", "witnesses": WITNESSES},
            who="inspector",
        ),
        403,
        "forbidden",
    )
    assert api.size() == size + 1
    assert isinstance(api.j.services.ledger.read(size, 1)[0].event, Refusal.Recorded)  # type: ignore[attr-defined]

    created = commit(api)
    draw = created["draw"]
    draw_id = draw["draw_id"]
    assert (
        draw["status"] == "committed" and draw["seed"] is None and draw["label"] == f"{PLAN}/第1轮"
    )
    assert len(created["awaiting"]) == 2
    nonce_file = world.s.settings.keys_dir / "nonces" / f"{draw_id}.nonce"
    nonce = nonce_file.read_text().strip()
    assert nonce not in str(created)

    # Bad entropy: one bilingual error, nothing written.
    size = api.size()
    bad = assert_bilingual(
        api.post(
            f"/draws/{draw_id}/dice", {"witness": WITNESSES[0], "digits": "12a"}, who="operator"
        ),
        422,
    )
    assert bad["field"] == "digits"
    assert_bilingual(
        api.post(f"/draws/{draw_id}/dice", {"witness": "路人甲", "digits": "123"}, who="operator"),
        422,
    )
    assert_bilingual(api.post(f"/draws/{draw_id}/drand", {"round": 1}, who="operator"), 422)
    assert_bilingual(api.post(f"/draws/{draw_id}/reveal", who="operator"), 409)
    assert api.size() == size
    for witness, digits in DICE.items():
        given = api.post(
            f"/draws/{draw_id}/dice", {"witness": witness, "digits": digits}, who="operator"
        )
        assert given.status_code == 200, given.text
    assert (
        given.json()["awaiting"] == []
        and given.json()["draw"]["dice"][1]["digits"] == DICE[WITNESSES[1]]
    )

    # Another department may neither reveal nor read it.
    size = api.size()
    assert_bilingual(api.post(f"/draws/{draw_id}/reveal", who="other"), 403, "forbidden")
    assert_bilingual(api.get(f"/draws/{draw_id}", who="other"), 403, "forbidden")
    assert api.get("/draws", who="other").json()["total"] == 0
    assert api.size() == size + 2

    revealed = api.post(f"/draws/{draw_id}/reveal", who="operator")
    assert revealed.status_code == 200, revealed.text
    body = revealed.json()
    assert body["draw"]["status"] == "revealed" and body["draw"]["seed"]
    drawn = body["drawn"]
    assert len(drawn) == 11 and all(d["name"] and len(d["inspectors"]) == 2 for d in drawn)
    assert drawn[0]["inspectors"][0]["name"].startswith("检查员")
    assert_bilingual(api.post(f"/draws/{draw_id}/reveal", who="operator"), 409, "conflict")

    listed = api.get("/draws", who="operator", params={"plan": PLAN, "status": "已抽取"}).json()
    assert listed["total"] == 1 and listed["items"][0]["draw_id"] == draw_id
    assert api.get("/draws", who="supervisor").json()["total"] == 1
    tasks = api.get(f"/draws/{draw_id}/tasks", who="operator", params={"limit": 5}).json()
    assert tasks["total"] == 11 and len(tasks["items"]) == 5

    verified = api.get(f"/draws/{draw_id}/verify", who="supervisor")
    assert verified.status_code == 200, verified.text
    proof = verified.json()
    assert proof["ok"] is True and proof["seed"] == body["draw"]["seed"]
    assert proof["entropy"]["nonce"] == nonce and all(c["ok"] for c in proof["checks"])
    replayed = api.get(f"/draws/{draw_id}/verify", who="supervisor", params={"replay": True}).json()
    assert replayed["ok"] is True and replayed["draw"]["checked_against"] == "ledger replay"

    exported = api.get(f"/draws/{draw_id}/export", who="operator").json()
    assert exported["format"] == "ssj-draw-export/1" and exported["seed"] == proof["seed"]
    assert api.get(f"/public/draws/{draw_id}/export", who=None).json() == exported

    assert_bilingual(api.get(f"/draws/{'0' * 8}-0000-0000-0000-{'0' * 12}"), 404, "not_found")
    assert_bilingual(api.get("/draws/not-a-uuid"), 422)


def test_recusal_over_http(draws_api: tuple[Api, World]) -> None:
    api, world = draws_api
    draw_id = world.run()
    outcome = world.draws.draw(draw_id).outcome
    assert outcome is not None
    target, team = next(iter(outcome["teams"].items()))
    leaving, other = team["inspectors"]
    world.j.registry.link_certificate(world.j.root, "inspector-own", leaving)
    recused = api.post(
        f"/draws/{draw_id}/recusals",
        {"target": target, "certificate_no": leaving, "reason": "近亲属"},
        who="inspector",
    )
    assert recused.status_code == 200, recused.text
    replacement = recused.json()["replacement"]
    assert replacement not in team["inspectors"] and recused.json()["draw"]["recusals"] == 1
    filed = api.post(
        f"/draws/{draw_id}/recusal-requests",
        {"target": target, "certificate_no": other, "reason": "曾发生纠纷"},
        who="operator",
    )
    assert filed.status_code == 201, filed.text
    request_id = filed.json()["request_id"]
    pending = api.get(f"/draws/{draw_id}", who="leader").json()
    assert pending["requests"][request_id]["decision"] is None
    decision = f"/draws/{draw_id}/recusal-requests/{request_id}/decision"
    assert_bilingual(api.post(decision, {"approve": True, "reason": "同意"}, who="operator"), 403)
    decided = api.post(decision, {"approve": True, "reason": "理由成立"}, who="leader")
    assert decided.status_code == 200, decided.text
    assert decided.json()["approved"] is True and decided.json()["replacement"] not in (
        leaving,
        other,
    )
    assert_bilingual(api.post(decision, {"approve": False, "reason": "再议"}, who="leader"), 409)
    proof = api.get(f"/draws/{draw_id}/verify", who="supervisor").json()
    assert proof["ok"] is True and len(proof["recusals"]) == 2


def test_public_view(draws_api: tuple[Api, World]) -> None:
    api, world = draws_api
    revealed = world.run()
    committed = world.commit()
    listed = api.get("/public/draws", who=None, params={"plan": PLAN})
    assert listed.status_code == 200, listed.text
    rows = {r["draw_id"]: r for r in listed.json()["items"]}
    assert set(rows) == {revealed, committed}
    # A committed draw: its commit facts only (there is no sample, and nothing secret).
    waiting = rows[committed]
    assert waiting["status"] == "committed" and waiting["strata"] and waiting["witnesses"]
    assert "seed" not in waiting and "dice" not in waiting and "committed_by" not in waiting
    nonce = (api.j.services.settings.keys_dir / "nonces" / f"{committed}.nonce").read_text().strip()
    one = api.get(f"/public/draws/{committed}", who=None)
    assert one.status_code == 200 and one.json()["drawn"] == []
    assert nonce not in listed.text and nonce not in one.text

    shown = api.get(f"/public/draws/{revealed}", who=None).json()
    draw = world.draws.draw(revealed)
    assert shown["draw"]["seed"] == draw.seed and len(shown["draw"]["dice"]) == 2
    assert len(shown["drawn"]) == 11
    first = shown["drawn"][0]
    assert first["name"].startswith("常州第") and first["inspectors"][0].startswith("检查员")
    assert "certificate_no" not in str(shown) and "operator-own" not in str(shown)

    # Abandoned: the reason is public.
    world.draws.abandon(world.leader, committed, "见证人未到场")
    again = api.get(f"/public/draws/{committed}", who=None).json()["draw"]
    assert again["status"] == "abandoned" and again["abandoned_reason"] == "见证人未到场"
    assert_bilingual(api.get(f"/public/draws/{committed}/export", who=None), 409)

    # A plan that goes back to draft: its draws leave the public view with it.
    world.plans.amend(world.operator, OWN, "2026-01", {"team_size": 3}, "增加检查人员")
    assert api.get("/public/draws", who=None, params={"plan": PLAN}).json()["total"] == 0
    assert_bilingual(api.get(f"/public/draws/{revealed}", who=None), 404, "not_found")
    assert_bilingual(api.get(f"/public/draws/{revealed}/export", who=None), 404)
    assert_bilingual(api.get("/public/draws/not-a-uuid", who=None), 404)


def test_public_export_withholds_resident_identity_numbers(draws_api: tuple[Api, World]) -> None:
    """Individual businesses registered by a resident identity number: the public gets the
    drawn list (masked) but not the full population file; auditors get it with a token."""
    api, world = draws_api
    from ssj.domain.identifiers import resident_id_check_character
    from tests.services.conftest import item_row, target_row

    reg = world.j.registry
    reg.save_item(world.operator, item_row("TZ-002", target_type="个体工商户"))
    for n in range(5):
        first17 = f"32040219800101{n:03d}"
        identifier = first17 + resident_id_check_character(first17)
        reg.save_target(
            world.operator,
            target_row(
                900 + n,
                identifier=identifier,
                id_kind="resident_id",
                target_type="个体工商户",
                name=f"常州某某小吃店{n}",
            ),
        )
    world.publish("2026-09", items=["TZ-002"], fixed_count=2, ratios=None)
    draw_id = world.run("2026-09")
    refused = api.get(f"/public/draws/{draw_id}/export", who=None)
    assert_bilingual(refused, 403)
    assert "32040219800101" not in refused.text
    exported = api.get(f"/draws/{draw_id}/export", who="supervisor").json()
    assert len(exported["strata"][0]["ids"]) == 5
