"""``python -m bench.run --only SCENARIO...``: the floor and a few Livery scenarios, quickly.

Seeds the same datasets as the full run (SQLite, and PostgreSQL unless ``--skip-postgres``),
measures the bare-Flask floor before and after each Livery server (background load moves both
alike) and prints the table; BENCHMARKS.md is not written.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from bench import datasets, report


def run_subset(runner, args: argparse.Namespace, work: Path, started: float, livery_scenarios, postgres_url) -> int:
    """``--only``: the floor and the named Livery scenarios (SQLite, and PostgreSQL unless skipped); prints only."""
    size = {"partners": args.partners, "brands_per_partner": args.brands_per_partner, "codes_per_brand": args.codes}
    scenarios = [s for s in livery_scenarios if s[1] in args.only]
    datasets_ = [("sqlite", f"sqlite:///{work / 'sqlite.db'}", "Livery SQLite 100k")]
    pg_url = None if args.skip_postgres else postgres_url(runner.cleanups)
    if pg_url:
        datasets_.append(("postgres", pg_url, "Livery PostgreSQL 100k"))
    built = []
    for name, url, target in datasets_:
        print(f"seeding {name} ...", flush=True)
        data = datasets.build(name, url, work, **size)
        print(f"  seeded in {data.seed_seconds:.0f} s", flush=True)
        built.append((data, target))
    document = work / "document.json"
    document.write_bytes(built[0][0].sample_document)
    floor, floor_base = runner.start_floor(document)
    lines = built[0][0].lines["discovery-200"]
    for data, target in built:
        # the floor before and after each Livery server: background load moves both alike
        runner.warm(floor_base, lines)
        runner.measure("floor: bare Flask", "constant 200", floor_base, lines, 200, "200")
        runner.livery(data, target, scenarios).stop()
    runner.measure("floor: bare Flask", "constant 200", floor_base, lines, 200, "200")
    floor.stop()
    floors = [r.result.rps for r in runner.rows if r.target.startswith("floor")]
    print()
    print(report.table(runner.rows, {}, sum(floors) / len(floors)))
    print(f"\n(subset: {', '.join(args.only)}; vs floor = mean of the {len(floors)} floor rows; "
          f"{(time.monotonic() - started) / 60:.1f} min; BENCHMARKS.md not written)")  # fmt: skip
    return 0
