"""When the local stack restarts a process that exited, and when it gives up: pure rules, no processes.

A crashed process restarts after a pause that doubles with each crash inside the window (0.5 s, 1 s, 2 s, ... at
most ``max_delay``); the ``crash_limit``-th crash inside the window is a crash loop: the process stays stopped.
Crashes older than the window are forgotten, so a process that ran a while starts again from the shortest pause.
"""

from __future__ import annotations

import signal
from collections import deque
from dataclasses import dataclass


@dataclass(frozen=True)
class RestartPolicy:
    first_delay: float = 0.5
    factor: float = 2.0
    max_delay: float = 15.0
    crash_limit: int = 5
    window: float = 60.0

    def __post_init__(self) -> None:
        if self.first_delay < 0 or self.factor < 1 or self.max_delay < self.first_delay:
            raise ValueError("a restart pause must be >= 0, grow (factor >= 1) and stay under max_delay")
        if self.crash_limit < 1 or self.window <= 0:
            raise ValueError("crash_limit must be >= 1 and window > 0")

    def delay(self, crashes: int) -> float:
        """The pause before restarting after the ``crashes``-th crash inside the window (1 for the first)."""
        return float(min(self.max_delay, self.first_delay * self.factor ** max(0, crashes - 1)))


@dataclass(frozen=True)
class Restart:
    delay: float
    crashes: int  # inside the window, this one included


@dataclass(frozen=True)
class GiveUp:
    crashes: int
    window: float


class CrashHistory:
    """One process's recent crashes; ``crashed(at)`` says what to do about the newest (``at`` in monotonic s)."""

    def __init__(self, policy: RestartPolicy) -> None:
        self.policy = policy
        self._times: deque[float] = deque()

    def crashed(self, at: float) -> Restart | GiveUp:
        self._times.append(at)
        while self._times and self._times[0] <= at - self.policy.window:
            self._times.popleft()
        crashes = len(self._times)
        if crashes >= self.policy.crash_limit:
            return GiveUp(crashes=crashes, window=self.policy.window)
        return Restart(delay=self.policy.delay(crashes), crashes=crashes)

    def forget(self) -> None:
        """Crashes that were not the process's own fault (its broker or database was down) do not count."""
        self._times.clear()


def describe_exit(code: int | None) -> str:
    """``-9`` -> "killed by SIGKILL", ``1`` -> "exit code 1"."""
    if code is None:
        return "still running"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"
