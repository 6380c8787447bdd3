"""docs/editors.md, step by step: a cut exported the way each editor writes it, scored with
`gvmgen score`, and the answer read back the way the editor would import it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote, urlparse

import opentimelineio as otio
import pytest
import soundfile

from gvmgen.cli import main

RATE = 24.0
SHOTS = (47, 70, 40, 83, 52)  # frames; record timecodes show frame 23 (an EDL's rate clue)
OTIOCONVERT = str(Path(sys.executable).with_name("otioconvert"))
OTIOTOOL = str(Path(sys.executable).with_name("otiotool"))


def cut(metadata_for_clip=None, rate: float = RATE) -> otio.schema.Timeline:
    timeline = otio.schema.Timeline(
        name="cut", global_start_time=otio.opentime.RationalTime(3600 * rate, rate)
    )
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    for i, frames in enumerate(SHOTS):
        span = otio.opentime.TimeRange(
            otio.opentime.RationalTime(0, rate), otio.opentime.RationalTime(frames, rate)
        )
        clip = otio.schema.Clip(
            name=f"A{i + 1:03d}",
            media_reference=otio.schema.ExternalReference(f"/offline/A{i + 1:03d}.mov", span),
            source_range=span,
        )
        if metadata_for_clip:
            clip.metadata.update(metadata_for_clip())
        track.append(clip)
    timeline.tracks.append(track)
    return timeline


def avid_clip_metadata():
    import aaf2

    return {"AAF": {"MobID": str(aaf2.mobid.MobID.new())}}  # what Avid's own clips carry


def score(path: Path, out: Path, *extra: str) -> None:
    args = ["score", str(path), "--out", str(out), "--engine", "arranger", "--edit-points-only"]
    assert main([*args, *extra]) == 0


def score_clips(answer: Path, rate: float = RATE) -> list[tuple[int, int, Path]]:
    """(start, frames, WAV) of each music clip of an answer file, in track time."""
    timeline = otio.adapters.read_from_file(str(answer))
    clips = [
        (track.range_of_child(clip), wav_of(clip))
        for track in timeline.audio_tracks()
        for clip in track.find_clips(shallow_search=True)
        if "takes" in getattr(clip.media_reference, "target_url", "")
    ]
    assert clips, f"no score clips in {answer}"
    return [
        (round(span.start_time.to_seconds() * rate), round(span.duration.to_seconds() * rate), wav)
        for span, wav in clips
    ]


def wav_of(clip) -> Path:
    url = clip.media_reference.target_url
    return Path(unquote(urlparse(url).path) if url.startswith("file:") else url)


def assert_score_covers(clips, first: int, frames: int, rate: float = RATE) -> None:
    starts = [start for start, _, _ in clips]
    assert starts[0] == first and sum(length for _, length, _ in clips) == frames
    for (start, length, wav), nxt in zip(clips, [*starts[1:], first + frames], strict=True):
        assert start + length == nxt  # end to end
        info = soundfile.info(wav)
        assert abs(info.frames / info.samplerate * rate - length) < 1


@pytest.mark.parametrize(
    ("suffix", "adapter", "answer", "marked"),
    [
        (".xml", "fcp_xml", "score.xml", "01:00:01:23-01:00:06:00"),
        # the fcpx_xml adapter reads a project from 00:00:00:00: frames from the start
        (".fcpxml", "fcpx_xml", "score.fcpxml", "f47-f144"),
        (".otio", "otio_json", "score.otio", "01:00:01:23-01:00:06:00"),
    ],
    ids=["premiere", "final-cut", "kdenlive"],
)
def test_exported_cut_comes_back_in_its_own_format(tmp_path, suffix, adapter, answer, marked):
    exported = tmp_path / f"cut{suffix}"
    otio.adapters.write_to_file(cut(), str(exported), adapter_name=adapter)
    score(exported, tmp_path / "scored", "--range", marked)
    first = 47  # 01:00:01:23 at 24 fps, counted from the start
    assert_score_covers(score_clips(tmp_path / "scored" / answer), first, 144 - first)


def test_avid_aaf_in_and_an_aaf_made_from_score_otio(tmp_path):
    exported = tmp_path / "cut.aaf"
    otio.adapters.write_to_file(cut(avid_clip_metadata), str(exported), adapter_name="AAF")
    out = tmp_path / "scored"
    score(exported, out, "--range", "f0-f117")
    assert_score_covers(score_clips(out / "score.otio"), 0, 117)
    if not (out / "score.aaf").exists():  # the adapter cannot give new WAVs MobIDs
        command = [OTIOCONVERT, "-i", str(out / "score.otio"), "-o", str(out / "score.aaf")]
        subprocess.run([*command, "-A", "use_empty_mob_ids=True"], check=True)
    assert_score_covers(score_clips(out / "score.aaf"), 0, 117)


def test_an_edl_cut_list_is_scored_whole_and_answered_in_otio_and_fcp7_xml(tmp_path):
    # at 30 fps the frame fields reach 29, which tells the rate (a 24 fps EDL needs --rate)
    exported = tmp_path / "cut.edl"
    otio.adapters.write_to_file(cut(rate=30.0), str(exported), adapter_name="cmx_3600")
    out = tmp_path / "scored"
    score(exported, out, "--mode", "batch")
    assert not list(out.glob("score.edl"))  # a cut list cannot carry music back
    assert_score_covers(score_clips(out / "score.otio", 30.0), 0, sum(SHOTS), 30.0)
    # the EDL's clips name tapes, not files: FCP7 XML gets the score track alone
    only_score = ["--only-tracks-with-name", "GVMGen Score"]
    subprocess.run(
        [OTIOTOOL, "-i", str(out / "score.otio"), *only_score, "-o", str(out / "score.xml")],
        check=True,
    )
    assert_score_covers(score_clips(out / "score.xml", 30.0), 0, sum(SHOTS), 30.0)
