"""Whose weights make GVMGen's music, and under which terms (recorded at import, read cheaply).

`gvmgen models import` records, in the imported `config.json`, every weight the engine will use
— the LM, the vision encoder and the codec — with where it came from and its licence: the one
given with `--licence`, or the one known for the official checkpoint. `installed_provenance()`
reads that back without torch (for `gvmgen models list`, the README and the report); the
engine's `provenance()` adds the window policy and the precision of the cue it made.

The official GVMGen weights are a fine-tune of MusicGen-small, whose weights Meta releases under
CC BY-NC 4.0; the GVMGen authors state no licence for theirs, so we take MusicGen's. Anything
under a licence with a NonCommercial term is flagged `non_commercial`.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from gvmgen.model import snapshots

OFFICIAL_CHECKPOINT_LICENCE = "CC-BY-NC-4.0"
OFFICIAL_CHECKPOINT_NOTE = (
    "GVMGen is fine-tuned from MusicGen-small, whose weights are CC BY-NC 4.0; the GVMGen "
    "authors state no licence of their own for the weights"
)
CLIP_NOTE = (
    "OpenAI CLIP ViT-L/14@336 backbone (MIT), with the Q-Former, ln_post and proj trained by the "
    "GVMGen authors: distributed inside the GVMGen checkpoint, so under its terms"
)
# Licences of the codec snapshots users have, by repository name, where the snapshot does not
# say: audiocraft releases every MusicGen-project weight (EnCodec 32 kHz included) under
# CC BY-NC 4.0, while the encodec_32khz model card carries no licence tag.
KNOWN_LICENCES = {
    "facebook/encodec_32khz": ("CC-BY-NC-4.0", "audiocraft's weights licence (MusicGen project)"),
    "facebook/musicgen-small": ("CC-BY-NC-4.0", "model card"),
    "facebook/musicgen-medium": ("CC-BY-NC-4.0", "model card"),
    "facebook/musicgen-large": ("CC-BY-NC-4.0", "model card"),
    "facebook/musicgen-melody": ("CC-BY-NC-4.0", "model card"),
}
UNKNOWN = "unknown"
PARTS = ("lm", "vision", "codec")


def non_commercial(licence: str) -> bool | None:
    """True for a licence with a NonCommercial term (CC BY-NC …), None when it is unknown."""
    if not licence or licence == UNKNOWN:
        return None
    return bool(re.search(r"(^|[-_ ])NC([-_ ]|$)|non-?commercial", licence, re.IGNORECASE))


def weight(part: str, source: str, licence: str, note: str = "") -> dict:
    """One weight's record: part (lm | vision | codec), source, licence, non_commercial, note."""
    return {
        "part": part,
        "source": source,
        "licence": licence,
        "non_commercial": non_commercial(licence),
        "note": note,
    }


def import_record(checkpoint: str, licence: str | None, codec: snapshots.Snapshot) -> list[dict]:
    """What `models import` writes: the checkpoint's two parts and the codec it included."""
    told = licence is not None
    licence = licence if told else OFFICIAL_CHECKPOINT_LICENCE
    lm_note = "as given with --licence" if told else OFFICIAL_CHECKPOINT_NOTE
    return [
        weight("lm", f"GVMGen checkpoint {checkpoint}", licence, lm_note),
        weight("vision", f"GVMGen checkpoint {checkpoint}", licence, CLIP_NOTE),
        codec_weight(codec),
    ]


def codec_weight(codec: snapshots.Snapshot) -> dict:
    """The EnCodec snapshot's record: its model card's licence, else the known one."""
    source = f"{codec.kind} snapshot {codec.name} ({codec.path})"
    stated = card_licence(codec.path)
    if stated:
        return weight("codec", source, stated, "the snapshot's model card")
    licence, note = KNOWN_LICENCES.get(_repo_name(codec), (UNKNOWN, "no licence in the snapshot"))
    return weight("codec", source, licence, note)


def _repo_name(codec: snapshots.Snapshot) -> str:
    if "/" in codec.name:
        return codec.name
    return f"facebook/{codec.name}"  # a snapshot directory named as its repository


def card_licence(path: Path) -> str | None:
    """`license:` from a Hugging Face snapshot's README.md front matter, if it has one."""
    try:
        text = (path / "README.md").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    front = re.match(r"---\s*\n(.*?)\n---", text, re.DOTALL)
    found = front and re.search(r"^license:\s*['\"]?([\w.+-]+)", front.group(1), re.MULTILINE)
    return found.group(1) if found else None


def read_provenance(model_dir: Path, models_dir=None) -> dict:
    """`{"path", "windows", "weights": [lm, vision, codec]}` of an imported GVMGen directory.

    Imports from before licences were recorded say `unknown` and how to record one.
    """
    meta = json.loads((Path(model_dir) / snapshots.CONFIG_FILE).read_text())
    recorded = {w["part"]: w for w in meta.get("provenance") or []}
    weights = []
    for part in PARTS:
        if part in recorded:
            weights.append(recorded[part])
        elif part == "codec" and not meta.get("codec_included"):
            codec = snapshots.find_codec(models_dir)
            weights.append(codec_weight(codec) if codec else weight("codec", "none found", UNKNOWN))
        else:
            note = "not recorded at import: re-import with `gvmgen models import --licence`"
            weights.append(weight(part, str(meta.get("source") or model_dir), UNKNOWN, note))
    windows = (meta.get("generation") or {}).get("windows", "per-window")
    return {"path": str(model_dir), "windows": windows, "weights": weights}


def installed_provenance(models_dir=None) -> dict | None:
    """The installed GVMGen's provenance (see `read_provenance`), or None when none is
    installed. Reads config files only: cheap enough for every report."""
    found = snapshots.find_kind("gvmgen", models_dir)
    if found is None:
        return None
    try:
        return read_provenance(found.path, models_dir)
    except (OSError, ValueError):
        return None


def debug_weights() -> list[dict]:
    """The tiny test engine's weights: random, nobody's."""
    note = "random weights made by the test engine: no third-party weights"
    return [weight(part, "random (debug engine)", "none", note) for part in PARTS]


def precision_policy(precision: str) -> str:
    """One line for the report: what ran in which precision."""
    if precision == "fp32":
        return "fp32 throughout"
    return (
        f"LM transformer in {precision} under autocast; token embeddings, LayerNorms and "
        "output heads fp32; CLIP and Q-Former fp32 weights under autocast; EnCodec fp32"
    )
