"""The learners table, its CSV and e-mail actions, one learner's page and the access log."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import date
from pathlib import Path
from typing import Any

import orjson
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from lti_tool.activity.rollups import touch_courses
from lti_tool.extensions import db
from lti_tool.kpis.learners import FIELDS
from lti_tool.models import (
    AccessLog,
    Course,
    Enrollment,
    LearnerDay,
    Person,
    Platform,
)
from lti_tool.tracking_logs.ingest import ingest_tracking_logs
from lti_tool.views import course as _views  # noqa: F401 (the views load through their blueprint)
from lti_tool.views.learners import ClassRows, apply_filters, sort_rows
from tests.helpers.platform import CLAIM, LEARNER, FakePlatform, session_token

EVIL_SCRIPT = "<script>alert(1)</script>"
EVIL_LINK = '<a href="javascript:alert(1)">x</a>'


def _staff(client: FlaskClient, platform: FakePlatform) -> str:
    return session_token(platform.launch(client))


def _add_learners(course: Course, count: int, email: str = "x{n}@example.edu") -> None:
    for n in range(count):
        person = Person(name=f"Extra {n:03d}", email=email.format(n=n))
        db.session.add(person)
        db.session.flush()
        db.session.add(Enrollment(course_id=course.id, person_id=person.id, course_role="learner"))
    db.session.commit()


def _names(html: str) -> list[str]:
    """Learner names in table order (the links to their pages)."""
    return re.findall(r'<a href="/courses/1/learners/\d+\?t=[^"]+">([^<]*)</a>', html)


def _log(app: Flask) -> list[tuple[str, int | None, int, int | None]]:
    with app.app_context():
        rows = db.session.scalars(select(AccessLog).order_by(AccessLog.id))
        return [(r.action, r.subject_person_id, r.subjects, r.viewer_person_id) for r in rows]


def test_table_lists_only_learners_and_logs_the_contact_details(
    app: Flask, client: FlaskClient, seeded: dict[str, Any]
) -> None:
    response = client.get(f"/courses/1/learners?t={seeded['t']}")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    names = _names(html)
    assert len(names) == 6 and {"Ada A", "Bob B", "Cy C", "Eve E"} <= set(names)
    assert sum(1 for n in names if re.fullmatch(r"Learner [0-9A-F]{6}", n)) == 2  # D and L
    for absent in ("Fay Dropped", "Test Student", "Sam Staff", "Olly Observer"):
        assert absent not in html
    assert '<a href="mailto:a@example.edu">a@example.edu</a>' in html
    assert "<caption>" in html and '<th scope="col"' in html
    assert "no activity" in html  # at-risk reasons are shown (today is long after March)
    # 4 of the 6 rows shown carry an e-mail address
    assert _log(app) == [("contact_details", None, 4, seeded["viewer"])]


def test_filters_search_and_sort(client: FlaskClient, seeded: dict[str, Any]) -> None:
    t = seeded["t"]

    def names(query: str) -> list[str]:
        return _names(client.get(f"/courses/1/learners?t={t}&{query}").get_data(as_text=True))

    assert names("section=Sec+1") == ["Ada A", "Bob B"]
    assert names("q=EVE") == ["Eve E"]
    assert names("q=c%40example") == ["Cy C"]  # by e-mail
    # total time: A 1590 s, C 1040, E 400, B 330, L 250, D 0
    ordered = names("sort=time_total&dir=desc")
    assert ordered[:4] == ["Ada A", "Cy C", "Eve E", "Bob B"] and len(ordered) == 6
    assert names("sort=time_total")[-4:] == ["Bob B", "Eve E", "Cy C", "Ada A"]
    # Nobody was active in the last complete week (months after March): all inactive.
    assert len(names("segment=inactive")) == 6
    html = client.get(f"/courses/1/learners?t={t}&segment=highly_engaged").get_data(as_text=True)
    assert _names(html) == [] and "0 of 6 learners match" in html
    assert len(names("risk=1")) == 6
    assert names("section=nope") == []
    # unknown sort and segment are ignored rather than failing
    assert len(names("sort=bogus&segment=bogus&page=x&per=7")) == 6


def test_server_side_pagination(app: Flask, client: FlaskClient, seeded: dict[str, Any]) -> None:
    with app.app_context():
        _add_learners(db.session.get(Course, 1), 60)
    t = seeded["t"]
    first = client.get(f"/courses/1/learners?t={t}&per=25").get_data(as_text=True)
    assert len(_names(first)) == 25 and "Page 1 of 3" in first and 'rel="next"' in first
    last = client.get(f"/courses/1/learners?t={t}&per=25&page=3").get_data(as_text=True)
    assert len(_names(last)) == 16 and "Page 3 of 3" in last
    beyond = client.get(f"/courses/1/learners?t={t}&per=25&page=99").get_data(as_text=True)
    assert "Page 3 of 3" in beyond  # clamped to the last page
    every = set()
    for page in (1, 2, 3):
        html = client.get(f"/courses/1/learners?t={t}&per=25&page={page}").get_data(as_text=True)
        every |= set(_names(html))
    assert len(every) == 66


def test_csv_export_has_the_filtered_rows_and_is_logged(
    app: Flask, client: FlaskClient, seeded: dict[str, Any]
) -> None:
    response = client.get(f"/courses/1/learners.csv?t={seeded['t']}&section=Sec+1")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert "attachment" in response.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert tuple(rows[0]) == FIELDS
    assert [(r["name"], r["time_total"], r["email"]) for r in rows] == [
        ("Ada A", "1590", "a@example.edu"),
        ("Bob B", "330", "b@example.edu"),
    ]
    assert _log(app)[-1] == ("learners_csv", None, 2, seeded["viewer"])


def test_email_the_selected_learners(
    app: Flask, client: FlaskClient, seeded: dict[str, Any]
) -> None:
    t = seeded["t"]
    html = client.post(
        "/courses/1/learners/email", data={"t": t, "person": [seeded["A"], seeded["D"]]}
    ).get_data(as_text=True)
    assert 'href="mailto:?bcc=a@example.edu"' in html
    assert 'id="without-email"' in html  # D shared no address
    assert _log(app)[-1] == ("email_addresses", None, 1, seeded["viewer"])
    html = client.post(
        "/courses/1/learners/email", data={"t": t, "all": "1", "section": "Sec 1"}
    ).get_data(as_text=True)
    assert 'href="mailto:?bcc=a@example.edu,b@example.edu"' in html
    # nothing chosen: a clear 400, not a 500
    empty = client.post("/courses/1/learners/email", data={"t": t, "all": "0"})
    assert empty.status_code == 400 and "No learners were selected" in empty.get_data(as_text=True)
    # the cookie alone cannot make a change: the form must carry the token
    assert client.post("/courses/1/learners/email", data={"all": "1"}).status_code == 403


def test_too_many_addresses_for_a_mail_link(
    app: Flask, client: FlaskClient, seeded: dict[str, Any]
) -> None:
    with app.app_context():
        _add_learners(db.session.get(Course, 1), 80, "someone.with.a.long.name{n}@example.edu")
    t = seeded["t"]
    html = client.post("/courses/1/learners/email", data={"t": t, "all": "1"}).get_data(
        as_text=True
    )
    assert 'id="mailto"' not in html and 'id="too-long"' in html
    assert "someone.with.a.long.name79@example.edu" in html  # in the list to copy
    assert 'id="copy-addresses"' in html
    people = re.findall(r'name="person" value="(\d+)"', html)
    response = client.post(
        "/courses/1/learners/email", data={"t": t, "format": "csv", "person": people}
    )
    rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
    assert len(rows) == 84 and response.mimetype == "text/csv"  # 80 + A, B, C, E
    assert _log(app)[-1] == ("email_addresses", None, 84, seeded["viewer"])


def test_learner_page_and_the_access_log(
    app: Flask, client: FlaskClient, seeded: dict[str, Any]
) -> None:
    t = seeded["t"]
    response = client.get(f"/courses/1/learners/{seeded['A']}?t={t}")
    assert response.status_code == 200
    html = re.sub(r">\s+<", "><", response.get_data(as_text=True))
    # 2026-03-10: 10 events, 1500 s = 0:25, 3 sessions; 2026-03-19: 4 events, 90 s = 0:02, 1
    assert "<tr><td>2026-03-10</td><td>10</td><td>0:25</td><td>3</td></tr>" in html
    assert "<tr><td>2026-03-19</td><td>4</td><td>0:02</td><td>1</td></tr>" in html
    assert "<tr><td>Week 1</td><td>4</td><td>4</td><td>2026-03-08 12:00</td></tr>" in html
    # HW 1 has 4 class scores (2, 4, 7, 9): below the floor of 5, so no class figures
    assert '<td>9 / 10</td><td colspan="2" class="muted">hidden: 4 scores, fewer than 5' in html
    assert 'data-target="chart-learner-days"' in html
    # A's two videos (no duration known: coverage cannot be told); S's view of v1 is not hers.
    # No course blocks name them: "Video 1" and "Video 2" in order of first appearance, each
    # with its id in the tooltip.
    assert html.count('<tr><td><span class="named" title="v1">Video 1</span></td>') == 1
    assert html.count('<tr><td><span class="named" title="v2">Video 2</span></td>') == 1
    assert client.get(f"/courses/1/learners/{seeded['S']}?t={t}").status_code == 404  # staff
    assert _log(app)[-1] == ("learner_page", seeded["A"], 1, seeded["viewer"])
    log = client.get(f"/courses/1/access-log?t={t}").get_data(as_text=True)
    assert "Opened a learner&#39;s page" in log and "<td>Ada A</td>" in log
    assert "Sam Example &lt;sam@example.edu&gt;" in log


def test_scores_beside_the_class_above_the_floor(
    app: Flask, client: FlaskClient, seeded: dict[str, Any]
) -> None:
    from lti_tool.models import Assignment, Submission

    with app.app_context():
        hw1 = db.session.scalar(select(Assignment).where(Assignment.name == "HW 1"))
        db.session.add(Submission(assignment_id=hw1.id, person_id=seeded["D"], score=10.0))
        db.session.commit()
    html = client.get(f"/courses/1/learners/{seeded['A']}?t={seeded['t']}").get_data(as_text=True)
    # 2, 4, 7, 9, 10: median 7, quartiles 4 and 9
    assert "<td>9 / 10</td>\n    <td>7</td><td>4\u20139</td>" in html


def test_staff_pages_refuse_learners_and_other_courses_staff(
    client: FlaskClient, platform: FakePlatform, seeded: dict[str, Any]
) -> None:
    learner = session_token(platform.launch(client, roles=LEARNER, sub="learner-9"))
    other = session_token(
        platform.launch(
            client, sub="teacher-2", **{CLAIM + "context": {"id": "ctx-2", "title": "Other"}}
        )
    )
    a = seeded["A"]
    for token in (learner, other):
        for url in (
            "/courses/1/learners",
            "/courses/1/learners.csv",
            f"/courses/1/learners/{a}",
            "/courses/1/access-log",
            "/courses/1/settings",
        ):
            assert client.get(f"{url}?t={token}").status_code == 403, url
        for url in (
            "/courses/1/learners/email",
            "/courses/1/settings",
            "/courses/1/events",
        ):
            assert client.post(url, data={"t": token, "all": "1"}).status_code == 403, url


def test_names_are_escaped_in_markup_and_figures(
    app: Flask, client: FlaskClient, seeded: dict[str, Any]
) -> None:
    with app.app_context():
        evil = {}
        for name in (EVIL_SCRIPT, EVIL_LINK):
            person = Person(name=name, email="evil@example.edu")
            db.session.add(person)
            db.session.flush()
            db.session.add(Enrollment(course_id=1, person_id=person.id, course_role="learner"))
            db.session.add(
                LearnerDay(
                    course_id=1,
                    person_id=person.id,
                    day=date(2026, 3, 4),
                    events=2,
                    first_time=1772600000.0,
                    last_time=1772600060.0,
                    gaps=orjson.dumps([1, 1, 60]),
                )
            )
            evil[name] = person.id
        db.session.commit()
    t = seeded["t"]
    html = client.get(f"/courses/1/learners?t={t}&sort=name").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "&lt;a href=&#34;javascript:alert(1)&#34;&gt;x&lt;/a&gt;" in html
    assert EVIL_SCRIPT not in html and EVIL_LINK not in html
    assert 'href="javascript:' not in html
    page = client.get(f"/courses/1/learners/{evil[EVIL_LINK]}?t={t}").get_data(as_text=True)
    assert EVIL_LINK not in page
    block = re.search(
        r'class="chart-data" data-target="chart-learner-days">(.*?)</script>',
        page,
        re.S,
    ).group(1)
    assert "<" not in block
    figure = json.loads(block)
    assert figure["layout"]["title"]["text"].startswith(
        "&lt;a href=&quot;javascript:alert(1)&quot;&gt;x&lt;/a&gt;: activity per day"
    )
    mail = client.post(
        "/courses/1/learners/email", data={"t": t, "person": list(evil.values())}
    ).get_data(as_text=True)
    assert EVIL_SCRIPT not in mail and EVIL_LINK not in mail


def test_empty_course_says_where_learners_come_from(
    client: FlaskClient, platform: FakePlatform
) -> None:
    html = client.get(f"/courses/1/learners?t={_staff(client, platform)}").get_data(as_text=True)
    assert 'id="no-learners"' in html and "Names and Roles" in html


def test_table_figures_follow_new_data_at_once(
    app: Flask, client: FlaskClient, seeded: dict[str, Any]
) -> None:
    """The table's figures are reused between requests only while the data is unchanged."""
    t = seeded["t"]
    assert len(_names(client.get(f"/courses/1/learners?t={t}").get_data(as_text=True))) == 6
    with app.app_context():
        _add_learners(db.session.get(Course, 1), 1)
    html = client.get(f"/courses/1/learners?t={t}").get_data(as_text=True)
    assert "Extra 000" in _names(html) and len(_names(html)) == 7
    with app.app_context():
        db.session.add(
            LearnerDay(
                course_id=1,
                person_id=seeded["D"],
                day=date(2026, 3, 4),
                events=3,
                first_time=1772600000.0,
                last_time=1772600120.0,
                gaps=orjson.dumps([1, 2, 120]),
            )
        )
        # Rollups are written by lti_tool.activity.rollups, which stamps the course as changed;
        # this hand-made row does the same (the ingest path is tested below).
        touch_courses(db.session, [1])
        db.session.commit()
    response = client.get(f"/courses/1/learners.csv?t={seeded['t']}&q=Learner")
    rows = {r["person"]: r for r in csv.DictReader(io.StringIO(response.get_data(as_text=True)))}
    assert rows[str(seeded["D"])]["time_total"] == "120"


def test_table_figures_follow_an_ingest_at_once(
    app: Flask, client: FlaskClient, seeded: dict[str, Any], tmp_path: Path
) -> None:
    """Events ingested after the table was shown appear at the next request (no stale reuse)."""
    t = seeded["t"]
    assert len(_names(client.get(f"/courses/1/learners?t={t}").get_data(as_text=True))) == 6
    log = tmp_path / "tracking.log"
    lines = [
        {
            "username": "newcomer",
            "event_type": "/courses/x/courseware",
            "event_source": "server",
            "time": f"2026-03-04T10:0{minute}:00+00:00",
            "event": {},
            "context": {"course_id": "course-ctx-1", "user_id": 990, "path": "/x"},
        }
        for minute in (0, 2)
    ]
    log.write_text("\n".join(json.dumps(line) for line in lines) + "\n")
    with app.app_context():
        platform = db.session.scalar(select(Platform))
        assert ingest_tracking_logs(db.session, [log], platform, workers=0).events == 2
    rows = client.get(f"/courses/1/learners.csv?t={t}").get_data(as_text=True)
    found = [r for r in csv.DictReader(io.StringIO(rows)) if r["learner"] == "newcomer"]
    assert [r["time_total"] for r in found] == ["120"]
    # Seen only in the logs, without a name from the LMS: shown by their Open edX username (how
    # the course's staff know them), not by a pseudonym.
    html = client.get(f"/courses/1/learners?t={t}").get_data(as_text=True)
    assert "newcomer" in _names(html)


def test_a_course_title_is_escaped_on_every_staff_page(
    app: Flask, client: FlaskClient, seeded: dict[str, Any]
) -> None:
    evil = '"><img src=x onerror=alert(1)>'
    with app.app_context():
        db.session.get(Course, 1).title = evil
        db.session.commit()
    t = seeded["t"]
    for url in (
        "/courses/1/",
        "/courses/1/learners",
        f"/courses/1/learners/{seeded['A']}",
        "/courses/1/grades",
        "/courses/1/content",
        "/courses/1/settings",
        "/courses/1/access-log",
        "/courses/1/videos",
    ):
        html = client.get(f"{url}?t={t}").get_data(as_text=True)
        assert evil not in html and "<img src=x" not in html, url
        assert "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;" in html, url


def test_class_rows_keep_each_order_and_filtering_it_equals_sorting_the_filtered() -> None:
    rows = [
        {"person": 1, "name": "Bo", "time_7d": 30.0, "at_risk": True, "sections": ["B"]},
        {"person": 2, "name": "al", "time_7d": None, "at_risk": True, "sections": ["A"]},
        {"person": 3, "name": "Cy", "time_7d": 30.0, "at_risk": False, "sections": []},
        {"person": 4, "name": "Di", "time_7d": 5.0, "at_risk": True, "sections": ["A", "B"]},
        {"person": 5, "name": "Ed", "time_7d": 90.0, "at_risk": False, "sections": ["A"]},
    ]
    for row in rows:
        row.update(segment=None, email=None, learner=str(row["person"]))
    table = ClassRows(rows)
    by_time = table.sorted_by("time_7d", True)
    assert [r["person"] for r in by_time] == [5, 3, 1, 4, 2]  # name breaks ties; empty last
    assert table.sorted_by("time_7d", True) is by_time  # sorted once, then reused
    assert [r["person"] for r in table.sorted_by("time_7d", False)] == [4, 1, 3, 5, 2]
    risky = {"q": "", "section": "", "segment": "", "risk": "1"}
    for key in ("name", "time_7d"):
        for descending in (False, True):
            filtered_then_sorted = sort_rows(apply_filters(rows, risky), key, descending)
            assert apply_filters(table.sorted_by(key, descending), risky) == filtered_then_sorted
    assert table.sections() == ["A", "B"]


def test_the_learner_pages_day_and_event_rows_escape_every_value_in_the_pages_language(
    app: Flask,
) -> None:
    # Written by the view (learners_views._day_rows, _event_rows): each value escaped in its
    # cell, numbers, durations, days and times as the page's language writes them.
    from datetime import UTC, datetime

    from lti_tool.kpis.names import Shown
    from lti_tool.views import learners as learners_views

    days = [{"day": date(2026, 3, 5), "events": 1234, "seconds": 3725, "sessions": 2}]
    events = [
        {
            "at": datetime(2026, 3, 5, 14, 7, 9, tzinfo=UTC),
            "name": 'play_video"<x>',
            "words": "played <b>a video</b>",
            "source": "browser & <app>",
            "thing": Shown("Intro <i>1</i>", "v&1", True),
        },
        {"at": datetime(2026, 3, 5, 14, 7, 9, tzinfo=UTC), "name": "n", "words": "w",
         "source": "s", "thing": None},
    ]  # fmt: skip
    expected = {
        "en": ("2026-03-05", "1,234", "1:02", "2026-03-05 14:07:09"),
        "nb": ("5. mars 2026", "1\u00a0234", "1 t 2 min", "05.03.2026, 14:07:09"),
    }
    for language, (day, number, duration, when) in expected.items():
        with app.test_request_context(
            "/courses/1/learners/1", headers={"Accept-Language": language}
        ):
            day_rows = str(learners_views._day_rows(days))
            event_rows = str(learners_views._event_rows(events))
        assert day_rows == (
            f"<tr><td>{day}</td><td>{number}</td><td>{duration}</td><td>2</td></tr>"
        ), day_rows
        assert event_rows.startswith(
            f'<tr><td>{when}</td><td title="play_video&#34;&lt;x&gt;">'
            "Played &lt;b&gt;a video&lt;/b&gt;</td><td>browser &amp; &lt;app&gt;</td>"
            '<td><span class="named" title="v&amp;1">Intro &lt;i&gt;1&lt;/i&gt;</span></td></tr>'
        ), event_rows
        assert event_rows.endswith("<td>s</td><td></td></tr>"), event_rows
