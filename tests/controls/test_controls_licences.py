"""Whose music it is: the arranger's cues carry no third-party terms; a neural engine's cue
lists every weight with its licence, and CC BY-NC is flagged non-commercial."""

from __future__ import annotations

from gvmgen.engines.arranger import ArrangerEngine
from gvmgen.licences import ARRANGER_TERMS, cue_licence


class _Neural:
    name = "gvmgen"

    def __init__(self, weights):
        self.weights = weights

    def provenance(self) -> dict:
        return {"weights": self.weights, "windows": "per-window"}


def _weight(part: str, licence: str, non_commercial) -> dict:
    return {
        "part": part,
        "source": f"{part} src",
        "licence": licence,
        "non_commercial": non_commercial,
    }


def test_the_arrangers_music_carries_no_third_party_weights():
    terms = cue_licence(ArrangerEngine())
    assert terms.summary == ARRANGER_TERMS and terms.non_commercial is False
    assert terms.weights == []


def test_cc_by_nc_weights_are_flagged_non_commercial():
    weights = [
        _weight("lm", "CC-BY-NC-4.0", True),
        _weight("vision", "CC-BY-NC-4.0", True),
        _weight("codec", "CC-BY-NC-4.0", True),
    ]
    terms = cue_licence(_Neural(weights))
    assert terms.non_commercial is True
    assert terms.summary == "weights under CC-BY-NC-4.0 — NON-COMMERCIAL use only"
    assert [w["part"] for w in terms.to_dict()["weights"]] == ["lm", "vision", "codec"]


def test_an_unknown_licence_is_said_to_be_unknown():
    terms = cue_licence(_Neural([_weight("lm", "unknown", None), _weight("codec", "MIT", False)]))
    assert terms.non_commercial is None and terms.summary.endswith("terms unknown")
