"""Backend fixtures: short synthetic media, in-process servers on 127.0.0.1 random ports with
tmp data dirs (always stopped), and clients for them."""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import opentimelineio as otio
import pytest

sys.path.insert(0, str(Path(__file__).parent))

from backend_helpers import (
    GRACE,
    LOOPBACK,
    RATE,
    SERVER_SCRIPT,
    STEP_SECONDS,
    STEPS,
    without_root_powers,
)
from counting_engine import CountingArranger


@pytest.fixture(scope="session")
def clip(tmp_path_factory) -> Path:
    """4 s at 25 fps with two hard cuts."""
    from gvmgen.media.synth import make_test_clip

    folder = tmp_path_factory.mktemp("backend-media")
    return make_test_clip(folder / "clip.mp4", duration=4.0, cut_frames=(30, 70))


@pytest.fixture(scope="session")
def batch_timeline(tmp_path_factory) -> Path:
    """An 8 s timeline of one clip with `cue` markers every 2 s: a batch job of three cues (the
    last 2 s join the third: no cue is under 4 s unless two markers make it)."""
    from gvmgen.media.synth import make_test_clip

    folder = tmp_path_factory.mktemp("backend-batch")
    media = make_test_clip(folder / "long.mp4", duration=8.0, cut_frames=(30, 90, 140, 170))
    frames = 8 * RATE
    ref = otio.schema.ExternalReference(
        str(media),
        available_range=otio.opentime.range_from_start_end_time(
            otio.opentime.RationalTime(0, RATE), otio.opentime.RationalTime(frames, RATE)
        ),
    )
    track = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    track.append(
        otio.schema.Clip(name="long", media_reference=ref, source_range=ref.available_range)
    )
    timeline = otio.schema.Timeline(name="batch")
    timeline.tracks.append(track)
    for i, frame in enumerate(range(0, frames, 2 * RATE)):
        timeline.tracks.markers.append(
            otio.schema.Marker(
                name=f"cue {i + 1}",
                marked_range=otio.opentime.TimeRange(
                    otio.opentime.RationalTime(frame, RATE), otio.opentime.RationalTime(1, RATE)
                ),
            )
        )
    path = folder / "batch.otio"
    otio.adapters.write_to_file(timeline, str(path))
    return path


@dataclass
class Running:
    server: object  # gvmgen_backend.server.Server
    thread: threading.Thread
    engine: CountingArranger

    @property
    def data_dir(self) -> Path:
        return self.server.data_dir

    def client(self, **options):
        from gvmgen_backend.client import Client, find_endpoint

        return Client(find_endpoint(self.data_dir), **options)


@pytest.fixture
def start_server(tmp_path):
    """start_server(steps, step_seconds, data_dir, bind) -> Running; all stopped after."""
    from gvmgen_backend.runner import Runner
    from gvmgen_backend.server import Server

    from gvmgen.engines import EngineRegistry

    started: list[Running] = []

    def start(steps=0, step_seconds=0.0, data_dir: Path | None = None, bind: str = LOOPBACK):
        engine = CountingArranger(steps, step_seconds)
        runner = Runner("arranger", EngineRegistry(engines={"arranger": engine}))
        server = Server(data_dir or tmp_path / f"data{len(started)}", bind, runner=runner)
        server.start()
        thread = threading.Thread(target=server.serve_forever, name="test-server", daemon=True)
        thread.start()
        started.append(Running(server, thread, engine))
        return started[-1]

    try:
        yield start
    finally:
        for running in started:
            running.server.stop()
            running.thread.join(60)
            assert not running.thread.is_alive(), "server thread did not stop"


@pytest.fixture
def server(start_server) -> Running:
    return start_server()


@pytest.fixture
def spawn(tmp_path):
    """spawn(data_dir, calls_file, grace=, hooks=, steps=, step_seconds=, powerless=, **popen)
    -> Popen of a counting server in its own process (hooks: see hooks.py; powerless: bound by
    file permissions even when the tests run as root); every one killed after."""
    import json
    import os
    import subprocess

    processes: list[subprocess.Popen] = []

    def start(
        data_dir: Path,
        calls: Path,
        grace: float = GRACE,
        hooks: dict | None = None,
        steps: int = STEPS,
        step_seconds: float = STEP_SECONDS,
        powerless: bool = False,
        **popen,
    ) -> subprocess.Popen:
        env = dict(os.environ, GVMGEN_TEST_HOOKS=json.dumps(hooks) if hooks else "")
        argv = [sys.executable, str(SERVER_SCRIPT), str(data_dir), str(calls)]
        argv += [str(steps), str(step_seconds), str(grace)]
        if powerless:
            argv = without_root_powers(argv)
        process = subprocess.Popen(
            argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, **popen
        )
        processes.append(process)
        line = process.stdout.readline()
        assert line.startswith("gvmgen serve: listening on tcp://127.0.0.1:"), line
        return process

    try:
        yield start
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
            process.wait(30)
