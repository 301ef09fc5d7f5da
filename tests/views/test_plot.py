"""Charts built as plain data (lti_tool.views.plot) give the JSON plotly.py's own objects give:
every chart, built both ways from the same rows, compared parsed."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date, timedelta

import plotly.graph_objects as go
import pytest

from lti_tool.views import charts
from lti_tool.views.plot import Figure, Props, scatter

WEEKS = ("2026-03-02", "2026-03-09", "2026-03-16")
AXIS = charts.Weeks(WEEKS, date(2026, 3, 2), partial="2026-03-16")
EVENTS = [
    {"at": "2026-03-05", "title": "HW <1>", "kind": "due"},
    {"at": "2026-03-12", "title": "Quiz", "kind": "other"},
    {"at": "2026-03-24", "title": "Next week's", "kind": "due"},
]
TIME_ROWS = [
    {"week_start": w, "learners": 4, "q1_seconds": q1, "median_seconds": m, "q3_seconds": q3}
    for w, q1, m, q3 in zip(
        WEEKS, (600.0, 900.0, 60.0), (1080.0, 16650.0, 300.0), (1500.0, 2e4, 420.0), strict=True
    )
]
ANSWERS = [
    {
        "answer_value": "<b>4</b>", "value_id": "choice_1", "variant": "", "correct": 1,
        "first_response_count": 5, "last_response_count": 7,
    },
    {
        "answer_value": "5", "value_id": "choice_2", "variant": "", "correct": 0,
        "first_response_count": 3, "last_response_count": 1,
    },
]  # fmt: skip

CHARTS: dict[str, Callable[[], object]] = {
    "weekly activity, events": lambda: charts.add_event_markers(
        charts.weekly_activity_figure(
            [
                {"week_start": WEEKS[0], "label": "ACTIVE", "count": 5},
                {"week_start": WEEKS[2], "label": "PLAYED_VIDEO", "count": 2},
            ],
            AXIS,
        ),
        EVENTS,
    ),
    "weekly time": lambda: charts.weekly_time_figure(TIME_ROWS, 30, AXIS),
    "backtest": lambda: charts.backtest_figure(
        [{"week_start": WEEKS[0], "precision": 0.5, "recall": None}], AXIS
    ),
    "video timeline": lambda: charts.video_timeline_figure(
        [{"segment": s, "num_users": 3 - s, "num_views": 7 - s} for s in range(3)], "Intro"
    ),
    "learner time, no events": lambda: charts.add_event_markers(
        charts.learner_time_figure(
            list(WEEKS), [60.0, 0.0, 4000.0], {w: (1.0, 2.0, 3.0) for w in WEEKS[:2]}, AXIS
        ),
        [],
    ),
    "learner days": lambda: charts.learner_days_figure(
        [{"day": date(2026, 3, d), "seconds": 600.0 * d, "events": d} for d in (2, 3, 9)], 30, "Ada"
    ),
    "score histogram": lambda: charts.score_histogram_figure([55.0, 61.0, 72.0, 100.0]),
    "score distribution": lambda: charts.score_distribution_figure([55.0, 61.0, 72.0], 61.0),
    "heatmap": lambda: charts.activity_heatmap_figure(
        AXIS,
        {date(2026, 3, 2) + timedelta(days=d): float(d % 3) for d in range(17)},
        title="Your active days",
        hover=lambda day, value: f"{value:g} events",
    ),
    "assignment quartiles": lambda: charts.assignment_quartiles_figure(
        [{"assignment": "HW 1", "q1": 3.5, "median": 4.625, "q3": 7.0}]
    ),
    "module completion": lambda: charts.module_completion_figure(
        [{"module": "Week 1: Getting started with data", "started": 25, "completed": 8}]
    ),
    "countries": lambda: charts.countries_figure(
        [
            {"country_code": "US", "country": "United States", "learners": 8},
            {"country_code": "OTHER", "country": "Other countries", "learners": 3},
        ]
    ),
    "answers": lambda: charts.answer_distribution_figure(ANSWERS, "Problem 1"),
    "enrollment": lambda: charts.enrollment_figure(
        [date(2026, 3, 1), date(2026, 3, 2)], {"All": [3, 5], "audit": [1, 2]}, date(2026, 3, 2)
    ),
}


def _plotly_objects(monkeypatch: pytest.MonkeyPatch) -> None:
    """The charts built with plotly.py's own classes instead of plain data."""
    monkeypatch.setattr(charts, "Figure", go.Figure)
    monkeypatch.setattr(charts, "scatter", go.Scatter)
    monkeypatch.setattr(charts, "bar", go.Bar)
    monkeypatch.setattr(charts, "heatmap", go.Heatmap)


@pytest.mark.parametrize("name", sorted(CHARTS))
def test_a_chart_as_plain_data_is_the_json_plotly_makes(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    plain = json.loads(charts.figure_json(CHARTS[name]()))  # type: ignore[arg-type]
    with monkeypatch.context() as patched:
        _plotly_objects(patched)
        made = json.loads(charts.figure_json(CHARTS[name]()))  # type: ignore[arg-type]
    assert plain["data"], "the chart has traces"
    assert plain == made


def test_a_figure_reads_by_attribute_and_leaves_its_own_layout_alone() -> None:
    fig = Figure({"xaxis": {"range": [1, 2]}, "title": {"text": "T"}})
    fig.add_trace(scatter(x=[1], y=[2], name="You"))
    fig.add_shape(type="line", x0=1)
    assert fig.layout.xaxis.range == [1, 2] and fig.layout.yaxis is None
    assert fig.data[0].name == "You" and fig.data[0].type == "scatter"
    assert isinstance(fig.layout.xaxis, Props) and fig.layout.shapes == [{"type": "line", "x0": 1}]
    before = json.dumps(fig.to_plotly_json(), sort_keys=True)
    shown = json.loads(charts.figure_json(fig))
    assert shown["layout"]["meta"]["narrow"] and "template" in shown["layout"]
    assert json.dumps(fig.to_plotly_json(), sort_keys=True) == before
