"""LM decoding speed on CPU: our static-cache decoder vs transformers' own `generate`.

    .venv/bin/python bench/decode_bench.py [--steps 16] [--rounds 4] [--threads 2]

A MusicGen-small-sized decoder (hidden 1024, 24 layers, 16 heads, FFN 4096, 4 codebooks × 2048,
cross-attention to 30 frame tokens; ~420 M parameters, random weights, fp32), CFG 3 as one batch
of 2 (conditional + null row), top-k 250, temperature 1, same weights and inputs everywhere.

  - transformers generate — `MusicgenForCausalLM.generate(guidance_scale=3, do_sample, top_k)`,
    given an explicit attention mask and an `EncoderDecoderCache` (without them transformers
    5.23 masks the BOS step out and mixes cross-attention K/V into the self-attention cache);
  - ours — `MusicGenerator.decode_steps` on our `CachedDecoder`: static KV cache, fused q/k/v and
    LM heads, cross-attention folded into the frame keys/values once per window (null rows
    skipped), exponential-race sampling;
  - ours, 4 takes — four seeds in one pass (LM batch 8); "take-steps/s" = steps/s × takes.

Speed is measured at three depths of a 30 s cue (1,503 steps): positions 0, 750 and 1,500, as a
growing cache costs transformers a `torch.cat` of every layer's K/V per step; the cue time
integrates them (Simpson's rule). The cache before the measured steps holds random keys/values
(a step costs the same whatever they hold). The variants alternate inside one process,
`--rounds` times, and the fastest round is kept (load from other processes only adds time).
Peak RSS is measured in a separate process per variant (VmHWM, reset after the weights are
built), at depth 1,500.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import torch  # noqa: E402

VARIANTS = ("transformers generate", "ours", "ours, 4 takes")
DEPTHS = (0, 750, 1500)  # start, middle and end of a 30 s cue
FRAMES = 30  # frame tokens the cross-attention reads (30 s at 1 fps)
CARD, K, WIDTH, LAYERS, HEADS = 2048, 4, 1024, 24, 16
CUE_STEPS = 1503


def small_lm():
    """The MusicGen-small decoder with seeded random weights."""
    from transformers import MusicgenForCausalLM

    from gvmgen.model.config import LMConfig
    from gvmgen.model.model import musicgen_decoder_config

    torch.manual_seed(0)
    return MusicgenForCausalLM(musicgen_decoder_config(LMConfig())).eval()


def frame_tokens() -> torch.Tensor:
    return torch.randn(FRAMES, WIDTH, generator=torch.Generator().manual_seed(1)) * 0.1


def random_kv(rows: int, depth: int) -> torch.Tensor:
    return torch.randn(rows, HEADS, depth, WIDTH // HEADS)


class TransformersRunner:
    def __init__(self, lm):
        self.lm = lm
        tokens = frame_tokens()
        self.condition = torch.stack([tokens, torch.zeros_like(tokens)])  # [conditional; null]

    def __call__(self, depth: int, steps: int) -> float:
        from transformers import DynamicCache, EncoderDecoderCache
        from transformers import GenerationConfig as HFGenerationConfig

        from gvmgen.model.decoder import cache_keyword

        cache = EncoderDecoderCache(DynamicCache(), DynamicCache())
        if depth:
            for layer in range(LAYERS):
                cache.self_attention_cache.update(random_kv(2, depth), random_kv(2, depth), layer)
        prompt = torch.randint(0, CARD, (K, depth + 1))
        config = HFGenerationConfig(
            do_sample=True, top_k=250, temperature=1.0, guidance_scale=3.0, max_new_tokens=steps,
            pad_token_id=CARD, bos_token_id=CARD, decoder_start_token_id=CARD,
            num_return_sequences=1, use_cache=True,
        )  # fmt: skip
        start = time.perf_counter()
        self.lm.generate(
            input_ids=prompt,
            attention_mask=torch.ones_like(prompt),
            encoder_hidden_states=self.condition,
            generation_config=config,
            **{cache_keyword(self.lm): cache},
        )
        return time.perf_counter() - start


class OursRunner:
    def __init__(self, lm, takes: int):
        from gvmgen.model.config import GenerationConfig, LMConfig
        from gvmgen.model.generation import MusicGenerator
        from gvmgen.model.model import GVMGenModel, debug_config

        config = debug_config()
        config.lm = LMConfig()
        config.codec = dict(config.codec, codebook_size=CARD, target_bandwidths=[2.2])
        with torch.device("meta"):  # only the LM runs here: skip CLIP and EnCodec weights
            model = GVMGenModel(config)
        model.lm = lm
        self.generator = MusicGenerator(model, GenerationConfig())
        self.takes = takes
        self.frames = frame_tokens()

    def __call__(self, depth: int, steps: int) -> float:
        from gvmgen.model.decoder import CachedDecoder
        from gvmgen.model.sampling import make_generators

        rows = 2 * self.takes
        sequence = torch.randint(0, CARD, (self.takes, K, depth + steps + 1))
        decoder = CachedDecoder(self.generator.model.lm, rows, sequence.shape[-1])
        decoder.set_cfg_condition(self.frames)
        decoder.keys[:, :, :, :depth] = random_kv(rows, depth)
        decoder.values[:, :, :, :depth] = random_kv(rows, depth)
        generators = make_generators(list(range(self.takes)), torch.device("cpu"))
        start = time.perf_counter()
        first = torch.cat([sequence[..., depth : depth + 1]] * 2)
        logits = decoder.logits(first, depth)[:, :, -1]
        self.generator.decode_steps(decoder, sequence, logits, depth, generators)
        return time.perf_counter() - start


def runner(variant: str, lm):
    if variant == "transformers generate":
        return TransformersRunner(lm)
    return OursRunner(lm, takes=4 if "4 takes" in variant else 1)


def time_all(steps: int, rounds: int) -> dict:
    """Seconds per step for every (variant, depth): the fastest of the rounds (load from other
    processes only ever adds time), variants alternating within each round."""
    lm = small_lm()
    run = {variant: runner(variant, lm) for variant in VARIANTS}
    for variant in VARIANTS:  # warm-up: allocator, thread pools
        run[variant](0, 2)
    samples = {(v, d): [] for v in VARIANTS for d in DEPTHS}
    for round_ in range(rounds):
        order = VARIANTS if round_ % 2 == 0 else tuple(reversed(VARIANTS))
        for depth in DEPTHS:
            for variant in order:
                samples[variant, depth].append(run[variant](depth, steps) / steps)
                print(f"  round {round_ + 1} depth {depth:4d} {variant:22s} "
                      f"{samples[variant, depth][-1] * 1000:7.1f} ms/step", flush=True)  # fmt: skip
    return {key: min(values) for key, values in samples.items()}


def child_memory(variant: str, steps: int) -> None:
    """Peak RSS of one variant alone while it decodes at depth 1500 (weights included).

    Building random weights has its own transient peak; writing 5 to /proc/self/clear_refs
    resets the high-water mark (VmHWM) so only the decoding run is measured.
    """
    run = runner(variant, small_lm())
    run(0, 2)
    Path("/proc/self/clear_refs").write_text("5")
    run(DEPTHS[-1], steps)
    status = Path("/proc/self/status").read_text()
    peak_kb = int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM")))
    print(json.dumps({"peak_mb": peak_kb / 1024}))


def peak_memory(variant: str, steps: int, threads: int) -> float:
    command = [sys.executable, __file__, "--memory-of", variant, "--steps", str(steps),
               "--threads", str(threads)]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(done.stdout.strip().splitlines()[-1])["peak_mb"]


def report(per_step: dict, memory: dict) -> None:
    print(f"\n{'variant':22s} {'depth':>5s} {'ms/step':>8s} {'steps/s':>8s} {'× tf':>6s} "
          f"{'take-steps/s':>13s} {'peak RSS MB':>12s}")  # fmt: skip
    for depth in DEPTHS:
        base = per_step["transformers generate", depth]
        for variant in VARIANTS:
            seconds = per_step[variant, depth]
            takes = 4 if "4 takes" in variant else 1
            row = f"{variant:22s} {depth:5d} {seconds * 1000:8.1f} {1 / seconds:8.2f} "
            print(row + f"{base / seconds:6.2f} {takes / seconds:13.2f} {memory[variant]:12.0f}")
    base = cue_seconds(per_step, "transformers generate")
    for variant in VARIANTS:
        seconds = cue_seconds(per_step, variant)
        print(f"30 s cue (1,503 steps), {variant}: ~{seconds:.0f} s ({base / seconds:.2f}× tf)")


def cue_seconds(per_step: dict, variant: str) -> float:
    """Seconds for a whole 30 s cue: Simpson's rule over the three depths."""
    start, middle, end = (per_step[variant, d] for d in DEPTHS)
    return CUE_STEPS * (start + 4 * middle + end) / 6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=16, help="decoding steps per measurement")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--memory-of", choices=VARIANTS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.memory_of:
        with torch.inference_mode():
            child_memory(args.memory_of, steps=8)
        return
    print(
        f"MusicGen-small-sized decoder (~420 M), fp32 CPU, {args.threads} thread(s), CFG batch 2,"
        f" top-k 250; {args.steps} steps × {args.rounds} rounds per variant and depth"
    )
    with torch.inference_mode():
        per_step = time_all(args.steps, args.rounds)
    memory = {variant: peak_memory(variant, 8, args.threads) for variant in VARIANTS}
    report(per_step, memory)


if __name__ == "__main__":
    main()
