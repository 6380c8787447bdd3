"""`train prepare`: aligned windows, bad items skipped with reasons, resume after a kill."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from conftest import RATE, clip, music

from gvmgen.errors import InputError
from gvmgen.media.audio import load_audio, write_wav
from gvmgen.train.dataset import WindowDataset, read_jsonl
from gvmgen.train.prepare import PrepareOptions, _audio_window, prepare


def _codes_of(model, audio_32k: np.ndarray) -> torch.Tensor:
    with torch.inference_mode():
        return model.encode_audio(torch.from_numpy(audio_32k)[None, None])[0].to(torch.int16)


def test_windows_take_picture_and_music_from_the_same_start(tmp_path, tiny_model):
    clip(tmp_path / "src" / "long.mp4", 5.0, 220.0, cut=60)
    summary = prepare(tmp_path / "src", tmp_path / "data", tiny_model, PrepareOptions(2.0))
    assert summary.windows == 2  # 0–2 s and 2–4 s; the last second is too short for a window
    data = WindowDataset(tmp_path / "data")
    track, _ = load_audio(tmp_path / "src" / "long.mp4", sample_rate=32000, channels=1)
    for index, start in enumerate((0.0, 2.0)):
        window = data.window(index)
        assert window["start"] == start
        assert window["frame_times"].tolist() == [0.0, 1.0]  # 1 fps by timestamp
        expected = _codes_of(tiny_model, track[0, int(start * 32000) : int((start + 2) * 32000)])
        assert torch.equal(window["codes"], expected)  # music from the window's own start
        assert window["pixels"].shape == (2, 3, 32, 32)


def test_audio_that_starts_late_is_placed_on_the_video_clock():
    music_track = np.ones(32000, np.float32)  # first sample at video time 0.5 s
    window = _audio_window(music_track, offset=0.5, start=0.0, length=2.0, rate=32000)
    assert not window[:16000].any() and window[16000:48000].all() and not window[48000:].any()


def test_bad_items_are_skipped_and_listed(tmp_path, tiny_model):
    src = tmp_path / "src"
    clip(src / "good.mp4", 2.0, 220.0)
    clip(src / "no_audio.mp4", 2.0, None)
    clip(src / "short.mp4", 1.0, 220.0)
    clip(src / "silent.mp4", 2.0, 220.0)
    write_wav(src / "silent.wav", np.zeros((1, 2 * RATE), np.float32), RATE)  # wins over track
    (src / "broken.mp4").write_bytes(b"\x00not a video" * 100)
    write_wav(src / "orphan.wav", music(2.0, 440.0), RATE)
    summary = prepare(src, tmp_path / "data", tiny_model, PrepareOptions(2.0))
    reasons = {
        row["item"]: row["reason"] for row in read_jsonl(tmp_path / "data" / "skipped.jsonl")
    }
    assert summary.prepared == 1 and summary.windows == 1
    assert set(reasons) == {"no_audio.mp4", "short.mp4", "silent.mp4", "broken.mp4", "orphan.wav"}
    assert reasons["no_audio.mp4"].startswith("no audio")
    assert reasons["short.mp4"].startswith("too short")
    assert reasons["silent.mp4"].startswith("silent")
    assert "not a readable media file" in reasons["broken.mp4"]
    assert "no video" in reasons["orphan.wav"]


def test_music_file_beside_a_video_is_its_music(tmp_path, tiny_model):
    src = tmp_path / "src"
    clip(src / "scene.mp4", 2.0, 220.0)
    write_wav(src / "scene.wav", music(2.0, 660.0), RATE)
    prepare(src, tmp_path / "data", tiny_model, PrepareOptions(2.0))
    wav, _ = load_audio(src / "scene.wav", sample_rate=32000, channels=1)
    window = WindowDataset(tmp_path / "data").window(0)
    assert torch.equal(window["codes"], _codes_of(tiny_model, wav[0, :64000]))


def test_manifest_pairs_and_bad_lines(tmp_path, tiny_model):
    clip(tmp_path / "media" / "x.mp4", 2.0, 220.0)
    manifest = tmp_path / "list.jsonl"
    manifest.write_text(json.dumps({"video": "media/x.mp4"}) + "\nnot json\n" + '{"music": 3}\n')
    summary = prepare(manifest, tmp_path / "data", tiny_model, PrepareOptions(2.0))
    skipped = read_jsonl(tmp_path / "data" / "skipped.jsonl")
    assert summary.prepared == 1
    assert [row["item"] for row in skipped] == ["list.jsonl:2", "list.jsonl:3"]
    assert all(row["reason"].startswith("bad manifest line") for row in skipped)


def test_resume_after_a_kill_finishes_each_item_once(tmp_path, tiny_model):
    src = tmp_path / "src"
    for name, pitch in (("a", 220.0), ("b", 330.0), ("c", 440.0)):
        clip(src / f"{name}.mp4", 2.0, pitch)

    def killed_at_b(fraction, message):
        if message.endswith("b.mp4"):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        prepare(src, tmp_path / "data", tiny_model, PrepareOptions(2.0), killed_at_b)
    assert [r["item"] for r in read_jsonl(tmp_path / "data" / "index.jsonl")] == ["a.mp4"]
    summary = prepare(src, tmp_path / "data", tiny_model, PrepareOptions(2.0))
    items = [r["item"] for r in read_jsonl(tmp_path / "data" / "index.jsonl")]
    assert items == ["a.mp4", "b.mp4", "c.mp4"] and summary.resumed == 1
    with pytest.raises(InputError, match="window_seconds"):
        prepare(src, tmp_path / "data", tiny_model, PrepareOptions(1.0))


def test_new_files_in_src_never_overwrite_finished_items(tmp_path, tiny_model):
    src = tmp_path / "src"
    clip(src / "a.mp4", 2.0, 220.0)
    clip(src / "c.mp4", 2.0, 440.0)
    prepare(src, tmp_path / "data", tiny_model, PrepareOptions(2.0))
    clip(src / "b.mp4", 2.0, 330.0)  # sorts between the two finished ones
    prepare(src, tmp_path / "data", tiny_model, PrepareOptions(2.0))
    data = WindowDataset(tmp_path / "data")
    items = [data._shard(ref.shard)["item"] for ref in data.refs]
    assert sorted(items) == ["a.mp4", "b.mp4", "c.mp4"]
