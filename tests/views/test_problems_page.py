"""The staff Problems page: hardest first, the chosen problem's answers with the correct ones
marked (chart and table), CSV, the section filter, "message learners who have not solved it
yet"; learners are refused."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any
from urllib.parse import quote

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner

from lti_tool.views.links import quoted
from tests.helpers.classes import section_of
from tests.helpers.platform import CLAIM, LEARNER, FakePlatform, session_token
from tests.helpers.problems import PROBLEM, part_id, problem_check
from tests.helpers.tracking_logs import COURSE, ingest, write
from tests.views.test_video import page_token

CONTEXT = {CLAIM + "context": {"id": COURSE, "title": "edX Demo"}}
EASY = PROBLEM.replace("a0effb95", "eeee0000")


def _choice(answer: str, choice: str, correct: bool) -> dict[str, Any]:
    return {"answer": answer, "raw": choice, "correct": correct, "question": "Which is Apple's?"}


def _log(tmp_path: Path) -> Path:
    hard = part_id(PROBLEM, 1)
    easy = part_id(EASY, 1)
    lines = [
        # The hard problem: u1 wrong then right, u2 wrong only, u3 right at once.
        problem_check(
            "2026-03-02 10:00:00", {hard: _choice("The iPad", "choice_0", False)}, user=1
        ),
        problem_check("2026-03-02 10:01:00", {hard: _choice("The iPod", "choice_1", True)}, user=1),
        problem_check("2026-03-02 10:02:00", {hard: _choice("Napster", "choice_2", False)}, user=2),
        problem_check("2026-03-02 10:03:00", {hard: _choice("The iPod", "choice_1", True)}, user=3),
    ]
    for user in (1, 2, 3):  # the easy one: everyone right at once
        lines.append(
            problem_check(
                "2026-03-02 11:00:00",
                {easy: _choice("Yes", "choice_0", True)},
                user=user,
                problem=EASY,
                name="Warm-up",
            )
        )
    return write(tmp_path / "p.log", lines)


def _page(client: FlaskClient, token: str, query: str = "") -> str:
    html = client.get(f"/courses/1/problems?t={token}{query}").get_data(as_text=True)
    return re.sub(r">\s+<", "><", html)


def _staff(client: FlaskClient, platform: FakePlatform) -> str:
    return str(platform.launch(client, **CONTEXT).headers["Location"].split("t=")[1])


def test_problems_hardest_first_with_the_answers_of_the_hardest(
    client: FlaskClient, runner: FlaskCliRunner, platform: FakePlatform, tmp_path: Path
) -> None:
    ingest(runner, _log(tmp_path))
    html = _page(client, _staff(client, platform))
    # The hard problem (1 of 3 right at once: 33 %) before the warm-up (100 %).
    hard = html.index(f'title="{PROBLEM}">Multiple Choice Questions<')
    easy = html.index(f'title="{EASY}">Warm-up<')
    assert hard < easy
    assert "<td>33 %</td><td>3</td><td>4</td><td>1.5</td>" in html  # u1 at 2, u3 at 1
    assert "<td>100 %</td><td>3</td><td>3</td><td>1.0</td>" in html
    # The hardest is shown: its answers, most given last answer first, the right one ticked.
    assert "Answers to Multiple Choice Questions" in html
    assert "<tr><td>\u2713 The iPod</td><td>yes</td><td>2</td><td>1</td></tr>" in html
    assert "<tr><td>Napster</td><td>no</td><td>1</td><td>1</td></tr>" in html
    assert "<tr><td>The iPad</td><td>no</td><td>0</td><td>1</td></tr>" in html
    assert 'data-target="chart-answers-0"' in html
    assert 'id="message-form"' in html and 'value="not_solved"' in html
    assert f'<option value="{PROBLEM}" selected>' in html  # the problem on show is chosen


def test_another_problem_is_chosen_by_its_link(
    client: FlaskClient, runner: FlaskCliRunner, platform: FakePlatform, tmp_path: Path
) -> None:
    ingest(runner, _log(tmp_path))
    html = _page(client, _staff(client, platform), f"&problem={quote(EASY)}")
    assert "Answers to Warm-up" in html
    assert "<tr><td>\u2713 Yes</td><td>yes</td><td>3</td><td>3</td></tr>" in html


def test_each_viewer_gets_their_own_links_language_and_chosen_problem(
    client: FlaskClient, runner: FlaskCliRunner, platform: FakePlatform, tmp_path: Path
) -> None:
    # The table's cells are written once per worker and language; each row's link holds the
    # viewer's session, and the chosen row is the request's own.
    ingest(runner, _log(tmp_path))

    def launch(sub: str, locale: str) -> str:
        def mutate(body: dict[str, Any]) -> None:
            body[CLAIM + "launch_presentation"] = {"locale": locale}

        return session_token(platform.launch(client, mutate=mutate, sub=sub, **CONTEXT))

    first, second = launch("staff-1", "en"), launch("staff-2", "nb")  # both before the pages
    english, norwegian = _page(client, first), _page(client, second, f"&problem={quote(EASY)}")
    rows = [
        re.findall(r'<tr(?: aria-current="true")?><td><span class="named".*?</tr>', html)
        for html in (english, norwegian)
    ]
    # Hardest first; the hardest chosen by default, the warm-up when asked for.
    assert [r.startswith('<tr aria-current="true">') for r in rows[0]] == [True, False]
    assert [r.startswith('<tr aria-current="true">') for r in rows[1]] == [False, True]
    tokens = [{re.search(r"t=([^\"&#]+)", row)[1] for row in found} for found in rows]  # type: ignore[index]
    assert tokens == [{page_token(english)}, {page_token(norwegian)}]
    assert page_token(english) != page_token(norwegian)
    assert "<td>1.5</td>" in rows[0][0] and "<td>1,5</td>" in rows[1][0]
    assert ">show</a>" in rows[0][0] and ">vis</a>" in rows[1][0]
    # Each row's link chooses its problem (its id as url_for writes it: tests/views/test_links).
    assert f'href="/courses/1/problems?problem={quoted(EASY)}&amp;t=' in rows[1][1]
    assert "Answers to Multiple Choice Questions" in english and "Warm-up" in norwegian


def test_the_problems_as_csv(
    client: FlaskClient, runner: FlaskCliRunner, platform: FakePlatform, tmp_path: Path
) -> None:
    ingest(runner, _log(tmp_path))
    token = _staff(client, platform)
    body = client.get(f"/courses/1/problems.csv?t={token}").get_data(as_text=True)
    assert body.splitlines()[0] == (
        "course,module_id,problem,learners,attempts,first_attempt_correct_share,"
        "mean_attempts_to_correct"
    )
    assert f"{COURSE},{PROBLEM},Multiple Choice Questions,3,4,0.3333,1.5" in body
    answers = client.get(f"/courses/1/problems.csv?t={token}&table=answers").get_data(as_text=True)
    assert answers.splitlines()[0].startswith("course,module_id,part_id,correct,")
    assert client.get(f"/courses/1/problems.csv?t={token}&table=x").status_code == 400


def test_the_section_filter_counts_its_learners_only(
    app: Flask, client: FlaskClient, runner: FlaskCliRunner, platform: FakePlatform, tmp_path: Path
) -> None:
    ingest(runner, _log(tmp_path))
    token = _staff(client, platform)
    section_of(app, "2", "Lab <2>")
    html = _page(client, token, "&section=Lab+%3C2%3E")
    # Only u2: one wrong check of the hard problem, nobody right yet.
    assert "<td>0 %</td><td>1</td><td>1</td><td>nobody right yet</td>" in html
    assert 'id="chosen-section">Lab &lt;2&gt;<' in html


def test_message_learners_who_have_not_solved_it(
    client: FlaskClient, runner: FlaskCliRunner, platform: FakePlatform, tmp_path: Path
) -> None:
    ingest(runner, _log(tmp_path))
    token = _staff(client, platform)
    response = client.post(
        "/courses/1/message",
        data={"t": token, "kind": "problem", "item": PROBLEM, "who": "not_solved"},
    )
    html = re.sub(r">\s+<", "><", response.get_data(as_text=True))
    assert response.status_code == 200
    # u2 never got it right (u1 and u3 did); the staff member who launched is not a learner.
    assert "haven&#39;t solved Multiple Choice Questions" in html
    assert "E-mail 1 learners" in html
    assert "learner2" in html and "learner1" not in html and "learner3" not in html
    unknown = client.post(
        "/courses/1/message",
        data={"t": token, "kind": "problem", "item": "nope", "who": "not_solved"},
    )
    assert unknown.status_code == 404


def test_learner_cannot_open_the_problems_page(client: FlaskClient, platform: FakePlatform) -> None:
    me = platform.launch(client, roles=LEARNER, **CONTEXT).headers["Location"]
    token = me.split("t=")[1]
    assert client.get(f"/courses/1/problems?t={token}").status_code == 403
    assert client.get(f"/courses/1/problems.csv?t={token}").status_code == 403
