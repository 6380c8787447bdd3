"""Cut-aligned music: beats tracked, planned onto cut times, rendered with Rubber Band,
re-measured; plus cue joins and loudness."""

from gvmgen.align.aligner import AlignmentResult, align_to_cuts
from gvmgen.align.beats import BeatGrid, track_beats
from gvmgen.align.joins import crossfade_join, join_cues
from gvmgen.align.loudness import integrated_lufs, normalize_loudness, true_peak_dbtp
from gvmgen.align.metrics import AlignmentMetrics, detect_clicks, measure_alignment
from gvmgen.align.plan import plan_alignment
from gvmgen.align.plan_types import AlignmentPlan, Anchor, Piece, Splice, UnhitCut
from gvmgen.align.priorities import (
    KIND_PRIORITY,
    Priority,
    fit_ranks,
    metre_ceiling,
    sync_weights,
    take_fit,
)
from gvmgen.align.render import render_alignment

__all__ = [
    "KIND_PRIORITY",
    "AlignmentMetrics",
    "AlignmentPlan",
    "AlignmentResult",
    "Anchor",
    "BeatGrid",
    "Piece",
    "Priority",
    "Splice",
    "UnhitCut",
    "align_to_cuts",
    "crossfade_join",
    "detect_clicks",
    "fit_ranks",
    "integrated_lufs",
    "join_cues",
    "measure_alignment",
    "metre_ceiling",
    "normalize_loudness",
    "plan_alignment",
    "render_alignment",
    "sync_weights",
    "take_fit",
    "track_beats",
    "true_peak_dbtp",
]
