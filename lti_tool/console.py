"""The `lti-tool` command: every `flask` command of the tool, with the app preset."""

from __future__ import annotations

from flask import Flask
from flask.cli import FlaskGroup


def make_app() -> Flask:
    """The app for a command: the configuration named by LTI_TOOL_CONFIG (development)."""
    from lti_tool import create_app

    return create_app()


#: `lti-tool db upgrade`, `lti-tool platform add …`, `lti-tool report …`, `lti-tool run`: the same
#: commands as `flask --app lti_tool …`, from any folder.
cli = FlaskGroup(
    name="lti-tool",
    create_app=make_app,
    help="lti_tool's commands (the same as `flask --app lti_tool …`).",
)


def main() -> None:
    """Entry point of the `lti-tool` console script."""
    cli.main(prog_name="lti-tool")
