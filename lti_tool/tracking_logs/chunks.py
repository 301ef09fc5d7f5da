"""Tracking-log chunks to events grouped by learner and day: an ingest's per-line work.

Parsing is most of what an ingest does, and it needs nothing but the bytes, so it can run in
worker processes (lti_tool.activity.workers): `parse_chunk` turns a chunk of lines into the events'
block columns grouped by course, learner and day, notes the bad lines by their place in the
chunk, and sums up the video durations the events give. The main process then only resolves
learners, merges blocks and writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lti_tool.activity.blocks import EventRow, event_key, event_row, note_videos
from lti_tool.activity.countries import last_countries
from lti_tool.events.sink import GroupedEvents, LastCountries
from lti_tool.tracking_logs.parse import BadLine, Chunk, NoUser, parse_line


@dataclass(slots=True)
class ParsedChunk:
    """A chunk's events, grouped, and what was wrong with its other lines."""

    lines: int = 0
    groups: GroupedEvents = field(default_factory=dict)
    bad_lines: list[tuple[int, str]] = field(default_factory=list)  # (index in chunk, reason)
    no_user: int = 0  # well-formed events without any user: skipped, not malformed
    # Per course key: the videos the events name, with the longest duration they give.
    videos: dict[str, dict[str, float | None]] = field(default_factory=dict)
    # Per learner (as in `groups`): the time and country of their latest event with an address.
    countries: LastCountries = field(default_factory=dict)


def parse_chunk(chunk: Chunk) -> ParsedChunk:
    """Parse a chunk's lines; events become block columns per (course, learner) and day."""
    lines = chunk.raw_lines()
    parsed = ParsedChunk(lines=len(lines))
    rows: dict[tuple[str, str, str], tuple[str | None, dict[int, list[EventRow]]]] = {}
    addresses: dict[tuple[str, str, str], tuple[float, str]] = {}
    for index, raw in enumerate(lines):
        try:
            event = parse_line(raw)
        except BadLine as bad:
            parsed.bad_lines.append((index, bad.reason))
            continue
        except NoUser:
            parsed.no_user += 1
            continue
        if event is None:
            continue  # blank or comment line
        user_id = event.user_id
        if user_id:
            learner = (event.course_key, "openedx_user_id", user_id)
        else:
            learner = (event.course_key, "openedx_username", str(event.username))
        time = event.time
        ip = event.ip
        if ip:
            # The learner's latest address; of events at the same time, the first.
            seen = addresses.get(learner)
            if seen is None or time > seen[0]:
                addresses[learner] = (time, ip)
        row = event_row(
            time, event_key(raw), event.name, event.source, event.data, event.display_name
        )
        days = rows.get(learner)
        if days is None:
            days = rows[learner] = (event.username, {})
        elif days[0] is None and event.username is not None:
            # The first event that names the learner gives the username: server events often
            # carry only the user id, and the username must not be lost because of them.
            days = rows[learner] = (event.username, days[1])
        by_day = days[1]
        day = int(time // 86400)  # epoch_day, inline: this loop runs once per line
        day_rows = by_day.get(day)
        if day_rows is None:
            by_day[day] = [row]
        else:
            day_rows.append(row)
    for learner, (username, by_day) in rows.items():
        # Rows to columns in one C-level transposition per learner-day.
        columns = {
            day: [list(column) for column in zip(*day_rows, strict=True)]
            for day, day_rows in by_day.items()
        }
        parsed.groups[learner] = (username, columns)
        videos = parsed.videos.setdefault(learner[0], {})
        for day_columns in columns.values():
            note_videos(videos, day_columns)
    parsed.countries = last_countries(addresses)
    return parsed
