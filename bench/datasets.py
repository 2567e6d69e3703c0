"""A benchmark dataset: a seeded database plus the request lines wrk rotates over.

Each scenario's lines file holds one request per line, ``<path> [<If-None-Match>]``. The ETags
come from the same precomputed answers the workers serve, built in this process after seeding.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

from app import create_app
from app.config import Settings
from bench import seed

BASE_URL = "https://livery.bench.example"
PLATFORMS = ("windows-x64", "macos-arm64", "macos-x64")
MAX_LINES = 200_000  # request lines per scenario file


@dataclass
class Dataset:
    name: str
    database_url: str
    assets_dir: Path
    lines: dict[str, Path] = field(default_factory=dict)
    codes: int = 0
    brands: int = 0
    seed_seconds: float = 0.0
    sample_document: bytes = b""
    published_root: Path | None = None
    hot_digests: list[str] = field(default_factory=list)

    def env(self) -> dict[str, str]:
        """The environment a Livery worker needs to serve this dataset."""
        return {
            "LIVERY_DATABASE_URL": self.database_url,
            "LIVERY_PUBLIC_BASE_URL": BASE_URL,
            "LIVERY_STATIC_BRANDS_DIR": str(self.assets_dir),
            "LIVERY_LOG_LEVEL": "WARNING",
            # wrk sends every unknown code from one address: lift the per-address limit so that the
            # unknown-404 row measures the 404 path, as a deployment's many addresses would see it
            "LIVERY_RATELIMIT_PUBLIC_NOT_FOUND": "1000000000 per 1 minute",
        }

    def settings(self) -> Settings:
        return Settings(
            database_url=self.database_url, public_base_url=BASE_URL, static_brands_dir=str(self.assets_dir)
        )


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n")
    return path


def build(
    name: str, database_url: str, work: Path, *, partners: int, brands_per_partner: int, codes_per_brand: int
) -> Dataset:
    """Migrate, seed and write the lines files of one dataset."""
    from app import migrate

    data = Dataset(name, database_url, work / f"{name}-assets")
    started = time.monotonic()
    migrate.upgrade(database_url)
    app = create_app(data.settings())
    seeded = seed.seed(app, partners_n=partners, brands_per_partner=brands_per_partner, codes_per_brand=codes_per_brand)
    data.seed_seconds = time.monotonic() - started
    data.codes, data.brands = len(seeded), partners * brands_per_partner

    answers = app.extensions["livery.public"]
    answers.warm(budget=600)  # the first load of every code (a million take more than a worker's 10 s)
    found: list[tuple[seed.SeededCode, str]] = []
    for code in seeded:
        answer = answers.discovery(answers.code(code.digest))
        found.append((code, answer.etag))
        if not data.sample_document:
            data.sample_document = answer.body
    app.extensions["livery.engine"].dispose()

    # wrk's Lua reads a lines file whole in each thread before it starts: at a million codes that
    # took longer than a row; rotate over an even sample instead (every code is still held)
    found = found[:: max(1, len(found) // MAX_LINES)]
    live = [c for c, _ in found if c.kind == "live"]
    one_per_brand = list({c.brand_id: (c, etag) for c, etag in reversed(found) if c.kind == "live"}.values())
    data.lines["discovery-200"] = _write(work / f"{name}-200.txt", [f"/v1/discovery/{c.plain}" for c, _ in found])
    data.lines["discovery-304"] = _write(
        work / f"{name}-304.txt", [f"/v1/discovery/{c.plain} {etag}" for c, etag in found]
    )
    data.hot_digests = [c.digest for c, _ in one_per_brand]
    data.lines["hot-200"] = _write(work / f"{name}-hot-200.txt", [f"/v1/discovery/{c.plain}" for c, _ in one_per_brand])
    data.lines["hot-304"] = _write(
        work / f"{name}-hot-304.txt", [f"/v1/discovery/{c.plain} {etag}" for c, etag in one_per_brand]
    )
    data.lines["unknown-404"] = _write(
        work / f"{name}-404.txt", [f"/v1/discovery/{plain}" for plain in seed.unknown_codes(10_000)]
    )
    data.lines["upgrade"] = _write(
        work / f"{name}-upgrade.txt",
        [
            f"/v1/upgrade/{c.plain}?platform={PLATFORMS[i % 3]}&version=1.{i % 4}.0"
            f"&install_id={uuid.UUID(int=i * 7919 + 1)}"
            for i, c in enumerate(live[:50_000])
        ],
    )
    shas = sorted(set(_asset_shas(data)))
    data.lines["asset-304"] = _write(work / f"{name}-asset-304.txt", [f'/v1/assets/{sha} "{sha}"' for sha in shas])
    return data


def _asset_shas(data: Dataset) -> list[str]:
    return [p.name for p in data.assets_dir.iterdir() if len(p.name) == 64]


def publish_static(data: Dataset, root: Path, work: Path) -> Path:
    """Static-publish ``data`` into ``root``; returns the lines file of the published documents."""
    app = create_app(data.settings().with_overrides(static_publish_root=str(root)))
    print(f"  static publish: {app.extensions['livery.publisher'].publish_all()}", flush=True)
    app.extensions["livery.engine"].dispose()
    os.sync()  # the kernel writes 200 000 new files back now, not during the measured rows
    data.published_root = root
    files = sorted((root / "discovery").glob("*.json"))
    lines = [f"/discovery/{p.name}" for p in files]
    data.lines["static-200"] = _write(work / f"{data.name}-static-200.txt", lines)
    data.lines["static-hot-200"] = _write(
        work / f"{data.name}-static-hot-200.txt", [f"/discovery/{d}.json" for d in data.hot_digests]
    )
    data.lines["static-304"] = _write(
        work / f"{data.name}-static-304.txt",
        [f"/discovery/{p.name} {nginx_etag(p)}" for p in files],
    )
    return root


def nginx_etag(path: Path) -> str:
    """The ETag nginx gives a static file: hex mtime and hex size."""
    stat = path.stat()
    return f'"{int(stat.st_mtime):x}-{stat.st_size:x}"'
