"""GPU smoke of the path users take: `Scorer.score(engine="gvmgen")` on a 30 s cue with CFG.

    .venv/bin/python bench/gpu_smoke.py [--seconds 30] [--weights DIR] [--json out.json] [--tiny]

When a GPU is lent, run this first. On one CUDA device, for bf16 and fp16 in turn (the
product's precision policy: the LM transformer under autocast, embeddings, norms and heads in
fp32; `gvmgen.model.precision`), it scores a synthetic `--seconds` clip through the product's
`Scorer` — cut analysis, frames, GVMGen with CFG 3 and top-k 250, alignment, loudness, files —
twice, and records the second (warm) run:

  - wall time and real-time factor of the whole score, and of the engine's stages as the
    product calls them (visual encoder, LM, EnCodec); LM steps/s;
  - peak GPU memory (`torch.cuda.max_memory_allocated`);
  - NaN/Inf at every stage: the product raises `NonFiniteError` for frame tokens, logits (any
    step) and audio, and retries once in a safer precision — a retry is a finding here; the
    delivered WAVs are read back and checked too;
  - bf16 and fp16 logits against fp32 at several steps of the cue (relative error of the
    CFG-guided logits, teacher-forced on the codes the warm run sampled), and the frame tokens.

The exit status is 0 only when every precision ran, nothing was non-finite, no retry happened
and the delivered audio is finite and not silent.

Weights: `--weights DIR` (an imported GVMGen directory) or, by default, GVMGen-small at full
size with random weights at realistic scales (`bench/fullsize_weights.py`). There is no graph
or static-step variant: the product has none (the static step that this smoke used to time was
never called by any product path and was removed; see docs/bench/model.md).

Without CUDA (or with --tiny) it runs the same code on the CPU at the tiny test size, bf16 and
fp16 through CPU autocast, and says plainly that no GPU was measured; the tests run that mode so
the script cannot rot.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import numpy as np  # noqa: E402
import torch  # noqa: E402

PRECISIONS = ("bf16", "fp16")
CHECK_STEPS = (1, 100, 500, 1000, 1500)  # decoding steps whose logits are compared with fp32


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def build_engine(tiny: bool, weights: Path | None, device: torch.device):
    """(GVMGenEngine on `device`, what it is): tiny debug, installed, or full-size random."""
    from gvmgen.engines.gvmgen_engine import GVMGenEngine
    from gvmgen.model.generation import MusicGenerator

    if tiny:
        from gvmgen.model.model import build_debug_model

        model, generation, label = build_debug_model(0), None, "tiny (test config)"
    elif weights is not None:
        from gvmgen.model.weights import load_gvmgen

        model, generation = load_gvmgen(weights, device=str(device))
        label = f"imported weights {weights}"
    else:
        model, generation = full_size_random(device), None
        label = "GVMGen-small, full size, random weights at realistic scales"
    generator = MusicGenerator(model.to(device), generation, precision="fp32")
    return GVMGenEngine(generator), label


def full_size_random(device: torch.device):
    """GVMGen-small from a random official-layout state, remapped as `models import` does."""
    import yaml
    from fullsize_weights import SMALL, encodec_model, official_state
    from model_official_layout import xp_cfg

    from gvmgen.model.config import ENCODEC_32KHZ
    from gvmgen.model.model import build_empty_model
    from gvmgen.model.official import official_config, remap_official

    state = official_state(SMALL, seed=0, device=str(device) if device.type == "cuda" else "cpu")
    config = official_config(state, yaml.safe_load(xp_cfg(SMALL)), ENCODEC_32KHZ)
    model = build_empty_model(config)
    weights = remap_official(state).state
    weights.update({"codec." + k: v for k, v in encodec_model().state_dict().items()})
    model.load_state_dict(weights, strict=True)
    return model.float()


class StageTimer:
    """Wraps the generator's stages, as the product calls them, to time them (synced), count
    the LM's steps and keep the last frames and codes for the logits comparison."""

    def __init__(self, generator, device: torch.device):
        self.generator, self.device = generator, device
        self.seconds: dict[str, float] = {}
        self.steps = 0
        self.last: dict[str, torch.Tensor] = {}
        for stage, method in (("vision", "encode_frames"), ("lm", "generate_codes"),
                              ("codec", "decode")):  # fmt: skip
            setattr(generator, method, self._timed(stage, getattr(generator, method)))
        steps = generator.decode_steps

        def counted(decoder, sequence, logits, prompt, *rest):
            self.steps += sequence.shape[-1] - prompt - 1
            return steps(decoder, sequence, logits, prompt, *rest)

        generator.decode_steps = counted

    def _timed(self, stage: str, method):
        def run(*args, **kwargs):
            sync(self.device)
            began = time.perf_counter()
            out = method(*args, **kwargs)
            sync(self.device)
            self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - began
            self.last[stage] = out
            if stage == "vision":
                self.last["pixels"] = args[0]
            return out

        return run

    def reset(self) -> None:
        self.seconds, self.steps = {}, 0


def make_clip(path: Path, seconds: float, tiny: bool) -> Path:
    """A synthetic clip with a cut every 4 s (cut analysis and alignment have work to do)."""
    from gvmgen.media.synth import make_test_clip

    size = (160, 90) if tiny else (1280, 720)
    cuts = [int(25 * t) for t in np.arange(4.0, seconds, 4.0)]
    return make_test_clip(path, duration=seconds, rate=25, size=size, cut_frames=cuts)


def score_once(engine, clip: Path, out_dir: Path, timer: StageTimer, device) -> dict:
    """One `Scorer.score` of the whole clip; figures of the run and of its delivered audio."""
    import soundfile

    from gvmgen.engines import EngineRegistry
    from gvmgen.pipeline import Scorer

    timer.reset()
    retries = len(engine.retries)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    sync(device)
    began = time.perf_counter()
    result = Scorer(EngineRegistry(engines={"gvmgen": engine})).score(
        {"input": str(clip), "engine": "gvmgen", "out_dir": str(out_dir), "seed": 0}
    )
    sync(device)
    wall = time.perf_counter() - began
    audio = np.concatenate([soundfile.read(w, always_2d=True)[0].ravel() for w in
                            result.takes[-1].wavs])  # fmt: skip
    lm = timer.seconds.get("lm", math.nan)
    out = {
        "wall_s": round(wall, 3),
        "x_real_time": round(result.duration / wall, 3),
        "stage_s": {k: round(v, 3) for k, v in timer.seconds.items()},
        "lm_steps": timer.steps,
        "lm_steps_per_s": round(timer.steps / lm, 2),
        "precision": engine.provenance()["precision"],
        "retried_after": (engine.retries[retries:] or [None])[0],
        "delivered_finite": bool(np.isfinite(audio).all()),
        "delivered_rms": float(np.sqrt(np.mean(np.square(audio)))),
    }
    if device.type == "cuda":
        out["peak_gpu_memory_gib"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
    return out


def run_precision(engine, precision: str, clip: Path, work: Path, timer, device) -> dict:
    """Cold then warm score in `precision`; the warm run's figures, the cold wall beside."""
    from gvmgen.model.precision import supports

    if not supports(device, precision):
        return {"skipped": f"{precision} does not run on {device}"}
    try:
        engine.generator.set_precision(precision)
        cold = score_once(engine, clip, work / f"{precision}-cold", timer, device)
        warm = score_once(engine, clip, work / f"{precision}-warm", timer, device)
    except Exception as error:  # the smoke records every failure it meets, and goes on
        return {"error": f"{type(error).__name__}: {error}"}
    return {**warm, "cold_wall_s": cold["wall_s"]}


@torch.inference_mode()
def logits_vs_fp32(engine, timer: StageTimer, precisions) -> dict:
    """Relative error, against fp32, of the guided logits at `CHECK_STEPS` (teacher-forced on
    the codes last sampled) and of the frame tokens, per precision."""
    from gvmgen.model.decoder import CachedDecoder
    from gvmgen.model.sampling import guided_logits

    generator = engine.generator
    codes, pixels = timer.last.get("lm"), timer.last.get("pixels")
    if codes is None or pixels is None:
        return {"skipped": "no scored cue to compare on"}
    sequence = generator.pattern.interleave(codes[:1])  # [1, K, T + K]
    steps = [s for s in CHECK_STEPS if s < sequence.shape[-1]]
    found = {}
    for precision in ("fp32", *precisions):
        generator.set_precision(precision)
        tokens = generator.encode_frames(pixels)
        decoder = CachedDecoder(generator.model.lm, 2, sequence.shape[-1])
        with generator.autocast():
            decoder.set_cfg_condition(tokens)
            logits = decoder.logits(torch.cat([sequence, sequence]), 0)
        guided = guided_logits(logits.float(), generator.config.cfg_coef)  # [1, K, S, card]
        found[precision] = (tokens.float(), guided[0, :, [s - 1 for s in steps]])
    report = {}
    for precision in precisions:
        tokens, guided = found[precision]
        ref_tokens, ref = found["fp32"]
        report[precision] = {
            "frame_tokens": _relative(tokens, ref_tokens),
            "logits_at_step": {
                str(s): _relative(guided[:, i], ref[:, i]) for i, s in enumerate(steps)
            },
        }
    return report


def _relative(value: torch.Tensor, reference: torch.Tensor) -> float:
    return float((value - reference).norm() / reference.norm())


def measure(tiny: bool, seconds: float, weights: Path | None) -> dict:
    gpu = torch.cuda.is_available() and not tiny
    device = torch.device("cuda" if gpu else "cpu")
    began = time.perf_counter()
    engine, label = build_engine(not gpu, weights, device)
    timer = StageTimer(engine.generator, device)
    report = {
        "gpu": gpu,
        "device": torch.cuda.get_device_name(device) if gpu else "cpu",
        "size": label,
        "parameters_m": round(sum(p.numel() for p in engine.generator.model.parameters()) / 1e6, 2),
        "torch": torch.__version__,
        "build_s": round(time.perf_counter() - began, 2),
        "seconds": seconds,
        "takes": 1,
        "cfg": engine.generator.config.cfg_coef,
    }
    with tempfile.TemporaryDirectory(prefix="gpu-smoke-") as tmp:
        clip = make_clip(Path(tmp) / "clip.mp4", seconds, not gpu)
        for precision in PRECISIONS:
            report[precision] = run_precision(engine, precision, clip, Path(tmp), timer, device)
        ran = [p for p in PRECISIONS if "wall_s" in report[p]]
        report["vs_fp32"] = _guarded(lambda: logits_vs_fp32(engine, timer, ran))
    return report


def _guarded(fn) -> dict:
    try:
        return fn()
    except Exception as error:  # a finding to record, not a reason to lose the other figures
        return {"error": f"{type(error).__name__}: {error}"}


def problems(report: dict) -> list[str]:
    """Everything that makes the exit status non-zero."""
    found = []
    for precision in PRECISIONS:
        run = report[precision]
        if "skipped" in run:
            continue
        if "error" in run:
            found.append(f"{precision}: {run['error']}")
            continue
        if run["retried_after"] is not None:
            found.append(f"{precision}: NaN/Inf, retried ({run['retried_after']})")
        if not run["delivered_finite"] or not run["delivered_rms"] > 0:
            found.append(f"{precision}: delivered audio non-finite or silent")
    errors = report["vs_fp32"]
    if "error" in errors:
        found.append(f"logits vs fp32: {errors['error']}")
    for precision, figures in errors.items():
        if isinstance(figures, dict):
            values = [figures["frame_tokens"], *figures["logits_at_step"].values()]
            if not all(math.isfinite(v) for v in values):
                found.append(f"{precision}: non-finite relative error against fp32")
    return found


def print_report(report: dict) -> None:
    if not report["gpu"]:
        print("NO GPU MEASURED: CUDA is not available (or --tiny); this is the CPU fallback at")
        print("the tiny test size. Its speed says nothing about a GPU.")
    print(f"device {report['device']}, {report['size']}, {report['parameters_m']} M parameters; "
          f"{report['seconds']} s cue, {report['takes']} take, CFG {report['cfg']}")  # fmt: skip
    for precision in PRECISIONS:
        run = report[precision]
        if "wall_s" not in run:
            print(f"{precision}: {run}")
            continue
        memory = (
            f", peak GPU {run['peak_gpu_memory_gib']} GiB" if "peak_gpu_memory_gib" in run else ""
        )
        print(f"{precision}: warm score {run['wall_s']} s ({run['x_real_time']}x real time; "
              f"cold {run['cold_wall_s']} s), stages {run['stage_s']}, "
              f"{run['lm_steps_per_s']} LM steps/s{memory}, delivered finite "
              f"{run['delivered_finite']}, retried {run['retried_after']}")  # fmt: skip
    print(f"relative error against fp32: {json.dumps(report['vs_fp32'])}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="length of the cue scored")
    parser.add_argument("--weights", type=Path, help="an imported GVMGen directory to use")
    parser.add_argument("--tiny", action="store_true", help="tiny size on the CPU, even with CUDA")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    report = measure(args.tiny, args.seconds, args.weights)
    report["problems"] = problems(report)
    print_report(report)
    for problem in report["problems"]:
        print(f"PROBLEM: {problem}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    return 1 if report["problems"] else 0


if __name__ == "__main__":
    sys.exit(main())
