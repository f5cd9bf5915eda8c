"""IEC 61851-1 control pilot: the offered current as a PWM duty cycle, and back.

The numbers live in spec/control_pilot.yaml (IEC 61851-1:2017 Annex A, Table A.8); this module
only interprets that table.  The session's `pwm` observation says which regime holds (no PWM,
5 % for ISO 15118, or the nominal duty cycle of the offered current).
"""

from __future__ import annotations

from chargespec.specmodel import PilotTable


def duty_cycle(table: PilotTable, regime: str, amps: int) -> float:
    """Duty cycle in % for a regime ('off' | 'hlc' | 'nominal') and an offered current in A."""
    if regime == "hlc":
        return table.hlc_duty
    if regime == "off" or amps < table.minimum_current:
        return table.no_pwm_duty
    below = None  # the segment ending closest below `amps`: signal its top, never more
    for seg in table.segments:
        if seg.min_amps <= amps <= seg.max_amps:
            return _round(amps / seg.per_amp + seg.offset, table.resolution)
        if seg.max_amps < amps:
            below = seg
    assert below is not None  # amps >= minimum_current == the first segment's start
    return _round(below.max_amps / below.per_amp + below.offset, table.resolution)


def amps_from_duty(table: PilotTable, duty: float) -> float | None:
    """The current a vehicle reads from a duty cycle, or None (no current / HLC / invalid)."""
    for lo, hi, amps in table.decode:
        if lo <= duty <= hi:
            return float(amps)
    for seg in table.segments:
        lo = seg.min_amps / seg.per_amp + seg.offset
        hi = seg.max_amps / seg.per_amp + seg.offset
        if lo <= duty <= hi:
            return round((duty - seg.offset) * seg.per_amp, 1)
    return None


def _round(x: float, step: float) -> float:
    return round(round(x / step) * step, 6)


# ---- plausible wrong versions (mutation analysis, checkers/mutants.py): each must make some
# vector fail

def _one_formula(table: PilotTable, regime: str, amps: int) -> float:
    """amps / 0.6 everywhere: the high-current segment (above 51 A) forgotten."""
    if regime == "hlc":
        return table.hlc_duty
    if regime == "off" or amps < table.minimum_current:
        return table.no_pwm_duty
    seg = table.segments[0]
    return _round(min(amps / seg.per_amp + seg.offset, 100.0), table.resolution)


def _truncated(table: PilotTable, regime: str, amps: int) -> float:
    """Rounded down to the resolution instead of to the nearest value."""
    exact = duty_cycle(table, regime, amps)
    if regime != "nominal" or amps < table.minimum_current:
        return exact
    for seg in table.segments:
        if seg.min_amps <= amps <= seg.max_amps:
            x = amps / seg.per_amp + seg.offset
            return round(int(x / table.resolution + 1e-9) * table.resolution, 6)
    return exact


def _minimum_exclusive(table: PilotTable, regime: str, amps: int) -> float:
    """The minimum current itself offered as no PWM (6 A shows 100 %)."""
    if regime == "nominal" and amps == table.minimum_current:
        return table.no_pwm_duty
    return duty_cycle(table, regime, amps)


def _below_minimum_at_minimum(table: PilotTable, regime: str, amps: int) -> float:
    """A current below the minimum is offered as the minimum's duty cycle (10 %), not as no
    current."""
    if regime == "nominal" and 0 < amps < table.minimum_current:
        return duty_cycle(table, regime, table.minimum_current)
    return duty_cycle(table, regime, amps)


def _gap_rounded_up(table: PilotTable, regime: str, amps: int) -> float:
    """Between segments (52 A) the next segment's start is signalled: more than offered."""
    if regime == "nominal":
        for a, b in zip(table.segments, table.segments[1:]):
            if a.max_amps < amps < b.min_amps:
                return duty_cycle(table, regime, b.min_amps)
    return duty_cycle(table, regime, amps)


WRONG_DUTY_CYCLES = {
    "one_formula": (_one_formula, "amps / 0.6 above 51 A too (IEC 61851-1's second formula "
                    "forgotten)"),
    "truncated": (_truncated, "the duty cycle rounded down, not to the nearest 0.1 %"),
    "minimum_exclusive": (_minimum_exclusive, "6 A offered as no PWM"),
    "below_minimum_at_minimum": (_below_minimum_at_minimum, "1-5 A offered as 6 A (10 %)"),
    "gap_rounded_up": (_gap_rounded_up, "52 A signalled as 53 A"),
}
