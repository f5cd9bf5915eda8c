"""What every picture of the spec shares: the configuration classes worth a picture of their
own, DOT quoting, guards as a reader wants them (definitions folded, specialised to a
configuration), and graphviz's `dot` run without a shell.  The whole-machine pictures
(diagrams.py) and the readable state views (stateviews.py) both draw with these.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from typing import Any, Mapping

from chargespec.errors import InputError
from chargespec.expr import TRUE, Const, Expr, fold, specialize, to_label
from chargespec.models.step import Engine

NEXT_EVENT = "next event"  # a status change no rule makes: the kept status settling
SETTLES = "(any rule: the status kept from before settles)"


@dataclass(frozen=True)
class ConfigClass:
    """A configuration class worth its own picture: the settings that define it."""

    slug: str
    title: str
    values: Mapping[str, Any]
    manual: str
    doc: str


CONFIG_CLASSES: tuple[ConfigClass, ...] = (
    ConfigClass("normal", "Stop Transaction Mode Normal (the defaults)", {}, "§5.1",
                "A card or the backend starts, unplugging or the card stops."),
    ConfigClass("rfid_only", "Stop Transaction Mode: Only by RFID/RemoteStop",
                {"stop_transaction_mode": "OnlyByRfidOrRemoteStop"}, "§5.1",
                "Unplugging suspends; only the card or RemoteStop ends the transaction."),
    ConfigClass("disconnect_only", "Stop Transaction Mode: Stop only by disconnecting",
                {"stop_transaction_mode": "StopOnlyByDisconnecting"}, "§5.1",
                "The card cannot end the transaction; unplugging does."),
    ConfigClass("free_charging_4", "Free Charging, mode 4: Full fixed RFID with auth",
                {"free_charging": True, "free_charging_mode": "FullFixedRfidWithAuth"}, "§5.2",
                "No card needed; transactions under the fixed idTag, authorized first."),
    ConfigClass("free_charging_1", "Free Charging, mode 1: No OCPP",
                {"free_charging": True, "free_charging_mode": "NoOcpp"}, "§5.2",
                "Charging on plug-in, no OCPP message at all."),
    ConfigClass("immediate_plug_in", "If in doubt allow charging: Immediate Plug-in",
                {"if_in_doubt_allow_charging": "ImmediatePlugIn"}, "§5.1",
                "Offline, a plugged-in vehicle charges at once (provisional), before any card."),
)


def q(text: str) -> str:
    """A DOT quoted string."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def guard_text(engine: Engine, when: Expr, known: Mapping[str, Any] | None = None) -> str | None:
    """The guard as a reader wants it: definitions folded; specialised when `known` is given;
    None when it is (or the configuration makes it) always true."""
    defs = {n: d.expr for n, d in engine.machine.definitions.items()}
    e = fold(when, defs)
    if known is not None:
        e = specialize(e, known, engine.spec.constants)
    if e == TRUE or (isinstance(e, Const) and e.value is True):
        return None
    return to_label(e)


def known_values(engine: Engine, config: Any) -> dict[str, Any]:
    """Everything a configuration fixes: its parameters, the spec's constants, and the
    definitions that become constant under it."""
    known: dict[str, Any] = dict(config.as_dict())
    known.update({n: v for n, (_, v) in engine.spec.constants.items()})
    for name, d in engine.machine.definitions.items():
        e = specialize(d.expr, known, engine.spec.constants)
        if isinstance(e, Const):
            known[name] = e.value
    return known


def svg(dot_text: str, name: str = "diagram") -> str:
    """Render DOT with graphviz's `dot` (no shell); a clear error when it is missing."""
    try:
        run = subprocess.run(["dot", "-Tsvg"], input=dot_text, capture_output=True, text=True,
                             timeout=120, check=False)
    except FileNotFoundError:
        raise InputError("graphviz's `dot` is not installed (make install puts it there "
                         "through apt; or apt-get install graphviz)") from None
    if run.returncode != 0:
        raise InputError(f"dot failed on {name}: {run.stderr.strip()[:400]}")
    return run.stdout
