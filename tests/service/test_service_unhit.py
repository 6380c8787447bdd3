"""A cue's `unhit_cuts` lists exactly the cuts its delivered 48 kHz audio misses: the cuts whose
`hit` (measured on the WAV) is false, not what the plan expected at the engine's rate."""

from __future__ import annotations

from dataclasses import replace
from fractions import Fraction

import pytest

import gvmgen.align
import gvmgen.pipeline
from gvmgen.pipeline import score

CLOSE_CUTS = (50, 58, 121, 127, 190, 197, 262)  # pairs 0.24-0.28 s apart: one of each missed


@pytest.fixture(scope="module")
def close_cut_clip(media_dir):
    from gvmgen.media.synth import make_test_clip

    path = media_dir / "close-cuts.mp4"
    if not path.exists():
        make_test_clip(path, rate=Fraction(25), duration=12.0, cut_frames=CLOSE_CUTS)
    return path


def _misses(cue) -> list[float]:
    return [round(c.time, 3) for c in cue.cuts if not c.hit]


def test_unhit_cuts_are_the_cuts_the_delivered_audio_misses(close_cut_clip, tmp_path):
    result = score(
        {
            "input": str(close_cut_clip),
            "out_dir": str(tmp_path),
            "engine": "arranger",
            "range": "0-12",
        }
    )
    assert any(_misses(cue) for cue in result.cues)  # cuts too close together: some missed
    for cue in result.cues:
        assert cue.unhit_cuts == _misses(cue)


def test_a_cut_the_plan_hit_but_the_delivered_audio_misses_is_unhit(
    cut_clip, tmp_path, monkeypatch
):
    """Measured on the WAV as a miss (here: the first cut's measure turned into one), the cut is
    in `unhit_cuts` though the plan at the engine's rate counted it as hit."""
    measure = gvmgen.align.measure_alignment

    def first_cut_missed(*args, **kwargs):
        metrics = measure(*args, **kwargs)
        rows = [dict(row) for row in metrics.per_cut]
        rows[0].update(hit=False, reason="measured off its beat")
        return replace(metrics, per_cut=rows)

    monkeypatch.setattr(gvmgen.pipeline, "measure_alignment", first_cut_missed)  # its measure
    result = score(
        {"input": str(cut_clip[0]), "out_dir": str(tmp_path), "engine": "arranger", "range": "0-6"}
    )
    (cue,) = result.cues
    assert cue.cuts[0].hit is False
    assert cue.unhit_cuts == _misses(cue) == [round(cue.cuts[0].time, 3)]
