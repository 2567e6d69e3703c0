"""What each public hot-path request costs in process, per scenario, beside a bare Flask route.

``.venv/bin/python -m bench.hotpath_cost`` seeds a small dataset (the bench's seed: every
partner has releases and control files, so upgrade polls get real offers), then calls the whole
WSGI stack of the app — request observer, throttle, fast path — directly (no sockets, no
gunicorn) for each scenario of ``bench.run``, rotating over its request lines, and prints the CPU
time per request (``time.process_time``, best of several rounds: CPU time per call moves far
less than wall-clock rates on a shared machine) with the request log off and on (JSON lines to
/dev/null, as in production), and the bare Flask floor (bench/floor.py) for comparison.
Scenario ``report`` POSTs distinct install reports (each install once, on the upgrade lines'
codes) and flushes the worker's buffer at the end of each round, inside the timing: its figure
includes the report's share of the batched write and of the halt guard (the flusher thread's CPU
counts too: ``process_time`` is the whole process's).
``--profile SCENARIO`` prints a cProfile of that scenario instead. About 30 s.
"""

from __future__ import annotations

import argparse
import cProfile
import itertools
import json
import logging
import pstats
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from werkzeug.test import EnvironBuilder

from app import create_app
from app.observability import HANDLER_MARK, REQUEST_LOGGER
from bench import datasets

SCENARIOS = ("discovery-200", "discovery-304", "unknown-404", "upgrade", "asset-304")
REPORT = "report"
_INSTALLS = itertools.count()  # install ids of the report scenario: each report comes from a new install


def _environs(lines: Path, limit: int = 2_000) -> list[dict]:
    environs = []
    for line in lines.read_text().splitlines()[:limit]:
        path, _, tag = line.partition(" ")
        path, _, query = path.partition("?")
        headers = {"If-None-Match": tag} if tag else {}
        environs.append(EnvironBuilder(path=path, query_string=query, headers=headers).get_environ())
    return environs


def per_call_us(wsgi: Callable, environs: list[dict], calls: int, rounds: int) -> float:
    """CPU µs per call of ``wsgi`` over ``environs`` in turn, best of ``rounds`` rounds of ``calls``."""

    def start_response(status, headers, exc_info=None):
        return None

    n = len(environs)
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        for i in range(calls):
            for _chunk in wsgi(dict(environs[i % n]), start_response):
                pass
        best = min(best, (time.process_time() - started) / calls * 1e6)
    return best


def _report_environs(lines: Path, count: int) -> list[dict]:
    """``count`` POSTs of install reports, each from an install never seen before, over the lines' codes."""
    paths = [line.partition("?")[0] + "/reports" for line in lines.read_text().splitlines()[:200]]
    environs = []
    for _ in range(count):
        n = next(_INSTALLS)
        body = {"install_id": f"cost-{n}", "from_version": "1.0.0", "to_version": "2.0.0",
                "platform": "windows-x64", "outcome": "succeeded", "serial": 1}  # fmt: skip
        data = json.dumps(body, separators=(",", ":")).encode()
        environs.append(EnvironBuilder(path=paths[n % len(paths)], method="POST", data=data,
                                       content_type="application/json").get_environ())  # fmt: skip
    return environs


def report_us(app, lines: Path, calls: int, rounds: int) -> float:
    """CPU µs per install report (each a new install), its batched write included, best of ``rounds``."""

    def start_response(status, headers, exc_info=None):
        assert status.startswith("202"), status

    recorder = app.extensions["livery.reports"]
    best = float("inf")
    for _ in range(rounds):
        environs = _report_environs(lines, calls)  # built outside the timing
        recorder.flush()
        started = time.process_time()
        for environ in environs:
            for _chunk in app.wsgi_app(environ, start_response):
                pass
        recorder.flush()
        best = min(best, (time.process_time() - started) / calls * 1e6)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--profile", choices=(*SCENARIOS, REPORT), help="print a cProfile of this scenario (request log on)"
    )
    args = parser.parse_args(argv)
    work = Path(tempfile.mkdtemp(prefix="livery-hotpath-"))
    data = datasets.build("cost", f"sqlite:///{work / 'cost.db'}", work, partners=2, brands_per_partner=5,
                          codes_per_brand=20)  # fmt: skip
    settings = data.settings().with_overrides(ratelimit_public_not_found="1000000000 per 1 minute", log_format="json")
    app = create_app(settings)
    # the production handler (configure_logging's, JSON), writing to /dev/null
    handler = next(h for h in logging.getLogger().handlers if getattr(h, HANDLER_MARK, False))
    handler.setStream(open("/dev/null", "w"))  # noqa: SIM115 - lives as long as the process
    app.extensions["livery.public"].warm()
    upgrades = app.extensions["livery.upgrades"]
    upgrades.warm(app.extensions["livery.public"].entries(), budget=5.0)
    environs = {key: _environs(data.lines[key]) for key in SCENARIOS}
    for key in SCENARIOS:  # every answer seen once (renders, signatures), as the bench's warm-up does
        per_call_us(app.wsgi_app, environs[key], len(environs[key]), 1)

    if args.profile:
        logging.getLogger(REQUEST_LOGGER).setLevel(logging.INFO)
        profile = cProfile.Profile()
        profile.enable()
        if args.profile == REPORT:
            report_us(app, data.lines["upgrade"], args.calls, 1)
        else:
            per_call_us(app.wsgi_app, environs[args.profile], args.calls, 1)
        profile.disable()
        pstats.Stats(profile).sort_stats("tottime").print_stats(25)
        return 0

    from bench import floor

    def measure(key: str) -> float:
        if key == REPORT:
            return report_us(app, data.lines["upgrade"], args.calls, args.rounds)
        return per_call_us(app.wsgi_app, environs[key], args.calls, args.rounds)

    floor_environ = [EnvironBuilder(path="/v1/discovery/x").get_environ()]
    floor_us = per_call_us(floor.app.wsgi_app, floor_environ, args.calls, args.rounds)
    print("| scenario | request log off, CPU µs | request log on, CPU µs | bare Flask route, µs |")
    print("|---|---:|---:|---:|")
    for key in (*SCENARIOS, REPORT):
        logging.getLogger(REQUEST_LOGGER).setLevel(logging.WARNING)
        app.wsgi_app.log_requests = False
        off = measure(key)
        logging.getLogger(REQUEST_LOGGER).setLevel(logging.INFO)
        app.wsgi_app.log_requests = True
        on = measure(key)
        print(f"| {key} | {off:.1f} | {on:.1f} | {floor_us:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
