"""The staff video page: per-video table and the drop-off timeline; learners are refused."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from flask.testing import FlaskClient, FlaskCliRunner

from tests.helpers.classes import section_of
from tests.helpers.platform import CLAIM, LEARNER, FakePlatform, session_token
from tests.helpers.tracking_logs import COURSE, VIDEO, VIDEO_ID, event, ingest, write

CONTEXT = {CLAIM + "context": {"id": COURSE, "title": "edX Demo"}}


def _video(stamp: str, name: str, user: int, video: str = VIDEO, **data: Any) -> str:
    payload = {"id": video, "code": "html5", "duration": 60, **data}
    return event(stamp, name, user=user, username=f"u{user}", source="browser", payload=payload)


def test_video_page_table_and_timeline(
    client: FlaskClient, runner: FlaskCliRunner, platform: FakePlatform, tmp_path: Path
) -> None:
    ingest(
        runner,
        write(
            tmp_path / "v.log",
            [
                _video("2026-03-02 10:00:00", "play_video", 1, currentTime=0),
                _video("2026-03-02 10:01:00", "pause_video", 1, currentTime=60),
                _video("2026-03-02 10:00:00", "play_video", 2, currentTime=0),
                _video("2026-03-02 10:00:12", "stop_video", 2, currentTime=12),
            ],
        ),
    )
    staff = platform.launch(client, **CONTEXT)
    token = staff.headers["Location"].split("t=")[1]
    html = re.sub(r">\s+<", "><", client.get(f"/courses/1/videos?t={token}").get_data(as_text=True))
    # 1:00 long; 2 viewers, 2 started, 1 reached the end; 16 views * 5 s = 80 s = 1.3 min
    assert (
        f'<td><span class="named" title="{VIDEO_ID}">Video 1</span></td><td>1:00</td>'
        f"<td>2</td><td>2</td><td>1</td><td>1.3</td>"
    ) in html
    # segments as m:ss (as on the chart's axis)
    assert "<tr><td>0:00\u20130:05</td><td>2</td><td>2</td></tr>" in html  # both viewers
    assert "<tr><td>0:15\u20130:20</td><td>1</td><td>1</td></tr>" in html  # from 15 s only u1
    assert 'data-target="chart-video-timeline"' in html


def test_each_viewer_gets_their_own_links_language_and_chosen_video(
    client: FlaskClient, runner: FlaskCliRunner, platform: FakePlatform, tmp_path: Path
) -> None:
    # The table's cells are written once per worker and language; each row's link holds the
    # viewer's session, and the chosen row is the request's own.
    other, other_id = VIDEO.replace("0b9e", "9f00"), VIDEO_ID.replace("0b9e", "9f00")
    ingest(
        runner,
        write(
            tmp_path / "v.log",
            [
                _video("2026-03-02 10:00:00", "play_video", 1, currentTime=0),
                _video("2026-03-02 10:01:00", "pause_video", 1, currentTime=60),
                _video("2026-03-02 10:02:00", "play_video", 1, other, currentTime=0),
                _video("2026-03-02 10:02:30", "pause_video", 1, other, currentTime=30),
            ],
        ),
    )

    def launch(sub: str, locale: str) -> str:
        def mutate(body: dict[str, Any]) -> None:
            body[CLAIM + "launch_presentation"] = {"locale": locale}

        return session_token(platform.launch(client, mutate=mutate, sub=sub, **CONTEXT))

    def page(token: str, video: str = "") -> str:
        html = client.get(f"/courses/1/videos?t={token}&video={video}").get_data(as_text=True)
        return re.sub(r">\s+<", "><", html)

    # Both launched first: their pages are of the same data (a launch enrolls its viewer).
    first, second = launch("staff-1", "en"), launch("staff-2", "nb")
    english, norwegian = page(first), page(second, other_id)
    rows = [
        re.findall(r'<tr(?: aria-current="true")?><td><span class="named".*?</tr>', html)
        for html in (english, norwegian)
    ]
    # The first video chosen by default, the second when asked for; each link the viewer's own.
    assert [r.startswith('<tr aria-current="true">') for r in rows[0]] == [True, False]
    assert [r.startswith('<tr aria-current="true">') for r in rows[1]] == [False, True]
    tokens = [
        {re.search(r"t=([^\"&]+)", row)[1] for row in page_rows}  # type: ignore[index]
        for page_rows in rows
    ]
    assert tokens == [{page_token(english)}, {page_token(norwegian)}]
    assert page_token(english) != page_token(norwegian)
    # Each in its language: 13 and 7 segments of 5 s watched as 1.1 and 0.6 minutes; "show".
    assert "<td>1.1</td>" in rows[0][0] and "<td>0,6</td>" in rows[1][1]
    assert ">show</a>" in rows[0][0] and ">vis</a>" in rows[1][0]
    # The chosen video's timeline: the first's 13 segments, the second's 7.
    assert english.count("<tr><td>0:") == 12 and norwegian.count("<tr><td>0:") == 7
    assert "<tr><td>1:00\u20131:05</td>" in english and "0:30\u20130:35" in norwegian
    # The message form lists both videos by name, in course order.
    options = r'<select name="item"><option value="{}">Video 1</option><option value="{}">'
    assert options.format(VIDEO_ID, other_id) in english


def page_token(html: str) -> str:
    """The session token a page's forms carry (the viewer's, renewed with each page)."""
    found = re.search(r'name="t" value="([^"]+)"', html)
    assert found is not None
    return found[1]


def test_learner_cannot_open_the_video_page(client: FlaskClient, platform: FakePlatform) -> None:
    me = platform.launch(client, roles=LEARNER, **CONTEXT).headers["Location"]
    response = client.get("/courses/1/videos?t=" + me.split("t=")[1])
    assert response.status_code == 403


def test_video_page_by_section(
    app: Any, client: FlaskClient, runner: FlaskCliRunner, platform: FakePlatform, tmp_path: Path
) -> None:

    ingest(
        runner,
        write(
            tmp_path / "v.log",
            [
                _video("2026-03-02 10:00:00", "play_video", 1, currentTime=0),
                _video("2026-03-02 10:01:00", "pause_video", 1, currentTime=60),
                _video("2026-03-02 10:00:00", "play_video", 2, currentTime=0),
                _video("2026-03-02 10:00:12", "stop_video", 2, currentTime=12),
            ],
        ),
    )
    staff = platform.launch(client, **CONTEXT)
    token = staff.headers["Location"].split("t=")[1]
    section_of(app, "u2", "Lab <2>")
    html = re.sub(
        r">\s+<",
        "><",
        client.get(f"/courses/1/videos?t={token}&section=Lab+%3C2%3E").get_data(as_text=True),
    )
    # only u2: 1 viewer, started, did not reach the end; segments 0-2 (12 s) = 15 s watched
    assert (
        f'<td><span class="named" title="{VIDEO_ID}">Video 1</span></td><td>1:00</td>'
        f"<td>1</td><td>1</td><td>0</td><td>0.2</td>"
    ) in html
    assert 'id="chosen-section">Lab &lt;2&gt;<' in html
    assert "<tr><td>15</td>" not in html  # nobody of the section watched past 12 s


def test_settled_durations_agree_with_the_video_summary(
    app: Any, runner: FlaskCliRunner, tmp_path: Path
) -> None:
    """Known durations are taken as they are, unknown ones inferred from where viewers stop,
    exactly as the summary settles them (the student page reads only this)."""
    from sqlalchemy import select

    from lti_tool.extensions import db
    from lti_tool.kpis.video_engagement import settled_durations, video_summary
    from lti_tool.models import Course, Video

    unknown = "block-v1:edX+DemoX+2026+type@video+block@nolength"
    lines = [
        _video("2026-03-02 10:00:00", "play_video", 1, currentTime=0),
        _video("2026-03-02 10:01:00", "pause_video", 1, currentTime=60),
    ]
    # A video whose events never say how long it is: five viewers stop near 40 s, one later.
    for user, stop in ((2, 41), (3, 42), (4, 40), (5, 43), (6, 41), (7, 90)):
        payload = {"id": unknown, "code": "html5"}
        lines.append(
            event("2026-03-03 09:00:00", "play_video", user=user, username=f"u{user}",
                  source="browser", payload={**payload, "currentTime": 0})
        )  # fmt: skip
        lines.append(
            event("2026-03-03 09:05:00", "pause_video", user=user, username=f"u{user}",
                  source="browser", payload={**payload, "currentTime": stop})
        )  # fmt: skip
    ingest(runner, write(tmp_path / "v.log", lines))
    with app.app_context():
        course = db.session.scalars(select(Course)).one()
        db.session.add(Video(course_id=course.id, video_id="never-watched", duration=120.0))
        db.session.commit()
        settled = settled_durations(db.session, course)
        summary = {row["video_id"]: row["duration"] for row in video_summary(db.session, course)}
    assert settled == summary
    assert settled[VIDEO_ID] == 60.0 and settled["never-watched"] == 120.0
    assert settled["nolength"] is not None  # inferred from the drop-off, not left unknown
