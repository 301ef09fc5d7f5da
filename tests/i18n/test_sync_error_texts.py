"""Every error a sync stops with is a catalog message with values (issue 19): the run keeps its
id, and a page shows it in the page's language. The sync modules' raise sites, read as code."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from babel.messages.pofile import read_po

from lti_tool.i18n.catalogs import TEMPLATE, po_path

ROOT = Path(__file__).resolve().parents[2]
ERRORS = {"SyncError", "HttpError", "Stopped"}
#: Made from another module's English text (lti_tool.secrets: the encryption key's trouble).
ENGLISH_ALONE = {("lti_tool/sync/openedx.py", "str(exc)")}


def _marked(node: ast.expr | None) -> list[str] | None:
    """The N_ messages a first argument is, or None when it is not a marked literal."""
    if isinstance(node, ast.IfExp):
        body, orelse = _marked(node.body), _marked(node.orelse)
        return body + orelse if body is not None and orelse is not None else None
    if (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Name)
        and node.func.id == "N_"
        and isinstance(node.args[0], ast.Constant)
        and isinstance(node.args[0].value, str)
    ):
        return [node.args[0].value]
    return None


def _raise_sites() -> tuple[list[str], list[str]]:
    """(every marked message, every site whose message is not marked)."""
    messages, unmarked = [], []
    for path in sorted((ROOT / "lti_tool" / "sync").rglob("*.py")):
        name = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, ast.Call):
                continue
            called = node.func.id if isinstance(node.func, ast.Name) else ""
            called = node.func.attr if isinstance(node.func, ast.Attribute) else called
            if called not in ERRORS or not node.args:
                continue
            found = _marked(node.args[0])
            if found is not None:
                messages += found
            elif (name, ast.unparse(node.args[0])) not in ENGLISH_ALONE:
                unmarked.append(f"{name}:{node.lineno}: {ast.unparse(node.args[0])[:70]}")
    return messages, unmarked


def test_every_sync_error_is_a_catalog_message_translated_in_every_language() -> None:
    messages, unmarked = _raise_sites()
    assert unmarked == []
    assert len(messages) > 40
    with TEMPLATE.open("rb") as stream:
        template = {str(m.id) for m in read_po(stream) if m.id}
    assert sorted(set(messages) - template) == []
    for language in ("es", "nb"):
        with po_path(language).open("rb") as stream:
            catalog = {str(m.id): str(m.string) for m in read_po(stream) if m.id}
        for message in set(messages):
            words = re.sub(r"%\(\w+\)s|[^A-Za-z]", "", message)
            # A message of placeholders alone ("%(what)s: %(error)s") reads the same.
            if words:
                assert catalog.get(message) not in ("", None, message), (language, message)
