"""100 000 codes vs 100 codes, measured side by side: the two servers up at once, driven in turn.

The size target compares two rates within 10 %, tighter than the drift of a shared machine over
the minutes between two table rows. Here both Livery servers (SQLite, 100 000 and 100 codes) run
together, and wrk drives them alternately for ``ROUNDS`` pairs of short runs; the ratio of each
pair sees the same background load, and the median pair is the figure the target uses.
"""

from __future__ import annotations

from bench import datasets, servers

ROUNDS = 5
SECONDS = 4


def interleaved_ratios(runner, big: datasets.Dataset, small: datasets.Dataset) -> list[float]:
    """(100k rate / 100-code rate) in percent, discovery 200, for each of ROUNDS pairs of runs."""
    bases, procs = {}, []
    try:
        for data in (big, small):
            proc, bases[data.name] = runner.start_livery(data)
            procs.append(proc)
            runner.warm(bases[data.name], data.lines["discovery-200"])
        return _rounds(runner, bases, big, small)
    finally:
        for proc in procs:
            proc.stop()


def _rounds(runner, bases: dict[str, str], big: datasets.Dataset, small: datasets.Dataset) -> list[float]:
    ratios = []
    for n in range(ROUNDS):
        rates = {}
        for data in (big, small) if n % 2 == 0 else (small, big):  # neither always goes first
            result = servers.wrk(bases[data.name], data.lines["discovery-200"], seconds=SECONDS,
                                 connections=runner.args.connections, threads=runner.args.threads)  # fmt: skip
            rates[data.name] = result.rps
        ratios.append(100 * rates[big.name] / rates[small.name])
        print(f"  round {n + 1}: 100k {rates[big.name]:,.0f}/s, 100 codes {rates[small.name]:,.0f}/s,"
              f" ratio {ratios[-1]:.1f} %", flush=True)  # fmt: skip
    return ratios
