"""How long a halt takes with static publishing on: ``python -m bench.static_halt [--codes N]``.

The committing process rewrites the static files of the halted channel's partner after the
commit (docs/deployment.md), so a halt call returns only once that partner's manifests are
rewritten. This seeds one partner with N codes on SQLite, publishes its root in full, then times
a halt and a resume, each commit included. Prints only.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from app import create_app
from app.db import session
from app.upgrades import services as upgrades
from bench import datasets


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--codes", type=int, default=5000, help="codes of the one partner (10 brands)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="livery-halt-"))
    try:
        data = datasets.build("sqlite", f"sqlite:///{work / 'halt.db'}", work, partners=1, brands_per_partner=10,
                              codes_per_brand=max(1, args.codes // 10))  # fmt: skip
        started = time.monotonic()
        datasets.publish_static(data, work / "published", work)
        print(f"full publish of {data.codes:,} codes: {time.monotonic() - started:.1f} s")
        app = create_app(data.settings().with_overrides(static_publish_root=str(work / "published")))
        with app.app_context():
            channel = upgrades.find_channel(session(), 1, "stable")
            for halted in (True, False):
                started = time.monotonic()
                upgrades.set_halt(session(), channel, halted=halted, reason="bench" if halted else "", actor="bench")
                session().commit()
                what = "halt" if halted else "resume"
                print(f"{what}, commit and static rewrite of {data.codes:,} codes: {time.monotonic() - started:.2f} s")
        app.extensions["livery.engine"].dispose()
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
