"""Poll scheduling: jitter spreads a fleet, backoff grows to a cap, Retry-After is a floor."""

from __future__ import annotations

import random
import statistics

import pytest
from livery_client import ServiceUnavailable, next_poll_delay, poll_forever


def test_jitter_stays_within_bounds_and_spreads():
    rng = random.Random(1234)
    delays = [next_poll_delay(3600, 0.2, rng) for _ in range(2000)]

    assert all(2880 <= d <= 4320 for d in delays)
    assert len({round(d, 3) for d in delays}) > 1990  # never lock-step
    assert statistics.pstdev(delays) > 150  # uniform over +/-720 s has a standard deviation near 415 s
    # spread over the whole window, not clumped on one side
    assert min(delays) < 2950 and max(delays) > 4250


def test_full_jitter_spans_zero_to_twice_the_interval():
    rng = random.Random(7)
    delays = [next_poll_delay(100, 1.0, rng) for _ in range(2000)]
    assert all(0 <= d <= 200 for d in delays) and min(delays) < 5 and max(delays) > 195


def test_fleet_with_unseeded_generators_does_not_poll_together():
    delays = [next_poll_delay(3600, 0.2) for _ in range(200)]
    assert len(set(delays)) == 200


def test_backoff_doubles_until_the_cap():
    no_jitter = [next_poll_delay(60, 0, failures=n, max_seconds=1000) for n in range(8)]
    assert no_jitter == [60, 120, 240, 480, 960, 1000, 1000, 1000]
    assert next_poll_delay(60, 0, failures=10_000) == 24 * 3600  # default cap, no overflow


def test_retry_after_is_a_floor():
    rng = random.Random(3)
    assert next_poll_delay(60, 0.2, rng, retry_after=900) == 900
    assert 48 <= next_poll_delay(60, 0.2, rng, retry_after=1) <= 72


@pytest.mark.parametrize("kwargs", [{"base_seconds": 0}, {"base_seconds": 10, "jitter": 1.5}])
def test_nonsense_arguments_are_refused(kwargs):
    with pytest.raises(ValueError):
        next_poll_delay(**kwargs)


class FakeStop:
    """A stop event whose wait() records the delay instead of sleeping."""

    def __init__(self, rounds: int) -> None:
        self.rounds, self.waits = rounds, []

    def wait(self, timeout: float) -> bool:
        self.waits.append(timeout)
        return len(self.waits) > self.rounds


def test_poll_forever_backs_off_on_failure_and_recovers():
    answers = iter([ServiceUnavailable("down"), ServiceUnavailable("429", retry_after=5000), "ok", "ok"])

    def check():
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    decisions, errors = [], []
    stop = FakeStop(rounds=4)
    poll_forever(
        check,
        decisions.append,
        base_seconds=100,
        jitter=0,
        stop=stop,
        rng=random.Random(1),
        on_error=lambda exc, delay: errors.append(delay),
    )

    assert decisions == ["ok", "ok"]
    assert 0 <= stop.waits[0] <= 100  # first poll spread over one interval
    assert stop.waits[1:] == [200, 5000, 100, 100]  # backoff, Retry-After floor, back to base
    assert errors == [200, 5000]
