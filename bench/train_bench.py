"""Training on real clips: `train prepare` on ../shared/media/real (plus planted bad files),
then `train run --preset tiny` for 40 steps; and the evaluator's matched-vs-shuffled check on
synthetic features for both architectures.

    .venv/bin/python bench/train_bench.py [--media DIR] [--steps 40] [--skip-evaluator]

The tiny preset's CLIP and EnCodec are **random** (debug-sized, built from config): no real
weights are on this machine and nothing may download. So this measures the pipeline (decode,
alignment, encoding, sharding, training loop) on real files, not musical learning.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from gvmgen.media.audio import write_wav  # noqa: E402
from gvmgen.media.synth import make_test_clip  # noqa: E402
from gvmgen.train.dataset import read_jsonl  # noqa: E402
from gvmgen.train.prepare import PrepareOptions, prepare  # noqa: E402
from gvmgen.train.presets import build_training_model, preset_settings  # noqa: E402
from gvmgen.train.trainer import train  # noqa: E402


def planted_source(media: Path, root: Path) -> Path:
    """The real clips (linked) plus one broken file, one silent pair, one video without audio."""
    src = root / "src"
    src.mkdir(parents=True)
    for path in sorted(media.glob("*.mp4")):
        (src / path.name).symlink_to(path)
    (src / "broken.mp4").write_bytes(b"\x00" * 4096)
    first = sorted(media.glob("*.mp4"))[0]
    (src / "silent.mp4").symlink_to(first)
    write_wav(src / "silent.wav", np.zeros((1, 48000 * 15), np.float32), 48000)
    make_test_clip(src / "no_audio.mp4", duration=12.0, size=(160, 90))
    return src


def real_clips(args, root: Path) -> dict:
    model = build_training_model("tiny")
    src = planted_source(Path(args.media), root)
    started = time.monotonic()
    summary = prepare(
        src, root / "data", model, PrepareOptions(window_seconds=10.0, stride_seconds=5.0)
    )
    prepare_s = time.monotonic() - started
    skipped = read_jsonl(root / "data" / "skipped.jsonl")
    settings = preset_settings("tiny", steps=args.steps, checkpoint_every=args.steps)
    started = time.monotonic()
    train(root / "data", root / "run", settings)
    train_s = time.monotonic() - started
    losses = [r["loss"] for r in read_jsonl(root / "run" / "metrics.jsonl")]
    first, last = losses[0], float(np.mean(losses[-5:]))
    return {
        "items": summary.items, "prepared": summary.prepared, "windows": summary.windows,
        "skipped": [(r["item"], r["reason"]) for r in skipped],
        "prepare_seconds": round(prepare_s, 1), "train_seconds": round(train_s, 1),
        "steps": len(losses), "first_loss": round(first, 3), "last5_loss": round(last, 3),
        "loss_drop": round(1 - last / first, 3),
    }  # fmt: skip


def evaluator_check() -> dict:
    """Held-out matched vs shuffled on synthetic features (as tests/train/test_evaluator.py,
    larger), for the faithful and the fixed architecture."""
    from gvmgen.model.evaluator import EvaluatorConfig
    from gvmgen.train.evaluator_training import EvaluatorTraining, train_evaluator

    sys.path.insert(0, str(ROOT / "tests" / "train"))
    from test_evaluator import synthetic_pairs

    video, music = synthetic_pairs(400)
    out = {}
    for architecture in ("faithful", "fixed"):
        config = EvaluatorConfig(
            video_dim=16, music_dim=12, hidden=32, num_heads=4, num_layers=2, steps=8,
            mlp_dropout=0.1, architecture=architecture,
        )  # fmt: skip
        options = EvaluatorTraining(steps=300, batch_size=64, lr=1e-3)
        held = train_evaluator(video, music, config, options, {}).held_out
        out[architecture] = {
            kind: {k: round(held[kind][k], 3) for k in ("cmr", "ta")}
            for kind in held
            if kind != "windows"
        }
        out[architecture]["chance"] = {"cmr": 1 / 16, "ta": 1 / 8}
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--media", default=str(ROOT.parent / "shared" / "media" / "real"))
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--skip-evaluator", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    root = Path(tempfile.mkdtemp(prefix="gvmgen-train-bench-"))
    try:
        results = {"real_clips": real_clips(args, root)}
        if not args.skip_evaluator:
            results["evaluator_synthetic"] = evaluator_check()
    finally:
        shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
