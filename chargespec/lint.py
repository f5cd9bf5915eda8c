"""`chargespec lint`: a configuration checked against the manual's warnings (spec/lint.yaml).

Each check of spec/lint.yaml is a condition over configuration parameters, written in the
expression language, that holds for a setup the manual warns against.  `lint` evaluates every
check on one configuration and reports the ones that hold, naming the parameters, the manual
section and why.  A check with `entries:` looks at each entry of a list parameter (the local
whitelist) with a named predicate of `chargespec.rfid.ENTRY_CHECKS` and reports the entries that
fail it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chargespec.expr import PythonBackend
from chargespec.models.types import thaw
from chargespec.rfid import ENTRY_CHECKS
from chargespec.specmodel import LintCheck, Spec


@dataclass(frozen=True)
class Finding:
    check: LintCheck
    values: tuple[tuple[str, Any], ...]  # the named parameters' values in this configuration
    entries: tuple[str, ...] = ()  # for an entry check: the offending entries

    def render(self) -> str:
        c = self.check
        shown = ", ".join(f"{p} = {thaw(v)!r}" for p, v in self.values)
        if self.entries:
            shown += f"; offending {c.entries} entries: {', '.join(self.entries)}"
        return f"{c.severity}: {c.id} ({c.ref}): {shown}\n    {c.message}"


def lint(spec: Spec, config: Any) -> list[Finding]:
    """The checks that hold for `config` (a Config value of the session engine)."""
    def resolve(name: str):
        if name in spec.constants:
            value = spec.constants[name][1]
            return lambda s, c, e, o: value
        return lambda s, c, e, o: getattr(c, name)

    be = PythonBackend(resolve)
    found = []
    for check in spec.lint.values():
        if not be.visit(check.when)(None, config, None, None):
            continue
        values = tuple((p, getattr(config, p)) for p in check.params)
        if check.entries is None:
            found.append(Finding(check, values))
            continue
        bad = ENTRY_CHECKS[check.bad_entry]  # type: ignore[index]
        offending = tuple(e for e in thaw(getattr(config, check.entries)) if bad(e, config))
        if offending:
            found.append(Finding(check, values, offending))
    return found
