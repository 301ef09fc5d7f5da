"""The `lti-tool` command: every `flask` command of the tool, with the app preset."""

from __future__ import annotations

import click
from flask import Flask
from flask.cli import FlaskGroup, get_version

from lti_tool import __version__, create_app


def make_app() -> Flask:
    """The app for a command: the configuration named by LTI_TOOL_CONFIG (development)."""

    return create_app()


def show_version(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    """`lti-tool --version`: the tool's version, then Python's, Flask's and Werkzeug's."""
    if value and not ctx.resilient_parsing:
        click.echo(f"lti_tool {__version__}")
        get_version(ctx, param, value)


#: `lti-tool db upgrade`, `lti-tool platform add …`, `lti-tool report …`, `lti-tool run`: the same
#: commands as `flask --app lti_tool …`, from any folder.
cli = FlaskGroup(
    name="lti-tool",
    create_app=make_app,
    add_version_option=False,
    params=[
        click.Option(
            ["--version"],
            help="Show the tool's version (and Python's, Flask's, Werkzeug's).",
            expose_value=False,
            callback=show_version,
            is_flag=True,
            is_eager=True,
        )
    ],
    help="lti_tool's commands (the same as `flask --app lti_tool …`).",
)


def main() -> None:
    """Entry point of the `lti-tool` console script."""
    cli.main(prog_name="lti-tool")
