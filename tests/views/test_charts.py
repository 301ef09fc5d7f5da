"""Charts: figures from KPI rows, safe JSON for the page, and the overview's charts and tables."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import plotly.io as pio
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select

from lti_tool.activity.rollups import week_start
from lti_tool.extensions import db
from lti_tool.kpis.activity import quartiles
from lti_tool.kpis.learners import class_data
from lti_tool.models import Course
from lti_tool.views.charts import (
    MODULE_LABEL_CHARS,
    add_event_markers,
    assignment_quartiles_figure,
    count_axis,
    figure_json,
    hmm,
    learner_days_figure,
    module_completion_figure,
    mss,
    points,
    score_histogram_figure,
    video_timeline_figure,
    weekly_activity_figure,
    weekly_time_figure,
    weeks_of,
)
from tests.helpers.platform import CLAIM, LEARNER, FakePlatform, follow
from tests.helpers.tracking_logs import COURSE, event, ingest, write


def test_quartiles_interpolate_like_numpy() -> None:
    # numpy.percentile([1, 2, 3, 4], [25, 50, 75]) == [1.75, 2.5, 3.25]
    assert quartiles([4, 1, 3, 2]) == (1.75, 2.5, 3.25)
    assert quartiles([5.0]) == (5.0, 5.0, 5.0)


def test_weekly_activity_figure_has_one_trace_per_label() -> None:
    rows = [
        {"week_start": "2026-03-02", "label": "ACTIVE", "count": 5},
        {"week_start": "2026-03-09", "label": "ACTIVE", "count": 7},
        {"week_start": "2026-03-02", "label": "PLAYED_VIDEO", "count": 3},
    ]
    fig = weekly_activity_figure(rows)
    traces = {t.name: (list(t.x), list(t.y)) for t in fig.data}
    # A week without a row is a week nobody did it: 0, not a line drawn across the gap.
    assert traces == {
        "Active": (["2026-03-02", "2026-03-09"], [5, 7]),
        "Played a video": (["2026-03-02", "2026-03-09"], [3, 0]),
    }


def test_chart_text_is_escaped_and_json_cannot_close_the_script_block() -> None:
    title = '"><img src=x onerror=alert(1)></script><!--'
    rows = [{"segment": 0, "num_users": 1, "num_views": 2}]
    payload = figure_json(video_timeline_figure(rows, title))
    assert "<" not in payload  # neither </script> nor <!-- can appear
    figure = json.loads(payload)
    assert figure["layout"]["title"]["text"] == (
        "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;&lt;/script&gt;&lt;!--"
    )


def test_overview_shows_charts_and_tables_from_ingested_logs(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, platform: FakePlatform, tmp_path: Path
) -> None:
    ingest(
        runner,
        write(
            tmp_path / "t.log",
            [
                event("2026-03-02 10:00:00"),
                event("2026-03-02 10:20:00"),
                event("2026-03-03 09:00:00", user=8, username="learner8"),
            ],
        ),
    )
    context = {CLAIM + "context": {"id": COURSE, "title": "edX Demo"}}
    page = follow(client, platform.launch(client, **context))
    html = page.get_data(as_text=True)
    assert (
        'data-target="chart-weekly-activity"' in html and 'data-target="chart-weekly-time"' in html
    )
    assert "<td>2026-03-02</td><td>Active</td><td>2</td>" in html
    # week of 2026-03-02: learner7 1200 s, learner8 0 s -> quartiles 300 / 600 / 900 s (h:mm)
    assert "<td>2026-03-02</td><td>2</td><td>0:05</td><td>0:10</td><td>0:15</td>" in html
    # March is not this week: no "median time this week"
    assert 'id="median-weekly-hours">\u2013</span>' in html
    assert '<script src="/vendor/plotly.min.js"></script>' in html
    assert client.get("/vendor/plotly.min.js").status_code == 200


def test_overview_without_data_explains_where_data_comes_from(
    client: FlaskClient, platform: FakePlatform
) -> None:
    html = follow(client, platform.launch(client)).get_data(as_text=True)
    assert 'id="no-activity"' in html and "flask ingest tracking-logs" in html
    assert "plotly.min.js" not in html


def test_every_figure_carries_the_simple_white_template() -> None:
    # The template travels as data in the figure JSON (plotly.js applies it), not plotly.py's
    # default grey one.
    rows = [{"week_start": "2026-03-02", "label": "ACTIVE", "count": 3}]
    data = json.loads(figure_json(weekly_activity_figure(rows)))
    assert data["layout"]["template"] == pio.templates["simple_white"].to_plotly_json()
    assert data["layout"]["template"]["layout"]["plot_bgcolor"] == "white"


# Issue 16, item 3: charts that read right.

WEEKLY_ROWS = [
    {"week_start": "2026-03-02", "label": "ACTIVE", "count": 5},
    {"week_start": "2026-03-09", "label": "ACTIVE", "count": 7},
    {"week_start": "2026-03-16", "label": "ACTIVE", "count": 3},
    {"week_start": "2026-03-16", "label": "PLAYED_VIDEO", "count": 2},
]
TIME_ROWS = [
    {"week_start": w, "learners": 4, "q1_seconds": q1, "median_seconds": m, "q3_seconds": q3}
    for w, q1, m, q3 in (
        ("2026-03-02", 600.0, 1080.0, 1500.0),
        ("2026-03-09", 900.0, 16650.0, 20000.0),  # 4:37:30 median: h:mm, not 4.625 h
        ("2026-03-16", 60.0, 300.0, 420.0),
    )
]


def _layout(fig: Any) -> dict[str, Any]:
    return json.loads(figure_json(fig))["layout"]


def test_weekly_ticks_are_the_mondays_labelled_week_n_with_the_date() -> None:
    layout = _layout(weekly_activity_figure(WEEKLY_ROWS))
    ticks = layout["xaxis"]["tickvals"]
    assert ticks == ["2026-03-02", "2026-03-09", "2026-03-16"]
    assert all(date.fromisoformat(t).weekday() == 0 for t in ticks)  # Mondays, not Sundays
    # Counted from the first week shown when the course start is not known
    assert layout["xaxis"]["ticktext"] == ["Week 1<br>Mar 2", "Week 2<br>Mar 9", "Week 3<br>Mar 16"]
    # From the course's start when known (a Wednesday: its week is Week 1)
    weeks = weeks_of(["2026-03-09", "2026-03-16"], starts_on=date(2026, 2, 25))
    assert weeks is not None
    layout = _layout(weekly_activity_figure(WEEKLY_ROWS[1:], weeks))
    assert layout["xaxis"]["ticktext"] == ["Week 3<br>Mar 9", "Week 4<br>Mar 16"]
    # A long course: a label on every other week past 16 weeks, a tick on every Monday
    long = weeks_of((date(2026, 1, 5) + timedelta(days=7 * i)).isoformat() for i in range(20))
    assert long is not None
    axis = long.axis()
    assert len(axis["tickvals"]) == 20 and axis["ticktext"][:3] == [
        "Week 1<br>Jan 5",
        "",
        "Week 3<br>Jan 19",
    ]
    # The hover names the week and its Monday
    fig = json.loads(figure_json(weekly_activity_figure(WEEKLY_ROWS)))
    active = next(t for t in fig["data"] if t["name"] == "Active")
    assert active["customdata"][0] == ["Week 1, from Mar 2", "5"]


def test_a_week_in_progress_is_drawn_partial_and_earlier_weeks_are_not() -> None:
    weeks = weeks_of([r["week_start"] for r in WEEKLY_ROWS], today=date(2026, 3, 19))
    assert weeks is not None and weeks.partial == "2026-03-16"
    fig = json.loads(figure_json(weekly_activity_figure(WEEKLY_ROWS, weeks)))
    traces = {t["name"]: t for t in fig["data"]}
    # The complete weeks as the solid line; the week in progress dotted, to an open marker
    assert traces["Active"]["x"] == ["2026-03-02", "2026-03-09"]
    segment = [t for t in fig["data"] if t["name"] == "Active (this week so far)"]
    assert [t["mode"] for t in segment] == ["lines", "markers"]
    assert segment[0]["line"]["dash"] == "dot" and segment[0]["x"] == ["2026-03-09", "2026-03-16"]
    assert segment[1]["marker"]["symbol"] == "circle-open"
    assert segment[1]["customdata"] == [["Week 3, from Mar 16 (so far)", "3"]]
    layout = fig["layout"]
    [band] = [s for s in layout["shapes"] if s.get("name") == "partial-week"]
    assert (band["x0"], band["x1"]) == ("2026-03-16", "2026-03-23")
    [note] = [a for a in layout["annotations"] if a.get("name") == "partial-week"]
    assert note["text"] == "this week<br>so far"
    # A week that is over is not partial
    done = weeks_of([r["week_start"] for r in WEEKLY_ROWS], today=date(2026, 3, 23))
    assert done is not None and done.partial is None
    layout = _layout(weekly_activity_figure(WEEKLY_ROWS, done))
    assert not [s for s in layout.get("shapes", []) if s.get("name") == "partial-week"]


def test_count_axes_have_whole_number_ticks() -> None:
    rows = [{"week_start": "2026-03-02", "label": "ACTIVE", "count": 4}]
    for fig in (
        weekly_activity_figure(rows),
        score_histogram_figure([55.0, 61.0, 72.0]),
        video_timeline_figure([{"segment": 0, "num_users": 3, "num_views": 7}], "v"),
    ):
        layout = _layout(fig)
        assert layout["yaxis"]["tickformat"] == ",d"
        assert layout["yaxis"]["rangemode"] == "tozero"
        assert isinstance(layout["yaxis"]["dtick"], int) and layout["yaxis"]["dtick"] >= 1
    assert count_axis([3.96, 7.92, 2])["dtick"] == 2
    assert count_axis([])["dtick"] == 1


def test_durations_read_h_mm_on_the_axis_and_in_the_hover() -> None:
    assert [hmm(s) for s in (0, 29, 1080, 16650, 36000, None)] == [
        "0:00",
        "0:00",
        "0:18",
        "4:38",
        "10:00",
        "\u2013",
    ]
    fig = json.loads(figure_json(weekly_time_figure(TIME_ROWS, 30)))
    axis = fig["layout"]["yaxis"]
    assert axis["tickmode"] == "array"
    assert all(re.fullmatch(r"\d+:\d\d", t) for t in axis["ticktext"])
    assert [hmm(v * 3600) for v in axis["tickvals"]] == axis["ticktext"]
    assert axis["tickvals"][-1] * 3600 >= 20000  # the top tick covers the highest quartile
    median = next(t for t in fig["data"] if t["name"] == "Median")
    assert median["customdata"][1] == ["Week 2, from Mar 9", "4:38 (middle half 0:15\u20135:33)"]
    assert "%{customdata[1]}" in median["hovertemplate"]
    days = [{"day": date(2026, 3, 3), "seconds": 1080.0, "events": 9}]
    layout = json.loads(figure_json(learner_days_figure(days, 30, "Ada")))
    assert layout["data"][0]["customdata"] == ["0:18"]
    assert all(re.fullmatch(r"\d+:\d\d", t) for t in layout["layout"]["yaxis"]["ticktext"])


def test_the_video_timeline_has_views_left_viewers_right_and_m_ss_positions() -> None:
    rows = [{"segment": s, "num_users": 10 - s // 10, "num_views": 25 - s // 5} for s in range(40)]
    fig = json.loads(figure_json(video_timeline_figure(rows, "v")))
    views, viewers = fig["data"]
    assert views["type"] == "bar" and views.get("yaxis", "y") == "y"
    assert viewers["yaxis"] == "y2"
    layout = fig["layout"]
    assert layout["yaxis2"]["overlaying"] == "y" and layout["yaxis2"]["side"] == "right"
    for axis in (layout["yaxis"], layout["yaxis2"]):
        assert axis["tickformat"] == ",d"
    assert layout["xaxis"]["ticktext"][:3] == ["0:00", "0:30", "1:00"]
    assert layout["xaxis"]["tickvals"][:3] == [0, 30, 60]
    assert views["customdata"][13] == "1:05\u20131:10"
    assert [mss(s) for s in (0, 65, 599, 3725)] == ["0:00", "1:05", "9:59", "1:02:05"]


def _events(*days: str) -> list[dict[str, Any]]:
    return [{"at": d, "title": f"Homework {i} due", "kind": "due"} for i, d in enumerate(days)]


def test_close_event_titles_are_staggered_so_they_do_not_overlap() -> None:
    rows = [
        {"week_start": w, "label": "ACTIVE", "count": 2}
        for w in ("2026-03-02", "2026-03-09", "2026-03-16", "2026-03-23")
    ]
    fig = add_event_markers(
        weekly_activity_figure(rows), _events("2026-03-05", "2026-03-06", "2026-03-20")
    )
    layout = _layout(fig)
    labels = [a for a in layout["annotations"] if a.get("name") == "event-label"]
    assert [a["text"] for a in labels] == ["Homework 0 due", "Homework 1 due", "Homework 2 due"]
    # A day apart: one row above the other; two weeks later the first row is free again
    assert [a["yshift"] for a in labels] == [4, 18, 4]
    assert all(a["yanchor"] == "bottom" and a["y"] == 1 for a in labels)  # above the plot
    assert layout["margin"]["t"] > 50  # room for the two rows
    # Hidden on a narrow chart (the marker row's hover names them)
    narrow = layout["meta"]["narrow"]
    hidden = [i for i, a in enumerate(layout["annotations"]) if a.get("name") == "event-label"]
    assert all(narrow[f"annotations[{i}].visible"] is False for i in hidden)
    [markers] = [t for t in json.loads(figure_json(fig))["data"] if t["name"] == "Due dates"]
    assert [c[0] for c in markers["customdata"]] == [a["text"] for a in labels]


def test_dense_event_titles_go_to_the_hover_of_a_marker_row_only() -> None:
    rows = [{"week_start": w, "label": "ACTIVE", "count": 2} for w in ("2026-03-02", "2026-03-09")]
    days = ("2026-03-03", "2026-03-04", "2026-03-05", "2026-03-10")  # more than one a week
    fig = json.loads(figure_json(add_event_markers(weekly_activity_figure(rows), _events(*days))))
    assert not [a for a in fig["layout"].get("annotations", []) if a.get("name") == "event-label"]
    [markers] = [t for t in fig["data"] if t["name"] == "Due dates"]
    assert markers["x"] == list(days) and markers["mode"] == "markers"
    assert [c[0] for c in markers["customdata"]] == [f"Homework {i} due" for i in range(4)]
    assert markers.get("showlegend", True) is True  # "Due dates" in the legend
    assert markers["hovertemplate"].startswith("%{customdata[0]}")
    # Events outside the weeks shown are left out of the chart (they stay in the table)
    fig = json.loads(
        figure_json(add_event_markers(weekly_activity_figure(rows), _events("2026-04-30")))
    )
    assert not [t for t in fig["data"] if t["name"] == "Due dates"]


def test_the_overview_marks_the_week_in_progress_and_keeps_segments_on_the_last_full_week(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, platform: FakePlatform, tmp_path: Path
) -> None:
    now = datetime.now(UTC).replace(microsecond=0, tzinfo=None)
    monday = datetime.combine(week_start(now.date()), datetime.min.time())
    stamps = [monday - timedelta(days=7, hours=-10), monday + timedelta(seconds=1)]
    stamps.append(min(now, stamps[-1] + timedelta(minutes=10)))
    ingest(runner, write(tmp_path / "t.log", [event(s.isoformat(sep=" ")) for s in stamps]))
    context = {CLAIM + "context": {"id": COURSE, "title": "edX Demo"}}
    html = follow(client, platform.launch(client, **context)).get_data(as_text=True)
    this_week = monday.date().isoformat()
    # The KPIs include the week in progress: in the tables, marked "(so far)"
    assert f"<td>{this_week} (so far)</td><td>Active</td><td>1</td>" in html
    assert f"<td>{this_week} (so far)</td><td>1</td>" in html
    assert "is this week so far" in html  # the text note under the chart
    # The card's "median time this week" is this week's (learner7: 10 minutes so far, or less)
    assert re.search(r'id="median-weekly-hours">0:\d\d</span>', html)
    block = re.search(r'data-target="chart-weekly-activity">(.*?)</script>', html, re.S)
    figure = json.loads(block.group(1))
    assert figure["layout"]["xaxis"]["tickvals"][-1] == this_week
    assert any(t["name"] == "Active (this week so far)" for t in figure["data"])
    # Segments (and at risk) still describe the last complete week
    with app.app_context():
        course = db.session.scalar(select(Course))
        data = class_data(db.session, course, key=b"k" * 32)
        assert data.segment_week == week_start(data.today) - timedelta(days=7)


def test_quartile_points_read_two_decimals_at_most_in_the_hover() -> None:
    assert [points(v) for v in (4.625, 7.0, 5.25, 0.1 + 0.2)] == ["4.62", "7", "5.25", "0.3"]
    rows = [{"assignment": "HW 1", "q1": 3.5, "median": 4.625, "q3": 7.0}]
    [trace] = json.loads(figure_json(assignment_quartiles_figure(rows)))["data"]
    assert trace["customdata"] == [["4.62", "3.5", "7"]]
    assert "%{customdata[0]}" in trace["hovertemplate"]


def test_the_student_page_shows_weeks_without_activity_and_the_week_in_progress(
    client: FlaskClient, runner: FlaskCliRunner, platform: FakePlatform, tmp_path: Path
) -> None:
    now = datetime.now(UTC).replace(microsecond=0, tzinfo=None)
    monday = datetime.combine(week_start(now.date()), datetime.min.time())
    three_weeks_ago = monday - timedelta(days=21, hours=-10)
    stamps = [three_weeks_ago, three_weeks_ago + timedelta(minutes=6), monday]
    ingest(runner, write(tmp_path / "t.log", [event(s.isoformat(sep=" ")) for s in stamps]))
    context = {CLAIM + "context": {"id": COURSE, "title": "edX Demo"}}
    launch = platform.launch(
        client, roles=LEARNER, sub="s7", preferred_username="learner7", **context
    )
    html = re.sub(r">\s+<", "><", follow(client, launch).get_data(as_text=True))
    weeks = [(monday - timedelta(days=7 * n)).date().isoformat() for n in (3, 2, 1, 0)]
    # The two weeks without activity are rows of 0:00, not left out; this week is "so far"
    assert f"<td>{weeks[0]}</td><td>0:06</td><td>1</td>" in html
    assert f"<td>{weeks[1]}</td><td>0:00</td><td>0</td>" in html
    assert f"<td>{weeks[3]} (so far)</td><td>0:00</td><td>1</td>" in html
    assert "is this week so far" in html
    block = re.search(r'data-target="chart-my-time">(.*?)</script>', html, re.S)
    figure = json.loads(block.group(1))
    assert figure["layout"]["xaxis"]["tickvals"] == weeks
    assert figure["layout"]["xaxis"]["ticktext"][0].startswith("Week 1<br>")
    you = {t["name"]: t for t in figure["data"] if t["name"].startswith("You")}
    assert you["You"]["y"] == [0.1, 0, 0]  # hours: 6 minutes, then two empty weeks
    assert you["You (this week so far)"]["marker"]["symbol"] == "circle-open"


def test_module_names_are_written_on_short_lines_and_the_legend_stays_clear_of_them() -> None:
    rows = [
        {"module": "Week 1: Getting started with data", "started": 25, "completed": 8},
        {"module": "Week 2: Cleaning <data>", "started": 24, "completed": 7},
    ]
    figure = module_completion_figure(rows)
    labels = list(figure.data[0].x)
    for label in labels:
        lines = html.unescape(label).split("<br>")
        assert len(lines) > 1 and all(len(line) <= MODULE_LABEL_CHARS for line in lines), label
    assert labels[0].replace("<br>", " ") == "Week 1: Getting started with data"
    assert "&lt;data&gt;" in labels[1]  # escaped, as every chart text
    assert figure.layout.xaxis.tickangle == 0
    assert figure.layout.legend.y >= 1 and figure.layout.legend.yanchor == "bottom"
    assert list(figure.data[1].customdata) == [rows[0]["module"], "Week 2: Cleaning &lt;data&gt;"]
    # on a phone the modules are numbered in course order, the legend still on top
    narrow = json.loads(figure_json(figure))["layout"]["meta"]["narrow"]
    assert narrow["xaxis.ticktext"] == ["1", "2"] and narrow["xaxis.tickvals"] == labels
    assert narrow["legend.y"] >= 1
