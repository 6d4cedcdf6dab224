"""Time for the sync engine: wall clocks (injected), the hybrid logical clock and skew clamping.

Nothing here reads the system time except ``SystemClock``; tests inject ``ManualClock``.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Protocol

DEFAULT_MAX_SKEW_MS = 5 * 60 * 1000


class Clock(Protocol):
    """A wall clock in milliseconds since the epoch."""

    def now_ms(self) -> int: ...


class SystemClock:
    """The machine's wall clock, shifted by ``offset_ms`` (a device's offset to server time)."""

    def __init__(self, offset_ms: int = 0) -> None:
        self.offset_ms = offset_ms

    def now_ms(self) -> int:
        return int(time.time() * 1000) + self.offset_ms


class ManualClock:
    """A clock that moves only when told: for tests and jobs run with an injected 'now'."""

    def __init__(self, start_ms: int = 1_767_225_600_000) -> None:  # 2026-01-01T00:00:00Z
        self.ms = start_ms

    def now_ms(self) -> int:
        return self.ms

    def advance(self, ms: int) -> None:
        self.ms += ms


def clamp_to_receipt(claimed_ms: int, receipt_ms: int, max_skew_ms: int = DEFAULT_MAX_SKEW_MS) -> int:
    """Treat a time further ahead of the receiver's clock than ``max_skew_ms`` as the receipt time."""
    return receipt_ms if claimed_ms > receipt_ms + max_skew_ms else claimed_ms


def iso_from_ms(ms: int) -> str:
    """Render milliseconds since the epoch as ISO 8601 with offset (UTC)."""
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc).isoformat(timespec="milliseconds")


@dataclass(frozen=True, order=True)
class Hlc:
    """A hybrid logical clock reading; orders events by (ms, counter, site)."""

    ms: int
    counter: int
    site: str

    def encode(self) -> str:
        """Return a string that sorts like the clock reading."""
        return f"{self.ms:015d}.{self.counter:06d}.{self.site}"

    @classmethod
    def decode(cls, text: str) -> Hlc:
        ms, counter, site = text.split(".", 2)
        return cls(int(ms), int(counter), site)


class HybridLogicalClock:
    """Issue HLC readings for one site; advance past every reading received."""

    def __init__(self, site: str, clock: Clock, last: Hlc | None = None) -> None:
        self.site = site
        self.clock = clock
        self.last = last or Hlc(0, 0, site)

    def tick(self) -> Hlc:
        """Return a reading later than every reading issued or observed so far."""
        now = self.clock.now_ms()
        if now > self.last.ms:
            self.last = Hlc(now, 0, self.site)
        else:
            self.last = Hlc(self.last.ms, self.last.counter + 1, self.site)
        return self.last

    def observe(self, remote: Hlc) -> None:
        """Advance past a reading received from another replica."""
        now = self.clock.now_ms()
        top = max(now, self.last.ms, remote.ms)
        if top == self.last.ms == remote.ms:
            counter = max(self.last.counter, remote.counter) + 1
        elif top == self.last.ms:
            counter = self.last.counter + 1
        elif top == remote.ms:
            counter = remote.counter + 1
        else:
            counter = 0
        self.last = Hlc(top, counter, self.site)
