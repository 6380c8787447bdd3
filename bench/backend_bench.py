"""The backend's latency and throughput, side by side with what a user would have instead.

    .venv/bin/python bench/backend_bench.py [--pings 2000] [--jobs 5] [--status-seconds 3]
                                            [--json FILE] [--against REV [--rounds 5]]

In one run, on 127.0.0.1:
  1. ping round trip, p50/p99: `gvmgen_backend` (signed envelope, pydantic, job store query)
     against a bare pyzmq ROUTER/DEALER echo of the same bytes (no parsing, no signing);
     goal: within 2x of the echo, p99 < 5 ms;
  2. submit -> first progress event of a warm server, against `gvmgen score` started cold
     (what a user runs without the backend): time to its first progress line;
  3. status requests per second on an idle server and while a job runs, against pings per
     second on the bare echo;
  4. CPU time per ping and per status request, of the server process and of the client: the
     figure the shared machine's load disturbs least.
Each server runs in its own process, as `gvmgen serve` does for a user (in one process the
client and server threads would mostly measure each other's wait for the GIL).

`--against REV` measures the code at git revision REV beside this one, in the same run: REV's
files are copied into a temporary folder (`git archive`), and whole runs of this bench file
alternate between the two codes (the same measurement; each side's own client, server and
pipeline), `--rounds` times each, starting with a different side each round. It reports
each side's medians, the ratios this/REV, and the machine's load before each run (the machine
is shared: only ratios from one run mean anything).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import zmq

# the code measured: this tree, or (--against) the revision compare() unpacked
sys.path.insert(0, os.environ.get("BACKEND_BENCH_CODE") or str(Path(__file__).resolve().parents[1]))

from gvmgen_backend.client import Client, find_endpoint, serve_command
from gvmgen_backend.protocol import encode


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


# ---- the bare echo ----


def echo_main() -> None:
    """The echo server process: a ROUTER that sends every message straight back."""
    context = zmq.Context()
    router = context.socket(zmq.ROUTER)
    router.bind("tcp://127.0.0.1:*")
    print(router.getsockopt_string(zmq.LAST_ENDPOINT), flush=True)
    while True:
        router.send_multipart(router.recv_multipart())


def start_echo() -> tuple[subprocess.Popen, str]:
    process = subprocess.Popen(
        [sys.executable, __file__, "--echo-server"], stdout=subprocess.PIPE, text=True
    )
    return process, process.stdout.readline().strip()


def echo_round_trips(context: zmq.Context, address: str, frame: bytes, n: int) -> list[float]:
    dealer = context.socket(zmq.DEALER)
    dealer.connect(address)
    times = []
    try:
        for _ in range(n):
            began = time.perf_counter()
            dealer.send(frame)
            dealer.recv()
            times.append(time.perf_counter() - began)
    finally:
        dealer.close(0)
    return times


def cpu_seconds(pid: int) -> float:
    """CPU time its live threads have used (Linux schedstat, in ns: /proc/PID/stat counts
    10 ms ticks): the figure the shared machine's load disturbs least (wall times on it
    swing by tens of per cent between runs)."""
    total = 0
    for task in Path(f"/proc/{pid}/task").iterdir():
        with contextlib.suppress(FileNotFoundError):
            total += int((task / "schedstat").read_text().split()[0])
    return total / 1e9


class CpuMeter:
    """CPU time per request of the server process and of this one (the client)."""

    def __init__(self, pid: int):
        self.pid, self.server, self.client, self.requests = pid, 0.0, 0.0, 0

    def measure(self, requests: int, run):
        server, client = cpu_seconds(self.pid), time.process_time()
        result = run()
        self.server += cpu_seconds(self.pid) - server
        self.client += time.process_time() - client
        self.requests += requests
        return result

    def per_request_us(self) -> tuple[float, float]:
        return self.server / self.requests * 1e6, self.client / self.requests * 1e6


def ping_round_trips(client: Client, n: int) -> list[float]:
    times = []
    for _ in range(n):
        began = time.perf_counter()
        client.request("ping", {})
        times.append(time.perf_counter() - began)
    return times


# ---- our server ----


def start_server(data_dir: Path) -> subprocess.Popen:
    """`gvmgen serve` on a free loopback port; returns once it listens."""
    process = subprocess.Popen(
        serve_command(data_dir, "arranger"), stdout=subprocess.PIPE, text=True
    )
    line = process.stdout.readline()
    if "listening on" not in line:
        raise SystemExit(f"gvmgen serve did not start: {line!r}")
    return process


def first_progress_seconds(client: Client, clip: Path, out: Path) -> float:
    body = {"input": str(clip), "out_dir": str(out), "engine": "arranger", "key": uuid.uuid4().hex}
    began = time.perf_counter()
    first = None
    for event_type, _ in client.follow("submit", body, deadline=time.monotonic() + 120):
        if event_type == "progress" and first is None:
            first = time.perf_counter() - began
    return first


def cold_cli_first_progress(clip: Path, out: Path) -> float:
    """`gvmgen score` from a fresh process: seconds to its first progress line on stderr."""
    began = time.perf_counter()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gvmgen.cli",
            "score",
            str(clip),
            "--out",
            str(out),
            "--engine",
            "arranger",
        ],
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    process.stderr.readline()
    first = time.perf_counter() - began
    process.wait(300)
    return first


def status_rate(client: Client, job_id: str, seconds: float) -> float:
    """status replies per second, one request after another."""
    count, end = 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        client.request("status", {"job_id": job_id})
        count += 1
    return count / seconds


def status_rate_while_running(client: Client, clip: Path, out: Path, seconds: float) -> tuple:
    """(status replies per second, whether the job was running the whole time)."""
    long_clip = clip.with_name("long.mp4")
    body = {
        "input": str(long_clip),
        "out_dir": str(out),
        "engine": "arranger",
        "takes": 4,
        "key": uuid.uuid4().hex,
        "watch": False,
    }
    job_id = client.request("submit", body)[1]["job_id"]
    while client.request("status", {"job_id": job_id})[1]["state"] != "running":
        time.sleep(0.01)
    rate = status_rate(client, job_id, seconds)
    state = client.request("status", {"job_id": job_id})[1]["state"]
    client.request("cancel", {"job_id": job_id})
    return rate, state == "running"


def echo_rate(context: zmq.Context, address: str, frame: bytes, seconds: float) -> float:
    count, end = 0, time.perf_counter() + seconds
    dealer = context.socket(zmq.DEALER)
    dealer.connect(address)
    while time.perf_counter() < end:
        dealer.send(frame)
        dealer.recv()
        count += 1
    dealer.close(0)
    return count / seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pings", type=int, default=2000)
    parser.add_argument("--jobs", type=int, default=5)
    parser.add_argument("--status-seconds", type=float, default=3.0)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--echo-server", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--against", metavar="REV", help="also measure git revision REV")
    parser.add_argument("--rounds", type=int, default=5, help="alternations with --against")
    args = parser.parse_args(argv)
    if args.echo_server:
        echo_main()
    if args.against:
        return compare(args)

    from gvmgen.media.synth import make_test_clip

    context = zmq.Context.instance()
    with tempfile.TemporaryDirectory(prefix="backend-bench-") as tmp:
        tmp = Path(tmp)
        clip = make_test_clip(tmp / "clip.mp4", duration=4.0, cut_frames=(30, 70))
        make_test_clip(tmp / "long.mp4", duration=30.0, cut_frames=(100, 300, 500))
        server = start_server(tmp / "data")
        echo, echo_address = start_echo()
        try:
            client = Client(find_endpoint(tmp / "data"))
            frame = encode(client.endpoint.key, "ping", uuid.uuid4().hex, {})
            client.request("ping", {})
            echo_round_trips(context, echo_address, frame, 100)  # both warm
            # interleave the two in halves so neither gets a quieter moment of the machine
            bare, ours = [], []
            ping_cpu, status_cpu = CpuMeter(server.pid), CpuMeter(server.pid)
            for _ in range(2):
                bare += echo_round_trips(context, echo_address, frame, args.pings // 2)
                half = args.pings // 2
                ours += ping_cpu.measure(half, lambda n=half: ping_round_trips(client, n))
            first_warm = [
                first_progress_seconds(client, clip, tmp / f"w{i}") for i in range(args.jobs)
            ]
            first_cold = cold_cli_first_progress(clip, tmp / "cold")
            finished = client.request("list", {"limit": 1})[1]["jobs"][0]["job_id"]
            status_idle = status_cpu.measure(  # no job running
                0, lambda: status_rate(client, finished, args.status_seconds)
            )
            status_cpu.requests = round(status_idle * args.status_seconds)
            status_rps, was_running = status_rate_while_running(
                client, clip, tmp / "long", args.status_seconds
            )
            echo_rps = echo_rate(context, echo_address, frame, args.status_seconds)
            client.close()
        finally:
            echo.kill()
            server.terminate()
            echo.wait(30)
            server.wait(60)

    figures = {
        "ping_p50_ms": percentile(ours, 0.5) * 1e3,
        "ping_p99_ms": percentile(ours, 0.99) * 1e3,
        "echo_p50_ms": percentile(bare, 0.5) * 1e3,
        "echo_p99_ms": percentile(bare, 0.99) * 1e3,
        "first_progress_warm_ms": statistics.median(first_warm) * 1e3,
        "first_progress_cold_cli_s": first_cold,
        "status_per_s_idle": status_idle,
        "ping_server_cpu_us": ping_cpu.per_request_us()[0],
        "ping_client_cpu_us": ping_cpu.per_request_us()[1],
        "status_server_cpu_us": status_cpu.per_request_us()[0],
        "status_per_s_while_running": status_rps,
        "job_running_throughout": was_running,
        "echo_per_s": echo_rps,
        "backend_code": str(Path(sys.modules[Client.__module__].__file__).parent),
    }
    figures["ping_p50_ratio"] = figures["ping_p50_ms"] / figures["echo_p50_ms"]
    figures["ping_p99_ratio"] = figures["ping_p99_ms"] / figures["echo_p99_ms"]
    print_table(figures, args)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


def print_table(f: dict, args) -> None:
    print(f"ping round trip ({args.pings} each, 127.0.0.1):")
    print(f"  gvmgen_backend ping  p50 {f['ping_p50_ms']:.3f} ms  p99 {f['ping_p99_ms']:.3f} ms")
    print(f"  bare ROUTER echo     p50 {f['echo_p50_ms']:.3f} ms  p99 {f['echo_p99_ms']:.3f} ms")
    print(
        f"  ratio                p50 {f['ping_p50_ratio']:.2f}x     p99 "
        f"{f['ping_p99_ratio']:.2f}x   (goal: <= 2x, p99 < 5 ms)"
    )
    print(
        f"submit -> first progress: warm server {f['first_progress_warm_ms']:.1f} ms (median "
        f"of {args.jobs}); cold `gvmgen score` {f['first_progress_cold_cli_s']:.2f} s"
    )
    print(f"status, no job running: {f['status_per_s_idle']:.0f} req/s")
    print(
        f"CPU per request: ping server {f['ping_server_cpu_us']:.0f} us, client "
        f"{f['ping_client_cpu_us']:.0f} us; status server {f['status_server_cpu_us']:.0f} us"
    )
    print(
        f"status while a job runs: {f['status_per_s_while_running']:.0f} req/s "
        f"(job running throughout: {f['job_running_throughout']}); bare echo "
        f"{f['echo_per_s']:.0f} req/s"
    )


# ---- this code against another revision ----

COMPARED = (  # (figure, better when) for the ratio table
    ("ping_p50_ms", "lower"),
    ("ping_p99_ms", "lower"),
    ("first_progress_warm_ms", "lower"),
    ("status_per_s_idle", "higher"),
    ("ping_server_cpu_us", "lower"),
    ("ping_client_cpu_us", "lower"),
    ("status_server_cpu_us", "lower"),
    ("status_per_s_while_running", "higher"),
    ("echo_p50_ms", "lower"),
)


def compare(args) -> int:
    """Whole runs of this bench on this code and on `args.against`, alternated."""
    here = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory(prefix="backend-bench-rev-") as tmp:
        old = Path(tmp) / "code"
        old.mkdir()
        # a plain copy of REV's files (git archive): the repository's worktrees are untouched
        archive = subprocess.run(
            ["git", "-C", str(here), "archive", args.against], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(old)], input=archive, check=True)
        (old / "gvmgen_backend").symlink_to(old / "backend")  # its import name, on its path
        runs: dict[str, list[dict]] = {"this": [], args.against: []}
        for round_ in range(args.rounds):
            sides = [("this", here), (args.against, old)]
            for name, code in sides if round_ % 2 == 0 else sides[::-1]:
                runs[name].append(_one_run(code, args, Path(tmp) / f"{name}-{round_}.json"))
                print(f"round {round_ + 1} {name}: {_brief(runs[name][-1])}", flush=True)
    table = _ratios(runs["this"], runs[args.against])
    print_comparison(table, args)
    if args.json:
        args.json.write_text(json.dumps({"runs": runs, "ratios": table}, indent=2) + "\n")
    return 0


def _one_run(code: Path, args, out: Path) -> dict:
    """One whole run of this bench file on `code`: the same measurement on either side; the
    server, the client and the cold CLI are `code`'s."""
    env = dict(os.environ, PYTHONPATH=str(code), BACKEND_BENCH_CODE=str(code))
    load = os.getloadavg()[0]
    argv = [sys.executable, str(Path(__file__).resolve()), "--json", str(out)]
    argv += ["--pings", str(args.pings), "--jobs", str(args.jobs)]
    argv += ["--status-seconds", str(args.status_seconds)]
    subprocess.run(argv, cwd=code, env=env, check=True, stdout=subprocess.DEVNULL)
    return json.loads(out.read_text()) | {"load": load}


def _brief(figures: dict) -> str:
    return (
        f"ping p50 {figures['ping_p50_ms']:.3f} ms, p99 {figures['ping_p99_ms']:.2f} ms, "
        f"first progress {figures['first_progress_warm_ms']:.1f} ms, status idle "
        f"{figures['status_per_s_idle']:.0f}/s, while a job runs "
        f"{figures['status_per_s_while_running']:.0f}/s (load {figures['load']:.1f})"
    )


def _ratios(this: list[dict], other: list[dict]) -> dict:
    table = {}
    for name, better in COMPARED:
        ours = statistics.median(r[name] for r in this)
        theirs = statistics.median(r[name] for r in other)
        table[name] = {"this": ours, "rev": theirs, "ratio": ours / theirs, "better": better}
    table["load"] = [r["load"] for r in this + other]
    return table


def print_comparison(table: dict, args) -> None:
    print(f"this code against {args.against}, medians of {args.rounds} alternated runs each:")
    for name, better in COMPARED:
        row = table[name]
        print(
            f"  {name:28s} this {row['this']:10.3f}   {args.against[:12]:12s} "
            f"{row['rev']:10.3f}   ratio {row['ratio']:.3f} ({better} is better)"
        )
    loads = table["load"]
    print(f"  load (1 min) before the runs: {min(loads):.1f}-{max(loads):.1f}")


if __name__ == "__main__":
    sys.exit(main())
