"""DatabaseHealth: back-off, one attempt at a time, one log line per change of state; the settings' bounds."""

from __future__ import annotations

import logging

import pytest

from app.config import ConfigError, Settings
from app.db_health import DatabaseHealth, DatabaseUnavailable


def test_down_fails_fast_then_lets_one_attempt_through_on_a_bounded_schedule(caplog):
    now = [100.0]
    health = DatabaseHealth(retry_max=4.0, clock=lambda: now[0])
    health.gate()  # up: nothing to wait for
    with caplog.at_level(logging.WARNING, logger="app.availability"):
        for _ in range(3):
            health.failed("OperationalError")
        with pytest.raises(DatabaseUnavailable) as caught:
            health.gate()
        assert 1 <= caught.value.retry_after <= 4  # the pause doubles, capped by retry_max
        now[0] += 4.0
        health.gate()  # the attempt is due: this caller takes it...
        with pytest.raises(DatabaseUnavailable):
            health.gate()  # ...and the next one waits for the following attempt
        health.succeeded()
        health.succeeded()
        health.gate()
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2, messages  # one line down, one line up; none per failure or request
    assert "unreachable" in messages[0] and "reachable again" in messages[1]


def test_pauses_never_exceed_the_maximum():
    now = [0.0]
    health = DatabaseHealth(retry_max=2.0, clock=lambda: now[0])
    for _ in range(50):
        health.failed("x")
    assert health.retry_after() <= 2


@pytest.mark.parametrize(
    "name, value",
    [("db_statement_timeout", 0), ("db_connect_timeout", 60), ("s3_read_timeout", 31), ("readiness_timeout", -1)],
)
def test_waits_must_stay_below_the_worker_timeout(name, value):
    with pytest.raises(ConfigError, match=f"LIVERY_{name.upper()}"):
        Settings().with_overrides(**{name: value})


def test_settings_from_environment():
    settings = Settings.from_env({"LIVERY_DB_STATEMENT_TIMEOUT": "2.5", "LIVERY_S3_MAX_ATTEMPTS": "3"})
    assert (settings.db_statement_timeout, settings.s3_max_attempts) == (2.5, 3)
    with pytest.raises(ConfigError, match="LIVERY_CHANGE_RETENTION_HOURS"):
        Settings.from_env({"LIVERY_CHANGE_RETENTION_HOURS": "0"})
