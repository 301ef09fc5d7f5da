"""Plotly figures as plain data: the part of plotly.graph_objects the charts use, without its
object model.

plotly.py builds a class per property path and checks every value as it is set: a figure of
the student page cost 5 to 9 ms of a worker that way, most of the page. plotly.js draws the same
JSON, and what the charts set is theirs (the chart tests compare every figure's JSON), so the
figures are dicts here; `Props` reads them by attribute as plotly's objects are read.
"""

from __future__ import annotations

from typing import Any


class Props(dict[str, Any]):
    """A figure's, layout's or trace's properties: a dict that also reads by attribute, as
    plotly's objects do (`fig.layout.xaxis.range`; None when not set)."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)  # copy and pickle look for their hooks
        value = self.get(name)
        return Props(value) if isinstance(value, dict) else value

    def to_plotly_json(self) -> dict[str, Any]:
        """The properties as plotly's JSON (a plain dict)."""
        return dict(self)


class Figure:
    """A figure: its traces (`data`) and its `layout`, with plotly's add_trace, add_shape and
    add_annotation."""

    def __init__(self, layout: dict[str, Any] | None = None) -> None:
        self.data: list[Props] = []
        self._layout = Props(layout or {})

    @property
    def layout(self) -> Props:
        """The layout (assign a dict to replace it)."""
        return self._layout

    @layout.setter
    def layout(self, value: dict[str, Any]) -> None:
        self._layout = Props(value)

    def add_trace(self, trace: Props) -> Figure:
        """Add a trace after the others."""
        self.data.append(trace)
        return self

    def add_shape(self, **shape: Any) -> Figure:
        """Add a layout shape after the others."""
        self._layout["shapes"] = [*(self._layout.get("shapes") or ()), shape]
        return self

    def add_annotation(self, **note: Any) -> Figure:
        """Add a layout annotation after the others."""
        self._layout["annotations"] = [*(self._layout.get("annotations") or ()), note]
        return self

    def to_plotly_json(self) -> dict[str, Any]:
        """The figure as plotly's JSON: {"data": [...], "layout": {...}}."""
        return {"data": [dict(trace) for trace in self.data], "layout": dict(self._layout)}


def scatter(**props: Any) -> Props:
    """A scatter trace (lines, markers)."""
    return Props(type="scatter", **props)


def bar(**props: Any) -> Props:
    """A bar trace."""
    return Props(type="bar", **props)


def heatmap(**props: Any) -> Props:
    """A heatmap trace."""
    return Props(type="heatmap", **props)
