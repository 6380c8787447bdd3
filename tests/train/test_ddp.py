"""DDP on CPU: two gloo processes on loopback give the gradients of one process that trains on
their combined batch (same windows, same CFG dropout decisions)."""

from __future__ import annotations

import os
import socket
import time

import pytest
import torch
import torch.multiprocessing as mp

from gvmgen.model.model import build_debug_model, debug_config
from gvmgen.train import distributed
from gvmgen.train.presets import preset_settings
from gvmgen.train.trainer import Trainer

SETTINGS = {"steps": 10, "cfg_dropout": 0.5}
WORKERS_DEADLINE_S = 240  # two fresh interpreters import torch; slow on a loaded machine


def _model():
    """The tiny preset's model without Q-Former dropout, whose masks differ per process."""
    config = debug_config()
    config.qformer.dropout = 0.0
    return build_debug_model(seed=0, config=config)


def _gradients(trainer: Trainer, step: int) -> dict[str, torch.Tensor]:
    trainer.backward(step)
    return {n: p.grad.clone() for n, p in zip(trainer.trained_names, trainer.trained, strict=True)}


def _worker(rank: int, world: int, data: str, out: str, port: int, step: int) -> None:
    os.environ.update(
        RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE=str(world),
        MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port),
    )  # fmt: skip
    torch.set_num_threads(1)
    placement = distributed.start("cpu")
    try:
        settings = preset_settings("tiny", batch_size=1, **SETTINGS)
        trainer = Trainer(data, out, settings, placement, model=_model())
        torch.save(_gradients(trainer, step), os.path.join(out, f"grads-{rank}.pt"))
    finally:
        distributed.stop(placement)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_gloo_processes_match_one_process_with_the_combined_batch(prepared, tmp_path):
    single = Trainer(
        prepared, tmp_path, preset_settings("tiny", batch_size=2, **SETTINGS),
        distributed.Placement(), model=_model(),
    )  # fmt: skip
    # a step whose batch has one conditioned and one CFG-dropped window
    step = next(s for s in range(50) if single.local_batch(s).dropped.sum() == 1)
    expected = _gradients(single, step)
    args = (2, str(prepared), str(tmp_path), _free_port(), step)
    workers = mp.spawn(_worker, args=args, nprocs=2, join=False)
    deadline = time.monotonic() + WORKERS_DEADLINE_S
    while not workers.join(timeout=2):
        if time.monotonic() > deadline:  # a stuck rendezvous must not hang the suite
            for process in workers.processes:
                process.terminate()
            pytest.fail(f"the two DDP workers did not finish within {WORKERS_DEADLINE_S} s")
    for rank in (0, 1):
        got = torch.load(tmp_path / f"grads-{rank}.pt")
        assert got.keys() == expected.keys()
        for name, grad in expected.items():
            torch.testing.assert_close(got[name], grad, rtol=1e-4, atol=1e-6, msg=name)
