"""Sampling music from a `GVMGenModel`: CFG, takes, windows, progress, cancellation, precision.

One call makes several takes (one seed each) in one batched pass: the LM batch holds each
take's conditional row and its null row (`[2·takes]`). Frames are encoded once per cue; each
window of a long cue continues from the last `prompt_seconds` of tokens and cross-attends to
its own frames (`windows="per-window"`) or, as the official code does, to every frame of the
cue (`"official"`); the whole token stream is decoded by EnCodec at once, so the windows leave
no seams. NaN/Inf in any stage's output raises `NonFiniteError`, never a silent token.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

import torch

from gvmgen.model.conditioning import Window, frames_in_window, plan_windows
from gvmgen.model.config import GenerationConfig
from gvmgen.model.decoder import CachedDecoder
from gvmgen.model.model import GVMGenModel
from gvmgen.model.precision import (
    NonFiniteError,
    WeightPrecision,
    autocast,
    default_precision,
    safer,
)
from gvmgen.model.precision import check as check_precision
from gvmgen.model.sampling import guided_logits, make_generators, sample
from gvmgen.progress import ProgressFn, check_cancel, report, scaled, span

CLIP_BATCH = 16  # frames per CLIP pass: bounds activation memory on long cues
FINITE_CHECK_STEPS = 64  # how often the decoding loop looks (one sync) for NaN/Inf logits


class MusicGenerator:
    """Generates codec codes and audio from frames with a `GVMGenModel`."""

    def __init__(
        self,
        model: GVMGenModel,
        config: GenerationConfig | None = None,
        precision: str | None = None,
    ):
        """`precision` (fp32 | bf16 | fp16) of the LM transformer under autocast, as the
        official model runs (`gvmgen.model.precision`); default bf16 on a GPU that has it,
        else fp16, and fp32 on the CPU."""
        self.model = model.eval()
        self.config = config or GenerationConfig()
        self.config.validate()
        self.frame_rate = model.config.frame_rate
        self.pattern = model.pattern
        self._weights = WeightPrecision(model.lm)
        self.precision = ""
        self.set_precision(precision or default_precision(self.device))

    @property
    def device(self) -> torch.device:
        return self.model.lm.lm_heads[0].weight.device

    def set_precision(self, precision: str) -> None:
        """Cast the LM transformer's weights (once, not per step) and autocast to `precision`."""
        self._weights.cast(check_precision(precision))
        self.precision = precision

    @property
    def safer_precision(self) -> str | None:
        return safer(self.precision, self.device)

    def autocast(self):
        """Autocast in `precision` for the transformer and the visual encoder; none in fp32."""
        return autocast(self.device, self.precision)

    def _non_finite(self, stage: str, step: int | None = None) -> NonFiniteError:
        return NonFiniteError(stage, self.precision, step, self.safer_precision)

    @torch.inference_mode()
    def encode_frames(self, pixels: torch.Tensor) -> torch.Tensor:
        """pixels `[N, 3, S, S]` (CLIP-normalised) → frame tokens `[N, d_LM]`, once per cue."""
        if not len(pixels):
            return torch.zeros(0, self.model.config.lm.hidden_size, device=self.device)
        with self.autocast():
            chunks = [
                self.model.visual(c.to(self.device)).float() for c in pixels.split(CLIP_BATCH)
            ]
        tokens = torch.cat(chunks)
        if not bool(torch.isfinite(tokens).all()):  # once per cue: one sync
            raise self._non_finite("vision")
        return tokens

    @torch.inference_mode()
    def generate_codes(
        self,
        frame_tokens: torch.Tensor,
        frame_times: torch.Tensor,
        num_frames: int,
        seeds: list[int],
        prompt_codes: torch.Tensor | None = None,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
    ) -> torch.Tensor:
        """Codes `[takes, K, num_frames]` for frame tokens `[N, d]` at `frame_times` `[N]` s.

        `prompt_codes` `[K, P]` or `[takes, K, P]` (optional): codes of audio just before time 0.
        """
        prompt = 0 if prompt_codes is None else min(prompt_codes.shape[-1], self._prompt_frames)
        windows = plan_windows(num_frames, self._window_frames, self._prompt_frames, prompt)
        stream = self._initial_stream(len(seeds), num_frames, prompt_codes, prompt)
        generators = make_generators(seeds, self.device)
        counter = _StepCounter(windows, self.pattern.num_codebooks, progress)
        for window in windows:
            condition = self._window_condition(frame_tokens, frame_times, window)
            known = stream[..., window.start + prompt : window.new_from + prompt]
            codes = self._generate_window(
                condition, known, window.length, generators, counter, cancel
            )
            counter.window_done()
            stream[..., window.start + prompt : window.end + prompt] = codes
        return stream[..., prompt:]

    @property
    def _window_frames(self) -> int:
        return int(self.config.window_seconds * self.frame_rate)

    @property
    def _prompt_frames(self) -> int:
        return int(self.config.prompt_seconds * self.frame_rate)

    def _initial_stream(self, takes: int, num_frames: int, prompt_codes, prompt: int):
        k = self.pattern.num_codebooks
        stream = torch.zeros(takes, k, prompt + num_frames, dtype=torch.long, device=self.device)
        if prompt:
            stream[..., :prompt] = prompt_codes[..., -prompt:].to(self.device)
        return stream

    def _window_condition(self, frame_tokens, frame_times, window: Window) -> torch.Tensor:
        """Frame tokens `[T_w, d]` the window cross-attends to (the conditional rows)."""
        start_s, end_s = window.start / self.frame_rate, window.end / self.frame_rate
        if not len(frame_tokens):  # no picture: generate from the null condition alone
            return torch.zeros(1, self.model.config.lm.hidden_size, device=self.device)
        if self.config.windows == "official":  # every window sees the whole cue's frames
            chosen = torch.arange(len(frame_tokens), device=self.device)
        else:
            chosen = frames_in_window(frame_times.to(self.device), start_s, end_s)
        return self.model.visual.add_time(
            frame_tokens[chosen].to(self.device), frame_times.to(self.device)[chosen] - start_s
        )

    def _generate_window(self, condition, known, length, generators, counter, cancel):
        """Fill one window of `length` frames after the `known` codes `[takes, K, P]`.

        `condition` `[T, d]`: the window's frame tokens; the null rows are implied (zeros).
        """
        takes, prompt = known.shape[0], known.shape[-1]
        sequence = self.pattern.interleave(known, length)  # [takes, K, length + K]
        decoder = CachedDecoder(self.model.lm, 2 * takes, sequence.shape[-1])
        with self.autocast():
            decoder.set_cfg_condition(condition)
            logits = decoder.logits(_both(sequence[..., : prompt + 1]), 0)[:, :, -1]
            self.decode_steps(
                decoder, sequence, logits, prompt, generators, counter.step, cancel, counter.done
            )
        return self.pattern.deinterleave(sequence)

    def decode_steps(
        self,
        decoder: CachedDecoder,
        sequence: torch.Tensor,
        logits: torch.Tensor,
        prompt: int,
        generators: list[torch.Generator],
        on_step: Callable[[], None] | None = None,
        cancel: threading.Event | None = None,
        steps_before: int = 0,
    ) -> None:
        """Sample positions `prompt+1 ..` of `sequence` `[takes, K, S]` in place.

        `logits` `[2·takes, K, card]` predict position `prompt + 1`; the decoder's cache holds
        every position up to `prompt`. Each sampled position is fed back for the next one.
        Nothing crosses from the host to the device per step: which codebooks are still to be
        generated at each position is worked out on the device once, and NaN/Inf logits are
        noted there and looked at every `FINITE_CHECK_STEPS` steps (`NonFiniteError` names the
        first bad step, counted from the cue's first, after `steps_before` earlier ones).
        """
        length = sequence.shape[-1] - self.pattern.num_codebooks
        frames = self.pattern.frames_by_position(sequence.shape[-1], sequence.device)
        free = (frames >= prompt) & (frames < length)  # [S, K]: positions to sample
        watch = _FiniteWatch(sequence.shape[-1], sequence.device)
        for position in range(prompt + 1, sequence.shape[-1]):
            check_cancel(cancel)
            guided = guided_logits(logits.float(), self.config.cfg_coef)
            watch.observe(guided, position)
            tokens = sample(guided, self.config, generators)
            sequence[:, :, position] = torch.where(free[position], tokens, sequence[:, :, position])
            if on_step is not None:
                on_step()
            if (position - prompt) % FINITE_CHECK_STEPS == 0:
                self._check_logits(watch, prompt, steps_before)
            if position + 1 < sequence.shape[-1]:
                step = _both(sequence[..., position : position + 1])
                logits = decoder.logits(step, position)[:, :, -1]
        self._check_logits(watch, prompt, steps_before)

    def _check_logits(self, watch: _FiniteWatch, prompt: int, steps_before: int) -> None:
        position = watch.first_bad()
        if position is not None:  # sampling position prompt + 1 is the window's step 1
            raise self._non_finite("lm", steps_before + position - prompt)

    @torch.inference_mode()
    def decode(self, codes: torch.Tensor, num_samples: int | None = None) -> torch.Tensor:
        """codes `[takes, K, T]` → float32 audio `[takes, 1, num_samples or T·hop]`."""
        audio = self.model.decode_audio(codes.to(self.device)).float()
        if not bool(torch.isfinite(audio).all()):  # EnCodec runs in fp32 in every precision
            raise NonFiniteError("codec", "fp32")
        if num_samples is not None:
            audio = torch.nn.functional.pad(audio, (0, max(0, num_samples - audio.shape[-1])))
            audio = audio[..., :num_samples]
        return audio.clamp(-1.0, 1.0)

    @torch.inference_mode()
    def encode_prompt(self, audio: torch.Tensor) -> torch.Tensor:
        """Mono audio `[N]` at the codec rate → prompt codes `[K, ceil(N / hop)]`; one prompt
        per take `[takes, N]` → `[takes, K, ceil(N / hop)]`."""
        if audio.dim() == 2:
            return self.model.encode_audio(audio.to(self.device).float()[:, None])
        return self.model.encode_audio(audio.to(self.device).float()[None, None])[0]

    def generate(
        self,
        pixels: torch.Tensor,
        frame_times: torch.Tensor,
        duration: float,
        seeds: list[int],
        prompt_audio: torch.Tensor | None = None,
        progress: ProgressFn | None = None,
        cancel: threading.Event | None = None,
    ) -> torch.Tensor:
        """Frames `[N, 3, S, S]` at `frame_times` `[N]` s → audio `[takes, 1, duration·rate]`.

        Progress: the LM steps fill [0, 0.95]; EnCodec's decode is the rest.
        """
        num_samples = round(duration * self.model.config.sample_rate)
        tokens = self.encode_frames(pixels)
        check_cancel(cancel)
        prompt = None if prompt_audio is None else self.encode_prompt(prompt_audio)
        steps = scaled(progress, *span("model", "lm"))  # EnCodec's one decode: the rest
        codes = self.generate_codes(
            tokens, frame_times, math.ceil(duration * self.frame_rate), seeds, prompt, steps, cancel
        )
        check_cancel(cancel)
        report(progress, span("model", "decode")[0], "decoding audio")
        if prompt is None:
            audio = self.decode(codes, num_samples)
        else:
            audio = self._decode_after_prompt(codes, prompt, num_samples)
        report(progress, 1.0, "done")
        return audio

    def _decode_after_prompt(self, codes, prompt, num_samples: int) -> torch.Tensor:
        """Decode with the prompt's codes in front (EnCodec context), then cut them off."""
        keep = prompt[..., -self._prompt_frames :] if self._prompt_frames else prompt[..., :0]
        keep = keep if keep.dim() == 3 else keep[None].expand(codes.shape[0], -1, -1)
        joined = torch.cat([keep.to(codes.device), codes], -1)
        hop = self.model.config.sample_rate // self.frame_rate
        audio = self.decode(joined)[..., keep.shape[-1] * hop :]
        audio = torch.nn.functional.pad(audio, (0, max(0, num_samples - audio.shape[-1])))
        return audio[..., :num_samples]


def _both(tokens: torch.Tensor) -> torch.Tensor:
    """Take rows `[takes, ...]` → CFG rows `[2·takes, ...]` (the null row shares the tokens)."""
    return torch.cat([tokens, tokens], dim=0)


class _FiniteWatch:
    """The first position whose guided logits hold NaN/Inf, kept on the device: watching
    costs a few tiny kernels per step and no host sync; `first_bad` syncs once."""

    def __init__(self, length: int, device: torch.device):
        self.positions = torch.arange(length, device=device)
        self.none = torch.tensor(length, device=device)
        self.first = self.none.clone()

    def observe(self, logits: torch.Tensor, position: int) -> None:
        finite = torch.isfinite(logits).all()
        here = torch.where(finite, self.none, self.positions[position])
        torch.minimum(self.first, here, out=self.first)

    def first_bad(self) -> int | None:
        first = int(self.first)
        return None if first == len(self.positions) else first


class _StepCounter:
    """Reports progress once per decoding step over all windows."""

    def __init__(self, windows: list[Window], num_codebooks: int, progress: ProgressFn | None):
        # a window samples positions prompt+1 .. length+K-1 of its delayed sequence
        self.total = sum(w.length + num_codebooks - 1 - w.prompt_frames for w in windows)
        self.done = 0  # steps of the windows finished so far (for naming a bad step)
        self.taken = 0
        self.progress = progress

    def window_done(self) -> None:
        self.done = self.taken

    def step(self) -> None:
        self.taken += 1
        if self.progress is not None:
            fraction = min(1.0, self.taken / self.total)
            self.progress(fraction, f"decoding step {self.taken}/{self.total}")
