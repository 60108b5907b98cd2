"""A ledger that already holds a poison value: projections, verification and the API go on.

Today's text policy refuses NUL before anything is written, but a ledger may hold one written by
an older ssj (which checked nothing) or below the API. Such an event stays forever (append-only),
so every read model must hold it escaped, say so, and keep working; the recovery needs no UPDATE
or DELETE on the ledger: a correcting command appends the clean value.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from eventsourcing.persistence import Mapper
from fastapi.testclient import TestClient

from ssj.api import create_app
from ssj.config import Settings
from ssj.domain.conflicts import Declaration
from ssj.domain.fields import FieldError
from ssj.domain.inspectors import Inspector, InspectorRecord
from ssj.domain.organisation import Role
from ssj.domain.targets import Target, TargetRecord
from ssj.ledger.application import Ledger
from ssj.ledger.audit import verify_ledger
from ssj.ledger.envelope import Actor
from tests.api.test_registry_api import Api
from tests.cli.test_registry_cli import ok, run
from tests.services.conftest import OWN, Jurisdiction, inspector_row, jurisdiction, target_row

__all__ = ["jurisdiction"]

POISON = "公司\x00名"
ROOT = Actor("root", "CZ-SJJ", "admin")


@contextmanager
def as_an_old_version(ledger: Ledger) -> Iterator[None]:
    """Write as ssj did before the text policy: eventsourcing's plain mapper checks nothing."""
    checking = ledger.events.mapper
    ledger.events.mapper = Mapper(transcoder=checking.transcoder)
    try:
        yield
    finally:
        ledger.events.mapper = checking


def poison(j: Jurisdiction) -> list[int]:
    """Four poison events of different kinds; their seqs."""
    ledger = j.services.ledger
    target = Target.register(TargetRecord.parse(target_row(1)))
    inspector = Inspector.register(InspectorRecord.parse(inspector_row(1)))
    seqs = []
    with as_an_old_version(ledger):
        ledger.save(target, inspector, actor=ROOT)
        target._updated(changes={"name": POISON, "tags": ["A\x00B"]})
        seqs.append(ledger.size())
        ledger.save(target, actor=ROOT)
        inspector._updated(changes={"name": "检查员\x00甲"})
        seqs.append(ledger.size())
        ledger.save(inspector, actor=ROOT)
        declaration = Declaration(
            certificate_no=inspector.certificate_no,
            target_identifier=target.identifier,
            relation="kinship",
            valid_from="2025-01-01",
            valid_to=None,
            reason="配偶\x00任法定代表人",
        )
        seqs.append(ledger.size())
        ledger.save(declaration, actor=ROOT)
    return seqs


def test_the_policy_refuses_what_an_old_version_wrote(jurisdiction: Jurisdiction) -> None:
    """Today the same event is refused before anything is written, naming the field."""
    ledger = jurisdiction.services.ledger
    target = Target.register(TargetRecord.parse(target_row(2)))
    target._updated(changes={"name": POISON})
    size = ledger.size()
    with pytest.raises(FieldError) as refused:
        ledger.save(target, actor=ROOT)
    assert refused.value.field == "changes.name"
    assert "U+0000" in refused.value.zh and "U+0000" in refused.value.en
    assert ledger.size() == size


def test_read_models_verification_and_api_survive_a_poison_event(
    jurisdiction: Jurisdiction,
) -> None:
    j = jurisdiction
    seqs = poison(j)
    services = j.services
    services.refresh()  # stopped for good at the first poison event before

    assert [seq for seq, _, _ in services.runner.escapes()] == seqs
    assert services.runner.escapes()[0][1:] == ("Target.Updated", "changes.name, changes.tags[0]")
    positions = services.runner.seqs()
    assert set(positions.values()) == {services.ledger.head_seq()}, positions

    identifier = target_row(1)["identifier"]
    state = services.queries.get("targets", [identifier])
    assert state is not None and state["name"] == "公司\\u0000名"
    assert state["tags"] == ["A\\u0000B"]
    trail = services.store.query("SELECT COUNT(*) FROM trail WHERE seq = ?", (seqs[0],))
    assert trail[0][0] >= 1

    report = verify_ledger(services.ledger)
    assert report.ok, report

    with TestClient(create_app(services)) as client:
        api = Api(j, client)
        for url, who in [
            ("/targets", "root"),
            (f"/targets/{identifier}", "root"),
            ("/inspectors", "root"),
            ("/conflicts/declarations", "root"),
            ("/users", "root"),
            (f"/trail/target/{identifier}", "root"),
            ("/gongshi", None),
            ("/gongshi/search?q=公司", None),
            ("/public/results?q=公司", None),
        ]:
            response = api.get(url, who=who)
            assert response.status_code == 200, (url, response.text)
        listed = api.get("/targets?search=公司").json()["items"]
        assert [t["name"] for t in listed] == ["公司\\u0000名"]

        # The recovery path: a correcting command appends the clean value; nothing is edited.
        size = api.size()
        fixed = api.put("/targets", target_row(1, name="公司名", tags=""))
        assert fixed.status_code == 200, fixed.text
        assert api.size() == size + 1
        assert api.get(f"/targets/{identifier}").json()["item"]["name"] == "公司名"

    # A rebuild replays the poison event again, escaped, and ends in the corrected state.
    services.runner.rebuild()
    state = services.queries.get("targets", [identifier])
    assert state is not None and state["name"] == "公司名"
    assert [seq for seq, _, _ in services.runner.escapes()] == seqs
    assert verify_ledger(services.ledger).ok


def test_inspector_reads_own_department_despite_poison(jurisdiction: Jurisdiction) -> None:
    """An ordinary (non-admin) read of the department's registry works too."""
    j = jurisdiction
    poison(j)
    with TestClient(create_app(j.services)) as client:
        api = Api(j, client)
        response = api.get(f"/targets?department={OWN}", who=Role.OPERATOR.value)
        assert response.status_code == 200, response.text
        assert response.json()["total"] == 1


def test_cli_lists_rebuilds_and_verifies_despite_poison(
    jurisdiction: Jurisdiction, settings: Settings
) -> None:
    """The commands that crashed on a poison event: `targets list`, `projections rebuild`."""
    seqs = poison(jurisdiction)
    listed = json.loads(ok(run(settings, "targets", "list", "--format", "json")))
    assert [t["name"] for t in listed] == ["公司\\u0000名"]
    rebuilt = ok(run(settings, "projections", "rebuild"))
    assert "rebuilt" in rebuilt
    assert "重放账本 / replaying the ledger" in rebuilt  # where its time went
    escapes = json.loads(ok(run(settings, "projections", "escapes", "--json")))
    assert [e["seq"] for e in escapes] == seqs
    assert escapes[1]["paths"] == ["changes.name"]
    ok(run(settings, "verify"))
