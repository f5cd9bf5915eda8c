"""OCPP-J logs as frames: the three forms `chargespec trace` reads, each line to one `Frame`.

- `jsonl`: the JSON-lines log of `chargespec virtual-cp --log` (and of anything writing the same
  objects): `{"time": ..., "direction": "send" | "receive", "frame": "[2, ...]"}`, the frame as
  a JSON string or as the array itself;
- `text`: any line holding an OCPP-J array (`[2, id, action, {...}]`, `[3, id, {...}]`,
  `[4, id, code, description, {...}]`) after a prefix that may carry a timestamp and a direction
  word or arrow: the `ocpp` package's logger (`INFO:ocpp:CP1: send [2, ...]`,
  `CP1: receive message [3, ...]`), and the generic `2026-12-01T10:00:00Z -> [2, ...]`,
  `CP->CS`, `sent`, `received`, ... forms.

Who sent a frame does not depend on the log's perspective: every OCPP 1.6 action but
DataTransfer goes one way only (`CP_ACTIONS`), and a CALLRESULT or CALLERROR comes from the side
that received its CALL.  A DataTransfer's origin comes from its direction word, read from the
perspective the log's other CALLs give away.

A line that is none of these, a frame that is not valid JSON or not an OCPP-J array: a
`Problem` with the file and line, and the line is skipped.  Limits: `MAX_BYTES` per log,
`MAX_LINE` per line; JSON nested too deep is a problem, not a crash.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MAX_BYTES = 512 << 20  # bytes of one log
MAX_LINE = 1 << 20  # bytes of one line
# the actions a charge point sends (OCPP 1.6 §4); DataTransfer goes both ways
CP_ACTIONS = frozenset({"Authorize", "BootNotification", "DiagnosticsStatusNotification",
                        "FirmwareStatusNotification", "Heartbeat", "MeterValues",
                        "StartTransaction", "StatusNotification", "StopTransaction"})
CS_ACTIONS = frozenset({"CancelReservation", "ChangeAvailability", "ChangeConfiguration",
                        "ClearCache", "ClearChargingProfile", "GetCompositeSchedule",
                        "GetConfiguration", "GetDiagnostics", "GetLocalListVersion",
                        "RemoteStartTransaction", "RemoteStopTransaction", "ReserveNow", "Reset",
                        "SendLocalList", "SetChargingProfile", "TriggerMessage",
                        "UnlockConnector", "UpdateFirmware"})
FORMATS = ("jsonl", "text")

_FRAME_START = re.compile(r"\[\s*[234]\s*,")
_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d+)?(?:Z|[+-]\d{2}:?\d{2})?")
# direction words, as the logging side saw the frame: True = it sent it
_OUT = re.compile(r"(?:^|[\s:\[(])(?:send|sent|sending|out|outgoing|tx|->|>>|=>)(?=$|[\s:\])])",
                  re.IGNORECASE)
_IN = re.compile(r"(?:^|[\s:\[(])(?:receive|received|receiving|in|incoming|rx|<-|<<|<=)"
                 r"(?=$|[\s:\])])", re.IGNORECASE)
_WORD = re.compile(f"(?P<out>{_OUT.pattern})|(?P<in>{_IN.pattern})", re.IGNORECASE)
_CP_TO_CS = re.compile(r"\bCP\s*->\s*CS(MS)?\b|\bCS(MS)?\s*<-\s*CP\b", re.IGNORECASE)
_CS_TO_CP = re.compile(r"\bCS(MS)?\s*->\s*CP\b|\bCP\s*<-\s*CS(MS)?\b", re.IGNORECASE)


@dataclass(frozen=True)
class Frame:
    """One OCPP-J message of the log."""

    line: int
    time: str | None
    kind: int  # 2 CALL, 3 CALLRESULT, 4 CALLERROR
    uid: str
    action: str | None  # a CALL's action (a result's: filled in when paired)
    payload: Any
    said: str | None  # "out" / "in" as the logging side wrote it, "cp" / "cs" when explicit
    origin: str | None = None  # "cp" or "cs": who sent it (`Log.resolve`)


@dataclass(frozen=True)
class Problem:
    file: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@dataclass
class Log:
    file: str
    format: str
    frames: list[Frame]
    problems: list[Problem]


def read_log(path: Path, fmt: str | None = None) -> Log:
    """The frames of the log at `path` (`fmt`: jsonl or text; sniffed when None); OSError
    when it cannot be read, ValueError when it is too large or of an unknown format."""
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise ValueError(f"{path}: {size} bytes, more than the {MAX_BYTES >> 20} MiB a log may "
                         f"have")
    raw = path.read_bytes()
    text = raw.decode("utf-8", errors="replace")
    lines = text.splitlines()
    if fmt is None:
        fmt = sniff(lines)
    if fmt not in FORMATS:
        raise ValueError(f"unknown log format {fmt!r} (one of {', '.join(FORMATS)})")
    name = str(path)
    frames: list[Frame] = []
    problems: list[Problem] = []
    skip_to = 0  # lines a frame spread over several lines has consumed
    tried_to = 0  # lines a failed join has read: no join starts inside them again
    for n, line in enumerate(lines, 1):
        if n <= skip_to or not line.strip():
            continue
        if len(line) > MAX_LINE:
            problems.append(Problem(name, n, f"a line longer than {MAX_LINE} bytes"))
            continue
        try:
            got = _jsonl_line(line) if fmt == "jsonl" else _text_line(line)
        except ValueError as exc:
            joined = _continued(lines, n) if fmt == "text" and n > tried_to else n
            if isinstance(joined, int):  # broken, or no frame spread over the lines below
                tried_to = max(tried_to, joined)
                problems.append(Problem(name, n, str(exc)))
                continue
            got, skip_to = joined
        if got is None and fmt == "text" and n > tried_to and line.rstrip().endswith("["):
            joined = _continued(lines, n)  # `send [` and the frame on the lines below
            if isinstance(joined, int):
                tried_to = max(tried_to, joined)
            else:
                got, skip_to = joined
        if got is None:
            problems.append(Problem(name, n, "no OCPP-J frame on this line"))
            continue
        time, said, msg = got
        try:
            frames.append(_frame(n, time, said, msg))
        except ValueError as exc:
            problems.append(Problem(name, n, str(exc)))
    log = Log(name, fmt, frames, problems)
    resolve(log)
    return log


MAX_JOIN = 200  # lines one pretty-printed frame may take
_RECORD_START = re.compile(r"^\s*(?:\[?\d{4}-\d{2}-\d{2}|\[?(?:INFO|DEBUG|WARN|WARNING|ERROR|"
                           r"TRACE|CRITICAL)\b)")


def _continued(lines: list[str], n: int) -> tuple[Any, int] | int:
    """A frame printed over several lines (a logger that pretty-prints JSON): line `n` (1-based)
    and the lines after it that start no new record, joined once its brackets close, when that
    parses; (the frame, the last line used), else None.  One pass over at most MAX_JOIN lines:
    the brackets are counted as the lines come, the JSON parsed once."""
    text = lines[n - 1]
    m = re.search(r"\[\s*(?:[234]\s*,|$)", text)
    if m is None:
        return n
    depth = _Depth()
    if depth.feed(text[m.start():]) <= 0:
        return n  # closed on its own line: broken, not unfinished
    for k in range(n, min(len(lines), n + MAX_JOIN)):
        nxt = lines[k]
        if _RECORD_START.match(nxt) or len(text) + len(nxt) > MAX_LINE:
            return k
        text += "\n" + nxt
        if depth.feed("\n" + nxt) <= 0:
            try:
                return _text_line(text), k + 1
            except ValueError:
                return k + 1
    return min(len(lines), n + MAX_JOIN)


_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"?|[\[\]{}]')


class _Depth:
    """Open brackets of JSON text fed line by line (the brackets inside strings skipped)."""

    def __init__(self) -> None:
        self.depth = 0

    def feed(self, text: str) -> int:
        for tok in _TOKEN.finditer(text):
            ch = tok.group(0)
            if ch in "[{":
                self.depth += 1
            elif ch in "]}":
                self.depth -= 1
                if self.depth <= 0:
                    return self.depth
        return self.depth


def sniff(lines: list[str]) -> str:
    """jsonl when the first non-empty line is a JSON object, else text."""
    for line in lines[:50]:
        s = line.strip()
        if not s:
            continue
        if s.startswith("{"):
            try:
                if isinstance(json.loads(s), dict):
                    return "jsonl"
            except (ValueError, RecursionError):
                pass
        return "text"
    return "text"


def _loads(text: str) -> Any:
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("JSON nested too deep") from None
    except ValueError as exc:
        raise ValueError(f"not valid JSON: {exc}") from None


# the keys other tools' JSON-lines logs use for the frame, its direction and its time
FRAME_KEYS = ("frame", "message", "msg", "payload", "data", "raw", "body")
DIRECTION_KEYS = ("direction", "dir", "way", "type")
TIME_KEYS = ("time", "timestamp", "ts", "date", "datetime", "@timestamp")
DIRECTIONS = {"send": "out", "sent": "out", "out": "out", "outgoing": "out", "tx": "out",
              "receive": "in", "received": "in", "in": "in", "incoming": "in", "rx": "in",
              "cp->cs": "cp", "cs->cp": "cs", "cp_to_cs": "cp", "cs_to_cp": "cs",
              "cp2cs": "cp", "cs2cp": "cs", "upstream": "cp", "downstream": "cs"}


def _jsonl_line(line: str) -> tuple[str | None, str | None, Any] | None:
    obj = _loads(line)
    key = next((k for k in FRAME_KEYS if isinstance(obj, dict) and k in obj
                and isinstance(obj[k], (str, list))), None)
    if key is None:
        raise ValueError("a JSON-lines entry is an object with the frame under one of "
                         + ", ".join(f'"{k}"' for k in FRAME_KEYS))
    frame = obj[key]
    if isinstance(frame, str):
        frame = _loads(frame)
    said = next((DIRECTIONS.get(str(obj[k]).strip().lower()) for k in DIRECTION_KEYS
                 if k in obj and DIRECTIONS.get(str(obj[k]).strip().lower())), None)
    time = next((obj[k] for k in TIME_KEYS if isinstance(obj.get(k), str)), None)
    return time, said, frame


def _text_line(line: str) -> tuple[str | None, str | None, Any] | None:
    m = _FRAME_START.search(line)
    if m is None:
        return None
    prefix, body = line[:m.start()], line[m.start():].rstrip()
    if '""' in body and prefix.rstrip().endswith('"'):
        # a CSV field: the frame in quotes, its own quotes doubled, more fields after it
        end = re.search(r'(?<!")"(?!")', body)
        body = (body[:end.start()] if end else body).replace('""', '"')
    msg = _loads(body)
    t = _TIME.search(prefix)
    if _CP_TO_CS.search(prefix):
        said: str | None = "cp"
    elif _CS_TO_CP.search(prefix):
        said = "cs"
    else:  # the last direction word before the frame
        last = None
        for word in _WORD.finditer(prefix):
            last = word
        said = None if last is None else ("out" if last.group("out") else "in")
    return (t.group(0) if t else None), said, msg


def _frame(n: int, time: str | None, said: str | None, msg: Any) -> Frame:
    if not isinstance(msg, list) or not msg or msg[0] not in (2, 3, 4):
        raise ValueError("not an OCPP-J message (an array starting with 2, 3 or 4)")
    kind = msg[0]
    if kind == 2:
        if len(msg) != 4 or not isinstance(msg[1], str) or not isinstance(msg[2], str) \
                or not isinstance(msg[3], dict):
            raise ValueError("a CALL is [2, uniqueId, action, {payload}]")
        return Frame(n, time, 2, msg[1], msg[2], msg[3], said)
    if kind == 3:
        if len(msg) != 3 or not isinstance(msg[1], str) or not isinstance(msg[2], dict):
            raise ValueError("a CALLRESULT is [3, uniqueId, {payload}]")
        return Frame(n, time, 3, msg[1], None, msg[2], said)
    if len(msg) != 5 or not isinstance(msg[1], str) or not isinstance(msg[2], str):
        raise ValueError("a CALLERROR is [4, uniqueId, errorCode, description, {details}]")
    return Frame(n, time, 4, msg[1], None, {"errorCode": msg[2], "errorDescription": msg[3]},
                 said)


def resolve(log: Log) -> None:
    """Who sent each frame, and each result's action: CALLs by their action (DataTransfer by
    its direction word, read from the log's perspective), results from the other side of
    their CALL.  A result with no CALL before it, or a second one: a problem, dropped."""
    votes = {"cp": 0, "cs": 0}  # the logging side, from the one-way CALLs' direction words
    for f in log.frames:
        if f.kind == 2 and f.said in ("out", "in"):
            side = "cp" if f.action in CP_ACTIONS else "cs" if f.action in CS_ACTIONS else None
            if side is not None:
                votes[side if f.said == "out" else ("cs" if side == "cp" else "cp")] += 1
    me = None if votes["cp"] == votes["cs"] else max(votes, key=lambda k: votes[k])
    calls: dict[tuple[str, str], Frame] = {}  # (origin, uid) -> the CALL awaiting its result
    out: list[Frame] = []
    for f in log.frames:
        if f.kind == 2:
            origin = "cp" if f.action in CP_ACTIONS else "cs" if f.action in CS_ACTIONS \
                else _by_word(f.said, me)
            if origin is None:
                log.problems.append(Problem(log.file, f.line, f"{f.action}: no direction word "
                                            f"says who sent it"))
                continue
            f = _with(f, origin=origin)
            calls[(origin, f.uid)] = f
            out.append(f)
            continue
        # a result answers the other side's CALL with the same uniqueId
        said = _by_word(f.said, me)
        cands = [o for o in ("cp", "cs") if (o, f.uid) in calls
                 and (said is None or o != said)]
        if not cands:
            what = "CALLRESULT" if f.kind == 3 else "CALLERROR"
            log.problems.append(Problem(log.file, f.line,
                                        f"a {what} with no CALL {f.uid!r} before it"))
            continue
        call = calls.pop((cands[0], f.uid))
        out.append(_with(f, action=call.action, origin="cs" if cands[0] == "cp" else "cp"))
    log.frames = out
    log.problems.sort(key=lambda p: p.line)


def _by_word(said: str | None, me: str | None) -> str | None:
    if said in ("cp", "cs"):
        return said
    if said is None or me is None:
        return None
    return me if said == "out" else ("cs" if me == "cp" else "cp")


def _with(f: Frame, action: str | None = None, origin: str | None = None) -> Frame:
    """`f` with its action (when given) and origin (dataclasses.replace, at a third of its
    cost: a log has a hundred thousand frames)."""
    return Frame(f.line, f.time, f.kind, f.uid, f.action if action is None else action,
                 f.payload, f.said, origin)
