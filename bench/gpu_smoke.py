"""First run of the GPU path: a full-size random-weight GVMGen-small on CUDA, fp16, 30 s with CFG.

    .venv/bin/python bench/gpu_smoke.py [--seconds 30] [--json out.json] [--tiny]

What it runs and records, on one CUDA device (fp16 weights under autocast, as
`MusicGenerator` does on CUDA; EnCodec stays fp32):
  - eager: `MusicGenerator.generate` end to end (CLIP on 1 fps frames → Q-Former → LM with
    CFG 3 and top-k 250 → EnCodec) for `--seconds` of audio; LM steps/s and wall time;
  - static cache: `CachedDecoder.static_step` (fixed shapes, masked attention over the whole
    preallocated cache) called step by step, with sampling, and the same captured once in a
    CUDA graph and replayed; steps/s for both;
  - peak GPU memory (`torch.cuda.max_memory_allocated`) and whether the delivered audio holds
    any NaN or Inf (random fp16 weights are where overflow would first show).

Without CUDA (or with --tiny) it runs the same code on the CPU at the tiny test size, and says
plainly that no GPU was measured; the tests run that fallback so the script cannot rot.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

GRAPH_STEPS = 500  # static-step timing: enough steps to average launch jitter out
WARMUP_STEPS = 3


def build(tiny: bool, device: torch.device):
    """Random-weight GVMGen (full GVMGen-small size, or the tiny test size) on `device`."""
    from gvmgen.model.config import GVMGenConfig
    from gvmgen.model.model import GVMGenModel, debug_config

    config = debug_config() if tiny else GVMGenConfig()
    torch.manual_seed(0)
    with torch.device(device):  # initialise on the device: full-size init on a CPU takes minutes
        model = GVMGenModel(config).eval()
    return model


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_eager(generator, seconds: float, device: torch.device) -> dict:
    """End-to-end `generate`; LM steps/s from the progress callback's step count and timing."""
    config = generator.model.config
    size = config.vision.image_size
    frames = max(1, int(seconds))  # 1 fps, by timestamp
    pixels = torch.randn(frames, 3, size, size)
    times = torch.arange(frames, dtype=torch.float32)
    marks: dict[str, float] = {}

    def progress(fraction: float, message: str) -> None:
        if message.startswith("decoding step") and "first" not in marks:
            sync(device)
            marks["first"] = time.perf_counter()
        if message.startswith("decoding step"):
            marks["steps"] = float(message.split()[-1].split("/")[0])
        if message == "decoding audio":
            sync(device)
            marks["lm_end"] = time.perf_counter()

    sync(device)
    began = time.perf_counter()
    audio = generator.generate(pixels, times, seconds, seeds=[0], progress=progress)
    sync(device)
    wall = time.perf_counter() - began
    lm_seconds = marks["lm_end"] - marks["first"]
    return {
        "wall_s": round(wall, 3),
        "lm_steps": int(marks["steps"]),
        "lm_steps_per_s": round((marks["steps"] - 1) / lm_seconds, 2),
        "audio_samples": int(audio.shape[-1]),
        "audio_finite": bool(torch.isfinite(audio).all()),
        "audio_rms": float(audio.float().pow(2).mean().sqrt()),
    }


def _static_decoder(generator, steps: int):
    from gvmgen.model.decoder import CachedDecoder

    model = generator.model
    frames = torch.randn(30, model.config.lm.hidden_size, device=generator.device)
    decoder = CachedDecoder(model.lm, batch=2, max_length=steps + WARMUP_STEPS + 2)
    with generator.autocast():
        decoder.set_cfg_condition(frames)
    k = model.config.lm.num_codebooks
    tokens = torch.full((2, k, 1), model.config.lm.card, device=generator.device)
    position = torch.zeros((), dtype=torch.long, device=generator.device)
    return decoder, tokens, position


def _sample_next(generator, logits, generators, tokens) -> None:
    """CFG-guided top-k sample written back into the (static) token buffer, in place."""
    from gvmgen.model.sampling import guided_logits, sample

    guided = guided_logits(logits[:, :, -1].float(), generator.config.cfg_coef)
    tokens.copy_(sample(guided, generator.config, generators).repeat(2, 1)[..., None])


def run_static(generator, steps: int, device: torch.device, graph: bool) -> dict:
    """Steps/s of the fixed-shape step, plain or captured in a CUDA graph and replayed."""
    from gvmgen.model.sampling import make_generators

    decoder, tokens, position = _static_decoder(generator, steps)
    generators = make_generators([0], device)
    step = lambda: decoder.static_step(tokens, position)  # noqa: E731
    with torch.inference_mode(), generator.autocast():
        for _ in range(WARMUP_STEPS):
            logits = step()
            position += 1
    if graph:
        step, logits = _captured(decoder, step, generator)
    with torch.inference_mode():
        sync(device)
        began = time.perf_counter()
        for _ in range(steps):
            with generator.autocast():
                logits = step()
            _sample_next(generator, logits, generators, tokens)
            position += 1
        sync(device)
    rate = steps / (time.perf_counter() - began)
    return {"steps_per_s": round(rate, 2), "logits_finite": bool(torch.isfinite(logits).all())}


def _captured(decoder, step, generator):
    """Capture one static step in a CUDA graph; replaying it re-runs it on the same buffers."""
    side = torch.cuda.Stream()
    side.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(side), torch.inference_mode(), generator.autocast():
        step()  # warm-up on the capture stream (allocator, cuBLAS handles)
    torch.cuda.current_stream().wait_stream(side)
    graph = torch.cuda.CUDAGraph()
    # autocast's weight-cast cache must stay off during capture (weights are fp16 already)
    with (
        torch.inference_mode(),
        torch.autocast("cuda", dtype=generator.cuda_dtype, cache_enabled=False),
        torch.cuda.graph(graph),
    ):
        logits = step()

    def replay():
        graph.replay()
        return logits

    return replay, logits


def measure(tiny: bool, seconds: float) -> dict:
    from gvmgen.model.config import GenerationConfig
    from gvmgen.model.generation import MusicGenerator

    gpu = torch.cuda.is_available() and not tiny
    device = torch.device("cuda" if gpu else "cpu")
    began = time.perf_counter()
    model = build(tiny=not gpu, device=device)
    generator = MusicGenerator(model, GenerationConfig())  # CFG 3.0, top-k 250
    report = {
        "gpu": gpu,
        "device": torch.cuda.get_device_name(device) if gpu else "cpu",
        "size": "tiny (test config)" if not gpu else "GVMGen-small (full size, random weights)",
        "parameters_m": round(sum(p.numel() for p in model.parameters()) / 1e6, 1),
        "torch": torch.__version__,
        "build_s": round(time.perf_counter() - began, 2),
        "seconds_generated": seconds,
    }
    if gpu:
        torch.cuda.reset_peak_memory_stats(device)
    report["eager"] = run_eager(generator, seconds, device)
    steps = GRAPH_STEPS if gpu else 20
    report["static"] = _guarded(lambda: run_static(generator, steps, device, graph=False))
    report["cuda_graph"] = (
        _guarded(lambda: run_static(generator, steps, device, graph=True))
        if gpu
        else {"skipped": "no CUDA device"}
    )
    if gpu:
        report["peak_gpu_memory_gib"] = round(torch.cuda.max_memory_allocated(device) / 2**30, 2)
    return report


def _guarded(fn) -> dict:
    """A failing variant is a finding to record, not a reason to lose the other figures."""
    try:
        return fn()
    except Exception as error:  # the smoke reports every failure it meets
        return {"error": f"{type(error).__name__}: {error}"}


def print_report(report: dict) -> None:
    if not report["gpu"]:
        print("NO GPU MEASURED: CUDA is not available (or --tiny); this is the CPU fallback at")
        print("the tiny test size. Its speed says nothing about a GPU.")
    print(f"device {report['device']}, {report['size']}, {report['parameters_m']} M parameters")
    eager = report["eager"]
    print(f"eager generate: {report['seconds_generated']} s of audio in {eager['wall_s']} s, "
          f"{eager['lm_steps_per_s']} LM steps/s, finite: {eager['audio_finite']}")  # fmt: skip
    for name in ("static", "cuda_graph"):
        print(f"{name}: {report[name]}")
    if "peak_gpu_memory_gib" in report:
        print(f"peak GPU memory: {report['peak_gpu_memory_gib']} GiB")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0, help="audio to generate (eager)")
    parser.add_argument("--tiny", action="store_true", help="tiny size on the CPU, even with CUDA")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    report = measure(args.tiny, args.seconds)
    print_report(report)
    if args.json:
        args.json.write_text(json.dumps(report, indent=2))
    healthy = report["eager"]["audio_finite"] and "error" not in report["static"]
    return 0 if healthy else 1


if __name__ == "__main__":
    sys.exit(main())
