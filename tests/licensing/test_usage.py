"""Usage counters: the loss bound — a worker that exits normally writes its pending counters."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from sqlalchemy import create_engine, text

from app import migrate

WORKER = textwrap.dedent(
    """
    import sys, time
    from datetime import UTC, datetime
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker
    from app.licensing.usage import UsageRecorder

    factory = sessionmaker(create_engine(sys.argv[1]))
    recorder = UsageRecorder(factory, flush_seconds=3600, clock=time.monotonic)
    now = datetime(2026, 11, 3, 9, tzinfo=UTC)
    for minute in range(3):  # the first is written at once; two more are only counted in memory
        recorder.record(1, "anna@example.com", "web_service", None, now.replace(minute=minute), written=False)
    """
)


def test_pending_counters_are_written_when_the_worker_exits(tmp_path):
    url = f"sqlite:///{tmp_path / 'usage.db'}"
    migrate.upgrade(url)
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO partners (id, slug, name, status, version, created_at, updated_at)"
                          " VALUES (1, 'p', 'P', 'live', 1, '2026-11-01', '2026-11-01')"))  # fmt: skip
    subprocess.run([sys.executable, "-c", WORKER, url], check=True, timeout=60)
    with engine.connect() as conn:
        count, last = conn.execute(text("SELECT check_count, last_check_at FROM usage_facts")).one()
    engine.dispose()
    assert count == 3 and str(last).startswith("2026-11-03 09:02")
