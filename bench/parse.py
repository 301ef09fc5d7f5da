"""The parse worker's CPU a line: `parse_chunk` over a log's first chunks, in this process.

    .venv/bin/python bench/parse.py LOG [--chunks 40] [--rounds 4] [--base CHECKOUT]
                                           [--steps] [--duckdb]

Prints the best and median CPU seconds a line over the rounds (the chunks read once, before
timing), and what pickling a chunk's result and reading it back costs (the worker's and the
main process's share of handing it over). With `--base`, the parse of another checkout (a
`git archive` of an older commit, say) runs beside this one's, chunk by chunk in turns, so that
other work on a shared machine slows both alike: the ratio is what to read then. With
`--duckdb`, DuckDB's `read_json` (one thread) reads the same chunks, each from a file of its
own, for the fields the parse reads: counted, and fetched into Python rows (a columnar front
end's least work before any of the tool's rules). With `--steps`, each step of the parse
timed alone over the same lines (the best of three), as a breakdown of the whole.
"""

from __future__ import annotations

import argparse
import gc
import importlib.util
import pickle
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lti_tool.tracking_logs.chunks import parse_chunk
from lti_tool.tracking_logs.parse import Chunk, read_chunks


def _module(name: str, path: Path) -> ModuleType:
    """A module of another checkout, loaded under a name of its own."""
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses look their module up while it loads
    spec.loader.exec_module(module)
    return module


def base_parse_chunk(checkout: Path) -> Callable[[Chunk], Any]:
    """Another checkout's parse_chunk, with that checkout's parse_line and block rows."""
    package = checkout / "lti_tool"
    parse = _module("base_parse", package / "tracking_logs" / "parse.py")
    blocks = _module("base_blocks", package / "activity" / "blocks.py")
    chunks = _module("base_chunks", package / "tracking_logs" / "chunks.py")
    for name in ("parse_line", "BadLine", "NoUser"):
        setattr(chunks, name, getattr(parse, name))
    for name in ("event_row", "event_key", "note_videos"):
        setattr(chunks, name, getattr(blocks, name))
    function: Callable[[Chunk], Any] = chunks.parse_chunk
    return function


# The fields parse_line reads from a tracking.log line (the usual shape), for DuckDB.
_DUCKDB_FETCH = """
SELECT username, event_type, event_source, time, ip, page, event, context.course_id,
       context.user_id
FROM read_json($path, format = 'newline_delimited', ignore_errors = true,
       columns = {username: 'VARCHAR', event_type: 'VARCHAR', event_source: 'VARCHAR',
                  "time": 'VARCHAR', ip: 'VARCHAR', page: 'VARCHAR', event: 'JSON',
                  context: 'STRUCT(course_id VARCHAR, user_id BIGINT, path VARCHAR)'})
"""
# Both constants: nothing from outside goes into the text (the path is a parameter).
_DUCKDB_COUNT = "SELECT count(*) FROM (" + _DUCKDB_FETCH + ")"  # noqa: S608


def step_figures(chunks: list[Chunk], lines: int) -> None:
    """Each step of parse_chunk alone over the chunks' lines: CPU µs a line, best of three."""
    import re
    from datetime import datetime

    import orjson

    from lti_tool.activity.blocks import event_key, event_row
    from lti_tool.tracking_logs.parse import BadLine, NoUser, TrackingEvent, parse_line

    raws = [raw for chunk in chunks for raw in chunk.raw_lines()]
    events: list[TrackingEvent] = []
    for raw in raws:
        try:
            event = parse_line(raw)
        except (BadLine, NoUser):
            continue
        if event is not None:
            events.append(event)
    stamps = []
    for raw in raws:
        try:
            stamp = orjson.loads(raw).get("time")
        except orjson.JSONDecodeError:
            continue
        if type(stamp) is str:
            stamps.append(stamp)
    nul = re.compile(rb"\\u0000").search

    def loads() -> None:
        for raw in raws:
            try:
                orjson.loads(raw)
            except orjson.JSONDecodeError:
                pass

    def parse() -> None:
        for raw in raws:
            try:
                parse_line(raw)
            except (BadLine, NoUser):
                pass

    steps: dict[str, Callable[[], object]] = {
        "read and split into lines": lambda: [chunk.raw_lines() for chunk in chunks],
        "escaped-NUL check": lambda: [nul(raw) for raw in raws],
        "orjson.loads (result dropped)": loads,
        "parse_line (all of it)": parse,
        "event_key (SHA-256)": lambda: [event_key(raw) for raw in raws],
        "event_row": lambda: [
            event_row(e.time, 0, e.name, e.source, e.data, e.display_name) for e in events
        ],
        "fromisoformat + timestamp": lambda: [
            datetime.fromisoformat(stamp).timestamp() for stamp in stamps
        ],
    }
    for label, step in steps.items():
        best = float("inf")
        for _ in range(3):
            start = time.process_time()
            step()
            best = min(best, time.process_time() - start)
        print(f"step  {label:32s} {best / lines * 1e6:5.2f} µs a line")


def duckdb_figures(chunks: list[Chunk], lines: int) -> None:
    """DuckDB's CPU a line to count the chunks' lines and to fetch their fields into Python."""
    import duckdb

    connection = duckdb.connect()
    connection.execute("SET threads = 1")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "chunk.json"
        for label, sql in (("count", _DUCKDB_COUNT), ("fetch", _DUCKDB_FETCH)):
            start = time.process_time()
            for chunk in chunks:
                path.write_bytes(chunk.content())
                connection.execute(sql, {"path": str(path)}).fetchall()
            spent = time.process_time() - start
            print(f"duckdb {label}: {spent / lines * 1e6:.2f} µs a line (the chunk's file written)")


def main() -> None:
    """Time the parse and print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("log")
    parser.add_argument("--chunks", type=int, default=40, help="the log's first chunks (4 MB)")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--base", type=Path, help="a checkout to compare with, in turns")
    parser.add_argument("--duckdb", action="store_true", help="DuckDB reading the same chunks")
    parser.add_argument("--steps", action="store_true", help="each step of the parse alone")
    args = parser.parse_args()

    chunks = []
    for chunk in read_chunks(args.log):
        chunks.append(chunk)
        if len(chunks) >= args.chunks:
            break
    lines = sum(len(chunk.raw_lines()) for chunk in chunks)  # also reads them into the cache
    runs: dict[str, Callable[[Chunk], Any]] = {"this": parse_chunk}
    if args.base:
        runs["base"] = base_parse_chunk(args.base)
    parse_cpu: dict[str, list[float]] = {name: [] for name in runs}
    hand_over: dict[str, list[float]] = {name: [] for name in runs}
    gc.disable()  # as in the workers (activity.workers)
    clock = time.process_time
    for _round in range(args.rounds):
        spent = dict.fromkeys(runs, 0.0)
        handed = dict.fromkeys(runs, 0.0)
        for index, chunk in enumerate(chunks):
            order = list(runs) if index % 2 == 0 else list(reversed(runs))
            for name in order:
                start = clock()
                parsed = runs[name](chunk)
                middle = clock()
                # What a worker hands back: its own bytes, read in the main process.
                pickle.loads(pickle.dumps(parsed, protocol=pickle.HIGHEST_PROTOCOL))  # noqa: S301
                spent[name] += middle - start
                handed[name] += clock() - middle
                del parsed
        for name in runs:
            parse_cpu[name].append(spent[name])
            hand_over[name].append(handed[name])
    print(f"{lines:,} lines ({len(chunks)} chunks) of {args.log}, {args.rounds} rounds")
    for name in runs:
        best, median = min(parse_cpu[name]), statistics.median(parse_cpu[name])
        pickled = min(hand_over[name])
        print(
            f"{name:5s} parse_chunk {best / lines * 1e6:.2f} µs a line (median "
            f"{median / lines * 1e6:.2f}); pickle and unpickle {pickled / lines * 1e6:.2f} µs"
        )
    if args.base:
        ratio = min(parse_cpu["this"]) / min(parse_cpu["base"])
        medians = statistics.median(parse_cpu["this"]) / statistics.median(parse_cpu["base"])
        print(f"this/base {ratio:.3f} (best), {medians:.3f} (medians)")
    if args.steps:
        step_figures(chunks, lines)
    if args.duckdb:
        duckdb_figures(chunks, lines)


if __name__ == "__main__":
    main()
