"""`flask platform set-canvas|set-openedx` and `flask sources …`: where data comes from."""

from __future__ import annotations

import click

#: Top-level command groups of this module (subcommands of `flask platform` attach themselves).
COMMANDS: list[click.Command] = []
