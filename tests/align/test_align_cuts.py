"""The bar on synthetic music (97, 123 BPM) and a bare click track (109 BPM): every cut hit
within ±1 frame at 24 fps (re-measured on the output), the stretch bound held, splices of whole
beats, the length exact, no clicks, pitch kept."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import CASES, RATE

from gvmgen.align import AlignmentPlan, Piece, render_alignment, track_beats
from gvmgen.align.metrics import cut_offsets

TEMPI = sorted(CASES)


@pytest.mark.parametrize("bpm", TEMPI, ids=[f"{b}bpm" for b in TEMPI])
def test_every_cut_lands_on_a_beat_within_one_frame(aligned, bpm):
    metrics = aligned[bpm].metrics
    offsets = [c["offset_ms"] for c in metrics.per_cut]
    assert metrics.hit_rate_1frame == 1.0, offsets
    assert len(metrics.per_cut) == len(CASES[bpm][1])


@pytest.mark.parametrize("bpm", TEMPI, ids=[f"{b}bpm" for b in TEMPI])
def test_hits_are_re_measured_on_the_output(aligned, music, bpm):
    """An independent re-track of the written audio agrees; the input alone did not hit."""
    cuts = np.array(CASES[bpm][1])
    after = cut_offsets(track_beats(aligned[bpm].audio, RATE).times, cuts)
    before = cut_offsets(track_beats(music[bpm], RATE).times, cuts)
    assert np.all(np.abs(after) <= 1 / 24)
    assert np.mean(np.abs(before) <= 1 / 24) < 1.0


@pytest.mark.parametrize("bpm", TEMPI, ids=[f"{b}bpm" for b in TEMPI])
def test_stretch_bound_held_and_splices_of_whole_beats(aligned, bpm):
    plan = aligned[bpm].plan
    assert all(p.stretch <= 0.06 + 1e-9 for p in plan.pieces)
    assert aligned[bpm].metrics.max_stretch <= 0.06 + 1e-9
    for splice in plan.splices:
        assert abs(splice.beats) >= 0.95 and abs(splice.beats - round(splice.beats)) < 0.05


@pytest.mark.parametrize("bpm", TEMPI, ids=[f"{b}bpm" for b in TEMPI])
def test_output_length_exact_and_no_clicks(aligned, music, bpm):
    result = aligned[bpm]
    assert result.audio.shape == music[bpm].shape
    assert result.metrics.duration_error == 0.0
    assert result.metrics.clicks == 0


@pytest.mark.parametrize("bpm", TEMPI, ids=[f"{b}bpm" for b in TEMPI])
def test_pieces_cover_the_cue_end_to_end(aligned, bpm):
    plan = aligned[bpm].plan
    assert plan.pieces[0].target_start == 0.0
    assert plan.pieces[-1].target_end == pytest.approx(plan.duration)
    for before, after in zip(plan.pieces, plan.pieces[1:], strict=False):
        assert after.target_start == pytest.approx(before.target_end)


def test_tail_fades_rather_than_stops(aligned):
    audio = aligned[97].audio
    last_ms = np.abs(audio[:, -int(0.002 * RATE) :]).max()
    assert last_ms < 0.01 * np.abs(audio).max()


def test_stretch_keeps_pitch():
    """A 440 Hz tone played 5 % faster is still 440 Hz (Rubber Band, not resampling)."""
    t = np.arange(int(3.0 * RATE)) / RATE
    tone = (0.5 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)[None, :]
    piece = Piece(0.0, 2.1, 0.0, 2.0)  # 5 % faster
    plan = AlignmentPlan(np.zeros(0), 2.0, 3.0, 0.06, (), (piece,), (), ())
    out = render_alignment(tone, RATE, plan)[0, int(0.2 * RATE) : int(1.8 * RATE)]
    spectrum = np.abs(np.fft.rfft(out * np.hanning(len(out))))
    peak = np.argmax(spectrum) * RATE / len(out)
    assert peak == pytest.approx(440.0, abs=2.0)
    assert out.shape[-1] > 0 and len(render_alignment(tone, RATE, plan)[0]) == 2 * RATE


def test_stretched_beats_land_where_the_map_says():
    """Kicks of a piece stretched 5 % slower come out at source time × 1.05, to a few ms."""
    from align_music import beat_times, make_music

    audio = make_music(120, 6.0, RATE)
    plan = AlignmentPlan(np.zeros(0), 6.0, 6.0, 0.06, (), (Piece(0.0, 6 / 1.05, 0.0, 6.0),), (), ())
    out = render_alignment(audio, RATE, plan)
    expected = beat_times(120, 6 / 1.05) * 1.05
    found = track_beats(out, RATE).times
    source = track_beats(audio, RATE).times
    lag = np.median(cut_offsets(source, beat_times(120, 6.0)[1:-1]))  # tracker's own lag
    offsets = cut_offsets(found, expected[1:-1]) - lag
    assert np.all(np.abs(offsets) < 0.015), np.round(offsets * 1000, 1)


def test_a_known_beat_grid_skips_tracking_for_the_plan(music):
    """An engine's composed grid (shifted by the tracker's lag) plans; hits are re-measured."""
    from align_music import beat_times

    from gvmgen.align import BeatGrid, align_to_cuts

    duration, cuts = CASES[123]
    composed = beat_times(123, duration)
    lag = float(np.median(cut_offsets(track_beats(music[123], RATE).times, composed[1:-1])))
    grid = BeatGrid.from_times(composed + lag)
    result = align_to_cuts(music[123], RATE, np.array(cuts), beats=grid)
    assert result.beats_before is grid
    assert result.metrics.hit_rate_1frame == 1.0, [c["offset_ms"] for c in result.metrics.per_cut]
