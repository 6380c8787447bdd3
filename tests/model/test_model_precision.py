"""Precision as the official model runs it, NaN/Inf caught and retried, no per-step copies."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.overrides import TorchFunctionMode

from gvmgen.engines.base import CueConditioning
from gvmgen.engines.gvmgen_engine import GVMGenEngine
from gvmgen.model.config import GenerationConfig
from gvmgen.model.decoder import CachedDecoder
from gvmgen.model.generation import MusicGenerator
from gvmgen.model.model import build_debug_model
from gvmgen.model.precision import NonFiniteError, transformer_weights


def _cue(duration=0.2, frames=2):
    rng = np.random.default_rng(0)
    pixels = rng.integers(0, 256, (frames, 32, 32, 3), dtype=np.uint8)
    return CueConditioning(duration, pixels, np.arange(frames) * 0.1)


def _dtypes(module: torch.nn.Module, keep) -> set[torch.dtype]:
    return {p.dtype for name, p in module.named_parameters() if keep(name)}


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_official_policy_keeps_embeddings_norms_heads_and_vision_in_fp32(precision):
    model = build_debug_model(seed=2)
    originals = {k: v.clone() for k, v in model.state_dict().items()}
    generator = MusicGenerator(model, precision=precision)
    low = {"bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    lm = model.lm
    assert _dtypes(lm, lambda n: "embed_tokens" in n) == {torch.float32}
    assert _dtypes(lm, lambda n: "layer_norm" in n) == {torch.float32}  # every layer's + out_norm
    assert _dtypes(lm, lambda n: "lm_heads" in n) == {torch.float32}
    assert {p.dtype for p in transformer_weights(lm).values()} == {low}
    assert len(transformer_weights(lm)) == 10 * model.config.lm.num_layers  # q k v o ×2, fc1, fc2
    assert _dtypes(model.visual, lambda n: True) == {torch.float32}
    assert _dtypes(model.codec, lambda n: True) == {torch.float32}

    with torch.inference_mode():  # it runs, and the residual stream stays fp32
        decoder = CachedDecoder(lm, batch=2, max_length=8)
        with generator.autocast():
            decoder.set_cfg_condition(torch.randn(3, model.config.lm.hidden_size))
            hidden = decoder.embed(torch.zeros(2, 4, 1, dtype=torch.long), 0)
            after_layer = decoder._layer(0, decoder.layers[0], hidden, 0)
        assert decoder.keys.dtype == low and after_layer.dtype == torch.float32

    generator.set_precision("fp32")  # back to the weights as loaded, bit for bit
    for key, value in model.state_dict().items():
        assert torch.equal(value, originals[key]), key


@torch.inference_mode()
def test_low_precision_logits_stay_close_to_fp32():
    reference, mixed = build_debug_model(seed=5), build_debug_model(seed=5)
    sequence = torch.randint(0, 64, (2, 4, 20), generator=torch.Generator().manual_seed(0))
    frames = torch.randn(3, reference.config.lm.hidden_size)
    logits = {}
    for name, model in (("fp32", reference), ("bf16", mixed)):
        generator = MusicGenerator(model, precision=name)
        decoder = CachedDecoder(model.lm, batch=2, max_length=20)
        with generator.autocast():
            decoder.set_cfg_condition(frames)
            logits[name] = decoder.logits(sequence, 0)
    assert logits["bf16"].dtype == torch.float32  # the heads run in fp32
    error = (logits["bf16"] - logits["fp32"]).norm() / logits["fp32"].norm()
    assert 0 < error < 0.05


def _overflowing_in_fp16(model) -> None:
    """Layer 0's FFN output reaches ~1e5: past fp16's 65,504, easy for bf16 and fp32."""
    layer = model.lm.model.decoder.layers[0]
    with torch.no_grad():
        layer.fc1.weight.mul_(300.0)
        layer.fc2.weight.mul_(1000.0)


def test_an_fp16_overflow_is_named_and_the_cue_is_made_again_in_bf16():
    model = build_debug_model(seed=1)
    _overflowing_in_fp16(model)
    engine = GVMGenEngine(MusicGenerator(model, precision="fp16"))
    with pytest.raises(NonFiniteError) as caught:  # what the engine's retry catches
        engine.generator.generate(torch.randn(1, 3, 32, 32), torch.zeros(1), 0.1, [0])
    error = caught.value
    assert (error.stage, error.precision, error.step, error.safer) == ("lm", "fp16", 1, "bf16")
    assert str(error) == (
        "GVMGen's LM logits came out NaN/Inf in fp16 at decoding step 1; "
        "run it in bf16 (set GVMGEN_PRECISION=bf16)"
    )

    lines = []
    audio = engine.generate(_cue(), seed=3, progress=lambda f, m: lines.append(m))
    assert audio.shape == (1, 6400) and np.isfinite(audio).all() and np.abs(audio).max() > 0
    assert "NaN/Inf in fp16 at decoding step 1: making the cue again in bf16" in lines
    record = engine.provenance()
    assert record["precision"] == "bf16" == engine.generator.precision
    retry = {"stage": "lm", "precision": "fp16", "step": 1, "retried_in": "bf16"}
    assert record["retries"] == [retry]
    assert "bf16 under autocast" in record["precision_policy"]
    assert engine.generate(_cue(), seed=3).shape == (1, 6400)  # stays in bf16: no second retry
    assert engine.provenance()["retries"] == [retry]


def test_nan_logits_at_a_later_step_name_that_step_and_fp32_has_nothing_safer(monkeypatch):
    engine = GVMGenEngine(MusicGenerator(build_debug_model(seed=1), precision="fp32"))
    original, calls = CachedDecoder.logits, []

    def poisoned(self, tokens, start):
        logits = original(self, tokens, start)
        calls.append(start)
        return logits.fill_(float("nan")) if len(calls) == 7 else logits

    monkeypatch.setattr(CachedDecoder, "logits", poisoned)
    with pytest.raises(NonFiniteError) as caught:
        engine.generate(_cue(), seed=0)
    assert (caught.value.stage, caught.value.step, caught.value.safer) == ("lm", 7, None)
    assert "in fp32 at decoding step 7" in str(caught.value)
    assert "gvmgen models verify" in str(caught.value) and "\n" not in str(caught.value)
    # one pass (the prefill and 12 steps, looked at once at its end), no retry
    assert engine.generator.precision == "fp32" and len(calls) == 13


def test_nan_again_after_the_retry_says_both(monkeypatch):
    engine = GVMGenEngine(MusicGenerator(build_debug_model(seed=1), precision="bf16"))
    monkeypatch.setattr(
        CachedDecoder, "logits", lambda self, tokens, start: torch.full((2, 4, 1, 64), torch.inf)
    )
    with pytest.raises(NonFiniteError, match=r"in fp32 at decoding step 1, retried after in bf16 "):
        engine.generate(_cue(), seed=0)


def test_nan_audio_from_the_codec_is_an_error_not_a_delivered_take(monkeypatch):
    engine = GVMGenEngine(MusicGenerator(build_debug_model(seed=1)))
    monkeypatch.setattr(
        engine.generator.model, "decode_audio", lambda codes: torch.full((1, 1, 6400), torch.nan)
    )
    with pytest.raises(NonFiniteError, match="EnCodec audio came out NaN/Inf in fp32"):
        engine.generate(_cue(), seed=0)


class _HostToDevice(TorchFunctionMode):
    """Records every call that may copy host data to a device, with the decoding step it is in:
    `.to(device)`, `.cuda()`, `torch.tensor(…, device=)` and `torch.as_tensor(…, device=)`."""

    def __init__(self):
        super().__init__()
        self.step, self.calls = 0, []

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if _may_copy_to_device(func, args, kwargs):
            self.calls.append((self.step, getattr(func, "__name__", str(func))))
        return func(*args, **kwargs)


def _may_copy_to_device(func, args, kwargs) -> bool:
    if func in (torch.Tensor.to, torch.Tensor.cuda):
        named = [*args[1:], kwargs.get("device")]
        return func is torch.Tensor.cuda or any(
            isinstance(a, (torch.device, str, torch.Tensor)) for a in named
        )
    return func in (torch.tensor, torch.as_tensor) and kwargs.get("device") is not None


@torch.inference_mode()
def test_no_host_to_device_copy_in_any_decoding_step(tiny_model):
    generator = MusicGenerator(tiny_model, GenerationConfig())
    mode = _HostToDevice()

    def progress(fraction: float, message: str) -> None:
        if message.startswith("decoding step"):
            mode.step = int(message.split()[-1].split("/")[0])

    with mode:
        generator.generate(torch.randn(2, 3, 32, 32), torch.tensor([0.0, 0.1]), 0.4, [1, 2],
                           progress=progress)  # fmt: skip
    steps = mode.step
    assert steps == 20 + 3  # 0.4 s at 50 Hz, plus the delay pattern's K - 1
    inside = [call for call in mode.calls if 1 <= call[0] < steps]
    assert inside == [], f"copies while decoding: {inside[:5]}"
    assert mode.calls  # the watch does see the copies made once per cue (frames, prompts)


def test_gvmgen_precision_chooses_the_precision_and_a_bad_value_is_one_line(monkeypatch):
    from gvmgen.errors import EngineError
    from gvmgen.model.precision import from_environment

    cpu = torch.device("cpu")
    monkeypatch.delenv("GVMGEN_PRECISION", raising=False)
    assert from_environment(cpu) == "fp32"  # the CPU default, as the official code
    monkeypatch.setenv("GVMGEN_PRECISION", "BF16")
    assert from_environment(cpu) == "bf16"
    monkeypatch.setenv("GVMGEN_PRECISION", "half")
    with pytest.raises(EngineError, match=r"unknown precision 'half' .*fp32, bf16, fp16"):
        from_environment(cpu)
