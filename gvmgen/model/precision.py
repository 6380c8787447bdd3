"""The precision GVMGen runs in: the official model's mixed precision, and the way out of it.

The official code on a GPU (audiocraft's `load_lm_model` + `BaseGenModel`) builds only the LM's
transformer in fp16 and runs generation under fp16 autocast. The token embeddings (`emb`), the
final norm (`out_norm`), the output heads (`linears`) and the whole visual conditioner (CLIP and
the Q-Former) keep fp32 weights, so the residual stream between the transformer's layers stays
fp32. We do the same, except that:

- bf16 is chosen where the device supports it: it has fp32's range, so the activations that
  overflow fp16 (65,504) cannot; fp16 on older cards; fp32 on the CPU (no autocast, as official);
- every LayerNorm stays fp32 (the official transformer's own norms are fp16 tensors, but
  autocast computes layer_norm in fp32 either way, and the checkpoint's fp16 values are exact
  in fp32, so this changes nothing but robustness);
- the heads run in fp32 outside autocast (official: fp32 weights cast to fp16 by autocast each
  step — one cast kernel more, and fp16 logits).

A take whose logits or audio come out NaN/Inf raises `NonFiniteError` naming the stage, the
precision and the step; the engine retries it once in `safer()` precision.
"""

from __future__ import annotations

import contextlib

import torch

from gvmgen.errors import EngineError

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}
PRECISIONS = tuple(DTYPES)


PRECISION_ENV = "GVMGEN_PRECISION"  # fp32 | bf16 | fp16: overrides the default choice


class NonFiniteError(EngineError):
    """NaN or Inf in a stage's output: `stage` (vision | lm | codec), `precision`, `step`
    (1-based decoding step of the cue, for the LM), and the `safer` precision to try."""

    code = "non_finite"

    def __init__(
        self,
        stage: str,
        precision: str,
        step: int | None = None,
        safer: str | None = None,
        earlier: NonFiniteError | None = None,
    ):
        self.stage, self.precision, self.step, self.safer = stage, precision, step, safer
        if safer is not None:
            hint = f"run it in {safer} (set {PRECISION_ENV}={safer})"
        else:
            hint = "in fp32 that is the weights themselves: check them (`gvmgen models verify`)"
        retried = f", retried after {earlier.where()}" if earlier is not None else ""
        super().__init__(
            f"GVMGen's {_STAGES[stage]} came out NaN/Inf {self.where()}{retried}; {hint}",
            hint=hint,
        )

    def where(self) -> str:
        step = f" at decoding step {self.step}" if self.step is not None else ""
        return f"in {self.precision}{step}"

    def to_record(self) -> dict:
        """What the report keeps of it."""
        return {"stage": self.stage, "precision": self.precision, "step": self.step}


_STAGES = {
    "vision": "visual encoder (CLIP + Q-Former)",
    "lm": "LM logits",
    "codec": "EnCodec audio",
}


def from_environment(device: torch.device) -> str:
    """$GVMGEN_PRECISION when set (checked), else `default_precision(device)`."""
    import os

    chosen = os.environ.get(PRECISION_ENV, "").strip().lower()
    if not chosen:
        return default_precision(device)
    check(chosen)
    if not supports(device, chosen):
        raise EngineError(f"{PRECISION_ENV}={chosen} does not run on {device}", field="precision")
    return chosen


def supports(device: torch.device, precision: str) -> bool:
    """Whether `device` runs `precision` autocast (bf16 needs an Ampere-class GPU or a CPU)."""
    if precision == "fp32":
        return True
    if device.type == "cuda":
        return precision == "fp16" or torch.cuda.is_bf16_supported()
    return device.type == "cpu"  # CPU autocast does both, slowly; tests use it


def default_precision(device: torch.device) -> str:
    """bf16 where the GPU has it, else fp16; fp32 on the CPU (as the official code)."""
    if device.type != "cuda":
        return "fp32"
    return "bf16" if supports(device, "bf16") else "fp16"


def safer(precision: str, device: torch.device) -> str | None:
    """The precision to retry in after a NaN/Inf: fp16 → bf16 (fp32 without bf16) → fp32."""
    if precision == "fp16" and supports(device, "bf16"):
        return "bf16"
    return None if precision == "fp32" else "fp32"


def check(precision: str) -> str:
    if precision not in DTYPES:
        raise EngineError(
            f"unknown precision {precision!r} ({PRECISION_ENV}?); choose one of "
            f"{', '.join(PRECISIONS)}",
            field="precision",
        )
    return precision


def autocast(device: torch.device, precision: str):
    """Autocast for the low-precision parts; a no-op in fp32."""
    if precision == "fp32":
        return contextlib.nullcontext()
    return torch.autocast(device.type, dtype=DTYPES[precision])


def no_autocast(device: torch.device):
    """Inside `autocast`: run a part (the output heads) in its own fp32 weights."""
    return torch.autocast(device.type, enabled=False)


def transformer_weights(lm) -> dict[str, torch.nn.Parameter]:
    """The LM transformer's matmul weights: what the official model keeps in fp16.

    Everything else — token embeddings, LayerNorms, the final norm, the heads — stays fp32.
    """
    return {
        name: param
        for name, param in lm.model.decoder.layers.named_parameters()
        if param.dim() == 2 and "layer_norm" not in name
    }


class WeightPrecision:
    """Casts the LM transformer's weights to a precision and back, without losing bits.

    The first cast below fp32 keeps each weight's full-precision values on the host (as fp16
    when that is exact, the official checkpoint's case), so a retry in a safer precision runs
    the weights as loaded, not as rounded.
    """

    def __init__(self, lm):
        self.lm = lm
        self.masters: dict[str, torch.Tensor] = {}
        self.current = "fp32"

    def cast(self, precision: str) -> None:
        if precision == self.current:
            return
        dtype = DTYPES[precision]
        for name, param in transformer_weights(self.lm).items():
            if precision != "fp32" and name not in self.masters:
                self.masters[name] = _exact_copy(param.data)
            source = self.masters.get(name, param.data)
            # a fresh tensor per weight: decoders that fused q/k/v into views re-fuse
            param.data = source.to(param.device, dtype, copy=True)
        self.current = precision


def _exact_copy(weight: torch.Tensor) -> torch.Tensor:
    """A host copy of `weight`, in fp16 when that holds it exactly (half the memory)."""
    host = weight.detach().to("cpu", copy=True)
    half = host.to(torch.float16)
    return half if torch.equal(half.to(host.dtype), host) else host
