"""The evaluation model: trained on synthetic pairs whose music follows the picture, it ranks
matched pairs above shuffled ones on held-out pairs; CMR over fixed groups; save / load."""

from __future__ import annotations

import pytest
import torch

from gvmgen.errors import WeightsError
from gvmgen.model.evaluator import EvaluatorConfig, cross_modal_retrieval
from gvmgen.train.evaluator_training import (
    EvaluatorTraining,
    load_evaluator,
    save_evaluator,
    train_evaluator,
)

STEPS = 8  # seconds per window in these tests


def synthetic_pairs(n: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Video `[n, T, 16]`: a few shots per window; music `[n, T, 12]`: a fixed linear map of the
    picture plus noise, so the music follows the picture second by second."""
    g = torch.Generator().manual_seed(seed)
    mapping = torch.randn(16, 12, generator=torch.Generator().manual_seed(99)) / 4
    scenes = torch.randn(n, 4, 16, generator=g)
    shot = torch.sort(torch.randint(0, 4, (n, STEPS), generator=g), dim=1).values
    video = torch.gather(scenes, 1, shot[..., None].expand(-1, -1, 16))
    video = video + 0.3 * torch.randn(n, STEPS, 16, generator=g)
    music = video @ mapping + 0.3 * torch.randn(n, STEPS, 12, generator=g)
    return video, music


@pytest.fixture(scope="module")
def evaluator():
    video, music = synthetic_pairs(200)
    config = EvaluatorConfig(
        video_dim=16, music_dim=12, hidden=32, num_heads=4, num_layers=1, steps=STEPS,
        mlp_dropout=0.1,
    )  # fmt: skip
    options = EvaluatorTraining(steps=150, batch_size=64, lr=1e-3)
    return train_evaluator(video, music, config, options, fingerprint={"codec": "x"})


def test_held_out_matched_pairs_rank_above_shuffled(evaluator):
    held = evaluator.held_out
    matched, shuffled = held["matched"], held["shuffled"]
    assert held["windows"] == 40 and matched["cmr_groups"] == 2 and matched["cmr_group_size"] == 16
    assert matched["cmr"] >= 3 * matched["cmr_chance"]
    assert matched["cmr"] > 2 * shuffled["cmr"]
    assert matched["ta"] > 2 * shuffled["ta"]


def test_scores_on_fresh_pairs_and_round_trip(evaluator, tmp_path):
    video, music = synthetic_pairs(32, seed=7)
    before = evaluator.scores(video, music)
    loaded = load_evaluator(save_evaluator(evaluator, tmp_path / "eval"))
    after = loaded.scores(video, music)
    assert after["cmr"] == pytest.approx(before["cmr"]) and after["ta"] == pytest.approx(
        before["ta"]
    )
    assert after["cmr"] >= 3 / 16
    with pytest.raises(WeightsError, match="not an evaluator"):
        load_evaluator(tmp_path)


def test_cmr_uses_fixed_groups_of_16():
    video = torch.eye(40)[:, None, :]  # window i is perfectly like music i, unlike the rest

    def logits(v, m):
        return 100.0 * v[:, 0] @ m[:, 0].T

    cmr, groups, size = cross_modal_retrieval(logits, video, video)
    assert (groups, size) == (2, 16) and cmr == pytest.approx(1.0)
    cmr, groups, size = cross_modal_retrieval(logits, video[:5], video[:5].flip(0))
    assert (groups, size) == (1, 5) and cmr == pytest.approx(0.2)  # only the middle one matches
