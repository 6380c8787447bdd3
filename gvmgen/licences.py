"""Whose music it is: each cue's provenance and terms, for report.json, the bext chunk and the
cue sheet.

The arranger's music is made by our own code from numpy oscillators: no third-party weights and
no sample set. A neural engine reports every weight it used (`engine.provenance()`: part,
source, licence, non_commercial, as recorded by `gvmgen models import`); the official GVMGen
weights are a MusicGen fine-tune, and MusicGen's weights are CC BY-NC 4.0, so such a cue is
flagged non-commercial.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ARRANGER_TERMS = "procedural (GVMGen Scoring's arranger): no third-party weights, no samples"
UNKNOWN = "unknown"


@dataclass(frozen=True)
class CueLicence:
    """The terms one cue's music comes under.

    Attributes:
        summary: one line: the licences in force, "non-commercial" when any weight says so.
        non_commercial: True when any weight carries a NonCommercial term; None when a
            licence is unknown; False when none restricts use.
        weights: every weight used, as the engine recorded it (empty for the arranger).
    """

    summary: str
    non_commercial: bool | None
    weights: list[dict] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "summary": self.summary,
            "non_commercial": self.non_commercial,
            "weights": list(self.weights),
        }


def cue_licence(engine) -> CueLicence:
    """The terms of the music `engine` makes (any MusicEngine)."""
    provenance = getattr(engine, "provenance", None)
    if provenance is None:
        if engine.name == "arranger":
            return CueLicence(ARRANGER_TERMS, False, [])
        return CueLicence(f"{engine.name}: {UNKNOWN} (the engine records no provenance)", None)
    weights = list(provenance().get("weights") or [])
    return CueLicence(_summary(weights), _non_commercial(weights), weights)


def silence_licence() -> CueLicence:
    return CueLicence("silence: nothing to licence", False, [])


def _non_commercial(weights: list[dict]) -> bool | None:
    flags = [w.get("non_commercial") for w in weights]
    if any(flags):
        return True
    return None if any(f is None for f in flags) or not weights else False


def _summary(weights: list[dict]) -> str:
    licences = sorted({str(w.get("licence") or UNKNOWN) for w in weights}) or [UNKNOWN]
    flag = _non_commercial(weights)
    tail = {True: " — NON-COMMERCIAL use only", None: " — terms unknown", False: ""}[flag]
    return "weights under " + ", ".join(licences) + tail
