"""Speed of the arranger (the built-in procedural engine) against what a CPU user has instead.

    .venv/bin/python bench/arranger_bench.py [--minutes 1 5 10] [--measure-musicgen]

Side by side in one run, on this machine:
  - arranger — compose + render a cue of 1, 5 and 10 minutes (cuts every 1.5–12 s, shots of
    different colours, motion varying), 48 kHz stereo; × real time = music seconds / wall seconds;
  - MusicGen-small on CPU — what a user without a GPU would otherwise run (GVMGen's decoder is
    MusicGen-small sized): ../shared/research/notes.md measured a decoder of that size (hidden
    1024, 24 layers, 4 codebooks, random weights), batch 2 for classifier-free guidance, KV
    cache, fp32, at ~5.4 decoding steps/s on this machine type; with --measure-musicgen the same
    is measured again in this run (slow to build: ~420 M parameters). × real time at 50 steps per
    second of audio (EnCodec 32 kHz); EnCodec decoding and frame encoding are left out, which
    flatters MusicGen.
Times are wall clock and CPU time of this process: on a shared 2-core machine the CPU time is
the steadier figure (wall time grows with whatever else runs).
Also reported for the arranger: the share of well-spaced cuts (≥ 1.5 s after the previous cut)
that it composed exactly onto a downbeat, the composed tempo drift, and the extra seconds that
`generate_with_beats` spends reading where the aligner's tracker will hear each beat.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gvmgen.engines.arranger import ArrangerEngine
from gvmgen.engines.arranger.heard import heard_beat_times
from gvmgen.engines.base import CueConditioning

MUSICGEN_STEPS_PER_SECOND_OF_AUDIO = 50  # EnCodec 32 kHz frame rate
NOTES_MUSICGEN_STEPS_PER_S = 5.4  # ../shared/research/notes.md, same machine type


def synthetic_cue(minutes: float, seed: int = 0) -> CueConditioning:
    """A cue like an edited programme: irregular cuts, shots of different colours, 1 fps frames."""
    rng = np.random.default_rng(seed)
    duration = 60.0 * minutes
    cuts = np.cumsum(rng.uniform(1.5, 12.0, size=int(duration)))
    cuts = cuts[cuts < duration - 0.5]
    times = np.arange(0.5, duration, 1.0)
    shot = np.searchsorted(cuts, times)
    palette = rng.integers(20, 235, size=(len(cuts) + 1, 3)).astype(np.uint8)
    frames = np.broadcast_to(palette[shot][:, None, None, :], (len(times), 36, 64, 3)).copy()
    motion = (0.5 + 0.4 * np.sin(times / 40.0)).astype(np.float32)
    return CueConditioning(duration, frames, times, cuts, motion, times)


def bench_arranger(minutes: float) -> dict:
    cue = synthetic_cue(minutes)
    engine = ArrangerEngine(sample_rate=48000)
    start, cpu_start = time.perf_counter(), time.process_time()
    score = engine.compose(cue, seed=1)
    composed = time.perf_counter()
    audio = engine.render(score, cue.duration)
    rendered, cpu = time.perf_counter(), time.process_time() - cpu_start
    heard_beat_times(audio, engine.sample_rate, score.beat_times)  # what generate_with_beats adds
    heard = time.perf_counter() - rendered
    assert audio.shape == (2, round(cue.duration * 48000))
    spaced = cue.cuts[np.diff(np.concatenate([[0.0], cue.cuts])) >= 1.5]
    on_downbeat = np.abs(spaced[:, None] - score.downbeat_times[None, :]).min(axis=1) < 1e-3
    periods = np.diff(score.beat_times)
    drift = np.abs(np.log(periods / (60.0 / score.tempo)))
    return {
        "minutes": minutes,
        "cuts": len(cue.cuts),
        "notes": len(score.notes),
        "compose_s": composed - start,
        "render_s": rendered - composed,
        "total_s": rendered - start,
        "x_realtime": cue.duration / (rendered - start),
        "cpu_s": cpu,
        "heard_s": heard,
        "x_realtime_cpu": cue.duration / cpu,
        "on_downbeat": float(np.mean(on_downbeat)),
        "max_drift_pct": 100 * (np.exp(drift.max()) - 1),
        "median_drift_pct": 100 * (np.exp(np.median(drift)) - 1),
    }


def bench_musicgen_small(steps: int = 12) -> float:
    """Decoding steps per second of a MusicGen-small-sized decoder on this CPU (batch 2)."""
    import torch
    from transformers import MusicgenDecoderConfig, MusicgenForCausalLM

    from gvmgen.model.decoder import cache_keyword

    torch.manual_seed(0)
    config = MusicgenDecoderConfig(
        vocab_size=2048, hidden_size=1024, num_hidden_layers=24, num_attention_heads=16,
        ffn_dim=4096, num_codebooks=4, max_position_embeddings=2048,
    )  # fmt: skip
    model = MusicgenForCausalLM(config).eval()
    cache_name = cache_keyword(model)
    codebooks, batch = config.num_codebooks, 2
    tokens = torch.full((batch * codebooks, 1), config.pad_token_id, dtype=torch.long)
    queries = torch.randn(batch, 16, config.hidden_size)  # GVMGen's 16 music queries
    with torch.inference_mode():
        out = model(input_ids=tokens, encoder_hidden_states=queries, use_cache=True)
        start = time.perf_counter()
        for _ in range(steps):
            tokens = out.logits[:, -1].argmax(-1, keepdim=True).reshape(batch * codebooks, 1)
            out = model(
                input_ids=tokens,
                encoder_hidden_states=queries,
                **{cache_name: getattr(out, cache_name)},
                use_cache=True,
            )
        return steps / (time.perf_counter() - start)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--minutes", type=float, nargs="+", default=[1.0, 5.0, 10.0])
    parser.add_argument(
        "--measure-musicgen", action="store_true", help="measure MusicGen-small here too"
    )
    args = parser.parse_args()
    print(f"CPU cores: {os.cpu_count()}; torch threads default")
    ArrangerEngine(sample_rate=48000).generate_with_beats(synthetic_cue(0.1), seed=0)  # warm-up
    rows = [bench_arranger(m) for m in args.minutes]
    if args.measure_musicgen:
        steps_per_s, source = bench_musicgen_small(), "measured now"
    else:
        steps_per_s, source = NOTES_MUSICGEN_STEPS_PER_S, "notes.md"
    musicgen_x = steps_per_s / MUSICGEN_STEPS_PER_SECOND_OF_AUDIO
    print_table(rows, steps_per_s, musicgen_x, source)
    return 0


def print_table(rows: list[dict], steps_per_s: float, musicgen_x: float, source: str) -> None:
    print()
    print(
        "| cue | cuts | notes | compose s | render s | total s (CPU s) | × real time (CPU) "
        "| vs MusicGen-small CPU | well-spaced cuts on a downbeat | tempo drift median / max "
        "| + beats for the aligner s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(
            f"| {r['minutes']:g} min | {r['cuts']} | {r['notes']} | {r['compose_s']:.2f} | "
            f"{r['render_s']:.2f} | {r['total_s']:.2f} ({r['cpu_s']:.2f}) | "
            f"{r['x_realtime']:.0f}× ({r['x_realtime_cpu']:.0f}×) | "
            f"{r['x_realtime'] / musicgen_x:,.0f}× faster | {100 * r['on_downbeat']:.0f} % | "
            f"{r['median_drift_pct']:.1f} % / {r['max_drift_pct']:.1f} % | {r['heard_s']:.2f} |"
        )
    minute = 60.0 / musicgen_x
    print(
        f"| MusicGen-small CPU ({source}) | | | | | {minute:.0f} per min of music | "
        f"{musicgen_x:.3f}× | 1× | (no cut awareness) | | |"
    )
    print(f"\nMusicGen-small-sized decoder, batch 2, fp32, KV cache: {steps_per_s:.1f} steps/s")


if __name__ == "__main__":
    raise SystemExit(main())
