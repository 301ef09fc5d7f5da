"""The student's own page: their figures, class figures only above the privacy floor, no names."""

from __future__ import annotations

import re
from pathlib import Path

from flask.testing import FlaskClient, FlaskCliRunner

from tests.helpers.platform import CLAIM, LEARNER, FakePlatform, follow
from tests.helpers.tracking_logs import COURSE, class_log, ingest

CONTEXT = {CLAIM + "context": {"id": COURSE, "title": "edX Demo"}}


def test_student_sees_own_time_and_class_band_above_the_floor(
    client: FlaskClient, runner: FlaskCliRunner, platform: FakePlatform, tmp_path: Path
) -> None:
    ingest(runner, class_log(tmp_path, 5))  # peers 1..5 work 2, 4, 6, 8, 10 minutes
    page = follow(
        client,
        platform.launch(client, roles=LEARNER, sub="s3", preferred_username="peer3", **CONTEXT),
    )
    html = re.sub(r">\s+<", "><", page.get_data(as_text=True))
    # peer3: 6 minutes (0:06), 1 active day; class of 5: median 6 min, quartiles 4 and 8 min
    assert "<td>2026-03-02</td><td>0:06</td><td>1</td><td>0:06</td><td>0:04\u20130:08</td>" in html
    for n in (1, 2, 4, 5):  # no other learner is ever named
        assert f"peer{n}" not in html
    assert 'data-target="chart-my-time"' in html


def test_class_figures_hidden_below_the_floor(
    client: FlaskClient, runner: FlaskCliRunner, platform: FakePlatform, tmp_path: Path
) -> None:
    ingest(runner, class_log(tmp_path, 4))
    html = follow(
        client,
        platform.launch(client, roles=LEARNER, sub="s2", preferred_username="peer2", **CONTEXT),
    ).get_data(as_text=True)
    assert "hidden: fewer than 5 learners that week" in html
    assert '"name":"Class median"' not in html  # no class trace in the chart either
    assert '"name":"You"' in html


def test_student_without_activity_gets_an_explanation(
    client: FlaskClient, platform: FakePlatform
) -> None:
    html = follow(client, platform.launch(client, roles=LEARNER)).get_data(as_text=True)
    assert 'id="no-activity"' in html and "What data this uses" in html
