"""The student's page (issue 17, item 3): their work as the LMS has it, the class's score
distribution beside theirs (hidden below the privacy floor), their days as a calendar, their
weeks from the course start; staff's preview of a chosen learner (access-logged) or of a typical
learner, and a learner who can never look at anyone else's page."""

from __future__ import annotations

import json
import re
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from lti_tool.activity.rollups import touch_courses
from lti_tool.extensions import db
from lti_tool.i18n.text import gettext as _
from lti_tool.kpis import course_settings
from lti_tool.models import (
    AccessLog,
    Assignment,
    Course,
    LearnerDay,
    LmsLearnerStats,
    Person,
    Submission,
)
from lti_tool.models.types import utcnow
from lti_tool.views import course as course_views
from lti_tool.views import student as student_views
from tests.helpers.classes import build_class, seed_class
from tests.helpers.platform import LEARNER, FakePlatform, launch_token

PARIS = ZoneInfo("Europe/Paris")


def _html(response: Any) -> str:
    assert response.status_code == 200, response.get_data(as_text=True)[:500]
    return re.sub(r">\s+<", "><", response.get_data(as_text=True))


def _figure(html: str, name: str) -> dict[str, Any]:
    found = re.search(rf'data-target="chart-{name}">(.*?)</script>', html, re.S)
    assert found, f"no {name} chart"
    return json.loads(found.group(1))


def _learner(app: Flask, client: FlaskClient, platform: FakePlatform) -> tuple[str, int, dict]:
    """A learner's token in course 1, their person id, and the hand-built class beside them."""
    token = launch_token(client, platform, LEARNER, "learner-9")
    with app.app_context():
        course = db.session.get(Course, 1)
        people = build_class(course)
        me = db.session.scalar(select(Person).where(Person.email == "sam@example.edu"))
        ids = {k: v.id for k, v in people.items() if k != "course"}
        return token, me.id, ids


def _rows(html: str, table: str) -> list[list[str]]:
    body = html[html.index(f'id="{table}"') :]
    body = body[: body.index("</table>")]
    return [
        [re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<td[^>]*>(.*?)</td>", row)]
        for row in re.findall(r"<tr[^>]*>(.*?)</tr>", body)
        if "<td" in row
    ]


def test_due_missing_and_late_work_match_the_lms(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    token, me, ids = _learner(app, client, platform)
    now = utcnow()
    paris_today = now.astimezone(PARIS).date()
    with app.app_context():
        course = db.session.get(Course, 1)
        course_settings.save(db.session, course, course_settings.Settings(time_zone="Europe/Paris"))

        def add(key: str, due: datetime | None, points: float | None = 10) -> Assignment:
            row = Assignment(
                course_id=1, lms_assignment_id=key, name=key, due_at=due, points_possible=points
            )
            db.session.add(row)
            db.session.flush()
            return row

        noon = datetime.combine(paris_today + timedelta(days=3), time(12), PARIS)
        essay = add("Essay", noon.astimezone(UTC) + timedelta(days=4))  # everyone's date
        quiz = add("Quiz", now - timedelta(days=3), points=5)
        lab = add("Lab", now - timedelta(days=4))
        # Mine: the essay's own date (an override, in 3 days at noon Paris time), the quiz
        # missing and the lab late, as Canvas flags them. A classmate has the opposite flags.
        db.session.add_all(
            [
                Submission(assignment_id=essay.id, person_id=me, due_at=noon.astimezone(UTC)),
                Submission(assignment_id=quiz.id, person_id=me, missing=True),
                Submission(
                    assignment_id=lab.id, person_id=me, late=True, submitted_at=now - timedelta(1)
                ),
                Submission(assignment_id=quiz.id, person_id=ids["A"], submitted_at=now),
                Submission(assignment_id=lab.id, person_id=ids["A"], missing=True),
            ]
        )
        db.session.commit()
        hw = {
            a.name: a.due_at.astimezone(PARIS).strftime("%Y-%m-%d %H:%M")
            for a in db.session.scalars(select(Assignment).where(Assignment.name.like("HW%")))
        }
    html = _html(client.get(f"/courses/1/me?t={token}"))
    assert _rows(html, "table-my-due") == [
        [
            "Quiz",
            (now - timedelta(days=3)).astimezone(PARIS).strftime("%Y-%m-%d %H:%M"),
            "5",
            "missing",
        ],
        ["Essay", noon.strftime("%Y-%m-%d %H:%M"), "10", "due in 3 days"],
        # build_class's homework: the learner has no submission and the LMS flagged nothing
        ["HW 1", hw["HW 1"], "10", "past due, not submitted"],
        ["HW 2", hw["HW 2"], "10", "past due, not submitted"],
        [
            "Lab",
            (now - timedelta(days=4)).astimezone(PARIS).strftime("%Y-%m-%d %H:%M"),
            "10",
            "late",
        ],
    ]
    assert "(due dates in Europe/Paris)" in html
    glance = html[html.index('id="at-a-glance"') :]
    assert glance.startswith(
        'id="at-a-glance"><strong>1 missing</strong> · 1 handed in late · 1 due'
    )


def _scores(app: Flask, ids: dict[str, int], me: int, extra: dict[str, float]) -> None:
    """Posted scores for me (60) and some of the class (A 85, B 40, E 70 from build_class),
    plus `extra` letter -> score; C's unposted score (staff only) never counts."""
    with app.app_context():
        db.session.add(
            LmsLearnerStats(course_id=1, person_id=me, source="canvas", current_score=60)
        )
        for letter, score in extra.items():
            db.session.add(
                LmsLearnerStats(
                    course_id=1, person_id=ids[letter], source="canvas", current_score=score
                )
            )
        db.session.commit()


def test_the_distribution_is_hidden_below_the_floor(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    token, me, ids = _learner(app, client, platform)
    _scores(app, ids, me, {})  # me, A, B, E: 4 posted scores, the floor is 5
    with app.app_context():
        db.session.add(
            LmsLearnerStats(
                course_id=1, person_id=ids["C"], source="canvas", unposted_current_score=99.0
            )
        )
        db.session.commit()
    html = _html(client.get(f"/courses/1/me?t={token}"))
    score = html[
        html.index('id="my-score"') : html.index("</section>", html.index('id="my-score"'))
    ]
    assert "<strong>60 %</strong>" in score
    assert "The class's distribution of scores is hidden: fewer than 5 learners" in score
    assert 'id="chart-my-scores"' not in html and "chart-my-scores" not in html
    assert "You are here" not in html and "you are here" not in html


def test_the_distribution_shows_you_are_here_at_the_floor(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    token, me, ids = _learner(app, client, platform)
    _scores(app, ids, me, {"C": 62.0})  # me 60, C 62, E 70, A 85, B 40: 5 posted scores
    html = _html(client.get(f"/courses/1/me?t={token}"))
    figure = _figure(html, "my-scores")
    bars = figure["data"][0]
    counts = dict(zip(bars["x"], bars["y"], strict=True))
    assert counts["60\u201369"] == 2 and counts["70\u201379"] == 1 and counts["40\u201349"] == 1
    assert sum(counts.values()) == 5
    here = [a for a in figure["layout"]["annotations"] if a["text"] == "You are here"]
    assert [a["x"] for a in here] == ["60\u201369"]
    colours = dict(zip(bars["x"], bars["marker"]["color"], strict=True))
    assert colours["60\u201369"] != colours["70\u201379"]  # the learner's band stands out
    assert "your score is in the <strong>60\u201369 %</strong> band" in html
    assert "<td>60\u201369 (you are here)</td><td>2</td>" in html


def test_staff_preview_of_a_learner_shows_their_page_and_is_logged(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    seeded = seed_class(app, client, platform)
    html = _html(client.get(f"/courses/1/me?t={seeded['t']}&person={seeded['A']}"))
    # Ada's page: her score, her days (2026-03-10 and -19), her modules, not the staff's own
    assert "Ada A</strong>'s page as they see it" in html
    assert f'<option value="{seeded["A"]}" selected>Ada A</option>' in html
    assert "<strong>85 %</strong>" in html
    assert '<time datetime="2026-03-10">10</time>' in html
    assert '<time datetime="2026-03-19">4</time>' in html
    assert "2026-03-03" not in re.sub(
        r'data-target="chart-[^"]*">.*?</script>', "", html, flags=re.S
    )
    assert "<td>Week 1</td><td>4 of 4</td>" in html  # module "Week 1": Ada did all 4 items
    assert 'id="no-activity"' not in html
    with app.app_context():
        rows = db.session.scalars(select(AccessLog)).all()
        assert [(r.action, r.subject_person_id, r.viewer_person_id, r.subjects) for r in rows] == [
            ("student_view_preview", seeded["A"], seeded["viewer"], 1)
        ]
    log = _html(client.get(f"/courses/1/access-log?t={seeded['t']}"))
    assert "<td>Previewed a learner&#39;s own page</td><td>Ada A</td>" in log
    # Not a learner of the class (staff, dropped): no page, nothing logged
    for who in ("S", "F"):
        assert client.get(f"/courses/1/me?t={seeded['t']}&person={seeded[who]}").status_code == 404
    assert client.get(f"/courses/1/me?t={seeded['t']}&person=x1").status_code == 404
    with app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(AccessLog)) == 1


def test_staff_see_a_typical_learner_by_default_never_their_own_page(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    seeded = seed_class(app, client, platform)
    html = _html(client.get(f"/courses/1/me?t={seeded['t']}"))
    assert '<option value="typical" selected>A typical learner (anonymous)</option>' in html
    assert "You are looking at <strong>a typical learner</strong>" in html
    # The class's medians: posted scores 40, 70, 85 (A, B, E) -> 70; shares of items done
    # 0, 0, 1/6, 4/6, 5/6, 1 (D, L, B, E, C, A) -> 5/12 of 6 items -> 2 (rounded)
    assert "<strong>70 %</strong>" in html
    assert "You have done <strong>2 of 6</strong>" in html
    assert "Sam Staff" not in html.split("</form>", 1)[1]  # no one named below the picker
    assert "Ada A" not in html.split("</form>", 1)[1]
    with app.app_context():
        assert db.session.scalars(select(AccessLog)).all() == []  # no one's data: not logged


def test_a_typical_learner_needs_a_class_at_the_floor(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    seeded = seed_class(app, client, platform)
    with app.app_context():
        course = db.session.get(Course, 1)
        course_settings.save(db.session, course, course_settings.Settings(privacy_floor=10))
        db.session.commit()
    html = _html(client.get(f"/courses/1/me?t={seeded['t']}&person=typical"))
    assert 'id="typical-hidden"' in html and "fewer than the privacy floor of 10" in html
    assert "chart-my-" not in html and "<strong>70 %</strong>" not in html


def test_a_learner_cannot_preview_anyone(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    token, me, ids = _learner(app, client, platform)
    for asked in (ids["A"], me, "typical", ""):
        response = client.get(f"/courses/1/me?t={token}&person={asked}")
        assert response.status_code == 403, asked
        assert "Ada A" not in response.get_data(as_text=True)
    html = _html(client.get(f"/courses/1/me?t={token}"))
    assert "<h1>My progress</h1>" in html and 'id="preview-picker"' not in html
    assert "Ada A" not in html and "2026-03-10" not in html  # A's active day
    with app.app_context():
        assert db.session.scalars(select(AccessLog)).all() == []


def test_the_calendar_cells_are_the_learners_active_days(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    token, me, _ids = _learner(app, client, platform)
    today = utcnow().date()
    mine = {today - timedelta(days=n): events for n, events in ((1, 3), (9, 7), (10, 1), (23, 2))}
    with app.app_context():
        for day, events in mine.items():
            db.session.add(
                LearnerDay(
                    course_id=1,
                    person_id=me,
                    day=day,
                    events=events,
                    first_time=0,
                    last_time=0,
                    gaps=b"[60]",
                )
            )
        db.session.commit()
    html = _html(client.get(f"/courses/1/me?t={token}"))
    figure = _figure(html, "my-calendar")
    heat = figure["data"][0]
    assert heat["type"] == "heatmap" and heat["y"][0] == "Mon" and heat["y"][-1] == "Sun"
    cells: dict[date, float | None] = {}
    for row, values in enumerate(heat["z"]):
        for column, value in enumerate(values):
            monday = date.fromisoformat(heat["x"][column])
            assert monday.weekday() == 0  # every column is a Monday-start week
            cells[monday + timedelta(days=row)] = value
    assert {d: v for d, v in cells.items() if v} == mine
    assert all(v is None for d, v in cells.items() if d > today)  # days to come are blank
    assert all(v == 0 for d, v in cells.items() if d <= today and d not in mine)
    # The table says the same, and the summary counts the days
    assert sorted(re.findall(r'<time datetime="([\d-]+)">', html)) == sorted(
        d.isoformat() for d in mine
    )
    # Each week's row is named by its number and Monday (the first weeks before the course's
    # first week have no number), its days as cells: an active day's count in a <time>.
    table = html[html.index('id="table-my-days"') :]
    heads = re.findall(r'<th scope="row">(.*?)</th>', table[: table.index("</table>")])
    assert heads and all(
        re.fullmatch(r'(Week \d+<br>)?<span class="from">from [A-Z][a-z]{2} \d{1,2}</span>', h)
        for h in heads
    ), heads
    assert heads[-1].startswith("Week ")
    last = max(mine)
    assert f'<td><time datetime="{last.isoformat()}">{mine[last]}</time></td>' in table
    assert (
        f"You were active on <strong>4 of {sum(1 for v in cells.values() if v is not None)}" in html
    )


def test_the_weekly_chart_starts_at_the_course_start(
    app: Flask, client: FlaskClient, platform: FakePlatform
) -> None:
    token, _me, _ids = _learner(app, client, platform)
    this_week = utcnow().date() - timedelta(days=utcnow().date().weekday())
    # No start set: the class's first week (B's 2026-03-03), though this learner never came
    html = _html(client.get(f"/courses/1/me?t={token}"))
    axis = _figure(html, "my-time")["layout"]["xaxis"]
    assert axis["tickvals"][0] == "2026-03-02"
    assert axis["ticktext"][0].startswith("Week 1<br>")
    assert this_week.isoformat() in axis["tickvals"]
    assert f"<td>{this_week.isoformat()} (so far)</td>" in html  # this week, partial
    with app.app_context():
        course = db.session.get(Course, 1)
        course_settings.save(
            db.session, course, course_settings.Settings(starts_on=date(2026, 2, 18))
        )
        db.session.commit()
    axis = _figure(_html(client.get(f"/courses/1/me?t={token}")), "my-time")["layout"]["xaxis"]
    assert axis["tickvals"][:3] == ["2026-02-16", "2026-02-23", "2026-03-02"]
    assert axis["ticktext"][0] == "Week 1<br>Feb 16"  # the week the course starts


def test_a_class_too_large_to_list_is_searched_in_the_preview_chooser(
    app: Flask, client: FlaskClient, platform: FakePlatform, monkeypatch: Any
) -> None:
    # Beyond CHOOSER_LISTS_ALL learners the chooser does not list the class (100,000 names):
    # staff find a learner by part of a name, and the one previewed stays chosen.
    from lti_tool.views import student as student_view

    seeded = seed_class(app, client, platform)
    monkeypatch.setattr(student_view, "CHOOSER_LISTS_ALL", 1)
    html = _html(client.get(f"/courses/1/me?t={seeded['t']}"))
    picker = html.split('id="preview-picker"', 1)[1].split("</form>", 1)[0]
    assert 'name="who"' in picker and "Ada A" not in picker
    assert 'id="chooser-hint"' in html
    found = _html(client.get(f"/courses/1/me?t={seeded['t']}&who=ada"))
    picker = found.split('id="preview-picker"', 1)[1].split("</form>", 1)[0]
    assert f'<option value="{seeded["A"]}">Ada A</option>' in picker
    assert "Sam Staff" not in picker
    chosen = _html(client.get(f"/courses/1/me?t={seeded['t']}&person={seeded['A']}"))
    picker = chosen.split('id="preview-picker"', 1)[1].split("</form>", 1)[0]
    assert f'<option value="{seeded["A"]}" selected>Ada A</option>' in picker
    # The typical learner's figures are the whole class's still (posted scores 40, 70, 85).
    assert "<strong>70 %</strong>" in html


def test_the_typical_learner_is_made_once_a_worker_while_the_data_and_language_hold(
    app: Flask, client: FlaskClient, platform: FakePlatform, monkeypatch: Any
) -> None:
    # Every staff member sees the same typical learner: made once per worker (for a minute)
    # in each language, and again when the data moves.
    seeded = seed_class(app, client, platform)
    made: list[int] = []
    real = student_views._page

    def counted(*args: Any, **kwargs: Any) -> dict[str, Any]:
        made.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(student_views, "_page", counted)
    first = _html(client.get(f"/courses/1/me?t={seeded['t']}"))
    again = _html(client.get(f"/courses/1/me?t={seeded['t']}"))
    assert len(made) == 1 and "<strong>70 %</strong>" in again
    assert _figure(first, "my-calendar") == _figure(again, "my-calendar")
    spanish = client.get(f"/courses/1/me?t={seeded['t']}", headers={"Accept-Language": "es"})
    assert spanish.status_code == 200 and len(made) == 2
    with app.app_context():
        touch_courses(db.session, [1])
        db.session.commit()
    _html(client.get(f"/courses/1/me?t={seeded['t']}"))
    assert len(made) == 3


def test_the_videos_table_names_each_video_its_share_and_whether_it_reached_the_end(
    app: Flask,
) -> None:
    # Written by the view (course_views.video_rows): names escaped in their cell with the id
    # in the tooltip, the share in the page's language, "yes" / "not yet" in its words.
    from lti_tool.kpis.names import CourseNames

    known = CourseNames(names={("video", "v1"): "Intro <b>1</b>"}, known={("video", "v1")})
    videos = [
        {"video_id": "v1", "coverage": 0.126, "completed": False},
        {"video_id": "v&2", "coverage": None, "completed": True},
    ]
    expected = {
        "en": ("13 %", "not yet", "yes", "Unnamed video"),
        "nb": ("13 %", "ikke ennå", "ja", "Video uten navn"),
    }
    for language, (share, no, yes, unnamed) in expected.items():
        with app.test_request_context("/courses/1/me", headers={"Accept-Language": language}):
            rows = str(course_views.video_rows(videos, known, _("not yet")))
        assert rows.startswith(
            '<tr><td><span class="named" title="v1">Intro &lt;b&gt;1&lt;/b&gt;</span></td>'
            f"<td>{share}</td><td>{no}</td></tr>"
        ), rows
        assert f'<tr><td><span class="named" title="v&amp;2">{unnamed}' in rows
        assert rows.endswith(f"</span></td><td>\u2013</td><td>{yes}</td></tr>"), rows
