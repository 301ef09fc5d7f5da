"""Fuzz lti_tool.tracking_logs.parse.parse_line with raw log lines.

The contract the ingest relies on: a TrackingEvent, None (blank or comment line), BadLine (with
one of BAD_LINE_REASONS) or NoUser. Any other exception is a crash.

    .venv/bin/python -m fuzz.tracking_log -runs=100000 [corpus folder]
"""

from __future__ import annotations

import atheris

with atheris.instrument_imports(
    include=["lti_tool.tracking_logs.parse", "lti_tool.activity.video"]
):
    from lti_tool.activity.video import video_id
    from lti_tool.tracking_logs.parse import (
        BAD_LINE_REASONS,
        BadLine,
        NoUser,
        TrackingEvent,
        parse_line,
    )

from fuzz._common import mutate_json, run


def mutate(data: bytes, max_size: int, seed: int) -> bytes:
    """The JSON of a line mutated as JSON, any logging prefix kept."""
    brace = data.find(b"{")
    prefix, body = (data[:brace], data[brace:]) if brace >= 0 else (b"", data)
    return (prefix + mutate_json(body, max_size - len(prefix), seed))[:max_size]


def test_one_input(data: bytes) -> None:
    try:
        event = parse_line(data)
    except BadLine as bad:
        assert bad.reason in BAD_LINE_REASONS, bad.reason
        return
    except NoUser:
        return
    if event is None:
        return
    assert isinstance(event, TrackingEvent)
    assert isinstance(event.time, float)
    assert isinstance(event.course_key, str) and event.course_key
    assert event.user_id is not None or event.username is not None
    assert isinstance(event.name, str) and event.name
    assert isinstance(event.source, str)
    assert isinstance(event.data, dict)
    # The video KPIs read the id of a video payload this way.
    raw_id = event.data.get("id")
    if isinstance(raw_id, str):
        video_id(raw_id)


def main() -> None:
    run("tracking_log", test_one_input, mutate)


if __name__ == "__main__":
    main()
