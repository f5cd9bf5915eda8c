"""The OCTT OCPP 1.6 test cases, as the spec records them (`spec/octt.yaml`).

The Open Charge Alliance's compliance test tool (OCTT) names its charge-point test cases TC_003,
TC_004_1, ...  Firmware teams know them by these ids, so each case the Powerstation TWO's settings
make applicable is mirrored as a scenario: a configuration, an event sequence, and the messages
OCTT looks for, as a subsequence of what the reference sends (`Action` or `Action(field=value,
...)`).  The generator replays each scenario on the reference, fails with this file's line when
the reference does not send what the case expects, and writes the vector with its TC id.  A case
that does not apply says why (`applies: false` and `reason`), so the coverage report can list it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Mapping

from .errors import SpecError, Where

_PATTERN = re.compile(r"^(?P<no>no\s+)?(?P<action>[A-Za-z]+)(?P<conf>\.conf)?"
                      r"(?:\((?P<fields>[^()]*)\))?$")


@dataclass(frozen=True)
class Expect:
    action: str
    kind: str  # call | result (`Action.conf`)
    fields: tuple[tuple[str, str], ...]
    text: str
    # `no Action(...)`: no such message between the expected messages around it (from the
    # step of the one before to the step of the one after; the case's end if none follows)
    negated: bool = False

    def matches(self, message: Mapping[str, Any]) -> bool:
        if message["action"] != self.action or message["kind"] != self.kind:
            return False
        return all(str(message["fields"].get(k)) == v for k, v in self.fields)


@dataclass(frozen=True)
class OcttCase:
    id: str
    title: str
    applies: bool
    reason: str
    manual: tuple[str, ...]
    config: dict[str, Any]
    steps: tuple[tuple[str, dict[str, Any], int], ...]  # (event name, fields, line)
    expect: tuple[Expect, ...]
    where: Where
    # where the spec departs from what OCTT expects: the interpretation that decides it (the
    # vector carries it as a second flag) and what OCTT expects instead
    interpretation: str | None = None
    octt_expects: str = ""

    @classmethod
    def build(cls, file: str, cases: Any, cid: str, sections: Mapping[str, str],
              parameters: Mapping[str, Any]) -> "OcttCase":
        body = cases[cid]
        where = Where(file, cases.key_lines[cid])
        for s in body.get("manual", ()):
            if s not in sections:
                raise SpecError(where, f"OCTT case {cid}: {s!r} is not a section of the manual")
        config = dict(body.get("config", {}))
        for pid in config:
            if pid not in parameters:
                raise SpecError(where, f"OCTT case {cid}: unknown parameter {pid!r}")
        steps = []
        raw = body.get("steps", [])
        for k, st in enumerate(raw):
            line = raw.item_lines[k] if hasattr(raw, "item_lines") else where.line
            if isinstance(st, str):
                steps.append((st, {}, line))
            else:
                (name, fields), = st.items()
                steps.append((name, dict(fields or {}), line))
        expect = []
        for text in body.get("expect", []):
            m = _PATTERN.match(text.strip())
            if not m:
                raise SpecError(where, f"OCTT case {cid}: expected message {text!r} is not "
                                       "`Action`, `Action(field=value, ...)` or `no Action...`")
            fields = tuple(tuple(x.strip() for x in f.split("=", 1))
                           for f in (m["fields"] or "").split(",") if f.strip())
            if any(len(f) != 2 for f in fields):
                raise SpecError(where, f"OCTT case {cid}: {text!r}: a field needs `name=value`")
            expect.append(Expect(m["action"], "result" if m["conf"] else "call",
                                 fields, text.strip(), bool(m["no"])))  # type: ignore[arg-type]
        applies = bool(body.get("applies", True))
        if applies and not steps:
            raise SpecError(where, f"OCTT case {cid} applies but has no steps")
        if not applies and not body.get("reason"):
            raise SpecError(where, f"OCTT case {cid} does not apply: say why in `reason`")
        if expect and all(e.negated for e in expect):
            raise SpecError(where, f"OCTT case {cid}: expects only messages that must not come")
        if ("interpretation" in body) != ("octt_expects" in body):
            raise SpecError(where, f"OCTT case {cid}: a departure from OCTT names both its "
                                   f"interpretation and what OCTT expects (octt_expects)")
        return cls(cid, body["title"], applies, " ".join(str(body.get("reason", "")).split()),
                   tuple(body.get("manual", ())), config, tuple(steps), tuple(expect), where,
                   body.get("interpretation"), " ".join(str(body.get("octt_expects", "")).split()))
