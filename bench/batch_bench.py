"""Batch scoring of a generated 10-minute timeline: 80 cuts, 4 `cue` markers, arranger engine.

Issue 4's bar: under 60 s on a 2-core machine, no gap or overlap between cues, every cue in the
report. Prints the time per pipeline stage. Issue 8's bar: progress events never further apart
than 2 s (the largest gap is printed twice: between any two events, and between events that
carry news — a new fraction or message — rather than the once-a-second repeat), and a cancel
during alignment returns within 1 s (a second run, cancelled at its first alignment step).
Run: `.venv/bin/python bench/batch_bench.py`.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import random
import sys
import tempfile
import time
from pathlib import Path

import opentimelineio as otio

RATE = 25
MINUTES = 10
CUTS = 80
MARKERS = ((0.21, "Cue A"), (0.47, "cue B"), (0.66, "CUE C"), (0.88, "cue D"))


def make_media(folder: Path) -> list[Path]:
    """Four 160x90 sources, each a few minutes of shots (cheap to encode and decode)."""
    from gvmgen.media.synth import make_test_clip

    sources = []
    for i in range(4):
        cuts = list(range(97 + 31 * i, 4500, 211 + 17 * i))  # shots inside the sources too
        sources.append(
            make_test_clip(
                folder / f"source-{i}.mp4",
                rate=RATE,
                duration=180.0,
                cut_frames=cuts,
                size=(160, 90),
            )
        )
    return sources


def make_timeline(sources: list[Path], target: Path) -> Path:
    rng = random.Random(7)
    total = MINUTES * 60 * RATE
    edits = sorted(rng.sample(range(2 * RATE, total - 2 * RATE), CUTS))
    bounds = [0, *edits, total]
    track = otio.schema.Track(name="Video 1", kind=otio.schema.TrackKind.Video)
    for i, (a, b) in enumerate(itertools.pairwise(bounds)):
        source = sources[i % len(sources)]
        start = rng.randrange(0, 4500 - (b - a)) if b - a < 4500 else 0
        track.append(
            otio.schema.Clip(
                name=f"shot {i + 1}",
                media_reference=otio.schema.ExternalReference(
                    str(source), available_range=_range(0, 4500)
                ),
                source_range=_range(start, min(b - a, 4500)),
            )
        )
    timeline = otio.schema.Timeline(
        "batch bench", global_start_time=otio.opentime.RationalTime(3600 * RATE, RATE)
    )
    timeline.tracks.append(track)
    for fraction, name in MARKERS:
        timeline.tracks.markers.append(
            otio.schema.Marker(name=name, marked_range=_range(round(fraction * total), 1))
        )
    otio.adapters.write_to_file(timeline, str(target))
    return target


def _range(start: int, duration: int) -> otio.opentime.TimeRange:
    return otio.opentime.TimeRange(
        otio.opentime.RationalTime(start, RATE), otio.opentime.RationalTime(duration, RATE)
    )


def check_track(result) -> str:
    timeline = otio.adapters.read_from_file(result.timeline)
    (track,) = [t for t in timeline.audio_tracks() if t.name == "GVMGen Score"]
    ranges = [c.range_in_parent() for c in track.find_clips()]
    contiguous = all(a.end_time_exclusive() == b.start_time for a, b in itertools.pairwise(ranges))
    covers = ranges[0].start_time.value == 0 and ranges[-1].end_time_exclusive().value == (
        MINUTES * 60 * RATE
    )
    return f"contiguous={contiguous} covers_range={covers} clips={len(ranges)}"


class Gaps:
    """Times of the progress events of one run, and the largest silences between them."""

    def __init__(self):
        self.began = time.perf_counter()
        self.times: list[float] = []
        self.news: list[float] = []
        self.messages: list[str] = []
        self.last = None

    def __call__(self, event) -> None:
        now = time.perf_counter()
        self.times.append(now)
        if (event.fraction, event.message) != self.last:
            self.news.append(now)
            self.messages.append(event.message)
            self.last = (event.fraction, event.message)

    def largest(self, times: list[float]) -> float:
        stamps = [self.began, *times]
        return max(b - a for a, b in itertools.pairwise(stamps))

    def longest_news_silences(self, count: int = 3) -> list[str]:
        """The `count` longest waits for news, each with the step that was running."""
        pairs = zip(itertools.pairwise(self.news), self.messages[:-1], strict=True)
        waits = [(b - a, m) for (a, b), m in pairs]
        return [f"{w:.2f} s after {m!r}" for w, m in sorted(waits, reverse=True)[:count]]


def cancel_latency(timeline: Path, out: Path) -> float:
    """Seconds from setting `cancel` at the first alignment step of the second cue to return."""
    import threading

    from gvmgen.errors import Cancelled
    from gvmgen.pipeline import score

    cancel, set_at = threading.Event(), []

    def on_event(event) -> None:
        if not cancel.is_set() and event.stage == "align" and event.cue == 1:
            set_at.append(time.perf_counter())
            cancel.set()

    request = {"input": str(timeline), "out_dir": str(out), "engine": "arranger", "mode": "batch"}
    with contextlib.suppress(Cancelled):
        score(request, on_event=on_event, cancel=cancel)
    latency = time.perf_counter() - set_at[0]
    left = out.exists()
    print(f"cancel during alignment: returned {latency:.2f} s after; output left: {left}")
    return latency


def main() -> int:
    from gvmgen.pipeline import score

    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        began = time.perf_counter()
        timeline = make_timeline(make_media(folder), folder / "batch.otio")
        print(f"fixture: {time.perf_counter() - began:.1f} s (not timed below)")
        gaps = Gaps()
        began = time.perf_counter()
        result = score(
            {
                "input": str(timeline),
                "out_dir": str(folder / "out"),
                "engine": "arranger",
                "mode": "batch",
            },
            on_event=gaps,
        )
        seconds = time.perf_counter() - began
        track = check_track(result)
        latency = cancel_latency(timeline, folder / "cancelled")
    hits = [c.hit_rate_1frame for c in result.cues]
    print(
        f"batch score of {MINUTES} min, {CUTS} edit points, {len(MARKERS)} cue markers: "
        f"{seconds:.1f} s wall ({MINUTES * 60 / seconds:.1f}x real time)"
    )
    print(f"cues: {len(result.cues)} {[c.name for c in result.cues]}")
    print(
        f"mean hit rate ±1 frame: {sum(hits) / len(hits):.1%}; loudness "
        f"{result.loudness_lufs:.1f} LUFS; {track}"
    )
    print("stage seconds: " + json.dumps(result.seconds))
    print(
        f"progress: {len(gaps.times)} events; largest gap {gaps.largest(gaps.times):.2f} s "
        f"between events, {gaps.largest(gaps.news):.2f} s between events with news"
    )
    print("longest waits for news: " + "; ".join(gaps.longest_news_silences()))
    ok = seconds < 60 and gaps.largest(gaps.times) <= 2.0 and latency <= 1.0
    return 0 if ok else 1


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main())
