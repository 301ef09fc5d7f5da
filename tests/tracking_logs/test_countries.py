"""Where learners are, captured at ingest: the country of the last event's address, never the
address (lti_tool.activity.countries, the tracking-log chunks and the event sink)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskCliRunner
from sqlalchemy import delete, select

from lti_tool.activity import countries
from lti_tool.extensions import db
from lti_tool.models import Course, IngestFile, LearnerCountry, PersonIdentity
from lti_tool.people.merge import merge_people
from lti_tool.tracking_logs import ingest as log_ingest
from lti_tool.tracking_logs.ingest import ingest_tracking_logs
from tests.helpers.tracking_logs import COURSE, at, event, ingest, with_ip, write

OTHER = "course-v1:edX+Other+2026"

# Public addresses whose registry country is well known (the registries' own servers, a public
# resolver, universities): the country is what iptocc's table says, checked here through our
# code. 49.231.128.0 is the Thai address of Insights' own acceptance test.
KNOWN = {
    "8.8.8.8": "US",
    "1.0.16.1": "JP",
    "49.231.128.0": "TH",
    "193.0.6.139": "NL",
    "200.7.6.134": "CL",
    "131.111.150.25": "GB",
    "129.132.19.216": "CH",
    "2001:67c:2e8:22::c100:68b": "NL",
    "2001:4860:4860::8888": "US",
    "2001:dc3::35": "JP",
}


@pytest.mark.parametrize(("address", "code"), sorted(KNOWN.items()))
def test_known_public_addresses_map_to_their_countries(address: str, code: str) -> None:
    assert countries.countries_of([address]) == {address: code}


def test_addresses_of_no_country_and_text_that_is_no_address_have_no_country() -> None:
    found = countries.countries_of(
        ["10.0.2.2", "127.0.0.1", "::1", "192.168.1.20", "not an address", "8.8.8.8:443", ""]
    )
    assert set(found.values()) == {None}


def test_an_ipv4_client_seen_through_an_ipv6_socket_spaces_and_a_forwarded_list_are_read() -> None:
    forwarded = "193.0.6.139, 10.0.0.1, 8.8.8.8"  # client, proxies (X-Forwarded-For)
    assert countries.countries_of(["::ffff:8.8.8.8", " 1.0.16.1 ", forwarded]) == {
        "::ffff:8.8.8.8": "US",
        " 1.0.16.1 ": "JP",
        forwarded: "NL",
    }


def test_each_distinct_address_is_looked_up_once_per_batch(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[list[str]] = []

    def lookup(addresses: list[str]) -> list[str | None]:
        calls.append(addresses)
        return ["US"] * len(addresses)

    monkeypatch.setattr(countries, "_lookup", lookup)
    latest = {("c", "u", str(n)): (float(n), "8.8.8.8" if n % 2 else "1.0.16.1") for n in range(50)}
    found = countries.last_countries(latest)
    assert calls == [["1.0.16.1", "8.8.8.8"]]
    assert found[("c", "u", "3")] == (3.0, "US")


def _processed(stamp: str, user: int, ip: str, course: str = COURSE) -> str:
    """A line of the processed eventtracking shape, its address in the context."""
    return json.dumps(
        {
            "name": "edx.ui.lms.outline.selected",
            "timestamp": at(stamp),
            "context": {"course_id": course, "user_id": user, "ip": ip, "path": "/x"},
            "data": {},
        }
    )


def _countries(app: Flask) -> dict[tuple[str, str], tuple[str | None, float]]:
    """(course key, username) -> (country code, time) as stored."""
    with app.app_context():
        rows = db.session.execute(
            select(
                Course.lti_context_id,
                PersonIdentity.value,
                LearnerCountry.country_code,
                LearnerCountry.seen_time,
            )
            .join(Course, Course.id == LearnerCountry.course_id)
            .join(PersonIdentity, PersonIdentity.person_id == LearnerCountry.person_id)
            .where(PersonIdentity.kind == "openedx_username")
        )
        return {(course, user): (code, time) for course, user, code, time in rows}


def _epoch(stamp: str) -> float:
    return datetime.fromisoformat(stamp).replace(tzinfo=UTC).timestamp()


def test_the_last_events_address_gives_the_country_per_course(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    log = write(
        tmp_path / "tracking.log",
        [
            # learner7: Japan, then the Netherlands last (written out of time order).
            with_ip(event("2026-03-02 12:00:00"), "193.0.6.139"),
            with_ip(event("2026-03-02 09:00:00"), "1.0.16.1"),
            # An event without an address does not change the country.
            event("2026-03-02 13:00:00"),
            # In another course learner7's last address is Chilean.
            with_ip(event("2026-03-02 08:00:00", course=OTHER), "200.7.6.134"),
            # peer8 in the processed shape (address in the context), last from a private one.
            _processed("2026-03-02 10:00:00", 8, "131.111.150.25"),
            with_ip(event("2026-03-02 09:00:00", user=8, username="peer8"), "8.8.8.8"),
            _processed("2026-03-02 11:00:00", 8, "10.0.2.2"),
            # peer9's address is not an address at all: known to be unknown, as Insights has it.
            with_ip(event("2026-03-02 10:00:00", user=9, username="peer9"), "garbage"),
        ],
    )
    assert ingest(runner, log)["events_ingested"] == 8
    assert _countries(app) == {
        (COURSE, "learner7"): ("NL", _epoch("2026-03-02 12:00:00")),
        (OTHER, "learner7"): ("CL", _epoch("2026-03-02 08:00:00")),
        (COURSE, "peer8"): (None, _epoch("2026-03-02 11:00:00")),
        (COURSE, "peer9"): (None, _epoch("2026-03-02 10:00:00")),
    }


def test_reading_files_again_or_older_files_later_keeps_the_latest_country(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    new = write(
        tmp_path / "new.log",
        [with_ip(event("2026-03-09 10:00:00"), "203.178.141.194")],  # Japan, a week later
    )
    old = write(
        tmp_path / "old.log",
        [with_ip(event("2026-03-02 10:00:00"), "129.132.19.216")],  # Switzerland
    )
    ingest(runner, new)
    ingest(runner, old)  # an older rotated file ingested late does not move the learner back
    expected = {(COURSE, "learner7"): ("JP", _epoch("2026-03-09 10:00:00"))}
    assert _countries(app) == expected
    # A re-read of everything (as `--reprocess` does: the files' records forgotten) fills and
    # keeps the same country: capture is idempotent.
    with app.app_context():
        db.session.execute(delete(LearnerCountry))
        db.session.execute(delete(IngestFile))
        db.session.commit()
        for _ in range(2):
            db.session.execute(delete(IngestFile))
            ingest_tracking_logs(db.session, [tmp_path], None, workers=0)
    assert _countries(app) == expected


def test_worker_processes_capture_the_same_countries(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    start = datetime(2026, 3, 2, 8, tzinfo=UTC)
    addresses = list(KNOWN)
    lines = []
    for n in range(400):
        stamp = (start + timedelta(minutes=n)).strftime("%Y-%m-%d %H:%M:%S")
        user = n % 10
        # Each learner moves from address to address, round by round.
        address = addresses[(n // 10 + user) % 10]
        lines.append(with_ip(event(stamp, user=user, username=f"p{user}"), address))
    # Latest first: each learner's last event is in the first chunk, older ones in later chunks.
    log = write(tmp_path / "big.log", lines[::-1])
    monkeypatch.setattr(log_ingest, "PARALLEL_FROM_BYTES", 1)
    monkeypatch.setattr("lti_tool.tracking_logs.parse.CHUNK_BYTES", 4096)
    with app.app_context():
        ingest_tracking_logs(db.session, [log], None, workers=2)
    found = _countries(app)
    # Learner u's last event (line 390 + u, round 39) came from address (39 + u) % 10.
    assert {user: code for (_c, user), (code, _t) in found.items()} == {
        f"p{u}": KNOWN[addresses[(39 + u) % 10]] for u in range(10)
    }


def test_no_address_is_stored_in_any_table(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    addresses = ["193.0.6.139", "2001:67c:2e8:22::c100:68b", "203.178.141.194", "131.111.150.25"]
    lines = []
    for n, address in enumerate(addresses):
        user = n + 1
        lines.append(
            with_ip(event(f"2026-03-02 10:0{n}:00", user=user, username=f"u{user}"), address)
        )
        lines.append(_processed(f"2026-03-02 11:0{n}:00", user, address))
        lines.append(
            with_ip(
                event(
                    f"2026-03-02 11:3{n}:00",
                    "play_video",
                    user=user,
                    username=f"u{user}",
                    source="browser",
                    payload={"id": "v1", "currentTime": 0, "code": "html5"},
                ),
                address,
            )
        )
    assert ingest(runner, write(tmp_path / "t.log", lines))["events_ingested"] == len(lines)
    with app.app_context():
        assert db.session.scalar(select(LearnerCountry.country_code).limit(1)) is not None
        for table in db.metadata.sorted_tables:
            for row in db.session.execute(select(table)):
                for value in row:
                    if isinstance(value, bytes | memoryview):
                        value = bytes(value).decode("utf-8", "replace")
                    shown = str(value)
                    for address in addresses:
                        assert address not in shown, f"{address} stored in {table.name}"


def test_merging_two_people_keeps_the_later_country(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    log = write(
        tmp_path / "t.log",
        [
            with_ip(event("2026-03-02 10:00:00", user=1, username="a"), "193.0.6.139"),
            with_ip(event("2026-03-02 12:00:00", user=2, username="b"), "1.0.16.1"),
            with_ip(event("2026-03-02 09:00:00", user=2, username="b", course=OTHER), "8.8.8.8"),
        ],
    )
    ingest(runner, log)
    with app.app_context():
        keep, drop = (
            db.session.scalar(select(PersonIdentity.person_id).where(PersonIdentity.value == name))
            for name in ("a", "b")
        )
        merge_people(db.session, keep, drop)
        db.session.commit()
        rows = db.session.execute(
            select(Course.lti_context_id, LearnerCountry.person_id, LearnerCountry.country_code)
            .join(Course, Course.id == LearnerCountry.course_id)
            .order_by(Course.lti_context_id)
        ).all()
    assert [tuple(r) for r in rows] == [(COURSE, keep, "JP"), (OTHER, keep, "US")]


def test_purging_older_activity_drops_countries_seen_before_the_cutoff(
    app: Flask, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    today = datetime.now(UTC).date()
    old, recent = today - timedelta(days=40), today - timedelta(days=3)
    log = write(
        tmp_path / "t.log",
        [
            with_ip(event(f"{old} 10:00:00", user=1, username="a"), "193.0.6.139"),
            with_ip(event(f"{old} 10:00:00", user=2, username="b"), "1.0.16.1"),
            with_ip(event(f"{recent} 10:00:00", user=2, username="b"), "8.8.8.8"),
        ],
    )
    ingest(runner, log)
    done = runner.invoke(args=["data", "purge", "--course", COURSE, "--older-than", "30"])
    assert done.exit_code == 0, done.output
    assert {user: code for (_c, user), (code, _t) in _countries(app).items()} == {"b": "US"}
