"""`gvmgen train prepare | run | evaluator`: fine-tune GVMGen, and train its evaluation model.

    gvmgen train prepare SRC --out DATA [--preset tiny|small|medium | --init SNAPSHOT]
    gvmgen train run DATA --preset tiny|small|medium [--init SNAPSHOT] [--steps N] --out RUN
    gvmgen train evaluator DATA --out EVAL [--architecture fixed|faithful] [--steps N]

`run` scales out unchanged under torchrun (one process per GPU, any number of nodes).
"""

from __future__ import annotations

import argparse
import json
import os
import sys


def add_parser(subparsers, help_text: str) -> None:
    parser = subparsers.add_parser("train", help=help_text, description=help_text)
    actions = parser.add_subparsers(dest="train_action", metavar="ACTION")
    _add_prepare(actions)
    _add_run(actions)
    _add_evaluator(actions)


def add_model_options(parser: argparse.ArgumentParser, preset_default: str | None) -> None:
    """Where the frozen CLIP / EnCodec (and the weights to train) come from."""
    parser.add_argument(
        "--preset",
        choices=("tiny", "small", "medium"),
        default=preset_default,
        required=preset_default is None,
        help="tiny: random debug-sized weights (tests); small / medium: MusicGen + CLIP "
        "snapshots found offline",
    )
    parser.add_argument(
        "--init", metavar="SNAPSHOT", help="start from a GVMGen weights directory instead"
    )
    parser.add_argument(
        "--models-dir",
        help="models directory (default: $GVMGEN_MODELS_DIR or ~/.cache/gvmgen/models)",
    )


def _add_prepare(actions) -> None:
    prep = actions.add_parser("prepare", help="cut pairs into aligned windows, encode with EnCodec")
    prep.add_argument(
        "src", metavar="SRC", help="folder of videos (+ music files), video, or .jsonl"
    )
    prep.add_argument("--out", required=True, metavar="DATA", help="dataset folder (resumable)")
    add_model_options(prep, "small")
    prep.add_argument("--window", type=float, default=30.0, help="seconds per window (30)")
    prep.add_argument("--stride", type=float, help="seconds between window starts (= window)")
    prep.add_argument("--fps", type=float, default=1.0, help="frames per second (1)")
    prep.add_argument(
        "--cache-clip", action="store_true", help="store the frozen CLIP outputs, not pixels"
    )
    prep.add_argument("--json", action="store_true", help="print the summary as JSON")


def _add_run(actions) -> None:
    run = actions.add_parser("run", help="train (or resume) GVMGen on a prepared dataset")
    run.add_argument("data", metavar="DATA", help="folder written by `train prepare`")
    run.add_argument("--out", required=True, metavar="RUN", help="run folder (resumes if present)")
    add_model_options(run, None)
    run.add_argument("--steps", type=int, help="total optimiser steps (preset default)")
    run.add_argument("--batch-size", type=int, help="windows per process per step")
    run.add_argument("--lr", type=float, help="peak learning rate")
    run.add_argument("--warmup", type=int, dest="warmup_steps", help="warm-up steps")
    run.add_argument(
        "--ema", type=float, dest="ema_decay", help="EMA decay (e.g. 0.99); off by default for tiny"
    )
    run.add_argument("--precision", choices=("auto", "fp32", "bf16", "fp16"), help="autocast")
    run.add_argument("--optimizer", choices=("adamw", "dadapt-adam"), help="adamw (default)")
    run.add_argument("--checkpoint-every", type=int, help="steps between checkpoints")
    run.add_argument("--log-every", type=int, help="steps between metrics lines")
    run.add_argument("--seed", type=int, help="data order and dropout seed (2036)")
    run.add_argument(
        "--cfg-per-batch", action="store_true", help="CFG dropout once per batch (official)"
    )
    run.add_argument("--json", action="store_true", help="print the summary as JSON")


def _add_evaluator(actions) -> None:
    ev = actions.add_parser("evaluator", help="train the evaluation model (CMR / TA)")
    ev.add_argument("data", metavar="DATA", help="folder written by `train prepare`")
    ev.add_argument("--out", required=True, metavar="EVAL", help="evaluator folder")
    add_model_options(ev, None)
    ev.add_argument(
        "--architecture",
        choices=("fixed", "faithful"),
        default="fixed",
        help="see docs/training.md",
    )
    ev.add_argument("--steps", type=int, default=2000, help="optimiser steps per model (2000)")
    ev.add_argument("--hidden", type=int, default=512, help="width (512, official)")
    ev.add_argument("--layers", type=int, default=4, help="cross blocks (4, official)")
    ev.add_argument("--json", action="store_true", help="print the summary as JSON")


def run(args) -> int:
    from gvmgen.errors import InputError

    action = getattr(args, "train_action", None)
    if action == "prepare":
        return _prepare(args)
    if action == "run":
        return _run(args)
    if action == "evaluator":
        return _evaluator(args)
    raise InputError("choose an action: gvmgen train prepare | run | evaluator")


def _model(args):
    from gvmgen.train.presets import build_training_model

    return build_training_model(args.preset, args.init, args.models_dir)


def _prepare(args) -> int:
    from gvmgen.commands.progress import ProgressBar
    from gvmgen.train.prepare import PrepareOptions, prepare

    options = PrepareOptions(args.window, args.stride, args.fps, args.cache_clip)
    options.validate()
    model = _model(args)
    with ProgressBar("prepare") as progress:
        summary = prepare(args.src, args.out, model, options, progress)
    if args.json:
        print(json.dumps(dict(summary.to_dict(), skipped_items=summary.skipped), indent=2))
        return 0
    s = summary
    print(
        f"{s.prepared} items prepared ({s.resumed} earlier), {s.windows} windows, "
        f"{len(s.skipped)} skipped, {s.silent_windows} silent windows dropped, {s.seconds:.1f} s"
    )
    for row in s.skipped:
        print(f"  skipped {row['item']}: {row['reason']}")
    print(f"dataset: {args.out}")
    return 0


def _run(args) -> int:
    from gvmgen.commands.progress import ProgressBar
    from gvmgen.train.presets import preset_settings
    from gvmgen.train.trainer import train

    settings = preset_settings(
        args.preset, steps=args.steps, batch_size=args.batch_size, lr=args.lr,
        warmup_steps=args.warmup_steps, ema_decay=args.ema_decay, precision=args.precision,
        optimizer=args.optimizer, checkpoint_every=args.checkpoint_every,
        log_every=args.log_every, seed=args.seed, init=args.init,
        cfg_per_sample=False if args.cfg_per_batch else None,
    )  # fmt: skip
    with ProgressBar("train") as progress:
        summary = train(args.data, args.out, settings, args.models_dir, progress)
    if os.environ.get("RANK", "0") != "0":  # under torchrun only rank 0 reports
        return 0
    if args.json:
        print(json.dumps(summary, indent=2))
    elif "model" in summary:
        print(
            f"{summary['steps']} steps, last loss {summary['last_loss']:.4f}; "
            f"model: {summary['model']}"
        )
        print(
            f"score with it: GVMGEN_MODELS_DIR={args.out} "
            "gvmgen score VIDEO --engine gvmgen --out DIR"
        )
    elif summary.get("finished") is False:
        print(f"stopped at step {summary['steps']}", file=sys.stderr)
    return 0


def _evaluator(args) -> int:
    from gvmgen.model.evaluator import EvaluatorConfig
    from gvmgen.train.dataset import WindowDataset
    from gvmgen.train.evaluator_training import (
        EvaluatorTraining,
        dataset_features,
        save_evaluator,
        train_evaluator,
    )
    from gvmgen.train.presets import model_fingerprint
    from gvmgen.train.trainer import check_dataset_fits

    data = WindowDataset(args.data)
    model = _model(args)
    check_dataset_fits(data.meta, model)
    print(f"features of {len(data)} windows ...", file=sys.stderr)
    video, music = dataset_features(model, data)
    config = EvaluatorConfig(
        video_dim=video.shape[-1], music_dim=music.shape[-1], hidden=args.hidden,
        num_layers=args.layers, steps=video.shape[1], architecture=args.architecture,
    )  # fmt: skip
    print(f"training the CMR and TA models ({args.steps} steps each) ...", file=sys.stderr)
    evaluator = train_evaluator(
        video, music, config, EvaluatorTraining(steps=args.steps), model_fingerprint(model)
    )
    out = save_evaluator(evaluator, args.out, source=f"gvmgen train evaluator {args.data}")
    if args.json:
        print(json.dumps({"evaluator": str(out), "held_out": evaluator.held_out}, indent=2))
    else:
        print(f"evaluator: {out}")
        _print_held_out(evaluator.held_out)
    return 0


def _print_held_out(held_out: dict) -> None:
    if not held_out:
        print("  (too few windows for a held-out check)")
        return
    for kind in ("matched", "shuffled"):
        row = held_out[kind]
        print(
            f"  held-out {kind:8s} CMR {row['cmr']:.3f} (chance {row['cmr_chance']:.3f}), "
            f"TA {row['ta']:.3f} (chance {row['ta_chance']:.3f})"
        )
