"""Plotly figures built from kpis results.

Every text that reaches a figure is HTML-escaped first: plotly.js renders tags such as <b> and
<a href> inside labels. Every word is in the page's language (lti_tool.i18n), and so are the
number separators, month and weekday names and durations. Colours are the Okabe-Ito palette
(colour-blind safe); traces are SVG (scatter, bar), never WebGL, which the CSP would block.
"""

from __future__ import annotations

import dataclasses
import functools
import html
import math
import textwrap
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import plotly.io as pio
from babel.dates import format_skeleton, get_day_names, get_month_names

from lti_tool.activity.rollups import week_start
from lti_tool.i18n import formats
from lti_tool.i18n.text import N_
from lti_tool.i18n.text import gettext as _
from lti_tool.i18n.web import page_language as page_language  # (re-exported: cache keys)
from lti_tool.kpis.geography import ROW_NAMES
from lti_tool.kpis.names import ACTIVITY_LABELS
from lti_tool.views.plot import Figure, bar, heatmap, scatter

PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"]


def hmm(seconds: float | None) -> str:
    """A duration in the page's language (1:05, 1 h 05 min, 1 t 5 min)."""
    return formats.duration(seconds, page_language())


def number(value: float, digits: int = 0) -> str:
    """A number in the page's language (1,234 · 1.234 · 1 234)."""
    return formats.number(value, page_language(), digits)


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
        # No template here: figure_json adds "simple_white" as data.
    }


#: Layout properties an update replaces rather than merges into (plotly merges only compound
#: objects such as axes and margins; `meta` is free-form data, shapes and annotations lists).
_REPLACED = frozenset({"meta", "shapes", "annotations"})
_LISTS = frozenset({"shapes", "annotations"})


def _relayout(fig: Figure, **changes: Any) -> None:
    """plotly's fig.update_layout(**changes): nested objects merged, `_REPLACED` replaced; as
    plotly, no empty list of shapes or annotations is kept."""
    merged = _merged(fig.layout.to_plotly_json(), changes, _REPLACED)
    fig.layout = {key: value for key, value in merged.items() if value != [] or key not in _LISTS}


def _merged(
    base: dict[str, Any], changes: dict[str, Any], replaced: frozenset[str]
) -> dict[str, Any]:
    """`base` updated as plotly updates a compound property: nested objects merged, anything
    else (and the `replaced` keys) replaced."""
    found = dict(base)
    for key, value in changes.items():
        old = found.get(key)
        if isinstance(value, dict) and isinstance(old, dict) and key not in replaced:
            found[key] = _merged(old, value, frozenset())
        else:
            found[key] = value
    return found


# Nice steps for tick values: counts, durations (seconds) and video positions (seconds).
COUNT_STEPS = (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10000)
DURATION_STEPS = (60, 120, 300, 600, 900, 1200, 1800, 3600, 7200, 10800, 21600, 43200, 86400)
POSITION_STEPS = (5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600)
# A figure's layout.meta.narrow holds the relayout charts.js applies to a chart narrower than
# 600 px: event titles and long week labels do not fit a phone-wide chart.
PARTIAL_FILL = "rgba(0,0,0,0.06)"
PARTIAL_NOTE = N_("this week\nso far")


def _step(top: float, steps: Sequence[int], most: int) -> int:
    """The smallest nice step that draws at most `most` ticks up to `top`."""
    for step in steps:
        if top / step <= most:
            return step
    return steps[-1] * max(1, math.ceil(top / (steps[-1] * most)))


def count_axis(values: Sequence[float | None]) -> dict[str, Any]:
    """A y axis for counts: whole-number ticks from zero (no 3.96 learners)."""
    top = max((v for v in values if v is not None), default=0)
    step = _step(max(top, 1), COUNT_STEPS, 6)
    return {
        "tickformat": ",d",
        "hoverformat": ",d",
        "tick0": 0,
        "dtick": step,
        "rangemode": "tozero",
    }


def mss(seconds: float) -> str:
    """A position in a video as m:ss (a whole hour as h:mm:ss)."""
    whole = round(seconds)
    hours, rest = divmod(whole, 3600)
    if hours:
        return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"
    return f"{rest // 60}:{rest % 60:02d}"


def duration_axis(hours: Sequence[float | None]) -> dict[str, Any]:
    """A y axis of hours whose ticks read h:mm (plotly has no such format: tickvals/ticktext)."""
    top = max((h for h in hours if h is not None), default=0) * 3600
    step = _step(max(top, 60), DURATION_STEPS, 5)
    count = max(1, math.ceil(top / step))
    ticks = [i * step for i in range(count + 1)]
    return {
        "tickmode": "array",
        "tickvals": [t / 3600 for t in ticks],
        "ticktext": [hmm(t) for t in ticks],
        "rangemode": "tozero",
    }


@dataclass(frozen=True)
class Weeks:
    """The weeks a weekly chart shows: every Monday from the first to the last (gaps included),
    how they are numbered, and the current week when it is the last one and not over yet."""

    mondays: tuple[str, ...]
    origin: date  # the Monday of "Week 1"
    partial: str | None = None  # the Monday of the week in progress, when shown
    # Weeks after the week in progress shown for their course events only (no data yet)
    ahead: int = 0

    @property
    def ticks(self) -> list[str]:
        """Every Monday with a tick: the weeks shown and those ahead."""
        last = date.fromisoformat(self.mondays[-1])
        return [
            *self.mondays,
            *((last + timedelta(days=7 * i)).isoformat() for i in range(1, self.ahead + 1)),
        ]

    def number(self, monday: str) -> int:
        """The week's number counted from the origin (Week 1)."""
        return (date.fromisoformat(monday) - self.origin).days // 7 + 1

    def hover(self, monday: str) -> str:
        """The week as hover text: "Week 3, from Nov 2", with "(so far)" for the partial week."""
        n = self.number(monday)
        name = (
            _("Week %(n)d, from %(day)s", n=n, day=_day(monday))
            if n >= 1
            else _("Week of %(day)s", day=_day(monday))
        )
        return _("%(week)s (so far)", week=name) if monday == self.partial else name

    def x_range(self) -> list[str]:
        """From half a week before the first Monday to the end of the last week."""
        first = date.fromisoformat(self.mondays[0])
        last = date.fromisoformat(self.ticks[-1])
        return [(first - timedelta(days=3)).isoformat(), (last + timedelta(days=7)).isoformat()]

    def axis(self) -> dict[str, Any]:
        """The x axis: one tick per week on its Monday, "Week N" above the date (labels on
        every k-th week past 16 weeks, where they would overlap)."""
        every = max(1, math.ceil(len(self.ticks) / 16))
        labels = [
            ("" if i % every else _("Week %(n)d", n=self.number(m)) + f"<br>{_day(m)}")
            if self.number(m) >= 1
            else ("" if i % every else _day(m))
            for i, m in enumerate(self.ticks)
        ]
        return {
            "type": "date",
            "tickmode": "array",
            "tickvals": self.ticks,
            "ticktext": labels,
            "range": self.x_range(),
            "title": {"text": ""},
        }

    def narrow_ticks(self) -> list[str]:
        """Short tick labels for a phone-wide chart: "W3", and only every k-th past 8 weeks."""
        every = max(1, math.ceil(len(self.ticks) / 8))
        return [
            (
                # TRANSLATORS: a week's short name under a phone-wide chart (W3: week 3).
                _("W%(n)d", n=self.number(m)) if self.number(m) >= 1 else _day(m)
            )
            if i % every == 0
            else ""
            for i, m in enumerate(self.ticks)
        ]

    def as_meta(self) -> dict[str, Any]:
        """The weeks as figure data (add_event_markers may show the week ahead)."""
        return {
            "mondays": list(self.mondays),
            "origin": self.origin.isoformat(),
            "partial": self.partial,
        }

    @classmethod
    def from_meta(cls, meta: dict[str, Any]) -> Weeks:
        """The weeks as_meta wrote."""
        return cls(tuple(meta["mondays"]), date.fromisoformat(meta["origin"]), meta["partial"])


def short_day(value: date) -> str:
    """A date as "Nov 2" in the page's language (2 nov, 2. nov.)."""
    return _day(value.isoformat())


def _day(monday: str) -> str:
    """An ISO date as the page's language writes a day of a month: "Nov 2", "2 nov", "2. nov."."""
    return _day_in(monday, formats.cldr(page_language()))


@functools.lru_cache(maxsize=4096)
def _day_in(iso: str, locale: str) -> str:
    """_day in a CLDR locale (kept: a calendar writes a few hundred days per page, each a
    tenth of a millisecond in babel)."""
    return str(format_skeleton("MMMd", date.fromisoformat(iso), locale=locale))


def _weekday(day: date) -> str:
    """A day's short weekday name in the page's language (Mon, lun, man.)."""
    return _weekday_in(day.weekday(), formats.cldr(page_language()))


@functools.lru_cache(maxsize=64)
def _weekday_in(weekday: int, locale: str) -> str:
    """_weekday of a weekday number (Monday 0) in a CLDR locale."""
    return str(get_day_names("abbreviated", locale=locale)[weekday])


def weekday_names() -> list[str]:
    """Monday to Sunday, short, in the page's language."""
    names = get_day_names("abbreviated", locale=formats.cldr(page_language()))
    return [str(names[i]) for i in range(7)]


def weeks_of(
    mondays: Iterable[str], *, today: date | None = None, starts_on: date | None = None
) -> Weeks | None:
    """The Weeks of a chart showing these weeks; Week 1 is the week the course starts when
    known, else the first week shown. The last week is partial when it is today's week."""
    shown = sorted(set(mondays))
    if not shown:
        return None
    first, last = date.fromisoformat(shown[0]), date.fromisoformat(shown[-1])
    every = [
        (first + timedelta(days=7 * i)).isoformat() for i in range((last - first).days // 7 + 1)
    ]
    origin = week_start(starts_on) if starts_on is not None else first
    current = week_start(today).isoformat() if today is not None else None
    return Weeks(tuple(every), origin, every[-1] if every[-1] == current else None)


def _weekly_layout(fig: Figure, weeks: Weeks) -> None:
    """Week ticks on Mondays, and the week in progress shaded with a note ("this week so far")."""
    narrow: dict[str, Any] = {"xaxis.ticktext": weeks.narrow_ticks()}
    _relayout(fig, xaxis=weeks.axis(), meta={"narrow": narrow, "weeks": weeks.as_meta()})
    if weeks.partial is None:
        return
    start = date.fromisoformat(weeks.partial)
    fig.add_shape(
        type="rect",
        xref="x",
        yref="paper",
        x0=weeks.partial,
        x1=(start + timedelta(days=7)).isoformat(),
        y0=0,
        y1=1,
        line={"width": 0},
        fillcolor=PARTIAL_FILL,
        layer="below",
        name="partial-week",
    )
    fig.add_annotation(
        x=(start + timedelta(days=3, hours=12)).isoformat(),
        xref="x",
        y=1,
        yref="paper",
        yanchor="top",
        text=text(_(PARTIAL_NOTE)).replace("\n", "<br>"),
        showarrow=False,
        font={"size": 10, "color": "#555555"},
        name="partial-week",
    )
    # On a phone the week is about 40 px wide: the short note fits over it.
    narrow[f"annotations[{len(fig.layout.annotations) - 1}].text"] = text(_("so far"))
    _relayout(fig, meta={"narrow": narrow, "weeks": weeks.as_meta()})


def _weekly_line(
    fig: Figure,
    weeks: Weeks,
    values: Mapping[str, float | None],
    *,
    name: str,
    line: dict[str, Any],
    hover: str,
    fill_missing: float | None,
    shown: Callable[[str, float | None], str],
) -> None:
    """One weekly series as a line; the week in progress as a dotted segment to an open marker.

    `values` maps Mondays to values (missing weeks get `fill_missing`: 0 for counts, a gap for
    quartiles); `hover` is the series' hover line with "{value}" for `shown(monday, value)`.
    """
    x = list(weeks.mondays)
    y = [values.get(m, fill_missing) for m in x]
    custom = [[weeks.hover(m), shown(m, v)] for m, v in zip(x, y, strict=True)]
    template = "%{customdata[0]}<br>" + hover.format(value="%{customdata[1]}") + "<extra></extra>"
    done = len(x) - 1 if weeks.partial is not None else len(x)
    if done:
        fig.add_trace(
            scatter(
                x=x[:done],
                y=y[:done],
                customdata=custom[:done],
                mode="lines+markers",
                name=text(name),
                legendgroup=text(name),
                line=line,
                hovertemplate=template,
            )
        )
    if weeks.partial is None:
        return
    if done:
        fig.add_trace(
            scatter(
                x=x[-2:],
                y=y[-2:],
                mode="lines",
                name=text(_("%(series)s (this week so far)", series=name)),
                legendgroup=text(name),
                showlegend=False,
                line={**line, "dash": "dot"},
                hoverinfo="skip",
            )
        )
    fig.add_trace(
        scatter(
            x=x[-1:],
            y=y[-1:],
            customdata=custom[-1:],
            mode="markers",
            name=text(_("%(series)s (this week so far)", series=name)),
            legendgroup=text(name),
            showlegend=not done,
            marker={"symbol": "circle-open", "size": 9, "color": line.get("color")},
            hovertemplate=template,
        )
    )


def weekly_activity_figure(rows: Sequence[dict[str, Any]], weeks: Weeks | None = None) -> Figure:
    """Learners per week: active, played a video, attempted a problem, posted."""
    fig = Figure(layout=_layout(_("Learners per week"), _("Week"), _("Learners")))
    weeks = weeks or weeks_of(r["week_start"] for r in rows)
    if weeks is None:
        return fig
    for index, (label, english) in enumerate(ACTIVITY_LABELS.items()):
        name = _(english)
        counts = {r["week_start"]: r["count"] for r in rows if r["label"] == label}
        if not counts:
            continue
        _weekly_line(
            fig,
            weeks,
            counts,
            name=name,
            line={"color": PALETTE[index]},
            hover=text(name) + ": {value}",
            fill_missing=0,  # no row: nobody did it that week
            shown=lambda _m, v: number(v or 0),
        )
    _relayout(fig, yaxis=count_axis([r["count"] for r in rows]))
    _weekly_layout(fig, weeks)
    return fig


def _percent_of(of: str) -> Callable[[str, float | None], str]:
    """A hover value "60 % of the flagged" (a dash for no value)."""

    def shown(_monday: str, value: float | None) -> str:
        if value is None:
            return "\u2013"
        share = number(value, 0 if value == round(value) else 1) + "\u00a0%"
        return _(of, share=share)

    return shown


def backtest_figure(rows: Sequence[dict[str, Any]], weeks: Weeks) -> Figure:
    """The at-risk track record: per week, precision and recall of the flags, in percent."""
    fig = Figure(
        layout=_layout(_("How the flags of each week turned out"), _("Week"), _("Percent"))
    )
    series = (
        ("precision", _("Flagged who turned out badly"), N_("%(share)s of the flagged")),
        (
            "recall",
            _("Turned out badly and were flagged"),
            N_("%(share)s of those who turned out badly"),
        ),
    )
    for index, (field, name, of) in enumerate(series):
        values = {
            r["week_start"]: None if r[field] is None else round(100 * r[field], 1) for r in rows
        }
        _weekly_line(
            fig,
            weeks,
            values,
            name=name,
            line={"color": PALETTE[index], "dash": "solid" if index == 0 else "dash"},
            hover="{value}",
            fill_missing=None,
            shown=_percent_of(of),
        )
    _relayout(fig, yaxis={"range": [0, 105], "ticksuffix": " %", "tickvals": [0, 25, 50, 75, 100]})
    _weekly_layout(fig, weeks)
    return fig


def _hours(seconds: Sequence[float | None]) -> list[float | None]:
    return [None if value is None else round(value / 3600, 2) for value in seconds]


def _add_band(
    fig: Figure,
    weeks: Weeks,
    band: dict[str, tuple[float, float, float]],
    names: tuple[str, str],
    colour: str,
    fill: str,
    median_line: dict[str, Any],
) -> None:
    """A median line over a shaded band between the quartiles (seconds drawn as hours, read as
    h:mm); weeks without figures are gaps."""
    band_name, median_name = names
    x = list(weeks.mondays)
    rows = [band.get(m) for m in x]
    fig.add_trace(
        scatter(
            x=x,
            y=_hours([r[2] if r else None for r in rows]),
            mode="lines",
            showlegend=False,
            name=_("%(band)s (upper quartile)", band=band_name),
            line={"width": 0, "color": colour},
            hoverinfo="skip",
        )
    )
    fig.add_trace(
        scatter(
            x=x,
            y=_hours([r[0] if r else None for r in rows]),
            mode="lines",
            fill="tonexty",
            name=band_name,
            line={"width": 0, "color": colour},
            fillcolor=fill,
            hoverinfo="skip",
        )
    )
    medians: dict[str, float | None] = {
        m: round(r[1] / 3600, 2) for m, r in zip(x, rows, strict=True) if r
    }

    def shown(monday: str, _value: float | None) -> str:
        """The median and the middle half as h:mm (the band itself takes no hover)."""
        row = band.get(monday)
        if row is None:
            return "\u2013"
        return _(
            "%(median)s (middle half %(low)s\u2013%(high)s)",
            median=hmm(row[1]),
            low=hmm(row[0]),
            high=hmm(row[2]),
        )

    _weekly_line(
        fig,
        weeks,
        medians,
        name=median_name,
        line=median_line,
        hover=text(median_name) + ": {value}",
        fill_missing=None,
        shown=shown,
    )


def weekly_time_figure(
    rows: Sequence[dict[str, Any]], cutoff_minutes: int, weeks: Weeks | None = None
) -> Figure:
    """Median time spent per week with the interquartile band (h:mm)."""
    title = _(
        "Time spent per active learner per week (idle cutoff %(minutes)d min)",
        minutes=cutoff_minutes,
    )
    fig = Figure(layout=_layout(title, _("Week"), _("Time (h:mm)")))
    weeks = weeks or weeks_of(r["week_start"] for r in rows)
    if weeks is None:
        return fig
    band = {r["week_start"]: (r["q1_seconds"], r["median_seconds"], r["q3_seconds"]) for r in rows}
    _add_band(
        fig,
        weeks,
        band,
        (_("Middle half of learners"), _("Median")),
        PALETTE[0],
        "rgba(0,114,178,0.2)",
        {"color": PALETTE[0]},
    )
    _relayout(fig, yaxis=duration_axis(_hours([r["q3_seconds"] for r in rows])))
    _weekly_layout(fig, weeks)
    return fig


def video_title(video: object) -> str:
    """The title of a video's timeline: "Viewers along <its name>"."""
    return _("Viewers along %(video)s", video=str(video))


def video_timeline_figure(
    rows: Sequence[dict[str, Any]], title: str, segment_seconds: int = 5
) -> Figure:
    """Views (bars, left axis) and unique viewers (line, right axis) per 5-second segment of
    one video, positions as m:ss."""
    fig = Figure(layout=_layout(title, _("Position in the video (m:ss)"), _("Views")))
    positions = [r["segment"] * segment_seconds for r in rows]
    spans = [f"{mss(p)}\u2013{mss(p + segment_seconds)}" for p in positions]
    # Each bar covers its segment (centred on its middle), so 0:30 on the axis is 0:30 in it.
    middles = [p + segment_seconds / 2 for p in positions]
    fig.add_trace(
        bar(
            x=middles,
            y=[r["num_views"] for r in rows],
            customdata=spans,
            name=_("Views (left axis)"),
            marker={"color": PALETTE[1]},
            opacity=0.6,
            hovertemplate="%{customdata}<br>" + _("Views: %(n)s", n="%{y:,d}") + "<extra></extra>",
        )
    )
    fig.add_trace(
        scatter(
            x=middles,
            y=[r["num_users"] for r in rows],
            customdata=spans,
            mode="lines",
            name=_("Unique viewers (right axis)"),
            line={"color": PALETTE[0], "width": 2},
            yaxis="y2",
            hovertemplate="%{customdata}<br>"
            + _("Unique viewers: %(n)s", n="%{y:,d}")
            + "<extra></extra>",
        )
    )
    end = (max(positions) + segment_seconds) if positions else segment_seconds
    step = _step(end, POSITION_STEPS, 8)
    ticks = list(range(0, end + 1, step))
    _relayout(
        fig,
        barmode="overlay",
        margin={"l": 60, "r": 60, "t": 50, "b": 50},
        xaxis={
            "tickmode": "array",
            "tickvals": ticks,
            "ticktext": [mss(t) for t in ticks],
            "range": [0, end],
        },
        yaxis={**count_axis([r["num_views"] for r in rows]), "title": {"text": _("Views")}},
        yaxis2={
            **count_axis([r["num_users"] for r in rows]),
            "title": {"text": _("Unique viewers")},
            "overlaying": "y",
            "side": "right",
            "showgrid": False,
        },
    )
    return fig


# Plotly's date formats per language: a day ("Nov 2"), with its weekday, and in full.
DATE_FORMATS = {
    "en": {"day": "%b %-d", "weekday": "%a %b %-d", "full": "%a %b %-d, %Y"},
    "es": {"day": "%-d %b", "weekday": "%a %-d %b", "full": "%a %-d %b %Y"},
    "nb": {"day": "%-d. %b", "weekday": "%a %-d. %b", "full": "%a %-d. %b %Y"},
}


def _date_format(kind: str) -> str:
    return DATE_FORMATS.get(page_language(), DATE_FORMATS["en"])[kind]


def _score_hover() -> str:
    return (
        _("Score %(band)s %%", band="%{x}")
        + "<br>"
        + _("Learners: %(n)s", n="%{y:,d}")
        + "<extra></extra>"
    )


@functools.cache
def plotly_locale(language: str) -> dict[str, Any]:
    """A Plotly locale (config.locales) for a language: its month and weekday names (Babel's),
    Sunday first as Plotly has them."""
    locale = formats.cldr(language)
    days = get_day_names("wide", locale=locale)
    short_days = get_day_names("abbreviated", locale=locale)
    months = get_month_names("wide", locale=locale)
    short_months = get_month_names("abbreviated", locale=locale)
    order = [6, 0, 1, 2, 3, 4, 5]
    return {
        "name": language,
        "format": {
            "days": [str(days[i]) for i in order],
            "shortDays": [str(short_days[i]) for i in order],
            "months": [str(months[i]) for i in range(1, 13)],
            "shortMonths": [str(short_months[i]) for i in range(1, 13)],
        },
    }


@functools.cache
def _template() -> dict[str, Any]:
    """Plotly's "simple_white" template as plain data, made once."""
    template: dict[str, Any] = pio.templates["simple_white"].to_plotly_json()
    return template


NARROW_TITLE_CHARS = 34


def _narrow(layout: dict[str, Any]) -> dict[str, Any]:
    """What every chart changes when narrow: the title wrapped onto lines that fit (smaller),
    the top margin without the event titles' rows, and the legend below the x axis's title."""
    title = str(layout.get("title", {}).get("text", ""))
    lines: list[str] = []
    for word in title.split(" "):
        if lines and len(lines[-1]) + 1 + len(word) <= NARROW_TITLE_CHARS:
            lines[-1] += " " + word
        else:
            lines.append(word)
    changes: dict[str, Any] = {
        "title.text": "<br>".join(lines),
        "title.font.size": 14,
        "margin.t": 30 + 18 * len(lines),
    }
    if layout.get("xaxis", {}).get("title", {}).get("text"):
        changes["legend.y"] = -0.35
    return changes


def figure_json(fig: Figure) -> str:
    """The figure as JSON that is safe inside <script type="application/json">."""
    data = fig.to_plotly_json()
    # The template is added here as data, the same for every figure.
    layout = data["layout"] = dict(data.get("layout") or {})
    layout["template"] = _template()
    language = page_language()
    layout["separators"] = formats.plotly_separators(language)
    # A new meta: the figure's own is left as it was (a figure may be shown again).
    meta = layout["meta"] = dict(layout.get("meta") or {})
    if language != "en":
        # Month and weekday names on date axes and in hovers (charts.js hands them to Plotly).
        meta["locale"] = plotly_locale(language)
    meta["narrow"] = {**_narrow(layout), **meta.get("narrow", {})}
    # "<" as \u003c: no "</script>" or "<!--" can end or confuse the script block.
    text: str = pio.to_json(data, validate=False)
    return text.replace("<", "\\u003c")


def learner_time_figure(
    weeks: Sequence[str],
    mine: Sequence[float],
    band: dict[str, tuple[float, float, float]] | None,
    axis: Weeks | None = None,
) -> Figure:
    """The learner's time per week (h:mm), beside the class's middle half and median when shown."""
    fig = Figure(layout=_layout(_("Your time per week"), _("Week"), _("Time (h:mm)")))
    axis = axis or weeks_of(list(weeks) + list(band or ()))
    if axis is None:
        return fig
    if band:
        _add_band(
            fig,
            axis,
            band,
            (_("Middle half of the class"), _("Class median")),
            PALETTE[4],
            "rgba(86,180,233,0.25)",
            {"color": PALETTE[4], "dash": "dash"},
        )
    # A week without activity is a week of 0:00 for the learner, not a gap in their line.
    hours = dict(zip(weeks, _hours(mine), strict=True))
    _weekly_line(
        fig,
        axis,
        hours,
        name=_("You"),
        line={"color": PALETTE[5]},
        hover=text(_("You: %(value)s", value="{value}")),
        fill_missing=0,
        shown=lambda _m, v: hmm((v or 0) * 3600),
    )
    tops = list(hours.values()) + [round(b[2] / 3600, 2) for b in (band or {}).values()]
    _relayout(fig, yaxis=duration_axis(tops))
    _weekly_layout(fig, axis)
    return fig


def day_axis(days: Sequence[date]) -> dict[str, Any]:
    """A date axis whose ticks fall on Mondays (weeks start on Monday; Plotly's own weekly
    ticks are Sundays), every day on a short span."""
    if not days:
        return {}
    first, last = min(days), max(days)
    span = (last - first).days
    if span <= 10:
        return {"tick0": first.isoformat(), "dtick": DAY_MS, "tickformat": _date_format("weekday")}
    weeks = max(1, math.ceil(span / 7 / 8))  # at most about 8 ticks
    return {
        "tick0": week_start(first).isoformat(),
        "dtick": DAY_MS * 7 * weeks,
        "tickformat": _date_format("day"),
        "range": [
            (first - timedelta(days=1)).isoformat(),
            (last + timedelta(days=1)).isoformat(),
        ],
    }


DAY_MS = 86_400_000


def learner_days_figure(days: Sequence[dict[str, Any]], cutoff_minutes: int, name: str) -> Figure:
    """One learner's time per active day (bars, h:mm) and events per day (markers)."""
    title = _(
        "%(name)s: activity per day (time spent, idle cutoff %(minutes)d min)",
        name=name,
        minutes=cutoff_minutes,
    )
    fig = Figure(layout=_layout(title, _("Day"), _("Time (h:mm)")))
    x = [d["day"].isoformat() for d in days]
    hours = _hours([d["seconds"] for d in days])
    fig.add_trace(
        bar(
            x=x,
            y=hours,
            customdata=[hmm(d["seconds"]) for d in days],
            name=_("Time spent"),
            marker={"color": PALETTE[0]},
            hovertemplate="%{x|"
            + _date_format("weekday")
            + "}<br>"
            + _("Time spent: %(time)s", time="%{customdata}")
            + "<extra></extra>",
        )
    )
    fig.add_trace(
        scatter(
            x=x,
            y=[d["events"] for d in days],
            mode="markers",
            name=_("Events (right axis)"),
            yaxis="y2",
            marker={"color": PALETTE[5]},
            hovertemplate="%{x|"
            + _date_format("weekday")
            + "}<br>"
            + _("Events: %(n)s", n="%{y:,d}")
            + "<extra></extra>",
        )
    )
    _relayout(
        fig,
        margin={"l": 60, "r": 60, "t": 50, "b": 50},
        xaxis=day_axis([d["day"] for d in days]),
        yaxis=duration_axis(hours),
        yaxis2={
            **count_axis([d["events"] for d in days]),
            "title": {"text": _("Events")},
            "overlaying": "y",
            "side": "right",
            "showgrid": False,
        },
    )
    return fig


# Event labels: at most this many rows above the plot; more, or more events than weeks, and
# the titles go to the hover of the marker row only (labels would print over each other).
EVENT_LABEL_ROWS = 3
EVENT_ROW_PX = 14
# What the layout of labels assumes: a plot about this wide (a 1000 px page) and this many
# pixels per character of a 10 px title; narrower charts hide the labels (meta.narrow).
WIDE_PLOT_PX = 820
CHAR_PX = 6
EVENT_KINDS = {"due": (N_("Due dates"), PALETTE[5]), "other": (N_("Course events"), PALETTE[3])}


def _label_rows(
    events: Sequence[dict[str, Any]], x_range: Sequence[str]
) -> list[tuple[int, str]] | None:
    """Each event's label row (0 nearest the plot) and side of its line ("left": the title
    starts at the line; "right": it ends there, near the right edge), so that no two labels
    overlap at the wide layout; None when they need more than EVENT_LABEL_ROWS rows."""
    first, last = (date.fromisoformat(v[:10]) for v in x_range)
    px_per_day = WIDE_PLOT_PX / max(1, (last - first).days)
    taken: list[list[tuple[float, float]]] = []  # per row: the spans of its labels (px)
    placed = []
    for event in events:
        at = (date.fromisoformat(str(event["at"])[:10]) - first).days * px_per_day
        width = len(str(event["title"])) * CHAR_PX + 8
        anchor = "left" if at + width <= WIDE_PLOT_PX else "right"
        low, high = (at, at + width) if anchor == "left" else (at - width, at)
        for row, spans in enumerate(taken):
            if all(high < start or low > end for start, end in spans):
                spans.append((low, high))
                placed.append((row, anchor))
                break
        else:
            if len(taken) == EVENT_LABEL_ROWS:
                return None
            taken.append([(low, high)])
            placed.append((len(taken) - 1, anchor))
    return placed


def add_event_markers(fig: Figure, events: Sequence[dict[str, Any]]) -> Figure:
    """Course events (due dates, staff's own) as dotted vertical lines with a marker row on top
    (hover: the title and the day; one legend entry per kind), and their titles above the plot
    in staggered rows when they fit (not when dense, nor on a narrow chart).

    `events` carry `at` (an ISO date or time on the chart's x axis), `title` and `kind`. On a
    weekly chart only the events inside the weeks shown are drawn.
    """
    meta = dict(fig.layout.meta or {})
    if meta.get("weeks") and meta["weeks"]["partial"]:
        # While a week is in progress, the next week's events are shown too (what is coming),
        # on one more week of axis without data.
        weeks = Weeks.from_meta(meta["weeks"])
        end = date.fromisoformat(weeks.x_range()[1])
        if any(
            end.isoformat() <= str(e["at"])[:10] < (end + timedelta(7)).isoformat() for e in events
        ):
            weeks = dataclasses.replace(weeks, ahead=1)
            _relayout(fig, xaxis=weeks.axis())
            meta["narrow"] = {**meta.get("narrow", {}), "xaxis.ticktext": weeks.narrow_ticks()}
    x_range = list(fig.layout.xaxis.range or ())
    if x_range:
        low, high = str(x_range[0])[:10], str(x_range[1])[:10]
        events = [e for e in events if low <= str(e["at"])[:10] < high]
    events = sorted(events, key=lambda e: str(e["at"]))
    if not events:
        return fig
    shapes = list(fig.layout.shapes or ())
    notes = list(fig.layout.annotations or ())
    for event in events:
        colour = EVENT_KINDS["due" if event.get("kind") == "due" else "other"][1]
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
    # The marker row: on an axis of its own (0 to 1, hidden) so the markers sit at the top.
    for kind, (legend, colour) in EVENT_KINDS.items():
        mine = [e for e in events if (e.get("kind") == "due") == (kind == "due")]
        if not mine:
            continue
        fig.add_trace(
            scatter(
                x=[e["at"] for e in mine],
                y=[1] * len(mine),
                customdata=[[text(e["title"]), _day(str(e["at"])[:10])] for e in mine],
                mode="markers",
                name=_(legend),
                yaxis="y9",
                cliponaxis=False,
                marker={"symbol": "triangle-down", "size": 9, "color": colour},
                hovertemplate="%{customdata[0]}<br>%{customdata[1]}<extra></extra>",
            )
        )
    _relayout(
        fig, yaxis9={"overlaying": "y", "range": [0, 1], "visible": False, "fixedrange": True}
    )
    dense = x_range and len(events) > max(1, len(fig.layout.xaxis.tickvals or ()))
    rows = None if dense else _label_rows(events, x_range or [events[0]["at"], events[-1]["at"]])
    hidden: dict[str, Any] = {}
    if rows is not None:
        for event, (row, anchor) in zip(events, rows, strict=True):
            colour = EVENT_KINDS["due" if event.get("kind") == "due" else "other"][1]
            hidden[f"annotations[{len(notes)}].visible"] = False
            notes.append(
                {
                    "x": event["at"],
                    "xref": "x",
                    "yref": "paper",
                    "y": 1,
                    "yanchor": "bottom",
                    "yshift": 4 + EVENT_ROW_PX * row,
                    "text": text(event["title"]),
                    "showarrow": False,
                    "xanchor": anchor,
                    "font": {"size": 10, "color": colour},
                    "name": "event-label",
                }
            )
        top = 50 + EVENT_ROW_PX * (max(row for row, _anchor in rows) + 1)
        _relayout(fig, margin={**fig.layout.margin.to_plotly_json(), "t": top})
    meta["narrow"] = {**meta.get("narrow", {}), **hidden}
    _relayout(fig, shapes=shapes, annotations=notes, meta=meta)
    return fig


def score_bins(scores: Sequence[float]) -> list[tuple[str, int]]:
    """Current scores counted in bins of 10 points (0 to 9, ..., 90 to 100 and above)."""
    counts = [0] * 10
    for score in scores:
        counts[min(9, max(0, int(score // 10)))] += 1
    labels = [f"{low}\u2013{low + 9}" for low in range(0, 90, 10)] + ["90\u2013100"]
    return list(zip(labels, counts, strict=True))


def score_histogram_figure(scores: Sequence[float]) -> Figure:
    """How many learners have a current score in each 10-point band."""
    fig = Figure(layout=_layout(_("Current scores"), _("Current score (%)"), _("Learners")))
    bins = score_bins(scores)
    fig.add_trace(
        bar(
            x=[label for label, _n in bins],
            y=[n for _label, n in bins],
            name=_("Learners"),
            marker={"color": PALETTE[0]},
            hovertemplate=_score_hover(),
        )
    )
    _relayout(fig, yaxis=count_axis([n for _label, n in bins]))
    return fig


YOU_COLOUR = PALETTE[5]


def score_distribution_figure(scores: Sequence[float], mine: float | None) -> Figure:
    """The class's posted current scores in 10-point bands, the learner's band marked "You are
    here" (another colour and an arrow) when they have a score."""
    title = _("Current scores of the class (posted grades)")
    fig = Figure(layout=_layout(title, _("Current score (%)"), _("Learners")))
    bins = score_bins(scores)
    band = next(label for label, n in score_bins([mine]) if n) if mine is not None else None
    fig.add_trace(
        bar(
            x=[label for label, _n in bins],
            y=[n for _label, n in bins],
            name=_("Learners"),
            marker={"color": [YOU_COLOUR if label == band else PALETTE[0] for label, _n in bins]},
            hovertemplate=_score_hover(),
        )
    )
    if band is not None:
        fig.add_annotation(
            x=band,
            y=dict(bins)[band],
            text=text(_("You are here")),
            showarrow=True,
            arrowhead=2,
            ax=0,
            ay=-30,
            font={"color": YOU_COLOUR},
            name="you-are-here",
        )
    top = max(n for _label, n in bins)
    # Room above the tallest bar for the arrow and its words.
    _relayout(fig, yaxis={**count_axis([top * 1.3 + 1]), "title": {"text": _("Learners")}})
    return fig


# A day without activity is pale grey, not white: the calendar's empty days still read as days.
HEATMAP_SCALE = [[0.0, "#eef1f4"], [0.001, "#c6dbef"], [0.5, "#56B4E9"], [1.0, "#0072B2"]]


def activity_heatmap_figure(
    weeks: Weeks,
    values: Mapping[date, float | None],
    *,
    title: str,
    hover: Callable[[date, float], str],
) -> Figure:
    """Days by weeks like a contribution calendar: a column per week (Monday-start, "Week N"
    ticks as on the weekly charts), Monday at the top; days still to come are left blank."""
    fig = Figure(layout=_layout(title, "", ""))
    mondays = [date.fromisoformat(m) for m in weeks.mondays]
    z: list[list[float | None]] = []
    custom: list[list[str]] = []
    # The page's language once, not twice a cell (a year's calendar has 371 cells).
    locale, not_yet = formats.cldr(page_language()), _("not yet")
    for offset in range(7):
        row, words = [], []
        for monday in mondays:
            day = monday + timedelta(days=offset)
            value = values.get(day)
            row.append(value)
            words.append(
                f"{_weekday_in(offset, locale)} {_day_in(day.isoformat(), locale)}<br>"
                + text(hover(day, value) if value is not None else not_yet)
            )
        z.append(row)
        custom.append(words)
    top = max((v for v in values.values() if v), default=1)
    fig.add_trace(
        heatmap(
            x=list(weeks.mondays),
            y=weekday_names(),
            z=z,
            customdata=custom,
            zmin=0,
            zmax=top,
            colorscale=HEATMAP_SCALE,
            showscale=False,
            xgap=2,
            ygap=2,
            hoverongaps=False,
            hovertemplate="%{customdata}<extra></extra>",
            name=text(title),
        )
    )
    first, last = mondays[0], mondays[-1]
    _relayout(
        fig,
        xaxis={
            **weeks.axis(),
            # Each column is centred on its Monday: half a week either side.
            "range": [
                (first - timedelta(days=3, hours=12)).isoformat(),
                (last + timedelta(days=3, hours=12)).isoformat(),
            ],
            "showgrid": False,
            "showline": False,
            "ticks": "",
        },
        yaxis={"autorange": "reversed", "showgrid": False, "showline": False, "ticks": ""},
        height=300,
        margin={"l": 50, "r": 20, "t": 50, "b": 50},
        meta={"narrow": {"xaxis.ticktext": weeks.narrow_ticks()}},
    )
    return fig


def points(value: float) -> str:
    """Points to at most two decimals (a quartile of 4.625 reads 4.62, 7.0 reads 7), with the
    page's decimal sign (4,62)."""
    found = f"{round(value, 2):g}"
    return found.replace(".", formats.plotly_separators(page_language())[0])


def assignment_quartiles_figure(rows: Sequence[dict[str, Any]]) -> Figure:
    """Each assignment's median score with its middle half as an error bar (points)."""
    fig = Figure(layout=_layout(_("Scores per assignment"), _("Assignment"), _("Points")))
    fig.add_trace(
        scatter(
            x=[text(r["assignment"]) for r in rows],
            y=[r["median"] for r in rows],
            mode="markers",
            name=_("Median (bar: middle half)"),
            # Points to two decimals at most in the hover (a quartile can be 4.625).
            customdata=[[points(r["median"]), points(r["q1"]), points(r["q3"])] for r in rows],
            hovertemplate="%{x}<br>"
            + _(
                "Median %(median)s points (middle half %(low)s\u2013%(high)s)",
                median="%{customdata[0]}",
                low="%{customdata[1]}",
                high="%{customdata[2]}",
            )
            + "<extra></extra>",
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


def module_completion_figure(rows: Sequence[dict[str, Any]]) -> Figure:
    """Per module: learners who completed it and who started it."""
    fig = Figure(layout=_layout(_("Completion per module"), _("Module"), _("Learners")))
    # Module names are long ("Week 1: Getting started with data"): written on a few short lines
    # under their bars, not slanted into the legend; the hover has the whole name.
    names = [
        "<br>".join(text(line) for line in textwrap.wrap(str(r["module"]), MODULE_LABEL_CHARS))
        for r in rows
    ]
    for key, label, colour in (("started", _("Started"), 4), ("completed", _("Completed"), 0)):
        fig.add_trace(
            bar(
                x=names,
                y=[r[key] for r in rows],
                name=label,
                marker={"color": PALETTE[colour]},
                customdata=[text(r["module"]) for r in rows],
                hovertemplate="%{customdata}<br>"
                + _("%(series)s: %(n)s", series=label, n="%{y:,d}")
                + "<extra></extra>",
            )
        )
    _relayout(
        fig,
        barmode="group",
        xaxis={"tickangle": 0},
        yaxis=count_axis([r["started"] for r in rows] + [r["completed"] for r in rows]),
        legend={"orientation": "h", "y": 1.02, "yanchor": "bottom", "x": 1, "xanchor": "right"},
        # On a phone even short lines collide: the modules are numbered in course order (the
        # table below the chart lists them in that order) and the legend stays on top.
        meta={
            "narrow": {
                "xaxis.tickmode": "array",
                "xaxis.tickvals": names,
                "xaxis.ticktext": [str(n) for n in range(1, len(names) + 1)],
                "xaxis.title.text": _("Module, in course order (as in the table)"),
                "legend.y": 1.02,
            }
        },
    )
    return fig


#: The longest line of a module's name under its bar (characters).
MODULE_LABEL_CHARS = 14


#: The longest line of a country's name beside its bar (characters).
COUNTRY_LABEL_CHARS = 18
#: The bars of rows that are no one country (grey with 4.5:1 contrast on white).
NOT_ONE_COUNTRY = "#767676"


def countries_figure(rows: Sequence[dict[str, Any]]) -> Figure:
    """Learners per country as horizontal bars, most at the top (kpis.geography rows)."""
    fig = Figure(layout=_layout(_("Learners per country"), _("Learners"), ""))
    # Bars read top-down in the table's order; long names ("Bosnia & Herzegovina") wrap.
    shown = list(reversed(rows))
    names = [
        "<br>".join(text(line) for line in textwrap.wrap(str(r["country"]), COUNTRY_LABEL_CHARS))
        for r in shown
    ]
    fig.add_trace(
        bar(
            x=[r["learners"] for r in shown],
            y=names,
            orientation="h",
            name=_("Learners"),
            # "Other countries" and "Country unknown" are no one country: grey, not the blue.
            marker={
                "color": [
                    NOT_ONE_COUNTRY if r["country_code"] in ROW_NAMES else PALETTE[0] for r in shown
                ]
            },
            text=[str(r["learners"]) for r in shown],
            textposition="auto",
            customdata=[text(r["country"]) for r in shown],
            hovertemplate=_("%(country)s: %(n)s learners", country="%{customdata}", n="%{x:,d}")
            + "<extra></extra>",
        )
    )
    _relayout(
        fig,
        xaxis={**count_axis([r["learners"] for r in rows]), "title": {"text": _("Learners")}},
        yaxis={"automargin": True, "title": {"text": ""}, "rangemode": "normal"},
        height=120 + 34 * len(rows),
        showlegend=False,
        margin={"l": 10, "r": 20, "t": 50, "b": 50},
    )
    return fig


#: The longest line of an answer's label beside its bar (characters).
ANSWER_LABEL_CHARS = 22


def answer_label(row: dict[str, Any]) -> str:
    """An answer as its bar and table name it: its text (else its choice id), with its variant
    for a randomised problem, and a tick when it is correct."""
    value = str(row["answer_value"] or row["value_id"] or _("(no answer)"))
    if row["variant"]:
        value = _("%(answer)s (variant %(variant)s)", answer=value, variant=row["variant"])
    return ("\u2713 " if row["correct"] else "") + value


def answer_distribution_figure(rows: Sequence[dict[str, Any]], title: str | None = None) -> Figure:
    """One problem part's answers as horizontal bars: learners whose last answer it is, the
    correct answers in green with a tick (and said so in the hover); titled "Last answers"
    unless a title is given."""
    fig = Figure(layout=_layout(title or _("Last answers"), _("Learners (last answer)"), ""))
    labels = [
        "<br>".join(text(line) for line in textwrap.wrap(answer_label(r), ANSWER_LABEL_CHARS))
        or "&nbsp;"
        for r in rows
    ]
    fig.add_trace(
        bar(
            y=labels,
            x=[r["last_response_count"] for r in rows],
            orientation="h",
            marker={"color": [PALETTE[2] if r["correct"] else PALETTE[4] for r in rows]},
            customdata=[
                [
                    text(answer_label(r)),
                    _("correct") if r["correct"] else _("not correct"),
                    r["first_response_count"],
                ]
                for r in rows
            ],
            hovertemplate="%{customdata[0]} (%{customdata[1]})<br>"
            + _("Last answer of %(n)s", n="%{x:,d}")
            + "<br>"
            + _("First answer of %(n)s", n="%{customdata[2]:,d}")
            + "<extra></extra>",
            name=_("Last answers"),
        )
    )
    _relayout(
        fig,
        showlegend=False,
        height=max(220, 70 + 42 * len(rows)),
        xaxis={**count_axis([r["last_response_count"] for r in rows]), "rangemode": "tozero"},
        yaxis={"autorange": "reversed", "automargin": True, "title": {"text": ""}},
        margin={"l": 10, "r": 20, "t": 50, "b": 50},
    )
    return fig


def enrollment_figure(
    days: Sequence[date], series: Mapping[str, Sequence[int]], starts_on: date | None = None
) -> Figure:
    """Learners enrolled at the end of each day: all modes, and each mode when there are
    several; the course's start as a dashed line when it falls in the days shown."""
    fig = Figure(
        layout=_layout(_("Learners enrolled at the end of each day"), _("Day"), _("Learners"))
    )
    x = [d.isoformat() for d in days]
    for index, (name, counts) in enumerate(series.items()):
        first = index == 0  # all modes: the thick dark line
        colour = PALETTE[7] if first else PALETTE[(index - 1) % 7]
        fig.add_trace(
            scatter(
                x=x,
                y=list(counts),
                mode="lines",
                name=text(name),
                line={"color": colour, "width": 3 if first else 2},
                # One hover for the day (the date on top) lists every line.
                hovertemplate=f"{text(name)}: %{{y:,d}}<extra></extra>",
            )
        )
    _relayout(
        fig,
        xaxis={**day_axis(list(days)), "hoverformat": _date_format("full")},
        yaxis=count_axis([v for counts in series.values() for v in counts]),
        hovermode="x unified",
    )
    if starts_on is not None and days and days[0] <= starts_on <= days[-1]:
        _relayout(
            fig,
            shapes=[
                {
                    "type": "line",
                    "xref": "x",
                    "yref": "paper",
                    "x0": starts_on.isoformat(),
                    "x1": starts_on.isoformat(),
                    "y0": 0,
                    "y1": 1,
                    "line": {"color": PALETTE[5], "dash": "dash", "width": 1},
                }
            ],
            annotations=[
                {
                    "x": starts_on.isoformat(),
                    "y": 1,
                    "xref": "x",
                    "yref": "paper",
                    "text": text(_("Course start")),
                    "showarrow": False,
                    "xanchor": "left",
                    "yanchor": "bottom",
                    "font": {"size": 10, "color": PALETTE[5]},
                }
            ],
        )
    return fig
