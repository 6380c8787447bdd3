"""Segues keep the short-term loudness where the editor asked for no change: judged on the joined
track by pyloudnorm (BS.1770 K-weighting over 3 s), never by the code that shaped it."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import opentimelineio as otio
import pyloudnorm
import pytest
import soundfile as sf
from score_plans import generated_plan

from gvmgen.cues import Cue
from gvmgen.media.audio import DELIVERY_RATE
from gvmgen.rendering import joined, rest, segues_in_level
from gvmgen.timeline.markers import TimelineMarker

RATE = 25.0
TARGET = -16.0


def _short_term(track: np.ndarray, start: float, stop: float) -> float:
    """pyloudnorm's K-weighted loudness of `[start, stop)` s, ungated (one 3 s window)."""
    meter = pyloudnorm.Meter(DELIVERY_RATE, block_size=stop - start)
    part = track[:, int(start * DELIVERY_RATE) : int(stop * DELIVERY_RATE)]
    return meter.integrated_loudness(part.T.astype(np.float64))


def _music(seconds: float, levels: list[tuple[float, float]], seed: int) -> np.ndarray:
    """Noise-band "music" `[2, N]`: a burst every quarter second, its level (dB) ramping
    between `levels` ((time, dB) points), levelled to TARGET LUFS."""
    rng = np.random.default_rng(seed)
    n = round(seconds * DELIVERY_RATE)
    t = np.arange(n) / DELIVERY_RATE
    burst = np.exp(-(t % 0.25) * 12.0)
    db = np.interp(t, *zip(*levels, strict=True))
    audio = rng.standard_normal((2, n)) * burst * 10 ** (db / 20)
    meter = pyloudnorm.Meter(DELIVERY_RATE)
    gain = 10 ** ((TARGET - meter.integrated_loudness(audio.T)) / 20)
    return (audio * gain).astype(np.float32)


def _rendered(audio: np.ndarray, tempo: float = 120.0):
    cue = rest(Cue(0, "x", 0, 1), RATE, 0.06, 0)
    return replace(cue, audio=audio, silent=False, tempo=tempo)


def _plan(cues: list[Cue], markers=()):
    plan = generated_plan(cues[-1].end, (), cues, rate=RATE, target_lufs=TARGET)
    return replace(plan, edit=replace(plan.edit, markers=list(markers)))


# a loud ending (the outgoing cue's last bars), then a cue that enters softly and builds
CUES = [Cue(0, "cue 1", 0, 300), Cue(1, "tempo 96", 300, 750)]
OUTGOING = (13.5, [(0.0, -6.0), (12.0, 0.0), (13.5, -30.0)])  # it rings 1.5 s past 12 s
INCOMING = (18.0, [(0.0, -20.0), (6.0, -4.0), (18.0, 0.0)])


def _joined_track(plan, rendered) -> np.ndarray:
    return np.concatenate([c.audio for c in joined(plan.cues, rendered, RATE)], axis=1)


def test_a_segue_without_a_cue_marker_keeps_the_short_term_loudness_within_3_lu():
    plan = _plan(CUES)
    rendered = [_rendered(_music(*OUTGOING, 1)), _rendered(_music(*INCOMING, 2))]
    before = _joined_track(plan, rendered)
    step_before = _short_term(before, 12.0, 15.0) - _short_term(before, 9.0, 12.0)
    assert step_before < -5.0  # the soft entrance, as the engine made it

    levelled = segues_in_level(plan, rendered)
    track = _joined_track(plan, levelled)
    assert abs(_short_term(track, 12.0, 15.0) - _short_term(track, 9.0, 12.0)) <= 3.0
    # the incoming cue is still on its target, and the outgoing one untouched
    meter = pyloudnorm.Meter(DELIVERY_RATE)
    assert meter.integrated_loudness(levelled[1].audio.T.astype(np.float64)) == pytest.approx(
        TARGET, abs=0.2
    )
    assert levelled[0] is rendered[0]
    # past the ease the incoming cue plays as it was made, less what levelling it again took
    late = slice(9 * DELIVERY_RATE, 17 * DELIVERY_RATE)
    now, made = levelled[1].audio[:, late], rendered[1].audio[:, late]
    gain = float(np.sum(now * made) / np.sum(made * made))
    assert 0.7 < gain <= 1.0
    assert np.allclose(now, gain * made, atol=1e-3)


def test_an_editors_cue_marker_at_the_join_keeps_the_change_it_asked_for():
    marker = TimelineMarker(
        "cue B", otio.opentime.RationalTime(300, RATE), otio.opentime.RationalTime(1, RATE), "", ""
    )
    plan = _plan([CUES[0], replace(CUES[1], name="cue B")], [marker])
    rendered = [_rendered(_music(*OUTGOING, 1)), _rendered(_music(*INCOMING, 2))]
    assert segues_in_level(plan, rendered) == rendered


def test_stems_follow_the_levelled_entrance_and_still_sum_to_the_mix():
    plan = _plan(CUES)
    incoming = _music(*INCOMING, 2)
    stems = {"drums": 0.25 * incoming, "bass": 0.75 * incoming}
    rendered = [
        _rendered(_music(*OUTGOING, 1)),
        replace(_rendered(incoming), stems=stems),
    ]
    levelled = segues_in_level(plan, rendered)[1]
    residual = levelled.audio - sum(levelled.stems.values())
    assert np.sqrt(np.mean(residual**2)) < 1e-3 * np.sqrt(np.mean(levelled.audio**2))


def test_a_tempo_markers_segue_through_gvmgen_score_keeps_the_loudness(cut_clip, tmp_path):
    """End to end: a `tempo 140` marker mid-timeline makes a second cue; on the delivered WAVs
    laid end to end, the 3 s loudness either side of the join differs by at most 3 LU."""
    from gvmgen.pipeline import score

    rate, join = 25, 250
    rt, tr = otio.opentime.RationalTime, otio.opentime.TimeRange
    track = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    for start in (0, 40):
        ref = otio.schema.ExternalReference(
            str(cut_clip[0]), available_range=tr(rt(0, rate), rt(300, rate))
        )
        track.append(otio.schema.Clip(f"c{start}", ref, tr(rt(start, rate), rt(250, rate))))
    timeline = otio.schema.Timeline(global_start_time=rt(90000, rate))
    timeline.tracks.append(track)
    marker = otio.schema.Marker(name="tempo 140", marked_range=tr(rt(join, rate), rt(1, rate)))
    timeline.tracks.markers.append(marker)
    otio.adapters.write_to_file(timeline, str(tmp_path / "t.otio"))
    request = {"input": str(tmp_path / "t.otio"), "out_dir": str(tmp_path / "out")}
    result = score({**request, "engine": "arranger", "mode": "batch", "intensity": 8})

    assert [c.name for c in result.cues] == ["cue 1", "tempo 140"]
    track = np.concatenate([sf.read(c.wav, dtype="float64")[0] for c in result.cues]).T
    at = join / rate
    step = _short_term(track, at, at + 3.0) - _short_term(track, at - 3.0, at)
    assert abs(step) <= 3.0
