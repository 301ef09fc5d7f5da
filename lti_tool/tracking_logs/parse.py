"""Open edX tracking logs: parse one line into a TrackingEvent, and stream lines from log files.

Pure parsing and file reading (no Flask, no database): the ingest in another module decides what
to store. Three line shapes are understood (the README's "Tracking logs" section):
the classic one-JSON-object-per-line tracking.log, the Django logging-prefixed form
(``... logger.py:41 - {json}``) and the processed eventtracking shape
(``{name, timestamp, context, data}``). Files may be plain or gzipped (by content, not by name)
and are read incrementally: a caller stores the decompressed byte offset it reached and resumes
from it, and recognises a file by a digest of its first bytes so logrotate's renames and gzips are
not read twice.
"""

from __future__ import annotations

import gzip
import os
import re
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Protocol
from urllib.parse import unquote

import orjson

from lti_tool.people.usernames import NOT_USERNAMES

__all__ = [
    "BAD_LINE_REASONS",
    "BROKEN_JSON",
    "INVALID_UTF8",
    "LINE_TOO_LONG",
    "MAX_LINE_BYTES",
    "MISSING_COURSE",
    "MISSING_TIME",
    "WRONG_TYPES",
    "BadLine",
    "ByteReader",
    "Chunk",
    "FileSpan",
    "NoUser",
    "RawLine",
    "TrackingEvent",
    "TruncatedFile",
    "iter_paths",
    "line_content",
    "open_decompressed",
    "parse_line",
    "read_chunks",
    "read_lines",
]

MAX_LINE_BYTES = 1_000_000

INVALID_UTF8 = "invalid_utf8"
LINE_TOO_LONG = "line_too_long"
BROKEN_JSON = "broken_json"
WRONG_TYPES = "wrong_types"
MISSING_TIME = "missing_time"
MISSING_COURSE = "missing_course"
BAD_LINE_REASONS = (
    INVALID_UTF8,
    LINE_TOO_LONG,
    BROKEN_JSON,
    WRONG_TYPES,
    MISSING_TIME,
    MISSING_COURSE,
)

_orjson_loads = orjson.loads
# The regular expression engine finds these six bytes in a line a quarter faster than `in`.
_has_escaped_nul = re.compile(rb"\\u0000").search
_fromisoformat = datetime.fromisoformat

# Returned for blank and comment lines, since a JSON line "null" decodes to None.
_SKIP = object()
_GZIP_MAGIC = b"\x1f\x8b"
# gzip.BadGzipFile is an OSError: it must be caught before a generic OSError could be.
_GZIP_ERRORS = (EOFError, gzip.BadGzipFile, zlib.error)
_READ_BUFFER = 256 * 1024
_SKIP_CHUNK = 1024 * 1024
# Room for MAX_LINE_BYTES of content plus "\r\n", so a line exactly at the limit is not cut.
_READ_LIMIT = MAX_LINE_BYTES + 2
# How much read_chunks reads at a time: a few thousand lines, few enough to keep memory flat.
CHUNK_BYTES = 4 * 1024 * 1024
# How much of a plain file is read at a time to find where a line ends.
_PROBE_BYTES = 64 * 1024

# Course keys inside URLs: /courses/<key>/... (LMS, both key styles) and /course/<key>/... (the
# learning MFE, which only has new-style keys). Old-style keys need all three segments.
_V1_KEY = r"[A-Za-z0-9_.-]+-v\d+:[^/?#\s]+"
_OLD_KEY = r"[^/?#\s:]+/[^/?#\s]+/[^/?#\s]+"
_COURSE_IN_URL = re.compile(rf"/courses/({_V1_KEY}|{_OLD_KEY})|/course/({_V1_KEY})")


@dataclass(slots=True)
class TrackingEvent:
    """One usable tracking-log event, normalized across the three line shapes."""

    time: float
    course_key: str
    user_id: str | None
    username: str | None
    name: str
    source: str
    data: dict[str, Any]
    # The `ip` of the line (top level in tracking.log, `context.ip` in the processed shape), as
    # logged (a text, else None): only its country is kept (lti_tool.activity.countries).
    ip: str | None = None
    display_name: str | None = None  # the block's name in the context (server problem_check)


@dataclass(slots=True)
class RawLine:
    """One complete line of a (decompressed) log file and where it ends."""

    number: int
    raw: bytes
    end_offset: int


class BadLine(Exception):
    """A line that cannot be used; `reason` is a short stable key (see BAD_LINE_REASONS)."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


class NoUser(Exception):
    """A well-formed event without any user (logged out or anonymous); not a malformed line."""


class TruncatedFile(Exception):
    """A gzip file ended early or is corrupt; raised after every complete line was yielded."""


def parse_line(raw: bytes) -> TrackingEvent | None:  # noqa: C901 (the per-line hot path, kept whole)
    """Parse one log line; None for blank and '#' lines; raises BadLine or NoUser."""
    # The length check comes first so that a huge line costs nothing to reject.
    if len(raw) > MAX_LINE_BYTES:
        raise BadLine(LINE_TOO_LONG)
    if _has_escaped_nul(raw) is not None:
        # An escaped NUL, in the line or in a payload string within it: PostgreSQL cannot store
        # it. (The literal text "\\u0000" in a field is refused too; no real log has it.)
        raise BadLine(BROKEN_JSON, "holds a NUL character (\\u0000)")
    if raw[:1] == b"{":
        try:
            obj = _orjson_loads(raw)
        except orjson.JSONDecodeError:
            obj = _loads(raw)  # raises the BadLine that says why
    else:
        obj = _load_unusual(raw)
        if obj is _SKIP:
            return None
    if type(obj) is not dict:
        raise BadLine(WRONG_TYPES, "top level is not an object")

    get = obj.get
    name = get("name")
    if not name:
        name = get("event_type")
    if type(name) is not str or not name:
        raise BadLine(WRONG_TYPES, "event name is not a string")

    context = get("context")
    if context is None:
        context = {}
    elif type(context) is not dict:
        raise BadLine(WRONG_TYPES, "context is not an object")
    cget = context.get

    source = get("event_source")
    if source is None:
        source = cget("event_source")
        if source is None:
            source = ""
    if type(source) is not str:
        raise BadLine(WRONG_TYPES, "event_source is not a string")

    stamp: Any = get("time")  # anything: a wrong type is a TypeError below
    if stamp is None:
        stamp = get("timestamp")
    try:
        # The usual case inline: an ISO 8601 string with its offset.
        moment = _fromisoformat(stamp)
        time = moment.timestamp() if moment.tzinfo is not None else _parse_time(stamp)
    except (TypeError, ValueError):
        time = _parse_time(stamp)  # raises the BadLine that says why

    payload = get("event")
    if payload is None:
        payload = get("data")
    if type(payload) is str:
        # Browser events carry their payload as a JSON string; other strings (url-encoded
        # problem_check answers, plain text) hold nothing the KPIs read.
        data = _loads_payload(payload) if payload[:1] == "{" else {}
    elif type(payload) is dict:
        data = payload
    else:
        data = {}

    user_id = cget("user_id")
    # The usual case inline (an integer id): this runs once per line.
    user_id = str(user_id) if type(user_id) is int else _user_id(user_id)
    from_payload = False
    if source == "server" and name[:22] == "edx.course.enrollment.":
        # Enrollment events are the payload user's, as the Insights pipeline reads them: an
        # instructor's enrollment of a learner has the instructor as the context's user.
        learner = _user_id(data.get("user_id"), strict=False)
        if learner is not None and learner != user_id:
            user_id, from_payload = learner, True
    if user_id is None and (source == "server" or source == "task"):
        # Server-emitted grade and enrollment events can have a blank context user but name the
        # learner in their payload; browser payloads are client-controlled, so not trusted here.
        user_id = _user_id(data.get("user_id"), strict=False)
        from_payload = user_id is not None

    username = get("username")
    if not username:
        username = cget("username")
    if username is not None:
        if type(username) is not str:
            raise BadLine(WRONG_TYPES, "username is not a string")
        username = username.strip()
        if username.lower() in NOT_USERNAMES:
            username = None
        elif from_payload:
            # An instructor's batch enrollment logs the instructor as `username` and the
            # learner only in `event.user_id`: that username is not the learner's.
            username = None

    if user_id is None and username is None:
        raise NoUser()

    course_key = cget("course_id")
    if type(course_key) is not str or not (course_key := course_key.strip()):
        course_key = _course_key(cget("course_id"), data, get, cget, name)
    ip = get("ip") or cget("ip")
    if type(ip) is not str:
        ip = None  # not an address; the event is good all the same
    event = TrackingEvent(time, course_key, user_id, username, name, source, data, ip)
    if name == "problem_check" and source == "server":
        event.display_name = _module_name(context)
    return event


def _module_name(context: dict[str, Any]) -> str | None:
    """The display name of the block an event is about (context.module.display_name)."""
    module = context.get("module")
    name = module.get("display_name") if type(module) is dict else None
    return name if type(name) is str and name else None


def _loads(raw: bytes) -> Any:
    """orjson.loads, telling invalid UTF-8 apart from broken JSON."""
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        # Only on the error path: orjson reports both as JSONDecodeError.
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            raise BadLine(INVALID_UTF8) from None
        raise BadLine(BROKEN_JSON) from None


def _load_unusual(raw: bytes) -> Any:
    """Lines not starting with '{': blank, comment, indented, prefixed or a non-object value."""
    stripped = raw.strip()
    if not stripped or stripped[:1] == b"#":
        return _SKIP
    if stripped[:1] == b"{":
        return _loads(stripped)
    brace = stripped.find(b"{")
    if brace < 0:
        # No object anywhere: either another JSON value (wrong type) or garbage.
        return _loads(stripped)
    try:
        # A top-level array or string that merely contains a '{' must not be cut at that brace.
        return orjson.loads(stripped)
    except orjson.JSONDecodeError:
        pass
    # The logging-prefixed form "2023-05-23 13:53:13,461 INFO ... - {json}" (or a BOM).
    try:
        stripped[:brace].decode("utf-8")
    except UnicodeDecodeError:
        raise BadLine(INVALID_UTF8) from None
    return _loads(stripped[brace:])


def _loads_payload(text: str) -> dict[str, Any]:
    """The decoded `event` string, or {} when it is not a JSON object."""
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        return {}
    return value if type(value) is dict else {}


def _parse_time(stamp: Any) -> float:
    """Epoch seconds from an ISO 8601 string; naive times are UTC."""
    if type(stamp) is not str:
        if stamp is None:
            raise BadLine(MISSING_TIME)
        raise BadLine(WRONG_TYPES, "time is not a string")
    try:
        moment = datetime.fromisoformat(stamp)
    except ValueError:
        raise BadLine(MISSING_TIME, "unparseable time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def _user_id(value: Any, strict: bool = True) -> str | None:
    """A user id as a string, None when blank; wrong types raise only for the context id."""
    if value is None:
        return None
    kind = type(value)
    if kind is int:
        return str(value)
    if kind is str:
        value = value.strip()
        return value or None
    if strict:
        raise BadLine(WRONG_TYPES, "user_id is not a string or integer")
    return None


def _course_key(context_course: Any, data: dict[str, Any], get: Any, cget: Any, name: str) -> str:
    """The course key: context, then payload, then the page URL, then an implicit event's path."""
    key: str | None
    if type(context_course) is str:
        key = context_course.strip()
        if key:
            return key
    elif context_course is not None:
        raise BadLine(WRONG_TYPES, "context.course_id is not a string")
    given = data.get("course_id")
    if type(given) is str:
        key = given.strip()
        if key:
            return key
    for url in (get("page"), cget("page"), name if name[:1] == "/" else None):
        if type(url) is str and "/course" in url:
            key = _course_from_url(url)
            if key:
                return key
    raise BadLine(MISSING_COURSE)


def _course_from_url(url: str) -> str | None:
    """The course key inside a URL or path, either key style, or None."""
    if "%" in url:
        url = unquote(url)
    match = _COURSE_IN_URL.search(url)
    if match is None:
        return None
    return match.group(1) or match.group(2)


@contextmanager
def _open_stream(path: str | Path) -> Iterator[IO[bytes] | gzip.GzipFile]:
    """The decompressed byte stream of a plain or gzipped file; gzip damage -> TruncatedFile."""
    with open(path, "rb", buffering=_READ_BUFFER) as raw:
        magic = raw.read(2)
        raw.seek(0)
        if magic != _GZIP_MAGIC:
            yield raw
            return
        with gzip.GzipFile(fileobj=raw, mode="rb") as unzipped:
            try:
                yield unzipped
            except _GZIP_ERRORS as exc:
                # Callers then need to know one exception for a damaged file, not three.
                raise TruncatedFile(f"{path}: {exc}") from exc


class ByteReader(Protocol):
    """What open_decompressed yields: something with read()."""

    def read(self, size: int = -1, /) -> bytes:
        """Up to size bytes (all when negative); b"" at the end."""
        ...


class _TolerantGzip:
    """A gzip stream whose read returns the bytes decoded before any damage, and raises next time.

    GzipFile.read(n) drops what it had decoded when it meets the damage, so a short damaged file
    would have no readable head at all, although read_lines can still yield its first lines.
    """

    def __init__(self, unzipped: gzip.GzipFile, path: str | Path) -> None:
        self._unzipped = unzipped
        self._path = path
        self._damage: TruncatedFile | None = None

    def read(self, size: int = -1, /) -> bytes:
        """Up to size decompressed bytes (all when negative); b"" at the end."""
        if self._damage is not None:
            raise self._damage
        want = size if size >= 0 else float("inf")
        chunks: list[bytes] = []
        while want > 0:
            try:
                chunk = self._unzipped.read1(int(min(want, _SKIP_CHUNK)))
            except _GZIP_ERRORS as exc:
                self._damage = TruncatedFile(f"{self._path}: {exc}")
                if chunks:
                    break
                raise self._damage from exc
            if not chunk:
                break
            chunks.append(chunk)
            want -= len(chunk)
        return b"".join(chunks)


@contextmanager
def open_decompressed(path: str | Path) -> Iterator[ByteReader]:
    """A readable decompressed stream of a plain or gzipped file (gzip found by magic bytes).

    On a damaged gzip, read() first returns what could be decoded, then raises TruncatedFile.
    """
    with _open_stream(path) as stream:
        yield _TolerantGzip(stream, path) if isinstance(stream, gzip.GzipFile) else stream


@dataclass(slots=True)
class Chunk:
    """Complete lines of a (decompressed) log file, read in one piece.

    A chunk of a plain file carries no bytes but where they are (`source`): whoever parses it
    reads them, so that the lines are not copied from process to process.
    """

    data: bytes  # the lines, each ending with b"\n"; or the head of one overlong line
    end_offset: int  # decompressed bytes up to the end of the last line
    overlong: bool = False  # one line longer than the read limit, of which `data` is the head
    source: FileSpan | None = None  # where the lines are, when `data` is empty

    def content(self) -> bytes:
        """The chunk's bytes (read from its file when it only says where they are)."""
        return self.data if self.source is None else self.source.read()

    def raw_lines(self) -> list[bytes]:
        """The lines as parse_line takes them (see line_content)."""
        data = self.content()
        if self.overlong:
            return [data]
        lines = data.split(b"\n")
        lines.pop()  # the empty piece after the last newline
        if b"\r" not in data and max(map(len, lines), default=0) < _READ_LIMIT:
            return lines  # the usual case, checked at C speed: every line is as split
        return list(map(line_content, lines))


@dataclass(frozen=True, slots=True)
class FileSpan:
    """Whole lines of a plain file: bytes start to end of the file that was device/inode."""

    path: str
    device: int
    inode: int
    start: int
    end: int

    def read(self) -> bytes:
        """The span's bytes; OSError if the file at `path` is no longer the same file."""
        with open(self.path, "rb") as file:
            status = os.fstat(file.fileno())
            data = os.pread(file.fileno(), self.end - self.start, self.start)
        same = (status.st_dev, status.st_ino) == (self.device, self.inode)
        if not same or len(data) != self.end - self.start or data[-1:] != b"\n":
            raise OSError(f"{self.path} was replaced or truncated while it was read")
        return data


def line_content(line: bytes) -> bytes:
    """A line without its newline as parse_line takes it: without a trailing "\r", and only the
    head of a line longer than the read limit (parse_line rejects it by its length)."""
    if len(line) >= _READ_LIMIT:
        return line[:_READ_LIMIT]
    return line[:-1] if line[-1:] == b"\r" else line


def read_chunks(
    path: str | Path, start_offset: int = 0, size: int | None = None
) -> Iterator[Chunk]:
    """Stream the complete lines after start_offset decompressed bytes, about `size` at a time.

    An unterminated last line is left for the next run (the writer may not have finished it).
    A line longer than the read limit comes alone, as its head, and the rest of it is skipped,
    so memory stays flat. A damaged gzip file raises TruncatedFile after every complete line
    before the damage. Chunks of a plain file are spans (see Chunk.source).
    """
    size = size or CHUNK_BYTES
    with _open_stream(path) as stream:
        if isinstance(stream, gzip.GzipFile):
            _skip(stream, start_offset)
            yield from _stream_chunks(_TolerantGzip(stream, path).read, start_offset, size)
        else:
            yield from _span_chunks(stream, str(path), start_offset, size)


def _stream_chunks(read: Any, offset: int, size: int) -> Iterator[Chunk]:
    """Chunks of a stream that can only be read in order (a gzipped file)."""
    pending = b""  # the beginning of a line whose end has not been read yet
    while piece := read(size):
        while piece:
            end = piece.rfind(b"\n") + 1
            if end:
                # One copy at most: the pending start of a line and the piece's whole lines.
                data = b"".join((pending, memoryview(piece)[:end])) if pending else piece[:end]
                offset += len(data)
                yield Chunk(data, offset)
                pending = piece[end:]
            else:
                pending += piece
            piece = b""
            if len(pending) >= _READ_LIMIT:
                # No end in sight: keep the head (parse_line rejects it by its length), skip
                # the rest, and go on with what follows it.
                head = pending[:_READ_LIMIT]
                length, piece = _skip_line(read, size, len(pending))
                if length < 0:
                    return
                pending = b""
                offset += length
                yield Chunk(head, offset, overlong=True)


def _span_chunks(file: IO[bytes], path: str, offset: int, size: int) -> Iterator[Chunk]:
    """Chunks of a plain file as spans of whole lines: only the bytes around the ends of the
    spans are read here, to find where lines end."""
    descriptor = file.fileno()
    status = os.fstat(descriptor)
    file_size = status.st_size

    def span(start: int, end: int) -> Chunk:
        where = FileSpan(path, status.st_dev, status.st_ino, start, end)
        return Chunk(b"", end, source=where)

    while offset < file_size:
        limit = min(offset + size, file_size)
        end = _last_line_end(descriptor, offset, limit)
        if end > offset:
            yield span(offset, end)
            offset = end
            continue
        # No line ends within `size` bytes: find where this long line ends.
        end = _next_line_end(descriptor, limit, file_size)
        if end < 0:
            return  # an unterminated last line
        if end - 1 - offset >= _READ_LIMIT:
            yield Chunk(os.pread(descriptor, _READ_LIMIT, offset), end, overlong=True)
        else:
            yield span(offset, end)
        offset = end


def _last_line_end(descriptor: int, start: int, limit: int) -> int:
    """The offset just after the last "\n" in bytes start to limit, or -1."""
    stop = limit
    while stop > start:
        begin = max(start, stop - _PROBE_BYTES)
        found = os.pread(descriptor, stop - begin, begin).rfind(b"\n")
        if found >= 0:
            return begin + found + 1
        stop = begin
    return -1


def _next_line_end(descriptor: int, start: int, file_size: int) -> int:
    """The offset just after the first "\n" at or after start, or -1."""
    while start < file_size:
        piece = os.pread(descriptor, min(_PROBE_BYTES, file_size - start), start)
        found = piece.find(b"\n")
        if found >= 0:
            return start + found + 1
        start += len(piece)
    return -1


def _skip_line(read: Any, size: int, length: int) -> tuple[int, bytes]:
    """Read to the end of an overlong line; its whole length and what follows it (-1 at EOF)."""
    while True:
        piece = read(size)
        if not piece:
            return -1, b""
        cut = piece.find(b"\n")
        if cut >= 0:
            return length + cut + 1, piece[cut + 1 :]
        length += len(piece)


def read_lines(path: str | Path, start_offset: int = 0, start_line: int = 0) -> Iterator[RawLine]:
    """Stream the complete lines after start_offset decompressed bytes, numbered from start_line.

    Line by line over read_chunks, with each line's end offset; the ingest reads chunks.
    """
    number = start_line
    for chunk in read_chunks(path, start_offset):
        if chunk.overlong:
            number += 1
            yield RawLine(number, chunk.data, chunk.end_offset)
            continue
        data = chunk.content()
        offset = chunk.end_offset - len(data)
        lines = data.split(b"\n")
        lines.pop()
        for line in lines:
            offset += len(line) + 1
            number += 1
            yield RawLine(number, line_content(line), offset)


def _skip(stream: IO[bytes] | gzip.GzipFile, count: int) -> None:
    """Advance a stream by count bytes (a gzip stream has to be decompressed to skip)."""
    if count <= 0:
        return
    if isinstance(stream, gzip.GzipFile):
        remaining = count
        while remaining > 0:
            chunk = stream.read(min(remaining, _SKIP_CHUNK))
            if not chunk:
                return
            remaining -= len(chunk)
    else:
        stream.seek(count)


def iter_paths(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Files as given; folders walked recursively in sorted order, skipping hidden entries."""
    for given in paths:
        path = Path(given)
        if path.is_dir():
            yield from _walk(path)
        else:
            # Missing or unreadable files are yielded too: reading them reports the OSError.
            yield path


def _walk(folder: Path) -> Iterator[Path]:
    """Regular files under a folder in name order; symlinked folders are not followed (loops)."""
    with os.scandir(folder) as scan:
        entries = sorted(scan, key=lambda entry: entry.name)
    for entry in entries:
        if entry.name.startswith("."):
            continue
        if entry.is_dir(follow_symlinks=False):
            yield from _walk(Path(entry.path))
        elif entry.is_file():
            yield Path(entry.path)
