"""The controls end to end through `gvmgen score`, judged on what the editor receives: the
delivered WAVs (pyloudnorm, librosa, the ducked copy against the clean one), their bext chunks
(read by wavinfo), the cue sheet, report.json and preview.mp4."""

from __future__ import annotations

import csv
import json
import warnings
from fractions import Fraction

import numpy as np
import opentimelineio as otio
import pytest
import soundfile as sf
from controls_fixtures import SPEECH_REGIONS, SPEECH_WAV
from wavinfo import WavInfoReader

from gvmgen.align.ducking import ATTACK
from gvmgen.align.loudness import METER_OVERSAMPLE, integrated_lufs, true_peak_dbtp
from gvmgen.cli import main
from gvmgen.engines import EngineRegistry
from gvmgen.engines.arranger import ArrangerEngine
from gvmgen.media.synth import make_test_clip
from gvmgen.pipeline import score
from gvmgen.schema import LOUDNESS_PRESETS

RT = otio.opentime.RationalTime
TR = otio.opentime.TimeRange
R = 25.0
SR = 48_000
SPEECH_AT = 2.0  # s into the range where the dialogue clip starts on A1


@pytest.fixture(scope="module")
def picture(tmp_path_factory):
    folder = tmp_path_factory.mktemp("controls_score")
    path = make_test_clip(
        folder / "pic.mp4", rate=Fraction(25), duration=14.0, cut_frames=(100, 200, 275)
    )
    return path, folder


def _timeline(picture_path, folder, markers=(), speech=True, missing=False) -> str:
    """14 s at 25 fps from 01:00:00:00: the picture on V1, the speech fixture on A1 from 2 s."""
    tl = otio.schema.Timeline(name="scene", global_start_time=RT(90_000, R))
    v1 = otio.schema.Track(name="V1")
    ref = otio.schema.ExternalReference(target_url=str(picture_path))
    frames = 300 if missing else 350
    v1.append(
        otio.schema.Clip(name="pic", media_reference=ref, source_range=TR(RT(0, R), RT(frames, R)))
    )
    if missing:
        gone = otio.schema.ExternalReference(target_url=str(folder / "gone.mov"))
        v1.append(
            otio.schema.Clip(
                name="gone", media_reference=gone, source_range=TR(RT(0, R), RT(50, R))
            )
        )
    tl.tracks.append(v1)
    if speech:
        a1 = otio.schema.Track(name="A1", kind=otio.schema.TrackKind.Audio)
        a1.append(otio.schema.Gap(source_range=TR(RT(0, R), RT(int(SPEECH_AT * R), R))))
        dialogue = otio.schema.ExternalReference(target_url=str(SPEECH_WAV))
        a1.append(
            otio.schema.Clip(
                name="dialogue", media_reference=dialogue, source_range=TR(RT(0, R), RT(260, R))
            )
        )
        tl.tracks.append(a1)
    for frame, name in markers:
        tl.tracks.markers.append(
            otio.schema.Marker(name=name, marked_range=TR(RT(frame, R), RT(1, R)))
        )
    path = folder / f"scene-{len(list(folder.glob('*.otio')))}.otio"
    otio.adapters.write_to_file(tl, str(path))
    return str(path)


def gain_curve(ducked: np.ndarray, clean: np.ndarray) -> np.ndarray:
    """The gain (dB) between the two copies every 10 ms: the median of their sample ratio where
    the clean music is clearly above the 24-bit floor (an RMS ratio would smear a transient's
    position inside the frame into a false step)."""
    n = SR // 100
    frames = min(ducked.shape[1], clean.shape[1]) // n
    d = ducked[:, : frames * n].reshape(2, frames, n).transpose(1, 0, 2).reshape(frames, -1)
    c = clean[:, : frames * n].reshape(2, frames, n).transpose(1, 0, 2).reshape(frames, -1)
    ratio = np.where(np.abs(c) > 1e-3, d / np.where(np.abs(c) > 1e-3, c, 1.0), np.nan)
    with warnings.catch_warnings():  # frames of near-silence have no ratio: filled below
        warnings.simplefilter("ignore", RuntimeWarning)
        gain = np.nanmedian(ratio, axis=1)
    gain = np.interp(np.arange(frames), np.flatnonzero(np.isfinite(gain)), gain[np.isfinite(gain)])
    return 20 * np.log10(np.clip(gain, 1e-6, None))


def _read(path) -> np.ndarray:
    audio, rate = sf.read(str(path), dtype="float32", always_2d=True)
    assert rate == SR
    return audio.T


@pytest.fixture(scope="module")
def scored(picture):
    path, folder = picture
    markers = [(int(7.3 * R), "intensity 8"), (int(11 * R), "intensity high")]
    timeline = _timeline(path, folder, markers)
    out = folder / "scored"
    request = {"input": timeline, "out_dir": str(out), "engine": "arranger", "intensity": 2}
    return score(request), out


def test_the_placed_music_dips_under_the_dialogue_and_never_pumps(scored):
    result, _ = scored
    (cue,) = result.cues
    assert cue.clean_wav is not None and cue.clean_wav != cue.wav
    gain = gain_curve(_read(cue.wav), _read(cue.clean_wav))
    frames = len(gain)
    times = np.arange(frames) / 100
    under = np.zeros(frames, bool)
    far = np.ones(frames, bool)
    for start, end in SPEECH_REGIONS:
        under |= (times >= start + SPEECH_AT) & (times < end + SPEECH_AT)
        far &= (times < start + SPEECH_AT - 1.0) | (times > end + SPEECH_AT + 1.0)
    assert np.median(gain[under]) == pytest.approx(-10.0, abs=0.5)
    assert np.abs(gain[far]).max() < 0.2
    assert np.abs(np.diff(gain)).max() <= 10.0 * 0.01 / ATTACK * 1.15 + 0.1
    found = [(r.start, r.end) for r in result.dialogue]
    assert found[0][0] == pytest.approx(SPEECH_REGIONS[0][0] + SPEECH_AT, abs=0.15)
    assert result.duck_db == -10.0


def test_loudness_and_sync_are_measured_on_the_clean_music(scored):
    result, _ = scored
    (cue,) = result.cues
    clean = _read(cue.clean_wav)
    assert integrated_lufs(clean, SR) == pytest.approx(-16.0, abs=0.3)
    assert cue.loudness_lufs == pytest.approx(integrated_lufs(clean, SR), abs=0.05)
    assert true_peak_dbtp(clean, SR, METER_OVERSAMPLE) <= -1.0 + 0.05


def test_an_intensity_marker_steps_the_short_term_loudness(scored):
    import librosa

    result, _ = scored
    clean = _read(result.cues[0].clean_wav)
    mono = librosa.resample(clean.mean(axis=0), orig_sr=SR, target_sr=22_050)
    _, beats = librosa.beat.beat_track(y=mono, sr=22_050, units="time")
    at = float(beats[np.argmin(np.abs(beats - 7.3))])  # the downbeat nearest the marker
    before = integrated_lufs(clean[:, int((at - 3.2) * SR) : int((at - 0.2) * SR)], SR)
    after = integrated_lufs(clean[:, int((at + 0.2) * SR) : int((at + 3.2) * SR)], SR)
    assert after - before >= 3.0
    assert result.controls.markers == ["intensity 8 at 7.28 s"]
    (warning,) = [w for w in result.warnings if "intensity high" in w]
    assert warning.startswith("marker 'intensity high' at 11.00 s into the range ignored")


def test_bext_places_each_wav_at_its_record_in_and_says_whose_music_it_is(scored):
    result, _ = scored
    (cue,) = result.cues
    for path in (cue.wav, cue.clean_wav):
        bext = WavInfoReader(path).bext
        assert bext.time_reference == 3600 * SR  # 01:00:00:00, the range's first frame
        assert bext.originator == "GVMGen Scoring" and bext.originator_ref == result.job_id
        for part in ("engine arranger", f"seed {cue.seed}", "take 1", "no third-party weights"):
            assert part in bext.description
        assert bext.loudness_value == pytest.approx(-16.0, abs=0.05)
    assert "ducked -10 dB" in WavInfoReader(cue.wav).bext.description
    assert cue.licence.startswith("procedural") and cue.non_commercial is False


def test_the_cue_sheet_lists_each_cue(scored):
    result, out = scored
    rows = list(csv.DictReader((out / "cue_sheet.csv").open(newline="")))
    (row,) = rows
    assert (row["cue"], row["record_in"], row["record_out"]) == ("1", "01:00:00:00", "01:00:14:00")
    assert (row["engine"], row["take"], row["non_commercial"]) == ("arranger", "1", "no")
    assert row["duration_tc"] == "00:00:14:00" and float(row["duration_seconds"]) == 14.0
    assert row["file"] == result.cues[0].wav
    assert json.loads((out / "report.json").read_text())["cue_sheet"] == str(out / "cue_sheet.csv")


@pytest.mark.parametrize("preset", list(LOUDNESS_PRESETS))
def test_each_loudness_preset_is_met_on_the_delivered_wav(picture, preset, tmp_path):
    path, _ = picture
    target, ceiling = LOUDNESS_PRESETS[preset]
    out = tmp_path / preset
    code = main(["score", str(path), "--out", str(out), "--engine", "arranger", "--range", "0-6",
                 "--loudness", preset, "--json"])  # fmt: skip
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    (cue,) = report["cues"]
    audio = _read(cue["wav"])
    assert integrated_lufs(audio, SR) == pytest.approx(target, abs=0.3)
    assert true_peak_dbtp(audio, SR, METER_OVERSAMPLE) <= ceiling + 0.05
    assert report["loudness_target"] == [target, ceiling] and report["loudness_standard"] == preset


def test_a_timeline_preview_with_an_offline_clip(picture):
    import av

    path, folder = picture
    timeline = _timeline(path, folder, speech=False, missing=True)
    out = folder / "previewed"
    request = {"input": timeline, "out_dir": str(out), "engine": "arranger", "preview": True,
               "allow_missing_media": True}  # fmt: skip
    result = score(request)
    assert result.preview == str(out / "preview.mp4")
    with av.open(result.preview) as container:
        frames = [f.to_ndarray(format="rgb24") for f in container.decode(video=0)]
    assert len(frames) == 350
    offline = frames[320]
    band = offline[offline.shape[0] // 2 - 5 : offline.shape[0] // 2 + 5]
    assert band[..., 0].mean() > 60 and offline[:10].mean() < 10  # the red title on black


class PictureOnly(ArrangerEngine):
    """An engine the controls cannot steer (as GVMGen), whose weights are CC BY-NC."""

    name = "gvmgen"
    steered_controls = ()

    def provenance(self) -> dict:
        weight = {"source": "test", "licence": "CC-BY-NC-4.0", "non_commercial": True}
        return {"weights": [dict(weight, part=p) for p in ("lm", "vision", "codec")]}


def test_a_picture_only_engine_is_honest_and_flagged_non_commercial(picture, tmp_path):
    path, _ = picture
    engines = EngineRegistry(engines={"gvmgen": PictureOnly()})
    request = {"input": str(path), "out_dir": str(tmp_path / "o"), "engine": "gvmgen",
               "range": "0-8", "mood": "driving", "intensity": 8, "takes": 2}  # fmt: skip
    result = score(request, engines=engines)
    controls = result.controls
    assert any("cannot be told a mood" in line for line in controls.not_applied)
    assert any(line.startswith("intensity 8: the mix only") for line in controls.applied)
    assert any(line.startswith("mood driving: the take placed") for line in controls.applied)
    cue = result.cues[0]
    assert cue.non_commercial is True and "NON-COMMERCIAL" in cue.licence
    assert [w["part"] for w in cue.weights] == ["lm", "vision", "codec"]
    assert "NON-COMMERCIAL" in WavInfoReader(cue.wav).bext.description
    assert all(c.features is not None for t in result.takes for c in t.cues)  # each take's tempo


def test_report_png_shows_the_dialogue_regions(scored):
    from PIL import Image

    result, _ = scored
    picture = np.asarray(Image.open(result.report_picture).convert("RGB")).astype(int)
    dialogue = np.all(np.abs(picture - np.array([200, 170, 90])) < 6, axis=2)
    rows = np.flatnonzero(dialogue.any(axis=1))
    assert len(rows) >= 8  # a lane of them
    columns = np.flatnonzero(dialogue[rows[len(rows) // 2]])
    width = picture.shape[1] - 96 - 24  # the strip between its margins, over 14 s
    first = (columns[0] - 96) / width * 14.0
    assert first == pytest.approx(result.dialogue[0].start, abs=0.1)
