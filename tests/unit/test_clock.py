"""The one injected clock: the system clock, or one that runs N times faster (``PSC_CLOCK_SPEED``)."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from shared.clock import FixedClock, ScaledClock, SystemClock, platform_clock, real_seconds
from shared.settings import PlatformSettings


def test_speed_one_is_the_system_clock_and_the_setting_defaults_to_it() -> None:
    assert PlatformSettings().clock_speed == 1.0
    assert isinstance(platform_clock(1.0), SystemClock)
    assert isinstance(PlatformSettings().clock(), SystemClock)
    assert isinstance(PlatformSettings(clock_speed=20000, clock_origin=0).clock(), ScaledClock)


def test_a_sped_up_clock_runs_from_its_origin_n_times_faster() -> None:
    origin = datetime.now(UTC)
    clock = platform_clock(1000.0, origin.timestamp())
    assert isinstance(clock, ScaledClock)
    first = clock.now()
    time.sleep(0.01)
    assert clock.now() - first >= timedelta(seconds=10)  # at least 10 ms of wall time, a thousand times over
    assert real_seconds(clock, timedelta(hours=1)) == pytest.approx(3.6)


def test_a_fixed_clock_s_span_takes_as_long_as_it_says_and_a_speed_must_be_positive() -> None:
    assert real_seconds(FixedClock(datetime(2026, 11, 16, tzinfo=UTC)), timedelta(seconds=5)) == 5.0
    with pytest.raises(ValueError, match="positive"):
        ScaledClock(0)
