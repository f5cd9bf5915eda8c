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
