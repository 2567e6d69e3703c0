"""Rollout health and the automatic halt guard: pure rules, no session, no Flask.

A channel's health is counted per target release over a sliding window of install reports.
*Finished* installs are the reports ``succeeded``, ``failed`` and ``rolled_back`` (``started`` says
only that an install began); the failure rate is (failed + rolled back) / finished. The guard
trips when the failure rate reaches its threshold *and* at least ``min_reports`` finished installs
were seen, so a handful of early failures cannot halt a rollout. Integer arithmetic throughout:
a threshold of 5 % trips at exactly 5 %, never at 4.99 %.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal

OUTCOMES = ("started", "succeeded", "failed", "rolled_back")
FAILED = ("failed", "rolled_back")
DEFAULT_FAILURE_BP = 500  # 5 %, in basis points
DEFAULT_MIN_REPORTS = 50
DEFAULT_WINDOW_MINUTES = 60


@dataclass(frozen=True)
class GuardSettings:
    """One channel's guard: on or off, failure threshold (basis points), minimum finished installs, window."""

    enabled: bool = True
    failure_bp: int = DEFAULT_FAILURE_BP
    min_reports: int = DEFAULT_MIN_REPORTS
    window_minutes: int = DEFAULT_WINDOW_MINUTES

    @property
    def failure_percent(self) -> Decimal:
        """The threshold as a percentage (500 bp -> 5)."""
        return Decimal(self.failure_bp) / 100


@dataclass(frozen=True)
class ReleaseHealth:
    """Counts of one target release's reports in the window."""

    version: str
    started: int = 0
    succeeded: int = 0
    failed: int = 0
    rolled_back: int = 0

    @property
    def finished(self) -> int:
        """Installs that ended, well or not."""
        return self.succeeded + self.failed + self.rolled_back

    @property
    def failures(self) -> int:
        """Installs that failed or were rolled back."""
        return self.failed + self.rolled_back

    @property
    def failure_rate(self) -> float | None:
        """Failures per finished install (0-1), or None before any finished."""
        return self.failures / self.finished if self.finished else None

    def to_dict(self) -> dict[str, object]:
        """JSON-ready form (admin API, explain)."""
        rate = self.failure_rate
        return {
            "version": self.version,
            "started": self.started,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "rolled_back": self.rolled_back,
            "finished": self.finished,
            "failure_percent": None if rate is None else round(rate * 100, 2),
        }


def health_from_counts(counts: Iterable[tuple[str, str, int]]) -> dict[str, ReleaseHealth]:
    """ReleaseHealth per version from ``(to_version, outcome, count)`` rows."""
    by_version: dict[str, dict[str, int]] = {}
    for version, outcome, count in counts:
        if outcome in OUTCOMES:
            by_version.setdefault(version, {})[outcome] = by_version.get(version, {}).get(outcome, 0) + count
    return {version: ReleaseHealth(version, **values) for version, values in sorted(by_version.items())}


def guard_trips(health: ReleaseHealth, guard: GuardSettings) -> bool:
    """Whether ``health`` breaks ``guard``: enough finished installs and a failure rate at or above the threshold."""
    if not guard.enabled or health.finished < guard.min_reports or health.finished == 0:
        return False
    return health.failures * 10_000 >= guard.failure_bp * health.finished


def halt_reason(health: ReleaseHealth, guard: GuardSettings) -> str:
    """The halt reason naming the evidence (release, counts, rate, threshold, window)."""
    rate = health.failures * 100 / health.finished
    return (
        f"Automatic halt: {health.version} failed on {health.failures} of {health.finished} installs "
        f"({rate:.1f} %: {health.failed} failed, {health.rolled_back} rolled back, {health.succeeded} succeeded) "
        f"in the last {guard.window_minutes} min; the guard halts at {guard.failure_percent.normalize():f} % "
        f"with at least {guard.min_reports} reports."
    )


def first_tripped(healths: Mapping[str, ReleaseHealth], guard: GuardSettings) -> ReleaseHealth | None:
    """The release (highest failure count first) whose health trips ``guard``, or None."""
    tripped = [h for h in healths.values() if guard_trips(h, guard)]
    return max(tripped, key=lambda h: (h.failures, h.version)) if tripped else None
