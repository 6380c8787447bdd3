"""The `gvmgen` engine and `gvmgen models`: what a user sees with and without weights."""

from __future__ import annotations

import json
import os
import shutil
import stat
import threading

import numpy as np
import pytest

from gvmgen.cli import main
from gvmgen.engines.base import CueConditioning, MusicEngine
from gvmgen.engines.gvmgen_engine import GVMGenEngine, build_debug_engine, weights_available
from gvmgen.errors import Cancelled, WeightsError


def _cue(duration=0.3, frames=2, prompt_audio=None):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (frames, 24, 40, 3), dtype=np.uint8)
    times = np.arange(frames) * 0.1
    return CueConditioning(duration, pixels, times, prompt_audio=prompt_audio)


def _install(imported, models_dir):
    shutil.copytree(imported[1], models_dir / "gvmgen")


def test_without_weights_one_actionable_line(isolated_dirs, capsys):
    ok, why = weights_available()
    assert not ok
    assert str(isolated_dirs) in why and "gvmgen models import" in why and "\n" not in why
    with pytest.raises(WeightsError, match="gvmgen models import"):
        GVMGenEngine.from_installed()
    assert main(["models", "list"]) == 0
    assert "not ready: no GVMGen weights" in capsys.readouterr().out


def test_verify_json_reports_ok_for_an_imported_directory(imported, capsys):
    assert main(["models", "verify", str(imported[1]), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is True
    assert report["missing"] == report["unexpected"] == report["mismatched"] == []


def test_verify_json_on_a_directory_without_weights(tmp_path, capsys):
    assert main(["models", "verify", str(tmp_path), "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["ok"] is False and "config.json" in report["error"]


def test_import_command_writes_a_verified_directory(official, tmp_path, capsys):
    out = tmp_path / "gvmgen"
    code = main(["models", "import", str(official[1]), "--out", str(out), "--codec",
                 str(official[2]), "--json"])  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["verify"]["ok"] and report["unconsumed"] == []


def test_import_of_a_missing_checkpoint_is_one_line(tmp_path, capsys):
    assert main(["models", "import", str(tmp_path / "nope.bin"), "--out", str(tmp_path)]) == 2
    assert "not found" in capsys.readouterr().err


def test_installed_engine_generates_a_cue(imported, isolated_dirs, capsys):
    _install(imported, isolated_dirs)
    ok, why = weights_available()
    assert ok, why
    assert main(["models", "list", "--json"]) == 0
    listing = json.loads(capsys.readouterr().out)
    assert listing["ready"] and [s["kind"] for s in listing["snapshots"]] == ["gvmgen"]
    engine = GVMGenEngine.from_installed(device="cpu")
    assert isinstance(engine, MusicEngine)
    audio = engine.generate(_cue(), seed=3)
    assert audio.shape == (1, 9600) and audio.dtype == np.float32
    assert np.array_equal(audio, engine.generate(_cue(), seed=3))


def test_debug_engine_honours_the_protocol():
    engine = build_debug_engine(seed=1)
    assert (engine.name, engine.sample_rate, engine.window_seconds) == ("gvmgen", 32000, 30.0)
    assert engine.needs_gpu and engine.takes_prompt_audio
    calls = []
    audio = engine.generate(_cue(0.25), seed=0, progress=lambda f, m: calls.append(f))
    assert audio.shape == (1, 8000) and np.abs(audio).max() <= 1.0
    assert calls and calls[-1] == 1.0
    tail = np.zeros((2, 3200), np.float32)  # a stereo tail of the previous cue
    assert engine.generate(_cue(0.2, prompt_audio=tail), seed=0).shape == (1, 6400)
    assert engine.generate(_cue(0.1, frames=0), seed=0).shape == (1, 3200)


def test_debug_engine_cancels():
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        build_debug_engine().generate(_cue(), seed=0, cancel=cancel)


def _cache_snapshot(hf_hub, repo: str, source) -> None:
    """Place a snapshot the way huggingface_hub lays out its cache."""
    target = hf_hub / f"models--{repo.replace('/', '--')}" / "snapshots" / "0123abc"
    shutil.copytree(source, target)


def test_import_finds_encodec_in_the_offline_hf_cache(official, isolated_dirs, tmp_path, capsys):
    _cache_snapshot(tmp_path / "hf-hub", "facebook/encodec_32khz", official[2])
    assert main(["models", "import", str(official[1]), "--out", str(isolated_dirs / "gvmgen")]) == 0
    assert "encodec snapshot" in capsys.readouterr().out
    assert weights_available()[0]
    assert main(["models", "list"]) == 0
    listing = capsys.readouterr().out
    assert "facebook/encodec_32khz" in listing and "hf cache" in listing and "ready:" in listing


def test_import_without_any_encodec_fails_before_writing_anything(official, isolated_dirs, capsys):
    out = isolated_dirs / "gvmgen"
    code = main(["models", "import", str(official[1]), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 2 and "no EnCodec 32 kHz" in err and "--codec" in err
    assert len(err.strip().splitlines()) == 2  # "importing ..." and the one-line error
    assert not out.exists() and not isolated_dirs.exists()
    assert not weights_available()[0]


def test_imported_files_follow_the_umask(official, tmp_path):
    for umask, expected in ((0o022, 0o644), (0o002, 0o664)):
        out = tmp_path / f"umask-{umask:o}"
        previous = os.umask(umask)
        try:
            assert main(["models", "import", str(official[1]), "--out", str(out),
                         "--codec", str(official[2])]) == 0  # fmt: skip
        finally:
            os.umask(previous)
        modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in out.iterdir()}
        assert modes == {"model.safetensors": expected, "config.json": expected}


def test_missing_weights_message_names_the_published_checkpoint_and_the_command(isolated_dirs):
    _, why = weights_available()
    assert "https://drive.google.com/drive/folders/1OKVQlz7TPKEGTPEK-BiH1tJ3FYT11GON" in why
    assert f"gvmgen models import /path/to/state_dict.bin --out {isolated_dirs / 'gvmgen'}" in why


def test_licence_of_every_weight_is_recorded_at_import_and_listed(
    official, isolated_dirs, tmp_path, capsys
):
    readme = "---\nlicense: cc-by-nc-4.0\ntags:\n- encodec\n---\n# EnCodec\n"
    codec = tmp_path / "encodec_32khz"
    shutil.copytree(official[2], codec)
    (codec / "README.md").write_text(readme)
    assert main(["models", "import", str(official[1]), "--out", str(isolated_dirs / "gvmgen"),
                 "--codec", str(codec)]) == 0  # fmt: skip
    capsys.readouterr()
    assert main(["models", "list", "--json"]) == 0
    weights = {w["part"]: w for w in json.loads(capsys.readouterr().out)["gvmgen"]["weights"]}
    assert set(weights) == {"lm", "vision", "codec"}
    assert weights["lm"]["licence"] == weights["vision"]["licence"] == "CC-BY-NC-4.0"
    assert str(official[1]) in weights["lm"]["source"]
    assert (
        weights["codec"]["licence"] == "cc-by-nc-4.0"
        and "encodec_32khz" in weights["codec"]["source"]
    )
    assert all(w["non_commercial"] is True for w in weights.values())
    assert main(["models", "list"]) == 0
    listing = capsys.readouterr().out
    assert listing.count("NON-COMMERCIAL") == 3 and "no third-party weights" in listing
    from gvmgen.model.provenance import installed_provenance

    assert installed_provenance()["weights"] == list(weights.values())


def test_a_licence_given_at_import_is_recorded_for_the_checkpoint(official, tmp_path):
    from gvmgen.model.provenance import read_provenance

    out = tmp_path / "gvmgen"
    assert main(["models", "import", str(official[1]), "--out", str(out), "--codec",
                 str(official[2]), "--licence", "Apache-2.0"]) == 0  # fmt: skip
    weights = {w["part"]: w for w in read_provenance(out)["weights"]}
    assert weights["lm"]["licence"] == "Apache-2.0" and weights["lm"]["non_commercial"] is False
    assert weights["codec"]["licence"] == "unknown" and weights["codec"]["non_commercial"] is None


def test_window_policy_is_recorded_at_import_and_reported_by_the_engine(
    official, isolated_dirs, capsys
):
    out = isolated_dirs / "gvmgen"
    assert main(["models", "import", str(official[1]), "--out", str(out), "--codec",
                 str(official[2]), "--windows", "official"]) == 0  # fmt: skip
    generation = json.loads((out / "config.json").read_text())["generation"]
    assert generation["windows"] == "official"
    assert (generation["window_seconds"], generation["prompt_seconds"]) == (32.0, 14.0)
    engine = GVMGenEngine.from_installed(device="cpu")
    assert engine.window_seconds == 32.0
    record = engine.provenance()
    assert record["windows"] == "official" and record["precision"] == "fp32"
    assert [w["part"] for w in record["weights"]] == ["lm", "vision", "codec"]
    capsys.readouterr()
    assert main(["models", "list"]) == 0
    assert "long cues: official windows" in capsys.readouterr().out
    with pytest.raises(SystemExit) as refused:  # argparse: one line naming the choices
        main(["models", "import", str(official[1]), "--out", str(out), "--windows", "x"])
    assert refused.value.code == 2 and "choose from 'per-window', 'official'" in (
        capsys.readouterr().err
    )


def test_report_carries_each_cues_weights_licences_precision_and_windows(
    imported, isolated_dirs, tmp_path
):
    from gvmgen.media.synth import make_test_clip

    _install(imported, isolated_dirs)
    clip = make_test_clip(tmp_path / "clip.mp4", duration=3.0, cut_frames=[40])
    out = tmp_path / "out"
    assert main(["score", str(clip), "--engine", "gvmgen", "--out", str(out), "--seed", "1"]) == 0
    cues = json.loads((out / "report.json").read_text())["cues"]
    assert cues and all(not c["silent"] for c in cues)
    for cue in cues:
        assert [w["part"] for w in cue["weights"]] == ["lm", "vision", "codec"]
        assert cue["non_commercial"] is True and "NON-COMMERCIAL" in cue["licence"]
        run = cue["engine_run"]
        assert (run["precision"], run["windows"], run["retries"]) == ("fp32", "per-window", [])
        assert run["precision_policy"] == "fp32 throughout"
