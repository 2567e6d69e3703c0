"""What each public hot-path request costs in process, per scenario, beside a bare Flask route.

``.venv/bin/python -m bench.hotpath_cost`` seeds a small dataset (the bench's seed: every
partner has releases and control files, so upgrade polls get real offers), then calls the whole
WSGI stack of the app — request observer, throttle, fast path — directly (no sockets, no
gunicorn) for each scenario of ``bench.run``, rotating over its request lines, and prints the CPU
time per request (``time.process_time``, best of several rounds: CPU time per call moves far
less than wall-clock rates on a shared machine) with the request log off and on (JSON lines to
/dev/null, as in production), and the bare Flask floor (bench/floor.py) for comparison.
``--profile SCENARIO`` prints a cProfile of that scenario instead. About 30 s.
"""

from __future__ import annotations

import argparse
import cProfile
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", choices=SCENARIOS, help="print a cProfile of this scenario (request log on)")
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
        per_call_us(app.wsgi_app, environs[args.profile], args.calls, 1)
        profile.disable()
        pstats.Stats(profile).sort_stats("tottime").print_stats(25)
        return 0

    from bench import floor

    floor_environ = [EnvironBuilder(path="/v1/discovery/x").get_environ()]
    floor_us = per_call_us(floor.app.wsgi_app, floor_environ, args.calls, args.rounds)
    print("| scenario | request log off, CPU µs | request log on, CPU µs | bare Flask route, µs |")
    print("|---|---:|---:|---:|")
    for key in SCENARIOS:
        logging.getLogger(REQUEST_LOGGER).setLevel(logging.WARNING)
        app.wsgi_app.log_requests = False
        off = per_call_us(app.wsgi_app, environs[key], args.calls, args.rounds)
        logging.getLogger(REQUEST_LOGGER).setLevel(logging.INFO)
        app.wsgi_app.log_requests = True
        on = per_call_us(app.wsgi_app, environs[key], args.calls, args.rounds)
        print(f"| {key} | {off:.1f} | {on:.1f} | {floor_us:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
