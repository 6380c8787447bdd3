"""Never deliver silence where the source had music (issue 23): a plan that slipped the music's
in-point used to read past the music's end and deliver a 2 s cue 87 % digital silence."""

from __future__ import annotations

import json

import pytest
import soundfile
from align_music import longest_silence, make_sustained_music
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gvmgen.align import align_to_cuts
from gvmgen.cli import main

RATE = 16000  # enough for kicks and hats; keeps each example cheap
HOLE = 0.050  # s: the longest digital silence allowed where the source had none


@st.composite
def short_cues(draw):
    """(bpm, cue seconds, source seconds, cut times): cues of 2–6 s, music from 0.7× to 1.8×
    the cue, cuts anywhere including float noise such as 6.1 − 6.0 and the cue's very edges."""
    bpm = draw(st.floats(80.0, 160.0))
    cue = draw(st.floats(2.0, 6.0))
    source = cue * draw(st.floats(0.7, 1.8))
    whole = st.floats(0.0, cue, allow_nan=False)
    noisy = st.tuples(st.integers(1, 40), st.floats(0.05, cue - 0.05)).map(
        lambda pair: min((pair[0] + pair[1]) - pair[0], cue)  # e.g. (6 + 0.1) - 6
    )
    edges = st.sampled_from([0.0, 0.1, 6.1 - 6.0, cue - 0.1, cue])
    cuts = draw(st.lists(st.one_of(whole, noisy, edges), min_size=0, max_size=5))
    return bpm, cue, source, sorted(min(c, cue) for c in cuts)


@settings(
    max_examples=25, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow]
)
@given(case=short_cues())
def test_no_hole_in_the_delivered_music(case):
    bpm, cue, source, cuts = case
    music = make_sustained_music(bpm, source, RATE)
    assert longest_silence(music, RATE) == 0.0  # the source has music throughout
    result = align_to_cuts(music, RATE, cuts, duration=cue, fps=24.0)
    assert result.audio.shape[1] == round(cue * RATE)
    assert longest_silence(result.audio, RATE) <= HOLE, result.plan.to_dict()


@pytest.mark.parametrize(
    ("bpm", "source", "cuts"),
    [
        (76.0, 2.0, [1.0]),
        (106.0, 2.0, [1.5]),
        (148.0, 2.0, [1.0]),
        (120.0, 2.0, [6.1 - 6.0, 1.9]),
        (97.0, 3.0, [1.9]),
        (90.0, 3.0, [6.1 - 6.0, 1.9]),
    ],
)
def test_a_two_second_cue_in_the_gvmgen_range_is_music_to_the_end(bpm, source, cuts):
    """A 2 s range as an engine renders it: the music as long as the cue (the last cue has no
    tail to ring under a next one), or 1 s longer. Each case came back with 0.8–1.9 s of
    digital silence before the fix."""
    music = make_sustained_music(bpm, source, RATE)
    result = align_to_cuts(music, RATE, cuts, fps=24.0)
    assert result.audio.shape == music.shape
    assert longest_silence(result.audio, RATE) <= HOLE
    assert longest_silence(result.audio[:, : -RATE // 10], RATE) < 0.001  # a fade-in at most


def test_gvmgen_align_on_a_cut_with_float_noise_delivers_music(tmp_path, capsys):
    """Through the CLI, as the issue found it: a cut at 6.1 − 6.0 s (and one at 1.9 s)."""
    source = tmp_path / "music.wav"
    soundfile.write(str(source), make_sustained_music(90.0, 3.0, RATE).T, RATE)
    out, report = tmp_path / "aligned.wav", tmp_path / "report.json"
    cut = repr(6.1 - 6.0)
    assert (
        main(
            ["align", str(source), "--cuts", f"{cut},1.9", "-o", str(out), "--report", str(report)]
        )
        == 0
    )
    delivered, rate = soundfile.read(str(out), always_2d=True)
    assert rate == RATE and len(delivered) == 3 * RATE
    assert longest_silence(delivered.T, RATE) <= HOLE
    assert json.loads(report.read_text())["silence"] == 0.0


def test_music_shorter_than_the_cue_loops_rather_than_stops():
    music = make_sustained_music(120.0, 2.5, RATE)
    result = align_to_cuts(music, RATE, [1.0, 3.0], duration=4.5, fps=24.0)
    assert result.audio.shape[1] == round(4.5 * RATE)
    assert longest_silence(result.audio, RATE) <= HOLE
    assert all(abs(s.beats - round(s.beats)) < 1e-6 for s in result.plan.splices)
