"""Worker-class sweep: the same Livery scenarios under several gunicorn worker settings.

``.venv/bin/python -m bench.sweep`` seeds a SQLite dataset (default 100 000 codes), then runs
discovery 200 and 304 against Livery with each of the settings below (passed through
``GUNICORN_CMD_ARGS``, which overrides gunicorn.conf.py) and prints one table. This is how the
worker class and count in gunicorn.conf.py were chosen; gevent is measured only when installed.
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import sys
import tempfile
from pathlib import Path

from bench import datasets, servers

SETTINGS = [
    ("sync, 2 workers", "--worker-class sync --workers 2"),
    ("sync, 4 workers", "--worker-class sync --workers 4"),
    ("gthread, 2 workers x 4 threads", "--worker-class gthread --workers 2 --threads 4"),
    ("gthread, 1 worker x 8 threads", "--worker-class gthread --workers 1 --threads 8"),
    ("gevent, 2 workers", "--worker-class gevent --workers 2 --worker-connections 1000"),
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--codes", type=int, default=100, help="codes per brand (1 000 brands)")
    args = parser.parse_args(argv)
    servers.ensure_tools()
    work = Path(tempfile.mkdtemp(prefix="livery-sweep-"))
    rows = []
    try:
        url = f"sqlite:///{work / 'sweep.db'}"
        data = datasets.build("sweep", url, work, partners=100, brands_per_partner=10, codes_per_brand=args.codes)
        for label, cmd_args in SETTINGS:
            if "gevent" in cmd_args and importlib.util.find_spec("gevent") is None:
                rows.append((label, None, None))
                continue
            port = servers.free_port()
            env = {**data.env(), "GUNICORN_CMD_ARGS": cmd_args}
            proc = servers.gunicorn("wsgi:app", port, env, work / f"gunicorn-{port}.log")
            try:
                base = f"http://127.0.0.1:{port}"
                servers.wait_http(base + "/healthz")
                servers.wrk(base, data.lines["discovery-200"], seconds=3, connections=args.connections, threads=2)
                results = [
                    servers.wrk(base, data.lines[key], seconds=args.seconds, connections=args.connections, threads=2)
                    for key in ("discovery-200", "discovery-304")
                ]
            finally:
                proc.stop()
            rows.append((label, *results))
            print(f"  {label}: " + ", ".join(f"{r.rps:,.0f}/s p99 {r.p99_ms:.1f} ms" for r in results), flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("\n| gunicorn workers | discovery 200 req/s | p50 ms | p99 ms | discovery 304 req/s | p50 ms | p99 ms |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for label, r200, r304 in rows:
        if r200 is None:
            print(f"| {label} | not installed | | | | | |")
            continue
        print(
            f"| {label} | {r200.rps:,.0f} | {r200.p50_ms:.2f} | {r200.p99_ms:.2f} | "
            f"{r304.rps:,.0f} | {r304.p50_ms:.2f} | {r304.p99_ms:.2f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
