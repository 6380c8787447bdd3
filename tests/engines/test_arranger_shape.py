"""The arranger's cues have a shape, judged on the audio it delivers: an ending where the
editor's out frame is, dynamics that follow the picture, stems that sum to the mix, and takes
that are other ideas."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from gvmgen.engines.arranger import ArrangerEngine
from gvmgen.engines.base import CueConditioning, Ending

RATE = 22_050
FRAME = 1 / 25  # one frame at 25 fps: the tolerance of an ending on its out frame
CUTS = np.array([3.1, 6.4, 8.0, 11.7, 14.2])


def picture(duration: float, cuts, motion) -> CueConditioning:
    """Flat-colour shots between `cuts`; `motion(t)` per frame at 4 fps."""
    cuts = np.asarray(cuts, dtype=np.float64)
    times = np.arange(0.125, duration, 0.25)
    palette = np.array([(90, 110, 140), (160, 120, 80), (60, 70, 50), (200, 190, 170)], np.uint8)
    shots = palette[np.searchsorted(cuts, times) % len(palette)]
    frames = np.broadcast_to(shots[:, None, None, :], (len(times), 12, 16, 3)).copy()
    values = np.array([motion(t) for t in times], np.float32)
    return CueConditioning(duration, frames, times, cuts, values, times)


def with_ending(cue: CueConditioning, ending: Ending) -> CueConditioning:
    from dataclasses import replace

    return replace(cue, duration=ending.out + ending.ring, ending=ending)


def level_db(audio: np.ndarray, start: float, stop: float) -> float:
    part = audio[:, int(start * RATE) : int(stop * RATE)]
    return 10 * np.log10(np.mean(part**2) + 1e-20)


def attacks(audio: np.ndarray, rise_db: float = 6.0) -> np.ndarray:
    """Times (s) where the 5 ms energy jumps by `rise_db` over the previous 30 ms."""
    hop = int(0.005 * RATE)
    n = audio.shape[1] // hop
    energy = (audio[:, : n * hop] ** 2).mean(axis=0).reshape(n, hop).mean(axis=1)
    db = 10 * np.log10(energy + 1e-12)
    before = np.array([db[max(0, i - 6) : i].mean() if i else db[0] for i in range(n)])
    rising = np.flatnonzero((db - before >= rise_db) & (db > db.max() - 40))
    starts = rising[np.diff(np.concatenate([[-10], rising])) > 4]  # first hop of each rise
    return starts * hop / RATE


@pytest.fixture(scope="module")
def engine() -> ArrangerEngine:
    return ArrangerEngine(sample_rate=RATE)


def test_a_button_lands_on_the_out_frame_and_rings_only_as_long_as_allowed(engine):
    ending = Ending("button", out=16.0, ring=1.5)
    audio = engine.generate(with_ending(picture(16.0, CUTS, lambda t: 0.4), ending), seed=0)
    assert audio.shape == (2, round(17.5 * RATE))
    heard = attacks(audio)
    assert np.min(np.abs(heard - 16.0)) <= FRAME, heard[heard > 14]
    assert not np.any((heard > 16.0 + 0.15) & (heard < 17.5))  # only the button's ring after
    assert level_db(audio, 17.45, 17.5) < level_db(audio, 1.0, 16.0) - 40


@pytest.mark.parametrize("kind", ["button", "ring", "fade"])
def test_at_the_outer_end_the_music_has_decayed_40_db_by_the_out_frame(engine, kind):
    cue = with_ending(picture(16.0, CUTS, lambda t: 0.4), Ending(kind, out=16.0))
    audio = engine.generate(cue, seed=0)
    assert audio.shape == (2, round(16.0 * RATE))
    assert level_db(audio, 15.95, 16.0) < level_db(audio, 1.0, 12.0) - 40


def test_a_ring_sustains_after_its_accent_and_a_fade_dies_away_without_one(engine):
    ring = engine.generate(
        with_ending(picture(16.0, CUTS, lambda t: 0.4), Ending("ring", 16.0, 1.5)), 0
    )
    fade = engine.generate(
        with_ending(picture(16.0, CUTS, lambda t: 0.4), Ending("fade", 16.0, 0.0)), 0
    )
    assert level_db(ring, 16.4, 16.8) > level_db(ring, 1.0, 16.0) - 12  # the chord holds on
    loudness = [level_db(fade, t, t + 1.0) for t in (12.0, 13.0, 14.0, 14.5)]
    assert all(b < a for a, b in itertools.pairwise(loudness))  # its last seconds die away
    assert loudness[-1] < level_db(fade, 8.0, 11.0) - 10


def test_a_quiet_static_stretch_is_quieter_than_a_busy_one(engine):
    """20 s of one still shot, then 20 s of fast cutting and motion: the same cue."""
    busy_cuts = np.arange(21.0, 40.0, 1.6)
    cue = picture(40.0, busy_cuts, lambda t: 0.03 if t < 20 else 0.85)
    audio = engine.generate(cue, seed=0)
    assert level_db(audio, 4.0, 18.0) < level_db(audio, 22.0, 36.0) - 3.0


def test_a_long_cue_breathes_a_loudness_range_like_a_score(engine):
    """A 45 s cue whose picture calms and builds: its loudness range (EBU Tech 3342) sits in
    the 7–11 LU of composed music, not the ~4 LU of a flat groove."""
    cuts = np.concatenate([np.arange(2.0, 14.0, 2.5), np.arange(26.0, 44.0, 1.8)])
    cue = picture(45.0, cuts, lambda t: 0.2 + 0.6 * (t > 24))
    audio = engine.generate(cue, seed=0)
    assert 6.0 <= loudness_range(audio) <= 13.0


def loudness_range(audio: np.ndarray) -> float:
    """EBU Tech 3342 LRA of `audio` at RATE: 3 s short-term loudness, gated, 95th − 10th."""
    import pyloudnorm

    meter = pyloudnorm.Meter(RATE)
    values = []
    for start in np.arange(0.0, audio.shape[1] / RATE - 3.0, 0.5):
        block = audio[:, int(start * RATE) : int((start + 3.0) * RATE)].T.astype(np.float64)
        values.append(meter.integrated_loudness(block))
    values = np.array([v for v in values if v > -70])
    values = values[values > 10 * np.log10(np.mean(10 ** (values / 10))) - 20]
    return float(np.percentile(values, 95) - np.percentile(values, 10))


def test_stems_sum_to_the_mix_60_db_down_and_each_holds_its_instruments(engine):
    cue = picture(12.0, CUTS[:3], lambda t: 0.5)
    mix, score = engine.generate_with_score(cue, seed=0)
    stems = engine.stems(score, cue.duration)
    assert set(stems) == {"drums", "bass", "harmony", "melody"}
    residual = mix - sum(stems.values())
    assert 10 * np.log10(np.mean(residual**2) / np.mean(mix**2)) < -60
    for name, stem in stems.items():
        assert stem.shape == mix.shape and level_db(stem, 0, 11) > level_db(mix, 0, 11) - 30, name
    spectrum = {n: np.abs(np.fft.rfft(s.mean(axis=0))) ** 2 for n, s in stems.items()}
    freqs = np.fft.rfftfreq(mix.shape[1], 1 / RATE)
    low = {n: s[freqs < 150].sum() / s.sum() for n, s in spectrum.items()}
    assert low["bass"] > low["melody"] and low["bass"] > low["harmony"]


def test_takes_are_other_ideas_tempo_8_percent_apart_and_other_keys(engine):
    from gvmgen.align.beats import track_beats

    cue = picture(20.0, [4.3, 9.1, 13.0, 17.2], lambda t: 0.4)
    takes = [engine.generate(cue, seed) for seed in range(3)]
    tempos = [track_beats(t, RATE).tempo for t in takes]
    for a, b in itertools.combinations(tempos, 2):
        assert abs(np.log(a / b)) >= np.log(1.08) - 0.01, tempos
    chroma = [_chroma(t) for t in takes]
    for a, b in itertools.combinations(chroma, 2):
        assert np.corrcoef(a, b)[0, 1] < 0.8  # other keys or modes: the pitch content differs


def test_takes_the_cuts_pin_differ_in_key_and_instrumentation_instead(engine):
    """Cuts every 0.5 s: only 120 BPM keeps them on beats, so every take keeps that tempo."""
    from gvmgen.align.beats import track_beats

    cue = picture(12.0, np.arange(0.5, 12.0, 0.5), lambda t: 0.6)
    takes = [engine.generate(cue, seed) for seed in range(3)]
    tempos = [track_beats(t, RATE).tempo for t in takes]
    assert np.ptp(tempos) / np.mean(tempos) < 0.03, tempos
    chroma = [_chroma(t) for t in takes]
    assert all(np.corrcoef(a, b)[0, 1] < 0.8 for a, b in itertools.combinations(chroma, 2))


def _chroma(audio: np.ndarray) -> np.ndarray:
    import librosa

    chroma = librosa.feature.chroma_stft(y=audio.mean(axis=0), sr=RATE).mean(axis=1)
    return chroma / np.linalg.norm(chroma)
