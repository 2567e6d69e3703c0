"""Instructions per request on the public hot path, counted by callgrind: a figure the machine's load cannot move.

``.venv/bin/python -m bench.instructions [--only discovery-200 discovery-304 unknown-404 upgrade asset-304]``
(about 1-2 min). Wall-clock rates on a shared 2-core machine move ±15 points between runs minutes
apart; the number of instructions a request executes does not (two runs agree within ~0.5 %: a
per-second cache of the log line's time is refilled more often under valgrind's slowdown).

What it does:

1. builds the bench's dataset (bench/datasets.py and bench/seed.py, SQLite; small: 10 partners x
   2 brands x 20 codes) and compiles a 10-line C helper that issues callgrind's client requests
   (gcc and valgrind's headers are needed: ``apt-get install valgrind gcc``);
2. starts a child under ``valgrind --tool=callgrind --instr-atstart=no --separate-threads=yes``
   that builds the app as a gunicorn worker does: gunicorn.conf.py's ``on_starting`` (the metrics
   folder), ``import wsgi`` (``create_app()`` from the same environment as the bench's servers:
   request log on, log lines to a file), then ``post_worker_init`` (codes loaded, documents
   rendered, upgrade answers warmed);
3. per scenario: parses wrk's requests (``GET <path> HTTP/1.1``, ``Host``, ``If-None-Match`` for
   304 rows) with gunicorn's own parser, sends each request line once (the warm-up, not counted:
   first renders, signatures, reply pairs; every status checked), then turns instrumentation on
   and serves ``--requests`` requests exactly as gunicorn's sync worker does (``wsgi.create``:
   environ with a real ``wsgi.input``; the app; ``Response.write``/``close`` to a socket that
   drops the bytes; the iterable's ``close``) and dumps the counts;
4. prints instructions per request of the request thread, beside two references: the bare Flask
   floor (bench/floor.py: the same document, same harness) and an empty WSGI app (what gunicorn's
   request handling and this loop cost by themselves).

Deliberately left out: work done per interval rather than per request (the freshness poll and
the unknown-code poll: the poll clocks are set far ahead once warm; the metrics flusher, the
test-launch writer, the scheduler: other threads, not counted: a client request's dump holds the
thread that made it). Under valgrind a request takes
~50x longer, so counting them would put ~50x too many polls on each request. System-call time is
not counted either (callgrind counts user-space instructions): a write is one call, whatever it
costs the kernel.

``--layers`` counts each scenario twice more: with the request log line off, and without the request
observer (app/observability.py) at all: what each layer costs a request.
``--tree DIR`` runs the same tool against another checkout (its app, its bench dataset code, its
gunicorn.conf.py), e.g. ``git worktree add /tmp/b35 b35af83`` and ``--tree /tmp/b35``.
``--keep DIR`` keeps the callgrind files (one per scenario and thread: ``callgrind.out.<n>-01`` is
the request thread) for ``callgrind_annotate --inclusive=yes``.
"""

from __future__ import annotations

import argparse
import ctypes
import json
import math
import os
import re
import runpy
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

SCENARIOS = ("discovery-200", "discovery-304", "unknown-404", "upgrade", "asset-304")
REFERENCES = ("floor", "empty")  # bare Flask on discovery-200's lines; an app that answers nothing
EXPECT = {"discovery-200": 200, "discovery-304": 304, "unknown-404": 404, "upgrade": 200, "asset-304": 304,
          "floor": 200, "empty": 200}  # fmt: skip
HOST = "127.0.0.1:8000"
# --layers: each scenario again with the request log line off, and without the request observer
LAYERS = (", log line off", ", no observer")
SHIM = r"""
#include <valgrind/callgrind.h>
void livery_start(void) { CALLGRIND_START_INSTRUMENTATION; CALLGRIND_ZERO_STATS; }
void livery_stop(const char *name) { CALLGRIND_DUMP_STATS_AT(name); CALLGRIND_STOP_INSTRUMENTATION; }
"""
TRIGGER = re.compile(r"^desc: Trigger: Client Request: (.+?)\s*$", re.M)
TOTALS = re.compile(r"^(?:totals|summary): (\d+)", re.M)


# -- the parent: dataset, child under callgrind, table ----------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=SCENARIOS, default=list(SCENARIOS))
    parser.add_argument("--requests", type=int, default=1_000, help="requests counted per scenario")
    parser.add_argument("--tree", type=Path, help="measure another checkout (its app and bench code)")
    parser.add_argument("--keep", type=Path, help="keep the callgrind files in this folder")
    parser.add_argument("--label", default="", help="a name for the table's column (default: the commit)")
    parser.add_argument(
        "--layers",
        action="store_true",
        help="also count each scenario with the log line off and without the request observer",
    )
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        return _child(args.child)
    if args.tree:
        return _in_tree(args)
    return _parent(args)


def _in_tree(args: argparse.Namespace) -> int:
    """This file, run in ``args.tree``: that tree's app, dataset code and gunicorn.conf.py."""
    tree = args.tree.resolve()
    argv = ["--only", *args.only, "--requests", str(args.requests)]
    if args.keep:
        argv += ["--keep", str(args.keep.resolve())]
    if args.label:
        argv += ["--label", args.label]
    if args.layers:
        argv.append("--layers")
    env = {**os.environ, "PYTHONPATH": str(tree)}
    return subprocess.run([sys.executable, str(Path(__file__).resolve()), *argv], cwd=tree, env=env).returncode


def _parent(args: argparse.Namespace) -> int:
    started = time.monotonic()
    valgrind = shutil.which("valgrind")
    if valgrind is None:
        print("valgrind is needed (apt-get install valgrind)", file=sys.stderr)
        return 2
    tree = Path.cwd()
    sys.path.insert(0, str(tree))
    from bench import datasets

    work = Path(tempfile.mkdtemp(prefix="livery-instructions-"))
    try:
        shim = _compile_shim(work)
        print(f"seeding the dataset ({tree}) ...", file=sys.stderr, flush=True)
        data = datasets.build("instr", f"sqlite:///{work / 'instr.db'}", work, partners=10, brands_per_partner=2,
                              codes_per_brand=20)  # fmt: skip
        document = work / "document.json"
        document.write_bytes(data.sample_document)
        out = args.keep.resolve() if args.keep else work / "callgrind"
        out.mkdir(parents=True, exist_ok=True)
        for stale in out.glob("callgrind.out*"):
            stale.unlink()
        plan = {
            "shim": str(shim),
            "requests": args.requests,
            "layers": args.layers,
            "scenarios": {key: str(data.lines[key]) for key in args.only},
            "floor_lines": str(data.lines["discovery-200"]),
            "result": str(work / "result.json"),
        }
        (work / "plan.json").write_text(json.dumps(plan))
        env = {
            **os.environ,
            **data.env(),
            "PYTHONHASHSEED": "0",  # str hashes (dict probes) the same in every run
            "LIVERY_BENCH_FLOOR_BODY": str(document),
            "PYTHONPATH": str(tree),
        }
        command = [valgrind, "--tool=callgrind", "--instr-atstart=no", "--separate-threads=yes",
                   f"--callgrind-out-file={out / 'callgrind.out'}", f"--log-file={work / 'valgrind.log'}",
                   sys.executable, str(Path(__file__).resolve()), "--child", str(work / "plan.json")]  # fmt: skip
        runs = len(args.only) * (1 + len(LAYERS) * args.layers) + len(REFERENCES)
        print(f"counting under callgrind ({runs} runs x {args.requests} requests) ...", file=sys.stderr, flush=True)
        with open(work / "child.log", "wb") as log:  # the request log lines, and anything the child says
            child = subprocess.run(command, cwd=tree, env=env, stdout=log, stderr=subprocess.STDOUT)
        if child.returncode != 0:
            sys.stderr.write((work / "child.log").read_text()[-4000:])
            return child.returncode
        result = json.loads((work / "result.json").read_text())
        counts = _read_dumps(out)
        label = args.label or _commit(tree)
        _print_table(label, args.only, args.requests, counts, result)
        print(f"\n({time.monotonic() - started:.0f} s; callgrind files: {out if args.keep else 'not kept (--keep)'})",
              file=sys.stderr)  # fmt: skip
        return 0
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _compile_shim(work: Path) -> Path:
    """The client-request helper: ``livery_start()`` and ``livery_stop(name)`` (instrumentation on, dump + off)."""
    source, library = work / "shim.c", work / "shim.so"
    source.write_text(SHIM)
    subprocess.run(["gcc", "-O1", "-shared", "-fPIC", "-o", str(library), str(source)], check=True)
    return library


def _commit(tree: Path) -> str:
    found = subprocess.run(["git", "-C", str(tree), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    dirty = subprocess.run(["git", "-C", str(tree), "status", "--porcelain", "--untracked-files=no"],
                           capture_output=True, text=True).stdout.strip()  # fmt: skip
    return (found.stdout.strip() or str(tree)) + (" (modified)" if dirty else "")


def _read_dumps(folder: Path) -> dict[str, int]:
    """Per scenario: instructions of the request thread (a client request's dump is its thread's alone)."""
    counts: dict[str, int] = {}
    for path in sorted(folder.glob("callgrind.out.*-01")):
        text = path.read_text(errors="replace")
        trigger, total = TRIGGER.search(text), TOTALS.search(text)
        if trigger is not None and total is not None:
            counts[trigger.group(1)] = int(total.group(1))
    return counts


def _print_table(label: str, keys: list[str], requests: int, counts: dict, result: dict) -> None:
    def per_request(key: str) -> float:
        return counts[key] / requests

    floor = per_request("floor")
    print(f"| scenario ({label}) | instructions per request | vs bare Flask floor |")
    print("|---|---:|---:|")
    layered = [f"{key}{suffix}" for key in keys for suffix in LAYERS if f"{key}{suffix}" in counts]
    for key in sorted((*keys, *layered), key=lambda name: keys.index(name.split(",")[0])) + list(REFERENCES):
        shown = "bare Flask floor" if key == "floor" else "empty WSGI app (harness)" if key == "empty" else key
        statuses = result["statuses"][key]
        note = "" if list(statuses) == [str(EXPECT[key.split(",")[0]])] else f" (statuses {statuses})"
        print(f"| {shown}{note} | {per_request(key):,.0f} | {per_request(key) / floor:.0%} |")


# -- the child: under callgrind, a gunicorn worker's app -------------------------------------


class _Sink:
    """The client socket of every request: takes the response bytes and drops them."""

    def sendall(self, data: bytes) -> None:
        pass

    def send(self, data: bytes) -> int:
        return len(data)

    def settimeout(self, seconds: float | None) -> None:
        pass


def _requests(lines_file: str, count: int, cfg) -> list:
    """``count`` parsed gunicorn requests over the lines (wrk's request: request line, Host, If-None-Match)."""
    from gunicorn.http.parser import RequestParser

    raws = []
    for line in Path(lines_file).read_text().splitlines():
        path, _, tag = line.partition(" ")
        headers = f"Host: {HOST}\r\n" + (f"If-None-Match: {tag}\r\n" if tag else "")
        raws.append(f"GET {path} HTTP/1.1\r\n{headers}\r\n".encode())
    return [next(RequestParser(cfg, iter([raws[i % len(raws)]]), ("127.0.0.1", 40000))) for i in range(count)]


def _serve(app, requests: list, cfg, statuses: dict[str, int] | None = None) -> None:
    """What gunicorn's sync worker does with each request (workers/sync.py, handle_request), less the socket."""
    from gunicorn.http import wsgi

    sink = _Sink()
    for req in requests:
        resp, environ = wsgi.create(req, sink, ("127.0.0.1", 40000), HOST, cfg)
        resp.force_close()
        body = app(environ, resp.start_response)
        try:
            if isinstance(body, environ["wsgi.file_wrapper"]):
                resp.write_file(body)
            else:
                for item in body:
                    resp.write(item)
            resp.close()
        finally:
            if hasattr(body, "close"):
                body.close()
        if statuses is not None:
            code = str(resp.status_code)
            statuses[code] = statuses.get(code, 0) + 1


def _empty_app(environ, start_response):
    start_response("200 OK", [("Content-Length", "0")])
    return [b""]


def _child(plan_file: Path) -> int:
    plan = json.loads(plan_file.read_text())
    sys.path.insert(0, os.getcwd())
    shim = ctypes.CDLL(plan["shim"])
    from gunicorn.config import Config

    # as a gunicorn worker: the master's on_starting (the metrics folder), the app, post_worker_init
    conf = runpy.run_path("gunicorn.conf.py")
    if "on_starting" in conf:
        conf["on_starting"](None)
    import wsgi

    app = wsgi.app
    if "post_worker_init" in conf:
        conf["post_worker_init"](SimpleNamespace(wsgi=app))
    _hold_polls(app.extensions["livery.public"])
    from bench import floor

    cfg = Config()
    observer = app.wsgi_app
    layers = plan["layers"] and hasattr(observer, "log_requests")  # (trees before the request observer: none)
    runs = [(key, key, app) for key in plan["scenarios"]]
    if layers:
        runs += [(f"{key}{suffix}", key, app) for suffix in LAYERS for key in plan["scenarios"]]
    runs += [("floor", "floor", floor.app), ("empty", "empty", _empty_app)]
    lines = plan["scenarios"] | {"floor": plan["floor_lines"], "empty": plan["floor_lines"]}
    statuses: dict[str, dict[str, int]] = {}
    for name, key, target in runs:
        if layers:  # the layer this run peels off (none for the plain rows)
            observer.log_requests = not name.endswith(LAYERS[0])
            app.wsgi_app = observer.wsgi_app if name.endswith(LAYERS[1]) else observer
        distinct = len(Path(lines[key]).read_text().splitlines())
        statuses[name] = {}
        _serve(target, _requests(lines[key], min(distinct, plan["requests"]), cfg), cfg, statuses[name])  # warm-up
        measured = _requests(lines[key], plan["requests"], cfg)
        shim.livery_start()
        _serve(target, measured, cfg)
        shim.livery_stop(name.encode())
    Path(plan["result"]).write_text(json.dumps({"statuses": statuses}))
    if "on_exit" in conf:
        conf["on_exit"](None)
    return 0


def _hold_polls(answers) -> None:
    """Set the freshness and unknown-code polls' clocks far ahead (per-interval work, not per-request)."""
    deadline = time.monotonic() + 30
    while getattr(answers, "_refresher", None) is not None and answers._refresher.is_alive():
        if time.monotonic() > deadline:
            raise RuntimeError("a freshness poll did not end")
        time.sleep(0.05)
    answers._interval = math.inf
    answers._next_poll = math.inf
    if hasattr(answers, "_next_miss_poll"):
        answers._next_miss_poll = math.inf


if __name__ == "__main__":
    sys.exit(main())
