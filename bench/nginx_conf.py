"""The nginx configuration the runner starts: three loopback servers in one nginx, one worker.

- ``plain``: the discovery document as one static file (every /v1/discovery/... path maps to it),
  the practical limit on this machine;
- ``plain_uncached``: the same file without ``open_file_cache`` (open/fstat/close per request, as
  for the published root): the like-for-like baseline of the 100 000-file row;
- ``published``: the static-publish root (``discovery/<digest>.json``), as deploy/nginx/static.conf,
  without ``open_file_cache`` (100 000 files do not fit this machine's descriptor limit);
- ``hot``: the same root with ``open_file_cache``, for the hot set (one code per brand);
- ``micro``: deploy/nginx/microcache.conf as shipped (one-second micro-cache, buffering, timeouts,
  limits) in front of Livery's gunicorn, on a loopback port: :func:`front_proxy`.

:func:`front_proxy` is the one place where the shipped configuration gets local ports and paths
(tests/e2e/test_nginx_front.py runs it too, alone, through :func:`standalone`); :func:`static_root`
does the same for deploy/nginx/static.conf (tests/e2e/test_nginx_safety.py, bench/storm.py).
"""

from __future__ import annotations

import os
import pwd
from pathlib import Path

from app.config import REPO_ROOT

FRONT_PROXY = REPO_ROOT / "deploy" / "nginx" / "microcache.conf"
STATIC_ROOT = REPO_ROOT / "deploy" / "nginx" / "static.conf"
CACHE_CONTROL = "public, max-age=0, s-maxage=1, must-revalidate"


def render(prefix: Path, *, plain_port: int, plain_uncached_port: int, plain_root: Path, published_port: int,
           published_root: Path, hot_port: int, micro_port: int, upstream_port: int) -> str:  # fmt: skip
    """nginx.conf for a benchmark run."""
    return standalone(
        prefix,
        f"""
    server {{
        listen 127.0.0.1:{plain_port};
        root {plain_root};
        open_file_cache max=1000 inactive=20s;
        open_file_cache_valid 1s;
        location /v1/discovery/ {{
            add_header Cache-Control "{CACHE_CONTROL}";
            default_type application/json;
            rewrite ^ /document.json break;
        }}
    }}

    server {{
        listen 127.0.0.1:{plain_uncached_port};
        root {plain_root};
        open_file_cache off;
        location /v1/discovery/ {{
            add_header Cache-Control "{CACHE_CONTROL}";
            default_type application/json;
            rewrite ^ /document.json break;
        }}
    }}

    server {{
        listen 127.0.0.1:{published_port};
        root {published_root};
        # 100 000 files and a 20 000-descriptor limit: a cache that cannot hold them all only
        # thrashes (measured slower than none); see deploy/nginx/static.conf
        open_file_cache off;
        location /discovery/ {{
            add_header Cache-Control "{CACHE_CONTROL}";
            default_type application/json;
            location ~ \\.sha256$ {{ return 404; }}
        }}
    }}

    server {{
        listen 127.0.0.1:{hot_port};
        root {published_root};
        # the same root with descriptors cached, for a hot set that fits the cache
        open_file_cache max=10000 inactive=20s;
        open_file_cache_valid 1s;
        location /discovery/ {{
            add_header Cache-Control "{CACHE_CONTROL}";
            default_type application/json;
            location ~ \\.sha256$ {{ return 404; }}
        }}
    }}

{front_proxy(prefix, port=micro_port, upstream_port=upstream_port, per_address=60_000)}
""",
    )


def front_proxy(prefix: Path, *, port: int, upstream_port: int, per_address: int | None = None) -> str:
    """deploy/nginx/microcache.conf as shipped, listening on loopback ``port``, its files under ``prefix``.

    ``per_address`` replaces the connection limit per client address (the benchmark's wrk opens
    all its connections from 127.0.0.1).
    """
    local = {
        "listen 443 ssl http2;": f"listen 127.0.0.1:{port};",
        "server 127.0.0.1:8000;": f"server 127.0.0.1:{upstream_port};",
        "/var/cache/nginx/livery": f"{prefix}/cache",
        "/var/lib/nginx/livery-body": f"{prefix}/tmp-front-body",
        "/var/log/nginx/livery.access.log": f"{prefix}/logs/access.log",
    }
    if per_address is not None:
        local["limit_conn livery_per_address 64;"] = f"limit_conn livery_per_address {per_address};"
    return _substitute(FRONT_PROXY, local)


def static_root(*, port: int, root: Path) -> str:
    """deploy/nginx/static.conf as shipped, listening on loopback ``port``, serving the publish folder ``root``."""
    local = {"listen 443 ssl http2;": f"listen 127.0.0.1:{port};", "root /srv/livery-static;": f"root {root};"}
    return _substitute(STATIC_ROOT, local)


def _substitute(shipped_file: Path, local: dict[str, str]) -> str:
    """The shipped file's text with each of ``local``'s strings replaced (ports and paths only)."""
    text = shipped_file.read_text()
    for shipped, here in local.items():
        if shipped not in text:  # the shipped file changed: this list must follow it
            raise ValueError(f"{shipped_file} no longer contains {shipped!r}")
        text = text.replace(shipped, here)
    return text


def standalone(prefix: Path, servers: str) -> str:
    """A whole nginx.conf: one worker, every file under ``prefix``, ``servers`` inside http { }."""
    # nginx started by root drops its workers to "nobody", who cannot read our private work folder
    user = f"user {pwd.getpwuid(os.geteuid()).pw_name};" if os.geteuid() == 0 else ""
    return f"""
{user}
worker_processes 1;
worker_rlimit_nofile 65536;
pid {prefix}/nginx.pid;
error_log {prefix}/logs/error.log warn;
events {{ worker_connections 4096; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_requests 1000000;
    client_body_temp_path {prefix}/tmp-body;
    proxy_temp_path {prefix}/tmp-proxy;
    fastcgi_temp_path {prefix}/tmp-fastcgi;
    uwsgi_temp_path {prefix}/tmp-uwsgi;
    scgi_temp_path {prefix}/tmp-scgi;
{servers}
}}
"""
