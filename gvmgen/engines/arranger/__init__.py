"""The arranger: a procedural music engine whose downbeats land on the cuts.

Public API: `ArrangerEngine` (the `MusicEngine`), `Score` / `Section` / `Note` (what it composed).
"""

from gvmgen.engines.arranger.engine import ArrangerEngine
from gvmgen.engines.arranger.score import Note, Score, Section

__all__ = ["ArrangerEngine", "Note", "Score", "Section"]
