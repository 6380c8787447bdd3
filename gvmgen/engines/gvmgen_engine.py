"""The `gvmgen` engine: the neural GVMGen model behind the pipeline's `MusicEngine` protocol.

`weights_available()` is cheap (config files only, no torch) so the pipeline's `auto` choice can
call it freely; `GVMGenEngine.from_installed()` loads the weights once and keeps the model warm;
`build_debug_engine()` gives a tiny random-weight engine for CPU tests of the whole pipeline.

A cue whose logits or audio come out NaN/Inf (an fp16 overflow, say) is made again once in the
next safer precision (fp16 → bf16 → fp32), and the engine stays there; `provenance()` says
which weights, window policy and precision make its cues, and every retry, for the report.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from gvmgen.engines.base import CueConditioning, ProgressFn, check_cancel
from gvmgen.errors import InputError, OutOfMemory, WeightsError
from gvmgen.model import provenance, snapshots
from gvmgen.model.provenance import precision_policy

log = logging.getLogger(__name__)

if TYPE_CHECKING:
    from gvmgen.model.generation import MusicGenerator


def weights_available(models_dir: str | Path | None = None) -> tuple[bool, str]:
    """(True, where) when GVMGen weights and EnCodec are installed; else (False, what to do)."""
    return snapshots.weights_status(models_dir)


class GVMGenEngine:
    """Music for a cue from its frames (1 fps) with GVMGen; continues from `prompt_audio`."""

    name = "gvmgen"
    sample_rate = 32000
    window_seconds = 30.0
    needs_gpu = True
    takes_prompt_audio = True

    def __init__(self, generator: MusicGenerator, weights: list[dict] | None = None):
        """`weights`: where each weight came from and its licence (`installed_provenance`)."""
        self.generator = generator
        self.sample_rate = generator.model.config.sample_rate
        self.image_size = generator.model.config.vision.image_size
        self.window_seconds = generator.config.window_seconds
        self.weights = weights if weights is not None else provenance.debug_weights()
        self.retries: list[dict] = []  # every NaN/Inf that moved the engine to a safer precision

    @classmethod
    def from_installed(
        cls, models_dir: str | Path | None = None, device: str = "auto"
    ) -> GVMGenEngine:
        """Load the installed weights; WeightsError with the install line when there are none.

        Precision: $GVMGEN_PRECISION, else bf16 on a GPU that has it, fp16 on one that has not,
        fp32 on the CPU."""
        ok, why = weights_available(models_dir)
        if not ok:
            raise WeightsError(why)
        from gvmgen.model.generation import MusicGenerator
        from gvmgen.model.precision import from_environment
        from gvmgen.model.weights import load_gvmgen

        model_dir = snapshots.find_kind("gvmgen", models_dir)
        model, generation = load_gvmgen(model_dir.path, device=device, models_dir=models_dir)
        generator = MusicGenerator(model, generation, from_environment(model.lm.device))
        return cls(generator, provenance.read_provenance(model_dir.path, models_dir)["weights"])

    def provenance(self) -> dict:
        """What makes this engine's cues, for report.json: every weight (part, source, licence,
        non_commercial), the window policy, the precision it runs in now and in words, and
        every retry that brought it there (stage, precision and step of the NaN/Inf)."""
        return {
            "weights": self.weights,
            "windows": self.generator.config.windows,
            "precision": self.generator.precision,
            "precision_policy": precision_policy(self.generator.precision),
            "retries": list(self.retries),
        }

    def generate(
        self,
        cue: CueConditioning,
        seed: int,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
    ) -> np.ndarray:
        """float32 `[1, round(cue.duration · 32000)]` in [-1, 1] for the cue's frames."""
        return self.generate_takes(cue, [seed], progress, cancel)[0]

    def generate_with_beats(
        self,
        cue: CueConditioning,
        seed: int,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
    ) -> tuple[np.ndarray, None]:
        """`generate`; the model knows no beat grid, so the aligner tracks one (None)."""
        return self.generate(cue, seed, progress, cancel), None

    def generate_takes(
        self,
        cue: CueConditioning,
        seeds: list[int],
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
        prompts: list[np.ndarray | None] | None = None,
    ) -> list[np.ndarray]:
        """Several takes (one per seed) of the same cue in one batched pass.

        `prompts`, one per take, let each take continue its own previous cue; they replace
        `cue.prompt_audio` and must be all None or all of one length.
        """
        import torch

        from gvmgen.media.video import clip_preprocess

        if not seeds:
            raise InputError("seeds must name at least one take")
        check_cancel(cancel)
        pixels = torch.from_numpy(_preprocess(clip_preprocess, cue.frames, self.image_size))
        times = torch.from_numpy(np.asarray(cue.frame_times, dtype=np.float32))
        prompt = self._prompts(prompts, len(seeds)) if prompts else self._prompt(cue.prompt_audio)
        try:
            audio = self._generate_once_more_if_not_finite(
                lambda: self.generator.generate(
                    pixels, times, cue.duration, list(seeds), prompt, progress, cancel
                ),
                progress,
            )
        except torch.cuda.OutOfMemoryError as error:
            torch.cuda.empty_cache()  # the warm model stays usable for a smaller job
            raise OutOfMemory(
                f"GPU out of memory making {len(seeds)} take(s) of a {cue.duration:.1f} s cue",
                hint="ask for fewer takes at once, or free the GPU for this job",
            ) from error
        return [take.cpu().numpy().astype(np.float32) for take in audio]

    def _generate_once_more_if_not_finite(self, generate, progress: ProgressFn | None):
        """`generate()`; after NaN/Inf, once more in the safer precision (kept from then on:
        the same weights would overflow again on the next cue)."""
        from gvmgen.model.precision import NonFiniteError
        from gvmgen.progress import report

        try:
            return generate()
        except NonFiniteError as error:
            if error.safer is None:
                raise
            first = error
        log.warning("%s; retrying the cue in %s", first, first.safer)
        # the job's bar never goes back (the pump holds it); the line says why it waits
        report(progress, 0.0, f"NaN/Inf {first.where()}: making the cue again in {first.safer}")
        self.generator.set_precision(first.safer)
        self.retries.append({**first.to_record(), "retried_in": first.safer})
        try:
            return generate()
        except NonFiniteError as error:
            raise NonFiniteError(
                error.stage, error.precision, error.step, error.safer, earlier=first
            ) from error

    def _prompt(self, prompt_audio: np.ndarray | None):
        """The previous cue's tail `[C, N]` at 32 kHz → mono tensor `[N]`, or None."""
        import torch

        if prompt_audio is None or prompt_audio.size == 0:
            return None
        mono = np.asarray(prompt_audio, dtype=np.float32).reshape(-1, prompt_audio.shape[-1])
        return torch.from_numpy(mono.mean(axis=0))

    def _prompts(self, prompts: list[np.ndarray | None], takes: int):
        """One prompt per take → mono tensor `[takes, N]`, or None when no take has one."""
        import torch

        if len(prompts) != takes:
            raise InputError(f"{len(prompts)} prompts for {takes} takes; give one per take")
        mono = [self._prompt(p) for p in prompts]
        if all(m is None for m in mono):
            return None
        if any(m is None for m in mono) or len({len(m) for m in mono}) != 1:
            raise InputError("prompts must be all None or all of one length")
        return torch.stack(mono)


def _preprocess(clip_preprocess, frames: np.ndarray, size: int) -> np.ndarray:
    if len(frames) == 0:
        return np.zeros((0, 3, size, size), np.float32)
    return clip_preprocess(frames, size=size)


def build_debug_engine(seed: int = 0, precision: str | None = None) -> GVMGenEngine:
    """A tiny random-weight GVMGen engine (CPU, seconds per cue) for pipeline tests.

    Its music is noise-like: the weights are random. Window 30 s as the real engine.
    """
    from gvmgen.model.generation import MusicGenerator
    from gvmgen.model.model import build_debug_model

    return GVMGenEngine(MusicGenerator(build_debug_model(seed), precision=precision))
