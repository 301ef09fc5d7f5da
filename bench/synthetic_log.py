"""A seeded synthetic Open edX tracking log for the ingest benchmark.

The log looks like an LMS's `tracking.log`: one JSON object per line, globally ordered by time,
with the field set of real events (username, event_type, ip, agent, host, session, referer,
accept_language, event, event_source, context{course_id, org_id, path, user_id, ...}, time,
page). The mix per event is about 50 % video (browser play/pause/seek/stop, `event` a JSON string
with id/currentTime/duration/code), 30 % navigation (implicit server `/courses/.../courseware/...`
page views and browser `seq_goto`), 20 % problems (server `problem_check` with an object payload,
browser `problem_check` with a url-encoded string payload), plus one enrollment event per learner
and course and a few grading `task` events, which are not learner activity.

Learners (N / 200 of them) work in sessions: events seconds to minutes apart, now and then a
break of 10 to 45 minutes, sessions hours to days apart, over several weeks. Exactly 1 % of the
lines are malformed, a quarter each: broken JSON (cut short), no time, no course (a dashboard
event), invalid UTF-8 (a Latin-1 byte in the user agent).

Use `write_log(path, n_lines, seed)`; `username(user_id)` names a learner.
"""

from __future__ import annotations

import gzip
import heapq
import math
import random
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson

HOST = "courses.example.org"
START = datetime(2026, 2, 2, tzinfo=UTC).timestamp()  # a Monday
DAY = 86400.0
LEARNERS_PER_EVENT = 1 / 200
MALFORMED_SHARE = 0.01
IP_RANGES = ((11, 223), (0, 255), (0, 255), (1, 254))
MALFORMED_KINDS = ("broken_json", "missing_time", "missing_course", "invalid_utf8")

# (course key, share of the learners' activity, org, display name)
COURSES = (
    ("course-v1:MITx+6.00.1x+2026_T1", 0.58, "MITx", "Introduction to Computer Science"),
    ("course-v1:HarvardX+CS50P+2026", 0.18, "HarvardX", "Programming with Python"),
    ("course-v1:edX+DemoX+Demo_Course", 0.14, "edX", "Demonstration Course"),
    ("UBCx/Climate101/2026", 0.10, "UBCx", "Climate Science"),  # an old-style course key
)

AGENTS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like "
    "Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.6778.81 Mobile Safari/537.36",
)
LANGUAGES = (
    "en-US,en;q=0.9",
    "es-ES,es;q=0.9,en;q=0.8",
    "fr-FR,fr;q=0.9,en-US;q=0.8,en;q=0.7",
    "de-DE,de;q=0.9,en;q=0.8",
    "pt-BR,pt;q=0.9,en-US;q=0.8",
    "en-GB,en;q=0.9",
)


def username(user_id: int) -> str:
    """The username of a synthetic learner."""
    return f"learner{user_id:06d}"


@dataclass
class CourseShape:
    """A course's key, URLs and blocks (chapters/sequences, videos, problems)."""

    key: str
    share: float
    org: str
    title: str
    sequences: list[tuple[str, str]] = field(default_factory=list)  # (chapter, sequential)
    videos: list[tuple[str, float]] = field(default_factory=list)  # (event id, duration)
    problems: list[str] = field(default_factory=list)  # usage keys

    @property
    def old_style(self) -> bool:
        return not self.key.startswith("course-v1:")

    def block(self, kind: str, block_hex: str) -> str:
        """A usage key of this course's block, in the course key's style."""
        if self.old_style:
            return f"i4x://{self.key.rsplit('/', 1)[0]}/{kind}/{block_hex}"
        return f"block-v1:{self.key[10:]}+type@{kind}+block@{block_hex}"

    def courseware(self, chapter: str, sequential: str, position: int | None = None) -> str:
        path = f"/courses/{self.key}/courseware/{chapter}/{sequential}/"
        return f"{path}{position}" if position else path


def _hex(rng: random.Random) -> str:
    return f"{rng.getrandbits(128):032x}"


def build_courses(seed: int) -> list[CourseShape]:
    """The courses with their blocks, the same for a seed."""
    rng = random.Random(seed * 7919 + 1)
    courses = []
    for key, share, org, title in COURSES:
        course = CourseShape(key, share, org, title)
        # Chapters and sequences with OLX-style url_names; videos and problems with Studio's hashes.
        for week in range(1, rng.randint(6, 9) + 1):
            chapter = f"week_{week}"
            course.sequences.extend(
                (chapter, f"lesson_{week}_{n}") for n in range(1, rng.randint(3, 6) + 1)
            )
        for _video in range(rng.randint(25, 45)):
            block_hex = _hex(rng)
            if course.old_style:  # legacy video ids: i4x-<org>-<course>-video-<hash>
                org_, number, _run = course.key.split("/")
                video_id = f"i4x-{org_}-{number}-video-{block_hex}"
            else:
                video_id = course.block("video", block_hex)
            course.videos.append((video_id, float(rng.randint(90, 1100))))
        course.problems = [course.block("problem", _hex(rng)) for _ in range(rng.randint(30, 60))]
        courses.append(course)
    return courses


@dataclass
class Learner:
    user_id: int
    courses: list[CourseShape]
    weights: list[float]
    quota: int
    ip: str
    agent: str
    language: str


class LearnerStream:
    """One learner's events in time order, as (time, line dict) pairs."""

    def __init__(self, learner: Learner, seed: int) -> None:
        self.learner = learner
        self.rng = random.Random(seed * 1_000_003 + learner.user_id)
        self.name = username(learner.user_id)
        self.positions: dict[str, float] = {}  # where the learner left each video

    # -- line builders -----------------------------------------------------------------------

    def _line(
        self,
        course: CourseShape,
        name: str,
        source: str,
        payload: Any,
        page: str | None,
        path: str,
        extra_context: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        learner = self.learner
        context: dict[str, Any] = {
            "course_id": course.key,
            "org_id": course.org,
            "path": path,
            "user_id": learner.user_id,
        }
        if extra_context:
            context.update(extra_context)
        return {
            "username": self.name,
            "event_type": name,
            "ip": learner.ip,
            "agent": learner.agent,
            "host": HOST,
            "session": self.session,
            "referer": self.referer,
            "accept_language": learner.language,
            "event": payload,
            "event_source": source,
            "context": context,
            "time": None,  # set when the time is known
            "page": page,
        }

    def _browser(
        self,
        course: CourseShape,
        name: str,
        payload: dict[str, Any] | str,
        extra_context: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        text = payload if isinstance(payload, str) else orjson.dumps(payload).decode()
        return self._line(course, name, "browser", text, self.page, "/event", extra_context)

    # -- activities --------------------------------------------------------------------------

    def _page_view(self, course: CourseShape) -> list[tuple[float, dict[str, Any]]]:
        """An implicit courseware page view, sometimes followed by seq_goto clicks."""
        rng = self.rng
        chapter, sequential = rng.choice(course.sequences)
        path = course.courseware(chapter, sequential)
        self.referer, self.page = self.page, f"https://{HOST}{path}"
        get = orjson.dumps({"POST": {}, "GET": {}}).decode()
        out = [(rng.uniform(3, 90), self._line(course, path, "server", get, None, path))]
        tabs = rng.randint(3, 8)
        for _ in range(rng.choice((0, 0, 1, 1, 2))):
            old, new = rng.randint(1, tabs), rng.randint(1, tabs)
            payload = {
                "old": old,
                "new": new,
                "id": course.block("sequential", sequential),
                "current_tab": old,
                "tab_count": tabs,
                "widget_placement": "top",
            }
            out.append((rng.uniform(2, 60), self._browser(course, "seq_goto", payload)))
        return out

    def _problem(self, course: CourseShape) -> list[tuple[float, dict[str, Any]]]:
        """A submitted answer: the browser's problem_check, the server's, now and then a task."""
        rng = self.rng
        problem = rng.choice(course.problems)
        block_hex = problem.rsplit("@", 1)[-1].rsplit("/", 1)[-1]
        answer_key = f"{block_hex}_2_1"
        choice = f"choice_{rng.randint(0, 3)}"
        correct = rng.random() < 0.6
        browser = self._browser(course, "problem_check", f"input_{answer_key}={choice}")
        module = {
            "module": {"display_name": f"Exercise {rng.randint(1, 12)}", "usage_key": problem}
        }
        correctness = "correct" if correct else "incorrect"
        server_payload = {
            "problem_id": problem,
            "answers": {answer_key: choice},
            "grade": int(correct),
            "max_grade": 1,
            "correct_map": {answer_key: {"correctness": correctness, "npoints": None}},
            "success": correctness,
            "attempts": rng.randint(1, 3),
        }
        server = self._line(
            course,
            "problem_check",
            "server",
            server_payload,
            None,
            "/courses/"
            + course.key
            + "/xblock/"
            + problem
            + "/handler/xmodule_handler/problem_check",
            module,
        )
        out = [(rng.uniform(20, 400), browser), (rng.uniform(0.05, 0.6), server)]
        if rng.random() < 0.08:  # asynchronous grading: not learner activity
            task = self._line(
                course,
                "edx.grades.subsection.grade_calculated",
                "task",
                {
                    "user_id": str(self.learner.user_id),
                    "course_id": course.key,
                    "weighted_total_earned": rng.randint(0, 10),
                    "weighted_total_possible": 10,
                },
                None,
                "",
                {"module": module["module"]},
            )
            out.append((rng.uniform(1, 20), task))
        return out

    def _video(self, course: CourseShape) -> list[tuple[float, dict[str, Any]]]:
        """Watching one video: play, then pause/seek/stop, often a few times."""
        rng = self.rng
        video_id, duration = rng.choice(course.videos)
        position = self.positions.get(video_id, 0.0)
        if position >= duration - 5:
            position = 0.0
        out: list[tuple[float, dict[str, Any]]] = []
        delay = rng.uniform(2, 40)
        for _round in range(rng.choice((1, 1, 2, 2, 3))):
            common = {"id": video_id, "code": "html5", "duration": duration}
            out.append(
                (
                    delay,
                    self._browser(
                        course, "play_video", {**common, "currentTime": round(position, 3)}
                    ),
                )
            )
            watched = min(duration - position, rng.lognormvariate(math.log(70), 0.9))
            watched = max(watched, 0.5)
            position += watched
            if position >= duration - 0.5:
                out.append(
                    (
                        watched,
                        self._browser(course, "stop_video", {**common, "currentTime": duration}),
                    )
                )
                position = 0.0
                break
            if rng.random() < 0.3:
                new = round(rng.uniform(0, duration), 3)
                payload = {
                    "id": video_id,
                    "code": "html5",
                    "duration": duration,
                    "old_time": round(position, 3),
                    "new_time": new,
                    "type": "onSlideSeek",
                }
                out.append((watched, self._browser(course, "seek_video", payload)))
                position, delay = new, rng.uniform(0.3, 3)
            else:
                out.append(
                    (
                        watched,
                        self._browser(
                            course, "pause_video", {**common, "currentTime": round(position, 3)}
                        ),
                    )
                )
                delay = rng.uniform(3, 120)
        self.positions[video_id] = position
        return out

    def _enrollment(self, course: CourseShape) -> tuple[float, dict[str, Any]]:
        payload = {"user_id": self.learner.user_id, "course_id": course.key, "mode": "audit"}
        path = "/api/enrollment/v1/enrollment"
        return (
            0.5,
            self._line(course, "edx.course.enrollment.activated", "server", payload, None, path),
        )

    # -- the stream --------------------------------------------------------------------------

    def events(self) -> Iterator[tuple[float, dict[str, Any]]]:
        rng = self.rng
        learner = self.learner
        left = learner.quota
        t = START + rng.uniform(0, 14 * DAY)
        # Spread the learner's sessions (about 25 events each) over two to six weeks.
        span = rng.uniform(14, 42) * DAY
        between = span / max(1.0, learner.quota / 25)
        enrolled: set[str] = set()
        while left > 0:
            course = rng.choices(learner.courses, learner.weights)[0]
            self.session = _hex(rng)
            self.page = self.referer = f"https://{HOST}/dashboard"
            batch: list[tuple[float, dict[str, Any]]] = []
            if course.key not in enrolled:
                enrolled.add(course.key)
                batch.append(self._enrollment(course))
            batch.extend(self._page_view(course))
            length = rng.randint(8, 45)
            while len(batch) < length:
                pick = rng.random()
                if pick < 0.39:
                    batch.extend(self._video(course))
                elif pick < 0.72:
                    batch.extend(self._page_view(course))
                else:
                    batch.extend(self._problem(course))
                if rng.random() < 0.04:  # a break: sometimes past the 30-minute cutoff
                    batch.append((rng.uniform(600, 2700), None))  # type: ignore[arg-type]
            for gap, line in batch:
                t += gap
                if line is None:
                    continue
                if left <= 0:
                    return
                line["time"] = datetime.fromtimestamp(t, UTC).isoformat()
                left -= 1
                yield t, line
            # the next session: hours to days later
            t += min(max(rng.lognormvariate(math.log(between), 0.8), 1800), 6 * DAY)


def make_learners(n_lines: int, seed: int, courses: list[CourseShape]) -> list[Learner]:
    """N/200 learners with a skewed share of the lines each; quotas add up to n_lines."""
    rng = random.Random(seed * 31 + 7)
    count = max(10, round(n_lines * LEARNERS_PER_EVENT))
    shares = [c.share for c in courses]
    activity = [rng.lognormvariate(0, 0.9) for _ in range(count)]
    total = sum(activity)
    quotas = [max(1, int(n_lines * a / total)) for a in activity]
    for i in range(n_lines - sum(quotas)):  # the rounding remainder, one each
        quotas[i % count] += 1
    while sum(quotas) > n_lines:  # only for tiny n: take back from the busiest
        quotas[quotas.index(max(quotas))] -= 1
    learners = []
    for i in range(count):
        user_id = 1000 + i * 7 + rng.randint(0, 6)  # distinct, not dense
        picked = rng.choices(courses, shares)
        if rng.random() < 0.25:
            other = rng.choices(courses, shares)[0]
            if other is not picked[0]:
                picked.append(other)
        weights = [1.0] if len(picked) == 1 else [0.7, 0.3]
        ip = ".".join(str(rng.randint(low, high)) for low, high in IP_RANGES)
        learners.append(
            Learner(
                user_id, picked, weights, quotas[i], ip, rng.choice(AGENTS), rng.choice(LANGUAGES)
            )
        )
    return learners


def _malformed(kind: str, line: dict[str, Any], rng: random.Random) -> bytes:
    """A bad line made from a good one."""
    if kind == "missing_time":
        del line["time"]
        return orjson.dumps(line)
    if kind == "missing_course":
        # A dashboard event: no course anywhere (context, payload, page or event name).
        line.update(
            event_type="page_close",
            event_source="browser",
            event="",
            page=f"https://{HOST}/dashboard",
            referer=f"https://{HOST}/dashboard",
        )
        line["context"] = {**line["context"], "course_id": "", "org_id": "", "path": "/event"}
        return orjson.dumps(line)
    data = orjson.dumps(line)
    if kind == "broken_json":
        return data[: rng.randint(len(data) // 3, len(data) - 2)]
    # invalid_utf8: a Latin-1 "é" where UTF-8 was expected
    return data.replace(b"Mozilla", b"Mozi\xe9lla", 1)


@dataclass
class LogStats:
    """What was written."""

    lines: int = 0
    good: int = 0
    malformed: Counter[str] = field(default_factory=Counter)
    bytes: int = 0
    mix: Counter[str] = field(default_factory=Counter)  # video / navigation / problem / other
    courses: Counter[str] = field(default_factory=Counter)
    learners: int = 0
    first_time: str = ""
    last_time: str = ""


def _mix(name: str) -> str:
    if name.endswith("_video"):
        return "video"
    if name == "seq_goto" or name.startswith("/courses/"):
        return "navigation"
    if name == "problem_check":
        return "problem"
    return "other (enrollment, task)"


def write_log(
    path: str | Path, n_lines: int, seed: int = 1, course_seed: int | None = None
) -> LogStats:
    """Write n_lines lines (1 % malformed) ordered by time; return what was written. A path
    ending in .gz is written gzip-compressed (level 1: the moonshot's log would not fit the
    disk otherwise), as rotated LMS logs are. `course_seed` (default: `seed`) makes the
    courses' blocks: more activity in the same courses is another seed with the same one."""
    courses = build_courses(seed if course_seed is None else course_seed)
    learners = make_learners(n_lines, seed, courses)
    streams = [LearnerStream(learner, seed).events() for learner in learners]
    rng = random.Random(seed * 131 + 3)
    bad_count = round(n_lines * MALFORMED_SHARE)
    bad_at = rng.sample(range(n_lines), bad_count)
    bad_kind = {index: MALFORMED_KINDS[i % len(MALFORMED_KINDS)] for i, index in enumerate(bad_at)}
    stats = LogStats(learners=len(learners))
    dumps = orjson.dumps
    opened = (
        gzip.open(path, "wb", compresslevel=1)
        if str(path).endswith(".gz")
        else open(path, "wb", buffering=1 << 20)
    )
    with opened as out:
        for index, (_t, line) in enumerate(heapq.merge(*streams, key=lambda item: item[0])):
            kind = bad_kind.get(index)
            if kind is None:
                data = dumps(line)
                stats.good += 1
                stats.mix[_mix(line["event_type"])] += 1
                stats.courses[line["context"]["course_id"]] += 1
                if not stats.first_time:
                    stats.first_time = line["time"]
                stats.last_time = line["time"]
            else:
                data = _malformed(kind, line, rng)
                stats.malformed[kind] += 1
            out.write(data)
            out.write(b"\n")
            stats.lines += 1
            stats.bytes += len(data) + 1
    return stats


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("path")
    parser.add_argument("--events", type=int, default=10000)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(write_log(args.path, args.events, args.seed))
