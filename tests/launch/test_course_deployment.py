"""Launches record the deployment each course was launched through (course_deployment)."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from lti_tool import platforms
from lti_tool.extensions import db
from lti_tool.models import CourseDeployment, LtiDeployment, LtiRegistration
from tests.helpers.client import https_client
from tests.helpers.platform import CLAIM, LEARNER, FakePlatform


def test_each_launch_records_its_deployment_once(app: Flask, platform: FakePlatform) -> None:
    with app.app_context():
        registration = db.session.scalar(select(LtiRegistration))
        assert registration is not None
        platforms.add_deployments(db.session, registration, ["deployment-2"])
        db.session.commit()
    launches = [
        ("deployment-1", "course-a"),
        ("deployment-1", "course-a"),  # again: the same row, a later last launch
        ("deployment-2", "course-b"),
        ("deployment-2", "course-a"),  # a course placed through both deployments
    ]
    for deployment, context in launches:
        response = platform.launch(
            https_client(app),
            roles=LEARNER,
            mutate=lambda body, d=deployment: body.update({CLAIM + "deployment_id": d}),
            **{CLAIM + "context": {"id": context, "title": context}},
        )
        assert response.status_code == 303, response.get_data(as_text=True)
    with app.app_context():
        rows = db.session.execute(
            select(CourseDeployment.course_id, LtiDeployment.deployment_id)
            .join(LtiDeployment, LtiDeployment.id == CourseDeployment.deployment_id)
            .order_by(CourseDeployment.course_id, LtiDeployment.deployment_id)
        ).all()
        first = db.session.scalar(select(CourseDeployment).where(CourseDeployment.course_id == 1))
        assert first is not None and first.last_launch_at >= first.first_launch_at
    assert [tuple(r) for r in rows] == [
        (1, "deployment-1"),
        (1, "deployment-2"),
        (2, "deployment-2"),
    ]
