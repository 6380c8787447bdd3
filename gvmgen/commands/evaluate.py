"""`gvmgen evaluate PAIRS… [--evaluator EVAL] [--json]`: does the music fit the picture?

PAIRS are videos (with their own music track), `VIDEO=MUSIC` pairs, JSONL manifests, or
finished `gvmgen score` output folders (picture against the delivered music of each cue).
Reports CMR (fixed groups of 16) and TA from an evaluation model trained with
`gvmgen train evaluator`, beside the cut hits measured on the music by `gvmgen.align`.
"""

from __future__ import annotations

import json


def add_parser(subparsers, help_text: str) -> None:
    from gvmgen.commands.train import add_model_options

    parser = subparsers.add_parser("evaluate", help=help_text, description=help_text)
    parser.add_argument(
        "pairs", nargs="+", metavar="PAIR", help="video, VIDEO=MUSIC, .jsonl or score folder"
    )
    parser.add_argument(
        "--evaluator", metavar="EVAL", help="folder written by `gvmgen train evaluator`"
    )
    add_model_options(parser, "small")
    parser.add_argument("--group", type=int, default=16, help="CMR group size (16)")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")


def run(args) -> int:
    from gvmgen.commands.progress import ProgressBar
    from gvmgen.errors import InputError
    from gvmgen.train.evaluation import evaluate, excerpts_from_args
    from gvmgen.train.evaluator_training import check_features, load_evaluator
    from gvmgen.train.presets import build_training_model

    if args.group < 2:
        raise InputError(f"--group must be at least 2, got {args.group}")
    excerpts = excerpts_from_args(args.pairs)
    evaluator = load_evaluator(args.evaluator) if args.evaluator else None
    model = build_training_model(args.preset, args.init, args.models_dir)
    if evaluator is not None:
        check_features(evaluator, model)
    with ProgressBar("evaluate") as progress:
        report = evaluate(excerpts, model, evaluator, args.group, progress)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print_report(report)
    return 0


def _figure(value, spec: str = ".3f") -> str:
    return "—" if value is None else format(value, spec)


def print_report(report: dict) -> None:
    print(f"  {'pair':<32} {'windows':>7} {'TA':>6} {'cuts':>5} {'hits ±1f':>8} {'±50ms':>6}")
    for row in report["pairs"]:
        print(
            f"  {row['name'][:32]:<32} {row['windows']:>7} {_figure(row.get('ta')):>6} "
            f"{row['cuts']:>5} {_figure(row['hit_rate_1frame'], '.0%'):>8} "
            f"{_figure(row['hit_rate_50ms'], '.0%'):>6}"
        )
    if report.get("cmr") is not None:
        print(
            f"CMR {report['cmr']:.3f} over {report['cmr_groups']} group(s) of "
            f"{report['cmr_group_size']} (chance {report['cmr_chance']:.3f})"
        )
    if report.get("ta") is not None:
        print(f"TA  {report['ta']:.3f} (chance {report['ta_chance']:.3f})")
    print(
        f"cut hits: ±1 frame {_figure(report['hit_rate_1frame'], '.0%')}, ±50 ms "
        f"{_figure(report['hit_rate_50ms'], '.0%')}, ±100 ms "
        f"{_figure(report['hit_rate_100ms'], '.0%')} over {report['cuts']} cuts"
    )
    if report.get("note"):
        print(report["note"])
