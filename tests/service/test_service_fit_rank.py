"""Takes ranked by how well their beats fit the cuts (issue 23): report.json gives each take its
`fit_rank`, the best-fitting take is the one placed, and take folders keep their numbers."""

from __future__ import annotations

import json

import pytest

from gvmgen import align
from gvmgen.align import Priority, fit_ranks, take_fit
from gvmgen.cli import main


def _rows(*hits: bool) -> list[dict]:
    return [{"hit": h} for h in hits]


def test_a_must_hit_outweighs_any_number_of_edit_points_then_less_stretch_wins():
    must_first = [Priority.MUST_HIT, Priority.EDIT, Priority.EDIT, Priority.EDIT]
    hits_the_marker = take_fit([(_rows(True, False, False, False), must_first, 0.05, 10.0)])
    hits_the_edits = take_fit([(_rows(False, True, True, True), must_first, 0.0, 10.0)])
    gentler = take_fit([(_rows(True, False, False, False), must_first, 0.01, 10.0)])
    dissolves_only = take_fit([(_rows(True), [Priority.DISSOLVE], 0.0, 10.0)])
    assert fit_ranks([hits_the_edits, hits_the_marker, gentler]) == [3, 2, 1]
    assert dissolves_only == take_fit([])  # never counted


@pytest.fixture
def second_take_fits_best(monkeypatch):
    """Take 2's grid fits best (the measure itself is tested above)."""
    made = []

    def fit(cues):
        made.append(len(made) + 1)
        return (10.0 if made[-1] == 2 else 1.0, 0.0)

    monkeypatch.setattr(align, "take_fit", fit)
    # the pipeline holds its own name for it once imported (an earlier test may have done so)
    import gvmgen.pipeline

    monkeypatch.setattr(gvmgen.pipeline, "take_fit", fit)


def test_the_best_fitting_take_is_placed_and_the_takes_keep_their_numbers(
    cut_clip, tmp_path, capsys, second_take_fits_best
):
    out_dir = tmp_path / "out"
    argv = ["score", str(cut_clip[0]), "--range", "0-6", "--out", str(out_dir)]
    assert main([*argv, "--engine", "arranger", "--takes", "3", "--json"]) == 0
    report = json.loads((out_dir / "report.json").read_text())
    ranks = {t["take"]: t["fit_rank"] for t in report["takes"]}
    assert ranks == {1: 2, 2: 1, 3: 3}
    assert report["take"] == 2
    assert sorted(p.name for p in (out_dir / "takes").iterdir()) == [
        "take-01",
        "take-02",
        "take-03",
    ]
    assert all("take-02" in c["wav"] for c in report["cues"])
