"""`chargespec lint`: a configuration checked against the manual's warnings (spec/lint.yaml).

Each check of spec/lint.yaml is a condition over configuration parameters, written in the
expression language, that holds for a setup the manual warns against.  `lint` evaluates every
check on one configuration and reports the ones that hold, naming the parameters, the manual
section and why.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from chargespec.expr import PythonBackend
from chargespec.models.types import thaw
from chargespec.specmodel import LintCheck, Spec


@dataclass(frozen=True)
class Finding:
    check: LintCheck
    values: tuple[tuple[str, Any], ...]  # the named parameters' values in this configuration

    def render(self) -> str:
        c = self.check
        shown = ", ".join(f"{p} = {thaw(v)!r}" for p, v in self.values)
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
        if be.visit(check.when)(None, config, None, None):
            found.append(Finding(check, tuple((p, getattr(config, p)) for p in check.params)))
    return found
