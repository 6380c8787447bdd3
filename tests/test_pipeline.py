"""The scoring pipeline end to end on the arranger: what an editor gets in the output folder."""

from __future__ import annotations

import itertools
import json
import threading
from fractions import Fraction
from pathlib import Path

import numpy as np
import opentimelineio as otio
import pytest
import soundfile as sf

from gvmgen.cli import main
from gvmgen.errors import Cancelled, InputError
from gvmgen.pipeline import score


@pytest.fixture(scope="module")
def scored(cut_clip, tmp_path_factory):
    path, _, _ = cut_clip
    out = tmp_path_factory.mktemp("scored") / "out"
    result = score({"input": str(path), "out_dir": str(out), "engine": "arranger"})
    return result, out


def test_outputs_land_in_the_folder(scored):
    result, out = scored
    names = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
    assert names == {
        "score.otio",
        "report.json",
        "report.png",
        "cue_sheet.csv",
        "takes/take-01/cue-01.wav",
    }
    assert json.loads((out / "report.json").read_text())["engine"] == "arranger"
    assert result.engine_reason == "arranger requested"


def test_wav_is_48k_24bit_and_frame_exact(scored):
    result, _ = scored
    info = sf.info(result.cues[0].wav)
    assert (info.samplerate, info.subtype, info.channels) == (48000, "PCM_24", 2)
    assert info.frames == 300 * 48000 // 25  # 12 s at 25 fps, to the sample


def test_music_is_loud_enough_and_hits_the_cuts(scored):
    result, _ = scored
    (cue,) = result.cues
    audio, _ = sf.read(cue.wav)
    assert np.sqrt(np.mean(audio**2)) > 0.01
    assert abs(result.loudness_lufs - (-16.0)) <= 1.0
    assert cue.hit_rate_1frame >= 0.95, cue.cuts
    assert len(cue.cuts) == 4 and cue.max_stretch <= 0.06 + 1e-9


def test_score_otio_has_the_music_track_at_the_range(scored):
    result, _ = scored
    timeline = otio.adapters.read_from_file(result.timeline)
    (track,) = [t for t in timeline.audio_tracks() if t.name == "GVMGen Score"]
    (clip,) = list(track.find_clips())
    assert clip.range_in_parent().start_time.value == 0
    assert clip.range_in_parent().duration.to_frames() == 300
    assert clip.media_reference.target_url == result.cues[0].wav
    assert timeline.metadata["gvmgen"]["engine"] == "arranger"


def test_regenerate_makes_a_new_take_and_keeps_the_old(cut_clip, tmp_path):
    path = str(cut_clip[0])
    out = tmp_path / "regen"
    first = score({"input": path, "out_dir": str(out), "engine": "arranger", "range": "0-6"})
    again = score(
        {
            "input": path,
            "out_dir": str(out),
            "engine": "arranger",
            "range": "0-6",
            "mode": "regenerate",
        }
    )
    assert [t.take for t in again.takes] == [1, 2]
    assert again.take == 2 and again.cues[0].seed != first.cues[0].seed
    old, new = (sf.read(t.wavs[0])[0] for t in again.takes)
    assert old.shape == new.shape and not np.allclose(old, new)
    timeline = otio.adapters.read_from_file(again.timeline)
    (track,) = [t for t in timeline.audio_tracks() if t.name == "GVMGen Score"]
    assert track.find_clips()[0].media_reference.target_url == again.takes[1].wavs[0]


def test_regenerate_reuses_the_folders_range_and_a_rerun_never_overwrites(cut_clip, tmp_path):
    path, out = str(cut_clip[0]), str(tmp_path / "r")
    first = score({"input": path, "out_dir": out, "engine": "arranger", "range": "1-5"})
    again = score({"input": path, "out_dir": out, "engine": "arranger", "mode": "regenerate"})
    rerun = score({"input": path, "out_dir": out, "engine": "arranger", "range": "1-5"})
    assert (first.range_in, first.range_out) == (again.range_in, again.range_out)
    assert [t.take for t in rerun.takes] == [1, 2, 3]
    assert len({t.seed for t in rerun.takes}) == 3
    assert all(Path(w).exists() for t in rerun.takes for w in t.wavs)


def test_regenerate_needs_an_earlier_score(cut_clip, tmp_path):
    with pytest.raises(InputError, match="nothing to regenerate"):
        score(
            {
                "input": str(cut_clip[0]),
                "out_dir": str(tmp_path / "new"),
                "engine": "arranger",
                "mode": "regenerate",
            }
        )
    assert not (tmp_path / "new").exists()


def test_regenerate_of_another_range_is_refused(cut_clip, tmp_path):
    out = tmp_path / "regen"
    score({"input": str(cut_clip[0]), "out_dir": str(out), "engine": "arranger", "range": "0-6"})
    with pytest.raises(InputError, match="takes are never overwritten"):
        score(
            {
                "input": str(cut_clip[0]),
                "out_dir": str(out),
                "engine": "arranger",
                "range": "2-8",
                "mode": "regenerate",
            }
        )


def test_batch_timeline_cues_follow_markers_without_gap_or_overlap(cut_clip, tmp_path):
    timeline = _timeline_with_cue_markers(cut_clip[0], tmp_path / "batch.otio")
    result = score(
        {
            "input": str(timeline),
            "out_dir": str(tmp_path / "b"),
            "engine": "arranger",
            "mode": "batch",
        }
    )
    assert [c.name for c in result.cues] == ["cue 1", "Cue Intro", "CUE end"]
    out = otio.adapters.read_from_file(result.timeline)
    (track,) = [t for t in out.audio_tracks() if t.name == "GVMGen Score"]
    ranges = [c.range_in_parent() for c in track.find_clips()]
    assert [r.start_time.value for r in ranges] == [0, 100, 250]
    assert all(a.end_time_exclusive() == b.start_time for a, b in itertools.pairwise(ranges))
    assert ranges[-1].end_time_exclusive().value == 400
    for cue, r in zip(result.cues, ranges, strict=True):
        assert sf.info(cue.wav).frames == round(r.duration.value * 48000 / 25)


def _timeline_with_cue_markers(media, target):
    rate = 25
    ref = otio.schema.ExternalReference(
        str(media),
        available_range=otio.opentime.TimeRange(
            otio.opentime.RationalTime(0, rate), otio.opentime.RationalTime(300, rate)
        ),
    )
    track = otio.schema.Track(kind=otio.schema.TrackKind.Video)
    for start, length in ((0, 200), (60, 200)):
        track.append(
            otio.schema.Clip(
                name=f"c{start}",
                media_reference=ref.clone(),
                source_range=otio.opentime.TimeRange(
                    otio.opentime.RationalTime(start, rate),
                    otio.opentime.RationalTime(length, rate),
                ),
            )
        )
    timeline = otio.schema.Timeline(global_start_time=otio.opentime.RationalTime(90000, rate))
    timeline.tracks.append(track)
    for frame, name in ((100, "Cue Intro"), (250, "CUE end"), (180, "not a cue")):
        timeline.tracks.markers.append(
            otio.schema.Marker(
                name=name,
                marked_range=otio.opentime.TimeRange(
                    otio.opentime.RationalTime(frame, rate), otio.opentime.RationalTime(1, rate)
                ),
            )
        )
    otio.adapters.write_to_file(timeline, str(target))
    return target


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        pytest.param(["missing.mp4"], "not found", id="missing-input"),
        pytest.param(["{clip}", "--range", "10-30"], "range", id="range-outside"),
        pytest.param(["{clip}", "--engine", "gvmgen"], "weights", id="gvmgen-without-weights"),
        pytest.param(["{timeline}"], "not found", id="missing-media"),
        pytest.param(["{clip}", "--takes", "9"], "takes", id="too-many-takes"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(
    capsys, tmp_path, cut_clip, argv, message, monkeypatch
):
    monkeypatch.setenv("GVMGEN_MODELS_DIR", str(tmp_path / "no-models"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "no-hf"))
    timeline = _timeline_with_missing_media(tmp_path / "t.otio")
    out = tmp_path / "out"
    argv = [a.format(clip=cut_clip[0], timeline=timeline) for a in argv]
    code = main(["score", *argv, "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err.lower() and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not out.exists()


def _timeline_with_missing_media(target):
    ref = otio.schema.ExternalReference("/nowhere/a.mov")
    clip = otio.schema.Clip(
        name="A001",
        media_reference=ref,
        source_range=otio.opentime.TimeRange(
            otio.opentime.RationalTime(0, 24), otio.opentime.RationalTime(48, 24)
        ),
    )
    track = otio.schema.Track(children=[clip])
    timeline = otio.schema.Timeline()
    timeline.tracks.append(track)
    otio.adapters.write_to_file(timeline, str(target))
    return target


def test_a_failure_midway_leaves_the_folder_as_it_was(cut_clip, tmp_path, monkeypatch):
    out = tmp_path / "keep"
    out.mkdir()
    (out / "mine.txt").write_text("the editor's file")
    import gvmgen.pipeline as pipeline

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(pipeline, "_write_outputs", broken)
    with pytest.raises(RuntimeError):
        score({"input": str(cut_clip[0]), "out_dir": str(out), "engine": "arranger"})
    assert [p.name for p in out.iterdir()] == ["mine.txt"]


def test_cancel_stops_the_run_and_writes_nothing(cut_clip, tmp_path):
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        score(
            {"input": str(cut_clip[0]), "out_dir": str(tmp_path / "c"), "engine": "arranger"},
            cancel=cancel,
        )
    assert not (tmp_path / "c").exists()


def test_29_97_timeline_places_cues_frame_exact(media_dir, tmp_path):
    from gvmgen.media.synth import make_test_clip

    clip = make_test_clip(
        media_dir / "ntsc.mp4", rate=Fraction(30000, 1001), duration=5.0, cut_frames=(71,)
    )
    result = score({"input": str(clip), "out_dir": str(tmp_path / "n"), "engine": "arranger"})
    frames = round(5.0 * 30000 / 1001)
    assert sf.info(result.cues[0].wav).frames == round(frames * 48000 * 1001 / 30000)


def test_premiere_xml_in_gives_premiere_xml_out(cut_clip, tmp_path):
    """An FCP7 XML from Premiere comes back as FCP7 XML with the music on an audio track."""
    otio_path = _timeline_with_cue_markers(cut_clip[0], tmp_path / "cut.otio")
    xml = tmp_path / "cut.xml"
    otio.adapters.write_to_file(
        otio.adapters.read_from_file(str(otio_path)), str(xml), adapter_name="fcp_xml"
    )
    result = score(
        {
            "input": str(xml),
            "out_dir": str(tmp_path / "x"),
            "engine": "arranger",
            "range": "f0-f200",
        }
    )
    (answer,) = result.extra_timelines
    assert answer.endswith("score.xml")
    back = otio.adapters.read_from_file(answer, adapter_name="fcp_xml")
    clips = [c for t in back.audio_tracks() for c in t.find_clips()]
    # the "Cue Intro" marker at frame 100 splits the range into two cues
    assert [c.media_reference.target_url.rsplit("/", 1)[1] for c in clips] == [
        "cue-01.wav",
        "cue-02.wav",
    ]
    assert [c.range_in_parent().duration.to_frames() for c in clips] == [100, 100]


def test_gvmgen_engine_plugs_into_the_pipeline(cut_clip, tmp_path, monkeypatch):
    """The neural engine (tiny random weights) scores two cues; the second continues the first."""
    import gvmgen.engines as engines
    from gvmgen.engines.gvmgen_engine import build_debug_engine

    engine = build_debug_engine(seed=0)
    prompts = []
    generate = engine.generate

    def recording_generate(cue, seed, progress=None, cancel=None):
        prompts.append(None if cue.prompt_audio is None else cue.prompt_audio.shape)
        return generate(cue, seed, progress, cancel)

    monkeypatch.setattr(engine, "generate", recording_generate)
    monkeypatch.setattr(engines, "_gvmgen", lambda models_dir, device="auto": engine)
    timeline = _timeline_with_cue_markers(cut_clip[0], tmp_path / "t.otio")
    result = score(
        {
            "input": str(timeline),
            "out_dir": str(tmp_path / "g"),
            "engine": "gvmgen",
            "range": "f0-f200",
        }
    )
    assert result.engine == "gvmgen" and [c.engine for c in result.cues] == ["gvmgen"] * 2
    assert prompts[0] is None and prompts[1] is not None  # cue 2 hears the end of cue 1
    assert [sf.info(c.wav).frames for c in result.cues] == [100 * 1920, 100 * 1920]
