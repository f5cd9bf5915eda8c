"""IEC 61851-1 duty cycle <-> current, from spec/control_pilot.yaml."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from chargespec.loader import load_spec
from chargespec.models.pwm import amps_from_duty, duty_cycle

from conftest import SPEC_DIR


@pytest.mark.parametrize("amps, duty", [(6, 10.0), (10, 16.7), (16, 26.7), (32, 53.3),
                                        (51, 85.0), (63, 89.2), (80, 96.0)])
def test_nominal_duty_cycle_follows_iec_61851_table_a8(spec, amps, duty):
    assert duty_cycle(spec.pilot, "nominal", amps) == duty


@pytest.mark.parametrize("regime, amps, duty", [("off", 32, 100.0), ("hlc", 32, 5.0),
                                                ("nominal", 5, 100.0), ("nominal", 0, 100.0)])
def test_no_pwm_and_hlc_duty_cycles(spec, regime, amps, duty):
    assert duty_cycle(spec.pilot, regime, amps) == duty


@pytest.mark.parametrize("duty, amps", [(8.0, 6.0), (9.5, 6.0), (10.0, 6.0), (50.0, 30.0),
                                        (90.0, 65.0), (5.0, None), (100.0, None), (97.0, None)])
def test_reading_a_duty_cycle_back(spec, duty, amps):
    assert amps_from_duty(spec.pilot, duty) == amps


PILOT = load_spec(SPEC_DIR).pilot


@given(st.integers(6, 80))
def test_every_current_reads_back_never_above_and_within_one_amp(amps):
    read = amps_from_duty(PILOT, duty_cycle(PILOT, "nominal", amps))
    assert amps - 1 <= read <= amps + 0.05  # 0.1 % rounding of the duty cycle; 52 A -> 51 A


def test_the_gap_between_the_iec_segments_signals_the_lower_current():
    assert duty_cycle(PILOT, "nominal", 52) == 85.0
    assert amps_from_duty(PILOT, 85.0) == 51.0
