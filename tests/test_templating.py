"""The templates' environment reads a dict's keys as Jinja does (lti_tool.templating)."""

from __future__ import annotations

import copy
from collections import OrderedDict, defaultdict
from typing import Any

import pytest
from flask import Flask
from jinja2 import Environment

from lti_tool.templating import RowsEnvironment

SOURCE = (
    "{{ row.name }}|{{ row.items()|list|length }}|{{ row.get('name') }}|{{ row.missing }}|"
    "{{ row.keys|default('none') is callable }}|{% for k, v in row.items() %}{{ k }}={{ v }};"
    "{% endfor %}"
)


@pytest.mark.parametrize(
    "row",
    [
        {"name": "Ada", "items": 3, "values": "v", "get": "g"},  # keys named like dict methods
        {"name": None},
        {},
        OrderedDict(name="Bob"),
        defaultdict(int, name="Cy"),  # a subclass: Jinja's own way (no key made on reading)
    ],
)
def test_a_dict_reads_as_in_jinja(app: Flask, row: dict[str, Any]) -> None:
    assert isinstance(app.jinja_env, RowsEnvironment)
    # Each its own copy: Jinja's `row.missing` of a defaultdict makes the key.
    ours = app.jinja_env.from_string(SOURCE).render(row=copy.copy(row))
    assert ours == Environment(autoescape=True).from_string(SOURCE).render(row=copy.copy(row))


def test_an_object_reads_its_attributes(app: Flask) -> None:
    class Row:
        name = "Eve"

    assert app.jinja_env.from_string("{{ row.name }}").render(row=Row()) == "Eve"
