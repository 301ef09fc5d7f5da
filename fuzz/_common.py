"""What the harnesses share: atheris with libFuzzer's command line, and a JSON-aware mutator.

libFuzzer's byte mutations rarely keep JSON valid, so most of its inputs would stop at the
parser. The mutator here (used most of the time; plain byte mutation the rest) parses an input,
changes one value (a string mutated by libFuzzer, a value of another type, an edge value from
EDGE_VALUES, a subtree copied from elsewhere, a key dropped or renamed) and writes it back.
"""

from __future__ import annotations

import json
import random
import shutil
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import atheris

CORPUS = Path(__file__).resolve().parent / "corpus"

# Values xAPI statements, tracking-log events and LTI claims meet at their edges: the first
# and last years, offsets that push them past the range, durations, IRIs of each key style.
EDGE_VALUES: list[Any] = [
    None,
    True,
    False,
    0,
    -1,
    1,
    2**63,
    -(2**63) - 1,
    10**30,
    0.5,
    -0.0,
    1e308,
    [],
    {},
    [[]],
    {"": {}},
    "",
    " ",
    "\x00",
    "\ud800",
    "\u2028",
    "%",
    "%zz",
    "{",
    "{}",
    "[]",
    "null",
    "0001-01-01T00:00:00+01:00",
    "9999-12-31T23:59:59-01:00",
    "0001-01-01",
    "9999-12-31T23:59:59",
    "2026-03-02T10:15:30Z",
    "2026-03-02T10:15:30.123456+00:00",
    "2026-02-30T10:15:30",
    "PT1M2.5S",
    "P",
    "PT",
    "P1e9D",
    "NaN",
    "inf",
    "-1e400",
    "course-v1:a+b+c",
    "ccx-v1:a+b+c+ccx@1",
    "block-v1:a+b+c+type@video+block@x",
    "ccx-block-v1:a+b+c+ccx@2+type@problem+block@y",
    "i4x://a/b/video/c",
    "a/b/c",
    "https://lms.example.com/course/course-v1:a+b+c",
    "/courses/a/b/c/courseware/x/",
    "mailto:",
    "mailto:a@b",
    "Agent",
    "Group",
    "Activity",
    "SubStatement",
    "RS256",
    "none",
    "server",
    "browser",
    "task",
    "anonymous",
]
KEYS = [
    "id",
    "actor",
    "verb",
    "object",
    "context",
    "result",
    "timestamp",
    "time",
    "name",
    "event_type",
    "event",
    "data",
    "event_source",
    "username",
    "user_id",
    "course_id",
    "page",
    "contextActivities",
    "parent",
    "grouping",
    "extensions",
    "definition",
    "type",
    "account",
    "mbox",
    "mbox_sha1sum",
    "openid",
    "objectType",
    "statement",
    "iss",
    "aud",
    "azp",
    "sub",
    "alg",
    "kid",
    "nonce",
    "exp",
    "iat",
]


def _nodes(value: Any, out: list[tuple[Any, Any]], depth: int = 0) -> None:
    """(container, key) of every value inside `value`, depth first, at most 20 levels."""
    if depth > 20:
        return
    if isinstance(value, dict):
        for key in list(value):
            out.append((value, key))
            _nodes(value[key], out, depth + 1)
    elif isinstance(value, list):
        for index in range(len(value)):
            out.append((value, index))
            _nodes(value[index], out, depth + 1)


def _mutate_value(value: Any, rng: random.Random, max_size: int) -> Any:
    """`value` with one thing in it changed (a new value when there is nothing inside)."""
    nodes: list[tuple[Any, Any]] = []
    _nodes(value, nodes)
    if not nodes:
        return rng.choice(EDGE_VALUES)
    container, key = rng.choice(nodes)
    current = container[key]
    choice = rng.randrange(6)
    if choice == 0 and isinstance(current, str):
        raw = atheris.Mutate(current.encode("utf-8", "surrogatepass"), max(len(current) + 8, 16))
        container[key] = raw.decode("utf-8", "replace")
    elif choice == 1:
        container[key] = rng.choice(EDGE_VALUES)
    elif choice == 2:
        # A copy of another container (taken before the assignment: no cycles).
        container[key] = json.loads(json.dumps(rng.choice(nodes)[0]))
    elif choice == 3 and isinstance(container, dict):
        del container[key]
    elif choice == 4 and isinstance(container, dict):
        container[rng.choice(KEYS)] = container.pop(key)
    elif isinstance(current, dict):
        current[rng.choice(KEYS)] = rng.choice(EDGE_VALUES)
    elif isinstance(current, list):
        current.append(rng.choice(EDGE_VALUES))
    else:
        container[key] = rng.choice(EDGE_VALUES)
    return value


def mutate_json(data: bytes, max_size: int, seed: int) -> bytes:
    """A JSON text with one value changed; libFuzzer's own mutation when it is not JSON."""
    rng = random.Random(seed)
    if rng.random() < 0.2:
        return atheris.Mutate(data, max_size)
    try:
        value = json.loads(data)
    except (ValueError, RecursionError):
        return atheris.Mutate(data, max_size)
    value = _mutate_value(value, rng, max_size)
    out = json.dumps(value).encode()
    return out if len(out) <= max_size else atheris.Mutate(data, max_size)


def run(
    name: str,
    test_one_input: Callable[[bytes], None],
    mutator: Callable[[bytes, int, int], bytes] | None = None,
) -> None:
    """libFuzzer's command line (-runs=N, corpus folders). Without a corpus folder, the seeds
    are copied to a scratch folder, so what libFuzzer adds does not land in fuzz/corpus."""
    argv = list(sys.argv)
    if not any(not arg.startswith("-") for arg in argv[1:]):
        scratch = Path(tempfile.mkdtemp(prefix=f"fuzz-{name}-"))
        shutil.copytree(CORPUS / name, scratch, dirs_exist_ok=True)
        argv.append(str(scratch))
    if not any(arg.startswith("-max_len=") for arg in argv):
        argv.append("-max_len=16384")
    atheris.Setup(argv, test_one_input, custom_mutator=mutator)
    atheris.Fuzz()
