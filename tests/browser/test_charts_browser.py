"""The overview's weekly charts as chromium draws them (issue 16, item 3): ticks on the Mondays
reading "Week N", the week in progress drawn partial, due dates as a marker row whose titles do
not print over the chart on a phone.

The seeded activity runs from three weeks ago into the current week, so the last week shown is
always the one in progress, whatever day the test runs.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Browser, BrowserContext, Frame, Page
from sqlalchemy import select

from lti_tool.extensions import db
from lti_tool.models import Course, CourseEvent, Platform
from lti_tool.tracking_logs.ingest import ingest_tracking_logs
from tests.helpers.browser import ServerFactory
from tests.helpers.browser_lms import Stack, running_stack

pytestmark = pytest.mark.browser

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = Path(os.environ.get("SCREENSHOT_DIR", ROOT / "test-artifacts" / "screenshots"))
COURSE_KEY = "course-v1:Browser+Charts+2026"
TIMEOUT_MS = 20_000
NOW = datetime.now(UTC).replace(microsecond=0)
MONDAY = datetime.combine(NOW.date() - timedelta(days=NOW.weekday()), datetime.min.time(), UTC)


def _line(learner: int, at: datetime) -> str:
    return json.dumps(
        {
            "username": f"learner{learner}",
            "event_type": "/courses/x/courseware",
            "event_source": "server",
            "time": at.isoformat(),
            "event": {},
            "context": {"course_id": COURSE_KEY, "user_id": 300 + learner, "path": "/x"},
        }
    )


def seed(tool: Flask, platform: Platform, folder: Path) -> None:
    """Six learners in each of the three past weeks, two so far this week; four due dates."""
    lines = []
    for weeks_ago in (3, 2, 1):
        start = MONDAY - timedelta(days=7 * weeks_ago) + timedelta(hours=9)
        for learner in range(1, 7):
            lines += [_line(learner, start), _line(learner, start + timedelta(minutes=12))]
    # This week: within the first second of Monday whatever the time now
    for learner in (1, 2):
        lines.append(_line(learner, min(NOW, MONDAY + timedelta(seconds=learner))))
    log = folder / "tracking.log"
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    ingest_tracking_logs(db.session, [log], platform, workers=0)
    course = db.session.scalar(select(Course).where(Course.lti_context_id == COURSE_KEY))
    assert course is not None
    for n, days in enumerate((-17, -16, -9, -2), start=1):  # two of them a day apart
        at = MONDAY + timedelta(days=days, hours=23)
        db.session.add(
            CourseEvent(course_id=course.id, source="staff", kind="due", title=f"HW {n}", at=at)
        )
    db.session.commit()


@pytest.fixture(scope="module")
def stack(
    https_servers: ServerFactory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Stack]:
    folder = tmp_path_factory.mktemp("charts")
    context = {"id": COURSE_KEY, "label": "C1", "title": "Charts 101"}
    with running_stack(
        https_servers, folder, {"context": context}, lambda tool, row: seed(tool, row, folder)
    ) as running:
        yield running


def open_overview(context: BrowserContext, stack: Stack, width: int) -> tuple[Page, Frame]:
    """The LMS course page with the staff overview in its iframe, charts drawn."""
    page = context.new_page()
    page.goto(f"{stack.lms_origin}/course?as=instructor&width={width}&height=1400")
    page.frame_locator("iframe").locator("#course-title").wait_for(timeout=TIMEOUT_MS)
    frame = page.query_selector("iframe").content_frame()
    assert frame is not None
    frame.wait_for_function(
        "() => Array.from(document.querySelectorAll('div.chart'))"
        ".every(d => d.getAttribute('data-rendered') === 'true')",
        timeout=TIMEOUT_MS,
    )
    return page, frame


def drawn(frame: Frame, chart: str) -> dict:
    """What Plotly drew for one chart: tick labels and values, annotations, trace names."""
    return frame.evaluate(
        """(id) => {
            const gd = document.getElementById(id);
            const texts = sel => Array.from(gd.querySelectorAll(sel), n => n.textContent);
            return {
                ticks: texts('.xaxislayer-above .xtick text'),
                tickvals: gd._fullLayout.xaxis.tickvals,
                notes: Array.from(gd.querySelectorAll('.annotation'), a => ({
                    text: a.textContent,
                    box: a.getBoundingClientRect().toJSON(),
                })),
                traces: gd.data.map(t => t.name),
                partialBands: (gd.layout.shapes || []).filter(s => s.name === 'partial-week')
                    .length,
                width: gd.clientWidth,
            };
        }""",
        chart,
    )


def overlaps(boxes: list[dict]) -> bool:
    """Whether any two boxes (DOMRect JSON) overlap."""
    return any(
        a["left"] < b["right"]
        and b["left"] < a["right"]
        and a["top"] < b["bottom"]
        and b["top"] < a["bottom"]
        for i, a in enumerate(boxes)
        for b in boxes[i + 1 :]
    )


@pytest.mark.parametrize("width", [1000, 390])
def test_weekly_charts_read_week_n_on_mondays_and_mark_the_week_in_progress(
    browser: Browser, stack: Stack, width: int
) -> None:
    context = browser.new_context(ignore_https_errors=True, viewport={"width": 1440, "height": 900})
    errors: list[str] = []
    context.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        page, frame = open_overview(context, stack, width)
        this_week = MONDAY.date().isoformat()
        for chart in ("chart-weekly-activity", "chart-weekly-time"):
            figure = drawn(frame, chart)
            assert figure["tickvals"][-1] == this_week
            assert all(date.fromisoformat(v).weekday() == 0 for v in figure["tickvals"])
            if width == 1000:
                # "Week N" above the Monday's date, Week 1 the first week shown
                assert figure["ticks"][0] == "Week 1" + _day(MONDAY.date() - timedelta(days=21))
                assert all(t.startswith("Week ") for t in figure["ticks"])
            else:
                assert figure["ticks"] == ["W1", "W2", "W3", "W4"]  # short on a phone
            # The week in progress: its shaded band, its note, its dotted "so far" segment
            assert figure["partialBands"] == 1
            notes = [n["text"] for n in figure["notes"]]
            assert ("this weekso far" if width == 1000 else "so far") in notes
            assert any(name.endswith("(this week so far)") for name in figure["traces"])
            assert "Due dates" in figure["traces"]  # the marker row, named in the legend
            titles = [n for n in figure["notes"] if n["text"].startswith("HW ")]
            if width == 1000:  # above the plot, staggered: no two titles overlap
                assert len(titles) == 4 and not overlaps([n["box"] for n in titles])
            else:  # no room on a phone: the marker row's hover names them
                assert titles == []
        rows = frame.eval_on_selector_all(
            "#table-weekly-activity tbody tr", "rows => rows.map(r => r.cells[0].textContent)"
        )
        assert rows[-1] == f"{this_week} (so far)"
        assert errors == []
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / f"charts-overview-{width}.png"), full_page=True)
    finally:
        context.close()


def _day(day: date) -> str:
    return f"{day.strftime('%b')} {day.day}"
