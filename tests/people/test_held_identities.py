"""Identities held for a later write (a log ingest writes its learners' once, at the end of the
file) count as recorded until then, and link exactly as written ones do."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from lti_tool.extensions import db
from lti_tool.models import PersonIdentity
from lti_tool.people import linking
from lti_tool.people.linking import Claim, HeldIdentities, link_people
from lti_tool.tracking_logs import parse
from lti_tool.tracking_logs.ingest import ingest_tracking_logs
from tests.helpers.tracking_logs import event, write


def _stored() -> set[tuple[int, str, str]]:
    return {(i.person_id, i.kind, i.value) for i in db.session.scalars(select(PersonIdentity))}


def _claim(user: int, username: str) -> Claim:
    return Claim([("openedx_user_id", str(user)), ("openedx_username", username)])


def test_held_identities_link_later_batches_before_they_are_written(app: Flask) -> None:
    with app.app_context():
        held = HeldIdentities(None)
        [bob] = link_people(db.session, None, [_claim(7, "bob")], held).person_ids
        assert _stored() == set()
        # The username rule: a new id with bob's username is bob, found among the held ones.
        [again] = link_people(db.session, None, [_claim(9, "bob")], held).person_ids
        assert again == bob and _stored() == set()
        assert held.write(db.session) == 3
        assert _stored() == {
            (bob, "openedx_user_id", "7"),
            (bob, "openedx_username", "bob"),
            (bob, "openedx_user_id", "9"),
        }
        assert held.owners == {} and held.write(db.session) == 0


def _two_batches(held: HeldIdentities | None) -> tuple[list[int], set[tuple[int, str, str]]]:
    """A stored learner, then a new one with a username, then the first's id with that
    username: two stored people meet in one claim."""
    [ann] = link_people(db.session, None, [Claim([("openedx_user_id", "1")])]).person_ids
    first = link_people(db.session, None, [_claim(2, "ann")], held).person_ids
    second = link_people(db.session, None, [_claim(1, "ann")], held).person_ids
    if held is not None:
        held.write(db.session)
    return [ann, *first, *second], _stored()


def test_two_stored_people_in_one_claim_see_the_held_identities(app: Flask, tmp_path: Path) -> None:
    # Whether they are two accounts (each holds a user id) is read from the table: the held
    # identities are written first, so the outcome is the unheld one's.
    with app.app_context():
        unheld = _two_batches(None)
    other = make_fresh_app(tmp_path)
    with other.app_context():
        assert _two_batches(HeldIdentities(None)) == unheld
        db.session.remove()
        db.engine.dispose()
    ann, new, linked = unheld[0]
    assert new != ann and linked == ann  # two accounts: the later identity stays put


def make_fresh_app(tmp_path: Path) -> Flask:
    """A second application with a schema of its own (the same person ids from the start)."""
    from tests.helpers.database import make_app

    folder = tmp_path / "second"
    folder.mkdir()
    return make_app(folder)


def test_a_log_ingest_writes_its_learners_identities_once(
    app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Chunks of a few lines: each brings new learners, linked chunk by chunk.
    monkeypatch.setattr(parse, "CHUNK_BYTES", 600)
    lines = [event(f"2026-03-02 09:{n:02d}:00", user=n, username=f"peer{n}") for n in range(1, 30)]
    lines.append(event("2026-03-02 10:00:00", user=40, username="peer3"))  # peer3's new id
    log = write(tmp_path / "tracking.log", lines)
    writes: list[int] = []
    insert = linking._insert_identities

    def counted(session: Any, platform_id: int | None, rows: Any) -> None:
        writes.append(len(rows))
        insert(session, platform_id, rows)

    monkeypatch.setattr(linking, "_insert_identities", counted)
    with app.app_context():
        ingest_tracking_logs(db.session, [log], None, workers=0)
        stored = _stored()
    assert writes == [59]  # 29 learners' id and username, and peer3's second id
    owners = {value: person for person, _kind, value in stored}
    assert owners["40"] == owners["peer3"] == owners["3"]
    assert len(set(owners.values())) == 29
