"""The `flask` commands: one module per command group, all attached by `register`."""

from __future__ import annotations

import click
from flask import Flask

from lti_tool.cli.admin import admin_cli
from lti_tool.cli.course import course_cli
from lti_tool.cli.data import data_cli
from lti_tool.cli.demo import demo_cli
from lti_tool.cli.ingest import ingest_cli
from lti_tool.cli.keys import keys_cli
from lti_tool.cli.platform import platform_cli
from lti_tool.cli.report import report_command
from lti_tool.cli.scheduler import scheduler_cli
from lti_tool.cli.sessions import sessions_cli
from lti_tool.cli.sources import sources_cli
from lti_tool.cli.sync import sync_cli
from lti_tool.cli.tokens import tokens_cli

#: Every top-level command, as `flask --help` lists them (it sorts them by name).
COMMANDS: list[click.Command] = [
    admin_cli,
    course_cli,
    data_cli,
    # Registered in every configuration: outside development `flask demo load` says that it
    # needs the development configuration (exit 1); the development code loads only there.
    demo_cli,
    ingest_cli,
    keys_cli,
    platform_cli,
    report_command,
    scheduler_cli,
    sessions_cli,
    sources_cli,
    sync_cli,
    tokens_cli,
]


def register(app: Flask) -> None:
    """Attach the command groups to the app."""
    for command in COMMANDS:
        app.cli.add_command(command)
