"""The bext chunk of a delivered WAV, read back by an independent BWF parser (wavinfo)."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest
import soundfile as sf
from wavinfo import WavInfoReader

from gvmgen.media.audio import write_wav
from gvmgen.media.bwf import ORIGINATOR, BextInfo, add_bext, coding_history, samples_since_midnight


def test_bext_places_and_names_the_file_and_keeps_the_audio(tmp_path):
    audio = (0.1 * np.sin(np.linspace(0, 400, 48_000))).astype(np.float32)[None].repeat(2, 0)
    path = write_wav(tmp_path / "cue-01.wav", audio, 48_000)
    before, _ = sf.read(str(path), dtype="float32")
    reference = samples_since_midnight(86_400 + 240, 24.0)  # 01:00:10:00 at 24 fps
    description = "GVMGen cue 1; engine arranger; seed 7; take 2; licence: procedural"
    add_bext(
        path,
        BextInfo(
            description,
            reference,
            originator_reference="job-42",
            loudness_lufs=-16.02,
            true_peak_dbtp=-1.3,
            coding_history=coding_history(48_000, 24, 2, "0.1.0"),
            created=datetime(2026, 12, 7, 9, 30, 5),
        ),
    )
    bext = WavInfoReader(str(path)).bext
    assert bext.time_reference == reference == 3610 * 48_000
    assert bext.originator == ORIGINATOR
    assert bext.originator_ref == "job-42"
    assert bext.description == description
    assert bext.originator_date == "2026-12-07" and bext.originator_time == "09:30:05"
    assert bext.loudness_value == pytest.approx(-16.02)
    assert bext.max_true_peak == pytest.approx(-1.3)
    assert bext.coding_history.startswith("A=PCM,F=48000,W=24,M=stereo")
    after, rate = sf.read(str(path), dtype="float32")  # still a plain WAV to everything else
    assert rate == 48_000 and np.array_equal(after, before)


def test_rewriting_replaces_the_chunk(tmp_path):
    path = write_wav(tmp_path / "a.wav", np.zeros((2, 480), np.float32), 48_000)
    add_bext(path, BextInfo("first", 1))
    add_bext(path, BextInfo("second", 2))
    assert path.read_bytes().count(b"bext") == 1
    assert WavInfoReader(str(path)).bext.description == "second"


def test_ntsc_time_reference_counts_real_seconds():
    # 01:00:00:00 at 29.97 NDF is frame 108000: 3603.6 s of real time
    assert samples_since_midnight(108_000, 30000 / 1001) == 172_972_800
