"""The verdict of a proof obligation, one type for every prover (determinism and completeness,
the state invariants' induction, the step invariants, recovery, DLM safety): `Proved`,
`Counterexample(detail)` or `Unknown(reason)`.

Z3 may give up (a timeout, an incomplete theory).  That is neither a proof nor a counterexample:
a prover keeps it as `Unknown`, a run with an unknown verdict is not "proved" (exit 1, the
report says UNKNOWN), and nothing reads it as a counterexample in the spec's words.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Union


@dataclass(frozen=True)
class Proved:
    detail: str = ""

    label = "proved"


@dataclass(frozen=True)
class Counterexample:
    detail: str

    label = "counterexample"


@dataclass(frozen=True)
class Unknown:
    reason: str

    label = "unknown"


Verdict = Union[Proved, Counterexample, Unknown]


def gave_up(solver: Any) -> Unknown:
    """The Unknown of a Z3 solver whose check() answered unknown, with Z3's reason."""
    try:
        why = solver.reason_unknown()
    except Exception:  # noqa: BLE001 - the reason is a courtesy
        why = ""
    return Unknown(f"Z3 gave up ({why or 'no reason given'})")
