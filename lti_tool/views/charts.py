"""Plotly figures built from kpis results (no Flask here).

Every text that reaches a figure is HTML-escaped first: plotly.js renders tags such as <b> and
<a href> inside labels. Colours are the Okabe-Ito palette (colour-blind safe); traces are SVG
(scatter, bar), never WebGL, which the CSP would block.
"""

from __future__ import annotations

import functools
import html
from collections.abc import Sequence
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio

from lti_tool.kpis.names import ACTIVITY_LABELS

PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]


def text(value: Any) -> str:
    """A value as chart text, HTML-escaped."""
    return html.escape(str(value), quote=True)


def _layout(title: str, x_title: str, y_title: str) -> dict[str, Any]:
    return {
        "title": {"text": text(title)},
        "xaxis": {"title": {"text": text(x_title)}},
        "yaxis": {"title": {"text": text(y_title)}, "rangemode": "tozero"},
        "colorway": PALETTE,
        "margin": {"l": 60, "r": 20, "t": 50, "b": 50},
        "legend": {"orientation": "h", "y": -0.2},
        "autosize": True,
        # No template here: figure_json adds "simple_white" as data (an empty one also keeps
        # plotly.py from copying its default template into every figure).
        "template": {},
    }


def weekly_activity_figure(rows: Sequence[dict[str, Any]]) -> go.Figure:
    """Learners per week: active, played a video, attempted a problem, posted."""
    fig = go.Figure(layout=_layout("Learners per week", "Week starting", "Learners"))
    for label, name in ACTIVITY_LABELS.items():
        points = [r for r in rows if r["label"] == label]
        if not points:
            continue
        fig.add_trace(
            go.Scatter(
                x=[r["week_start"] for r in points],
                y=[r["count"] for r in points],
                mode="lines+markers",
                name=text(name),
            )
        )
    return fig


def _hours(seconds: Sequence[float]) -> list[float]:
    return [round(value / 3600, 2) for value in seconds]


def _add_band(
    fig: go.Figure,
    x: Sequence[str],
    q1: Sequence[float],
    median: Sequence[float],
    q3: Sequence[float],
    names: tuple[str, str],
    colour: str,
    fill: str,
    median_line: dict[str, Any],
    median_mode: str = "lines",
) -> None:
    """A median line over a shaded band between the quartiles (seconds shown as hours)."""
    band_name, median_name = names
    fig.add_trace(
        go.Scatter(
            x=list(x),
            y=_hours(q3),
            mode="lines",
            showlegend=False,
            name=f"{band_name} (upper quartile)",
            line={"width": 0, "color": colour},
        )
    )
    fig.add_trace(
        go.Scatter(
            x=list(x),
            y=_hours(q1),
            mode="lines",
            fill="tonexty",
            name=band_name,
            line={"width": 0, "color": colour},
            fillcolor=fill,
        )
    )
    fig.add_trace(
        go.Scatter(
            x=list(x), y=_hours(median), mode=median_mode, name=median_name, line=median_line
        )
    )


def weekly_time_figure(rows: Sequence[dict[str, Any]], cutoff_minutes: int) -> go.Figure:
    """Median time spent per week with the interquartile band (hours)."""
    title = f"Time spent per active learner per week (idle cutoff {cutoff_minutes} min)"
    fig = go.Figure(layout=_layout(title, "Week starting", "Hours"))
    _add_band(
        fig,
        [r["week_start"] for r in rows],
        [r["q1_seconds"] for r in rows],
        [r["median_seconds"] for r in rows],
        [r["q3_seconds"] for r in rows],
        ("Middle half of learners", "Median"),
        PALETTE[0],
        "rgba(0,114,178,0.2)",
        {"color": PALETTE[0]},
        median_mode="lines+markers",
    )
    return fig


def video_timeline_figure(rows: Sequence[dict[str, Any]], title: str) -> go.Figure:
    """Viewers per 5-second segment of one video, with views (replays) as a second layer."""
    fig = go.Figure(layout=_layout(title, "Position in the video (seconds)", "Learners"))
    positions = [r["segment"] * 5 for r in rows]
    fig.add_trace(
        go.Bar(
            x=positions,
            y=[r["num_views"] for r in rows],
            name="Views",
            marker={"color": PALETTE[1]},
            opacity=0.6,
        )
    )
    fig.add_trace(
        go.Scatter(
            x=positions,
            y=[r["num_users"] for r in rows],
            mode="lines",
            name="Unique viewers",
            line={"color": PALETTE[0]},
        )
    )
    fig.update_layout(barmode="overlay")
    return fig


@functools.cache
def _template() -> dict[str, Any]:
    """Plotly's "simple_white" template as plain data, made once."""
    template: dict[str, Any] = pio.templates["simple_white"].to_plotly_json()
    return template


def figure_json(fig: go.Figure) -> str:
    """The figure as JSON that is safe inside <script type="application/json">."""
    data = fig.to_plotly_json()
    # The template is added here as data: set on the figure, plotly.py would validate and copy
    # it for every figure, which costs more than building the figure itself.
    data.setdefault("layout", {})["template"] = _template()
    # "<" as \u003c: no "</script>" or "<!--" can end or confuse the script block.
    text: str = pio.to_json(data, validate=False)
    return text.replace("<", "\\u003c")


def learner_time_figure(
    weeks: Sequence[str], mine: Sequence[float], band: dict[str, tuple[float, float, float]] | None
) -> go.Figure:
    """The learner's hours per week, beside the class's middle half and median when shown."""
    fig = go.Figure(layout=_layout("Your time per week", "Week starting", "Hours"))
    if band:
        shown = [w for w in weeks if w in band]
        _add_band(
            fig,
            shown,
            [band[w][0] for w in shown],
            [band[w][1] for w in shown],
            [band[w][2] for w in shown],
            ("Middle half of the class", "Class median"),
            PALETTE[4],
            "rgba(86,180,233,0.25)",
            {"color": PALETTE[4], "dash": "dot"},
        )
    fig.add_trace(
        go.Scatter(
            x=list(weeks),
            y=_hours(mine),
            mode="lines+markers",
            line={"color": PALETTE[5]},
            name="You",
        )
    )
    return fig


def learner_days_figure(
    days: Sequence[dict[str, Any]], cutoff_minutes: int, name: str
) -> go.Figure:
    """One learner's minutes per active day (bars) and events per day (markers)."""
    title = f"{name}: activity per day (time spent, idle cutoff {cutoff_minutes} min)"
    fig = go.Figure(layout=_layout(title, "Day", "Minutes"))
    x = [d["day"].isoformat() for d in days]
    fig.add_trace(
        go.Bar(
            x=x,
            y=[round(d["seconds"] / 60, 1) for d in days],
            name="Minutes",
            marker={"color": PALETTE[0]},
        )
    )
    fig.add_trace(
        go.Scatter(
            x=x,
            y=[d["events"] for d in days],
            mode="markers",
            name="Events",
            yaxis="y2",
            marker={"color": PALETTE[5]},
        )
    )
    fig.update_layout(
        yaxis2={
            "title": {"text": "Events"},
            "overlaying": "y",
            "side": "right",
            "rangemode": "tozero",
        }
    )
    return fig


def add_event_markers(fig: go.Figure, events: Sequence[dict[str, Any]]) -> go.Figure:
    """Course events (due dates, staff's own) as dotted vertical lines with their titles.

    `events` carry `at` (an ISO date or time on the chart's x axis), `title` and `kind`.
    """
    shapes = list(fig.layout.shapes or ())
    notes = list(fig.layout.annotations or ())
    for index, event in enumerate(events):
        colour = PALETTE[5] if event.get("kind") == "due" else PALETTE[3]
        shapes.append(
            {
                "type": "line",
                "xref": "x",
                "yref": "paper",
                "x0": event["at"],
                "x1": event["at"],
                "y0": 0,
                "y1": 1,
                "line": {"color": colour, "width": 1, "dash": "dot"},
            }
        )
        notes.append(
            {
                "x": event["at"],
                "xref": "x",
                "yref": "paper",
                # Staggered so that neighbouring titles do not print over each other.
                "y": 1.0 - 0.08 * (index % 3),
                "text": text(event["title"]),
                "showarrow": False,
                "xanchor": "left",
                "font": {"size": 10, "color": colour},
            }
        )
    fig.update_layout(shapes=shapes, annotations=notes)
    return fig


def score_bins(scores: Sequence[float]) -> list[tuple[str, int]]:
    """Current scores counted in bins of 10 points (0 to 9, ..., 90 to 100 and above)."""
    counts = [0] * 10
    for score in scores:
        counts[min(9, max(0, int(score // 10)))] += 1
    labels = [f"{low}\u2013{low + 9}" for low in range(0, 90, 10)] + ["90\u2013100"]
    return list(zip(labels, counts, strict=True))


def score_histogram_figure(scores: Sequence[float]) -> go.Figure:
    """How many learners have a current score in each 10-point band."""
    fig = go.Figure(layout=_layout("Current scores", "Current score (%)", "Learners"))
    bins = score_bins(scores)
    fig.add_trace(
        go.Bar(
            x=[label for label, _n in bins],
            y=[n for _label, n in bins],
            name="Learners",
            marker={"color": PALETTE[0]},
        )
    )
    return fig


def assignment_quartiles_figure(rows: Sequence[dict[str, Any]]) -> go.Figure:
    """Each assignment's median score with its middle half as an error bar (points)."""
    fig = go.Figure(layout=_layout("Scores per assignment", "Assignment", "Points"))
    fig.add_trace(
        go.Scatter(
            x=[text(r["assignment"]) for r in rows],
            y=[r["median"] for r in rows],
            mode="markers",
            name="Median (bar: middle half)",
            marker={"color": PALETTE[0], "size": 10},
            error_y={
                "type": "data",
                "symmetric": False,
                "array": [r["q3"] - r["median"] for r in rows],
                "arrayminus": [r["median"] - r["q1"] for r in rows],
                "color": PALETTE[4],
            },
        )
    )
    return fig


def module_completion_figure(rows: Sequence[dict[str, Any]]) -> go.Figure:
    """Per module: learners who completed it and who started it."""
    fig = go.Figure(layout=_layout("Completion per module", "Module", "Learners"))
    names = [text(r["module"]) for r in rows]
    fig.add_trace(
        go.Bar(
            x=names, y=[r["started"] for r in rows], name="Started", marker={"color": PALETTE[4]}
        )
    )
    fig.add_trace(
        go.Bar(
            x=names,
            y=[r["completed"] for r in rows],
            name="Completed",
            marker={"color": PALETTE[0]},
        )
    )
    fig.update_layout(barmode="group")
    return fig
