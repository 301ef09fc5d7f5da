"""Write the seed corpora in fuzz/corpus/ from the shapes the tests use (run once; kept in git).

.venv/bin/python -m fuzz.make_corpus
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import jwt
import orjson

from tests import test_tracking_log as tl
from tests import test_xapi_openedx as xo
from tests.helpers.platform import FakePlatform

HERE = Path(__file__).resolve().parent / "corpus"
PREFIX = b"2023-05-23 13:53:13,461 INFO 20 [tracking] [user 17] [ip 10.0.0.1] logger.py:41 - "


def write(harness: str, items: list[bytes]) -> None:
    folder = HERE / harness
    folder.mkdir(parents=True, exist_ok=True)
    for item in items:
        (folder / hashlib.sha256(item).hexdigest()[:16]).write_bytes(item)


def tracking_lines() -> list[bytes]:
    processed = {
        "name": "edx.grades.problem.submitted",
        "timestamp": "2026-03-02T10:15:30.123456+00:00",
        "context": {
            "course_id": tl.COURSE,
            "event_source": "server",
            "user_id": 19,
            "username": "learner3",
            "org_id": "edX",
        },
        "data": {
            "problem_id": "block-v1:edX+DemoX+Demo_Course+type@problem+block@abc",
            "weighted_earned": 1,
            "weighted_possible": 2,
        },
    }
    link = {
        "name": "edx.ui.lms.link_clicked",
        "timestamp": "2026-03-02T10:15:30Z",
        "context": {
            "course_id": "",
            "event_source": "browser",
            "user_id": "20",
            "page": f"https://learning.example.org/course/{tl.COURSE}/block-v1:x",
        },
        "data": {"current_url": "x", "target_url": "y"},
    }
    server = orjson.dumps(tl.server_problem_check())
    return [
        tl.BROWSER_PLAY,
        PREFIX + tl.BROWSER_PLAY,
        PREFIX + server + b"\r",
        server,
        orjson.dumps(processed),
        orjson.dumps(link),
        b"# a comment",
        b'{"username": "", "event_type": "/courses/edX/DemoX/Demo_Course/courseware/a/",'
        b' "event_source": "server", "context": {"user_id": null},'
        b' "time": "2026-03-02T10:15:30", "event": {"user_id": 5}}',
    ]


def statements() -> list[bytes]:
    actor = xo.account(xo.learner(1))
    stamp = "2026-03-02T10:15:30.123+00:00"
    items = [
        xo.server_problem_check(actor, stamp),
        xo.browser_problem_check(actor, stamp),
        xo.forum_post(actor, stamp),
        xo.subsection_grade(actor, stamp),
        xo.course_passed(actor, stamp),
        xo.next_selected(actor, stamp),
        xo.play_video(actor, stamp, xo.CCX, xo.PROBLEM),
        {
            "actor": {"mbox": "mailto:a@example.org"},
            "verb": xo.REGISTERED,
            "object": {"id": f"{xo.LMS}/course/{xo.OLD}"},
        },
    ]
    return [orjson.dumps(item) for item in items]


def id_tokens() -> list[bytes]:
    platform = FakePlatform()
    body = platform.claims("nonce-1")
    tokens = [
        platform.sign(body),
        platform.sign({**body, "aud": ["a", "b"], "azp": "a"}),
        platform.sign(body, headers={}),
        jwt.encode({"iss": "x"}, "secret", algorithm="HS256"),
        "a.b",
    ]
    return [token.encode() for token in tokens]


if __name__ == "__main__":
    write("tracking_log", tracking_lines())
    write("xapi", statements())
    write("id_token", id_tokens())
