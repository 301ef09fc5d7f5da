"""Charts: figures from KPI rows, safe JSON for the page, and the overview's charts and tables."""

from __future__ import annotations

import json
from pathlib import Path

import plotly.io as pio
from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from lti_tool.kpis.activity import quartiles
from lti_tool.views.charts import figure_json, video_timeline_figure, weekly_activity_figure
from tests.helpers.platform import CLAIM, FakePlatform, follow
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
    assert "<td>2026-03-02</td><td>ACTIVE</td><td>2</td>" in html
    # week of 2026-03-02: learner7 1200 s, learner8 0 s -> quartiles 300 / 600 / 900 s (h:mm)
    assert "<td>2026-03-02</td><td>2</td><td>0:05</td><td>0:10</td><td>0:15</td>" in html
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
