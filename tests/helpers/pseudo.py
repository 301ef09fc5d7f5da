"""The pseudo-locale check: in a page rendered with every message wrapped in ⟦…⟧, the visible
text (and the attributes people read: aria-label, title, alt, placeholder, button values) that
is neither inside the brackets nor data was never marked for translation."""

from __future__ import annotations

import re
from collections.abc import Iterable
from html.parser import HTMLParser

from lti_tool.i18n.catalogs import PSEUDO_CLOSE, PSEUDO_OPEN

# The innermost marked message (a translated message can hold another: "⟦⟦late⟧ (50 %)⟧").
_MARKED = re.compile(
    re.escape(PSEUDO_OPEN) + "[^" + PSEUDO_OPEN + PSEUDO_CLOSE + "]*" + re.escape(PSEUDO_CLOSE)
)
_READ_ATTRIBUTES = ("aria-label", "title", "alt", "placeholder")
_SKIPPED = {"script", "style", "template"}
# Tags inside a sentence: a message may hold them ("You have done <strong>2 of 6</strong>
# items"), so the text either side of them is read as one piece.
_INLINE = {"strong", "em", "b", "i", "a", "span", "time", "code", "abbr", "small", "mark", "kbd"}
# Letters left after taking out marked text and data: words nobody marked.
_WORDS = re.compile(r"[^\W\d_]{2,}")


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._piece: list[str] = []
        self._skip = 0

    def _flush(self) -> None:
        piece = "".join(self._piece)
        self._piece = []
        if piece.strip():
            self.found.append(piece)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag not in _INLINE:
            self._flush()
        if tag in _SKIPPED:
            self._skip += 1
        values = dict(attrs)
        for name in _READ_ATTRIBUTES:
            if values.get(name):
                self.found.append(str(values[name]))
        if tag == "input" and values.get("type") in ("submit", "button") and values.get("value"):
            self.found.append(str(values["value"]))

    def handle_endtag(self, tag: str) -> None:
        if tag not in _INLINE:
            self._flush()
        if tag in _SKIPPED and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self._piece.append(data)

    def close(self) -> None:
        super().close()
        self._flush()


def unmarked(html: str, data: Iterable[str] = ()) -> list[str]:
    """The pieces of text a person reads on the page that were not marked for translation."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    known = sorted({d for d in data if d}, key=len, reverse=True)
    left = []
    for piece in parser.found:
        rest, taken = _MARKED.subn(" ", piece)
        while taken:
            rest, taken = _MARKED.subn(" ", rest)
        for value in known:
            rest = rest.replace(value, " ")
        if _WORDS.search(rest):
            left.append(" ".join(piece.split()))
    return left
