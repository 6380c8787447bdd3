"""`--stems`: each cue's drums, bass, harmony and melody delivered beside its mix, summing to
it, on tracks of their own in score.otio; an engine with one mix says it has none."""

from __future__ import annotations

import numpy as np
import opentimelineio as otio
import soundfile as sf

from gvmgen.engines import EngineRegistry
from gvmgen.engines.arranger import ArrangerEngine
from gvmgen.pipeline import Scorer, score

STEMS = ("drums", "bass", "harmony", "melody")


def _read(path: str) -> np.ndarray:
    audio, _ = sf.read(path, dtype="float64", always_2d=True)
    return audio.T


def test_stems_sum_to_the_delivered_mix_and_sit_on_their_own_tracks(three_cue_timeline, tmp_path):
    result = score(
        {
            "input": str(three_cue_timeline),
            "out_dir": str(tmp_path / "s"),
            "engine": "arranger",
            "mode": "batch",
            "stems": True,
            "duck_db": 0.0,
        }
    )
    music = [c for c in result.cues if not c.silent]
    assert len(music) == 3
    for cue in music:
        assert sorted(cue.stems) == sorted(STEMS)
        mix = _read(cue.wav)
        stems = [_read(cue.stems[name]) for name in STEMS]
        assert all(s.shape == mix.shape for s in stems)
        residual = mix - sum(stems)  # 24-bit files: each stem rounds on its own
        assert 10 * np.log10(np.mean(residual**2) / np.mean(mix**2)) < -60, cue.name
        assert all(np.sqrt(np.mean(s**2)) > 1e-4 for s in stems)  # every stem plays
    timeline = otio.adapters.read_from_file(result.timeline)
    names = [t.name for t in timeline.audio_tracks()]
    for name in ("GVMGen Drums", "GVMGen Bass", "GVMGen Harmony", "GVMGen Melody"):
        assert name in names
        (track,) = [t for t in timeline.audio_tracks() if t.name == name]
        (score_track,) = [t for t in timeline.audio_tracks() if t.name == "GVMGen Score"]
        assert [c.range_in_parent() for c in track.find_clips()] == [
            c.range_in_parent() for c in score_track.find_clips()
        ]


class OneMix(ArrangerEngine):
    """An engine that makes one mix and nothing else (as GVMGen does)."""

    generate_stems_with_beats = None


def test_an_engine_with_one_mix_says_it_has_no_stems(cut_clip, tmp_path):
    scorer = Scorer(EngineRegistry(engines={"arranger": OneMix()}))
    result = scorer.score(
        {"input": str(cut_clip[0]), "out_dir": str(tmp_path / "o"), "engine": "arranger",
         "range": "0-6", "stems": True}
    )  # fmt: skip
    assert any("no stems" in w for w in result.warnings)
    assert result.cues[0].stems == {} and not list((tmp_path / "o").rglob("*-drums.wav"))
