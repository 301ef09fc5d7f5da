"""Fuzz the xAPI statement reader (lti_tool/api/xapi.py) with JSON bodies.

The body is parsed as the API parses it (lti_tool.json_input.loads: JsonInputError for what is
not JSON or nests too deeply). Each statement (the body, or each item of a list) goes through
validate(), which may raise only ItemProblem; a validated statement then goes through what
prepare() does with it (the digest, course_reference, event_fields, actor_key, actor_contact,
openedx_course_key, block_of, usage_key) and prepare() itself with a stand-in course resolver
(the real one needs the database): none of them may raise anything.

    .venv/bin/python -m fuzz.xapi -runs=100000 [corpus folder]
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import atheris

with atheris.instrument_imports(include=["lti_tool.api.xapi", "lti_tool.json_input"]):
    from lti_tool.api import xapi
    from lti_tool.api.courses import CourseTarget, ItemProblem
    from lti_tool.json_input import JsonInputError, loads

from fuzz._common import mutate_json, run

RECEIVED = datetime(2026, 3, 2, tzinfo=UTC)


class Resolver:
    """CourseResolver's contract without the database: a named course is found, none is not."""

    bound = None

    def resolve(self, ref: str | None, index: int) -> CourseTarget:
        if ref is None:
            raise ItemProblem("no course")
        return CourseTarget(ref, None, None)


def check(statement: Any, index: int) -> None:
    try:
        xapi.validate(statement)
    except ItemProblem:
        return
    xapi.statement_digest(statement)
    ref, explicit = xapi.course_reference(statement)
    assert ref is None or isinstance(ref, str)
    assert isinstance(explicit, bool)
    name, source, data = xapi.event_fields(statement, ref)
    assert isinstance(name, str) and isinstance(source, str) and isinstance(data, dict)
    assert isinstance(xapi.actor_key(statement["actor"]), str)
    xapi.actor_contact(statement["actor"])
    object_id = statement["object"].get("id")
    xapi.openedx_course_key(object_id)
    xapi.block_of(object_id)
    if isinstance(object_id, str):
        xapi.usage_key(object_id)
    try:
        prepared = xapi.prepare(statement, index, Resolver(), RECEIVED)
    except ItemProblem:
        assert ref is None
        return
    assert prepared.event is None or prepared.event.course_key == prepared.target.key


def test_one_input(data: bytes) -> None:
    try:
        body = loads(data)
    except JsonInputError:
        return
    statements = body if isinstance(body, list) else [body]
    for index, statement in enumerate(statements):
        assert xapi.is_statement(statement) in (True, False)
        check(statement, index)


def main() -> None:
    run("xapi", test_one_input, mutate_json)


if __name__ == "__main__":
    main()
