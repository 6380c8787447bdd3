"""`gvmgen models list | verify DIR [--json] | import CHECKPOINT --out DIR`.

`list` shows the GVMGen, MusicGen, EnCodec and CLIP snapshots found in the models directory
($GVMGEN_MODELS_DIR, default ~/.cache/gvmgen/models) and the offline Hugging Face cache, and the
installed GVMGen's weights with their sources and licences (non-commercial ones flagged).
`verify` checks a GVMGen directory's tensors against its config. `import` converts the official
`state_dict.bin` into our format, recording each weight's licence and the window policy.
Nothing is downloaded.
"""

from __future__ import annotations

import argparse
import json
import sys

from gvmgen.model.config import WINDOW_POLICIES


def add_parser(subparsers, help_text: str) -> None:
    parser = subparsers.add_parser("models", help=help_text, description=help_text)
    parser.add_argument(
        "--models-dir",
        help="models directory (default: $GVMGEN_MODELS_DIR or ~/.cache/gvmgen/models)",
    )
    actions = parser.add_subparsers(dest="models_action", metavar="ACTION")
    listing = actions.add_parser("list", help="show installed weights and whether gvmgen can run")
    listing.add_argument("--json", action="store_true", help="print JSON")
    check = actions.add_parser("verify", help="check a GVMGen weights directory")
    check.add_argument("dir", help="directory with config.json and model.safetensors")
    check.add_argument("--json", action="store_true", help="print JSON")
    convert = actions.add_parser("import", help="convert the official GVMGen state_dict.bin")
    convert.add_argument("checkpoint", help="the official state_dict.bin")
    convert.add_argument("--out", required=True, help="directory to write (e.g. MODELS_DIR/gvmgen)")
    convert.add_argument(
        "--codec",
        help="EnCodec 32 kHz or MusicGen snapshot to include "
        "(default: the first one found offline)",
    )
    convert.add_argument(
        "--licence",
        help="the checkpoint's licence, recorded for its weights (default for the official "
        "checkpoint: CC-BY-NC-4.0, MusicGen's, as GVMGen is fine-tuned from it)",
    )
    convert.add_argument(
        "--windows",
        choices=WINDOW_POLICIES,
        default="per-window",
        help="what each window of a cue over 30 s hears: its own frames (per-window, default: "
        "the music follows the picture under it), or every frame of the cue with 32 s windows "
        "and an 18 s stride, as the official code (official)",
    )
    convert.add_argument(
        "--trust-checkpoint",
        action="store_true",
        help="allow full pickle loading (only for files you trust)",
    )
    convert.add_argument("--json", action="store_true", help="print JSON")
    for action in (listing, check, convert):  # also accepted after the action
        action.add_argument("--models-dir", default=argparse.SUPPRESS, help=argparse.SUPPRESS)


def run(args) -> int:
    from gvmgen.errors import InputError

    action = getattr(args, "models_action", None)
    if action == "list":
        return _list(args)
    if action == "verify":
        return _verify(args)
    if action == "import":
        return _import(args)
    raise InputError(
        "choose an action: gvmgen models list | verify DIR | import CHECKPOINT --out DIR"
    )


def _list(args) -> int:
    from gvmgen.model import snapshots
    from gvmgen.model.provenance import installed_provenance

    found = snapshots.find_snapshots(args.models_dir)
    ready, why = snapshots.weights_status(args.models_dir)
    root = str(snapshots.models_dir(args.models_dir))
    installed = installed_provenance(args.models_dir)
    if args.json:
        payload = {
            "models_dir": root,
            "ready": ready,
            "status": why,
            "snapshots": [s.to_dict() for s in found],
            "gvmgen": installed,
        }
        print(json.dumps(payload, indent=2))
        return 0
    print(f"models directory: {root}")
    for snapshot in found:
        print(f"  {snapshot.kind:9s} {snapshot.name:40s} {snapshot.path} ({snapshot.source})")
    if not found:
        print("  (no snapshots found)")
    if installed is not None:
        _print_provenance(installed)
    print(("ready: " if ready else "not ready: ") + why)
    print("the arranger engine uses no third-party weights: its music is procedural")
    return 0


def _print_provenance(installed: dict) -> None:
    print(f"GVMGen at {installed['path']} (long cues: {installed['windows']} windows):")
    for weight in installed["weights"]:
        flag = {True: "  NON-COMMERCIAL", None: "  licence unknown"}.get(
            weight["non_commercial"], ""
        )
        print(f"  {weight['part']:7s} {weight['licence']}{flag}: {weight['source']}")
        if weight.get("note"):
            print(f"          {weight['note']}")


def _verify(args) -> int:
    from gvmgen.model.weights import verify

    report = verify(args.dir, args.models_dir)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        _print_report(report)
    return 0 if report.ok else 1


def _print_report(report) -> None:
    print(f"{report.path}: {'ok' if report.ok else 'NOT ok'}")
    if report.error:
        print(f"  error: {report.error}")
    for title, items in (("missing", report.missing), ("unexpected", report.unexpected)):
        for item in items[:20]:
            print(f"  {title}: {item}")
        if len(items) > 20:
            print(f"  ... and {len(items) - 20} more {title}")
    for item in report.mismatched[:20]:
        print(f"  mismatched: {item['key']} expected {item['expected']} found {item['found']}")
    for note in report.notes:
        print(f"  note: {note}")


def _import(args) -> int:
    from gvmgen.model.importer import import_official
    from gvmgen.model.provenance import read_provenance

    print(f"importing {args.checkpoint} ...", file=sys.stderr)
    report = import_official(
        args.checkpoint,
        args.out,
        codec_dir=args.codec,
        models_dir=args.models_dir,
        trust_pickle=args.trust_checkpoint,
        licence=args.licence,
        windows=args.windows,
    )
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print(f"wrote {report.out}: {report.consumed} tensors imported; EnCodec: {report.codec}")
        _print_report(report.verify)
        _print_provenance(read_provenance(report.out, args.models_dir))
    return 0 if report.verify.ok else 1
