"""The CLI end to end on synthetic clips with the tiny preset: prepare → run → evaluator →
evaluate (pairs and a finished score folder); user errors end as one line and exit 2."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import RATE, clip, music

from gvmgen.cli import main
from gvmgen.media.audio import write_wav


@pytest.fixture(scope="module")
def flow(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    src = root / "src"
    clip(src / "a.mp4", 2.0, 220.0, cut=25)
    clip(src / "b.mp4", 2.0, 330.0, cut=12)
    (src / "broken.mov").write_bytes(b"garbage" * 50)
    return root


def _json(capsys) -> dict:
    return json.loads(capsys.readouterr().out)


def test_prepare_run_evaluator_evaluate(flow: Path, capsys):
    data, run, ev = flow / "data", flow / "run", flow / "eval"
    assert main(["train", "prepare", str(flow / "src"), "--out", str(data), "--preset", "tiny",
                 "--window", "1", "--json"]) == 0  # fmt: skip
    prepared = _json(capsys)
    assert prepared["windows"] == 4 and prepared["skipped"] == 1
    assert prepared["skipped_items"][0]["item"] == "broken.mov"
    assert main(["train", "run", str(data), "--preset", "tiny", "--steps", "3", "--out",
                 str(run), "--json"]) == 0  # fmt: skip
    assert _json(capsys)["model"] == str(run / "model")
    assert len((run / "metrics.jsonl").read_text().splitlines()) == 3
    assert (
        main(
            [
                "train",
                "run",
                str(data),
                "--preset",
                "tiny",
                "--init",
                str(run / "model"),
                "--steps",
                "2",
                "--out",
                str(flow / "run2"),
            ]
        )
        == 0
    )  # fine-tune a finished run
    capsys.readouterr()
    assert main(["train", "evaluator", str(data), "--out", str(ev), "--preset", "tiny",
                 "--steps", "3", "--hidden", "16", "--layers", "1", "--json"]) == 0  # fmt: skip
    assert _json(capsys)["evaluator"] == str(ev)
    pairs = [str(flow / "src" / "a.mp4"), str(flow / "src" / "b.mp4")]
    assert main(["evaluate", *pairs, "--evaluator", str(ev), "--preset", "tiny", "--json"]) == 0
    report = _json(capsys)
    assert report["windows"] == 4 and report["cmr_group_size"] == 4 and report["cmr_chance"] == 0.25
    assert 0.0 <= report["cmr"] <= 1.0 and 0.0 <= report["ta"] <= 1.0
    assert [p["name"] for p in report["pairs"]] == ["a.mp4", "b.mp4"]
    assert report["cuts"] == 2 and report["pairs"][0]["cuts"] == 1
    write_wav(flow / "other.wav", music(2.0, 550.0), RATE)
    pair = f"{pairs[0]}={flow / 'other.wav'}"  # the picture of a.mp4 against another track
    assert main(["evaluate", pair, "--evaluator", str(ev), "--preset", "tiny", "--json"]) == 0
    assert [p["name"] for p in _json(capsys)["pairs"]] == ["a.mp4"]


def test_evaluate_a_finished_score_folder(flow: Path, capsys):
    scored = flow / "scored"
    video = flow / "src" / "a.mp4"
    assert main(["score", str(video), "--engine", "arranger", "--out", str(scored)]) == 0
    capsys.readouterr()
    assert main(["evaluate", str(scored), "--preset", "tiny", "--json"]) == 0
    report = _json(capsys)
    score = json.loads((scored / "report.json").read_text())
    assert [p["name"] for p in report["pairs"]] == [f"scored/{c['name']}" for c in score["cues"]]
    assert report["cmr"] is None and "--evaluator" in report["note"]
    assert report["hit_rate_50ms"] == pytest.approx(score["cues"][0]["hit_rate_50ms"])


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "run", "nowhere", "--preset", "tiny", "--out", "x"], "not a prepared dataset"),
        (["train", "prepare", "nowhere.mp4", "--out", "x", "--preset", "tiny"], "does not exist"),
        (["evaluate", "nowhere.mp4", "--preset", "tiny"], "does not exist"),
    ],
    ids=["run-no-data", "prepare-no-src", "evaluate-no-file"],
)
def test_user_errors_are_one_line(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and len(err.splitlines()) == 1


def test_a_broken_score_report_is_one_line(tmp_path, capsys):
    (tmp_path / "scored").mkdir()
    (tmp_path / "scored" / "report.json").write_text('{"input": "x.mp4"}')
    assert main(["evaluate", str(tmp_path / "scored"), "--preset", "tiny"]) == 2
    assert "is not a `gvmgen score` report" in capsys.readouterr().err


def test_small_preset_without_snapshots_says_what_to_install(flow, tmp_path, monkeypatch, capsys):
    for name in ("HOME", "GVMGEN_MODELS_DIR", "HF_HUB_CACHE", "HF_HOME"):
        monkeypatch.setenv(name, str(tmp_path / name.lower()))
    argv = [
        "train",
        "prepare",
        str(flow / "src"),
        "--out",
        str(tmp_path / "d"),
        "--preset",
        "small",
    ]
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "facebook/musicgen-small snapshot" in err and len(err.splitlines()) == 1
    assert not (tmp_path / "d").exists()
