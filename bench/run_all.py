"""Every benchmark in bench/, one after another, each in its own process: `make bench`.

    .venv/bin/python bench/run_all.py [--only NAME ...] [--skip NAME ...] [--list]
                                      [--timeout SECONDS] [--logs DIR]

A benchmark is any `bench/*_bench.py`, plus `gpu_smoke.py` (which says when it measured no GPU).
Each runs with its own defaults, so its figures are the ones docs/BENCHMARKS.md quotes; its
output goes to `--logs` (bench-out/ by default) and a summary table follows. Benchmarks run one
at a time on purpose: on a 2-core machine two at once would only measure each other. Exit
status 1 when any benchmark failed or ran past `--timeout`.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
DEFAULT_TIMEOUT_S = 3600.0


def discover() -> list[str]:
    names = sorted(p.stem for p in BENCH.glob("*_bench.py"))
    return [*names, "gpu_smoke"] if (BENCH / "gpu_smoke.py").exists() else names


def chosen(names: list[str], only: list[str], skip: list[str]) -> list[str]:
    unknown = sorted(set(only + skip) - set(names))
    if unknown:
        raise SystemExit(f"run_all: unknown benchmark(s) {unknown}; choose from {names}")
    return [n for n in names if (not only or n in only) and n not in skip]


def run_one(name: str, logs: Path, timeout: float) -> tuple[str, float]:
    log = logs / f"{name}.log"
    print(f"== {name} (log: {log.relative_to(ROOT) if log.is_relative_to(ROOT) else log})")
    began = time.perf_counter()
    with log.open("w") as out:
        try:
            done = subprocess.run(
                [sys.executable, str(BENCH / f"{name}.py")],
                cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, timeout=timeout,
            )  # fmt: skip
            status = "ok" if done.returncode == 0 else f"failed (exit {done.returncode})"
        except subprocess.TimeoutExpired:
            status = f"timed out after {timeout:.0f} s"
    seconds = time.perf_counter() - began
    tail = log.read_text(errors="replace").strip().splitlines()[-3:]
    for line in tail:
        print(f"   {line}")
    return status, seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="*", default=[], metavar="NAME")
    parser.add_argument("--skip", nargs="*", default=[], metavar="NAME")
    parser.add_argument("--list", action="store_true", help="list the benchmarks and stop")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_S, help="per benchmark")
    parser.add_argument("--logs", type=Path, default=ROOT / "bench-out")
    args = parser.parse_args()
    names = chosen(discover(), args.only, args.skip)
    if args.list:
        print("\n".join(names))
        return 0
    args.logs.mkdir(parents=True, exist_ok=True)
    results = {name: run_one(name, args.logs, args.timeout) for name in names}
    print(f"\n{'benchmark':24s} {'status':28s} {'wall s':>8s}")
    for name, (status, seconds) in results.items():
        print(f"{name:24s} {status:28s} {seconds:8.1f}")
    return 0 if all(status == "ok" for status, _ in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
