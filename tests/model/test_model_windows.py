"""Long cues: windows see only their frames, continue from exact prompt tokens, decode as one."""

from __future__ import annotations

import pytest
import torch

from gvmgen.model.conditioning import Window, frames_in_window, plan_windows
from gvmgen.model.config import GenerationConfig
from gvmgen.model.generation import MusicGenerator

# 0.4 s windows (20 codec frames) continuing from 0.1 s (5 frames): small enough for a CPU test.
WINDOWED = GenerationConfig(window_seconds=0.4, prompt_seconds=0.1)


def test_plan_windows_covers_the_cue_with_prompt_overlaps():
    assert plan_windows(50, 20, 5) == [Window(0, 20, 0), Window(15, 35, 20), Window(30, 50, 35)]
    assert plan_windows(10, 20, 5) == [Window(0, 10, 0)]
    assert plan_windows(30, 20, 5, first_prompt=4) == [Window(-4, 16, 0), Window(11, 30, 16)]
    with pytest.raises(ValueError):
        plan_windows(30, 20, 20)


def test_frames_in_window_picks_by_time_and_falls_back_to_nearest():
    times = torch.tensor([0.0, 0.1, 0.2, 0.3, 0.9])
    assert frames_in_window(times, 0.1, 0.3).tolist() == [1, 2]
    assert frames_in_window(times, 0.4, 0.6).tolist() == [3]  # none inside: nearest to 0.5


class _Recorder:
    """Wraps `_generate_window` to keep each window's condition, prompt codes and result."""

    def __init__(self, generator: MusicGenerator):
        self.calls = []
        original = generator._generate_window

        def record(condition, known, length, *rest):
            codes = original(condition, known, length, *rest)
            self.calls.append((condition.clone(), known.clone(), codes.clone()))
            return codes

        generator._generate_window = record


@pytest.fixture(scope="module")
def long_cue(tiny_model):
    generator = MusicGenerator(tiny_model, WINDOWED)
    recorder = _Recorder(generator)
    tokens = torch.randn(10, tiny_model.config.lm.hidden_size)
    times = torch.arange(10.0) * 0.1  # one frame every 0.1 s over a 1 s cue
    with torch.inference_mode():
        codes = generator.generate_codes(tokens, times, 50, seeds=[11, 12])
    return codes, tokens, recorder.calls


def test_each_window_continues_from_the_exact_previous_tokens(long_cue):
    codes, _, calls = long_cue
    windows = plan_windows(50, 20, 5)
    assert len(calls) == len(windows) == 3
    for window, (_, known, generated) in zip(windows, calls, strict=True):
        assert torch.equal(known, codes[..., window.start : window.new_from])
        assert torch.equal(generated[..., : known.shape[-1]], known)  # the prompt is kept as is
        assert torch.equal(generated, codes[..., window.start : window.end])


def test_each_window_cross_attends_only_to_its_own_frames(long_cue):
    _, tokens, calls = long_cue
    expected_frames = [[0, 1, 2, 3], [3, 4, 5, 6], [6, 7, 8, 9]]  # [0, .4), [.3, .7), [.6, 1)
    for (condition, _, _), frames in zip(calls, expected_frames, strict=True):
        torch.testing.assert_close(condition, tokens[frames])  # the null rows are zeros


@torch.inference_mode()
def test_windows_are_decoded_as_one_stream(tiny_model, monkeypatch):
    generator = MusicGenerator(tiny_model, WINDOWED)
    decoded = []
    original = tiny_model.decode_audio
    monkeypatch.setattr(
        tiny_model, "decode_audio", lambda codes: decoded.append(codes.shape) or original(codes)
    )
    pixels = torch.randn(6, 3, 32, 32)
    audio = generator.generate(pixels, torch.arange(6.0) * 0.15, duration=0.9, seeds=[1])
    assert decoded == [(1, 4, 45)]  # one EnCodec pass over all 45 codec frames
    assert audio.shape == (1, 1, 28800)


@torch.inference_mode()
def test_prompt_audio_becomes_the_first_windows_prompt(tiny_model):
    generator = MusicGenerator(tiny_model, WINDOWED)
    recorder = _Recorder(generator)
    prompt_audio = 0.1 * torch.randn(3200)  # 0.1 s at 32 kHz = 5 codec frames
    expected = generator.encode_prompt(prompt_audio)
    audio = generator.generate(
        torch.randn(2, 3, 32, 32), torch.tensor([0.0, 0.2]), 0.3, [4], prompt_audio=prompt_audio
    )
    assert audio.shape == (1, 1, 9600)
    _, known, _ = recorder.calls[0]
    assert known.shape == (1, 4, 5)
    assert torch.equal(known[0], expected[:, -5:])


@torch.inference_mode()
def test_time_embeddings_are_an_improved_option_off_in_faithful_mode():
    from gvmgen.model.model import build_debug_model, debug_config

    config = debug_config()
    config.time_embeddings = True
    with pytest.raises(ValueError, match="faithful=False"):
        config.validate()
    config.faithful = False
    model = build_debug_model(config=config)
    tokens = torch.zeros(2, config.lm.hidden_size)
    timed = model.visual.add_time(tokens, torch.tensor([0.0, 1.0]))
    assert not torch.equal(timed[0], timed[1])  # frame order is now visible to the LM
    faithful = build_debug_model()
    assert torch.equal(faithful.visual.add_time(tokens, torch.tensor([0.0, 1.0])), tokens)


def official_chunks(duration: float, max_duration=32.0, stride=18.0, frame_rate=50):
    """The official `_generate_tokens` loop (GVMGen models/gvmgen.py, after audiocraft),
    restated: `(start, end, new_from)` in codec frames of each `lm.generate` call."""
    total = int(duration * frame_rate)
    if duration <= max_duration:
        return [(0, total, 0)]
    stride_tokens = int(frame_rate * stride)
    offset, prompt_length, chunks = 0, 0, []
    while offset + prompt_length < total:
        chunk_duration = min(duration - offset / frame_rate, max_duration)
        max_gen_len = int(chunk_duration * frame_rate)  # the prompt included
        chunks.append((offset, offset + max_gen_len, offset + prompt_length))
        prompt_length = max_gen_len - stride_tokens  # prompt_tokens = gen_tokens[..., stride:]
        offset += stride_tokens
    return chunks


def test_official_windows_match_the_official_chunks_on_a_75_s_cue(tiny_model, monkeypatch):
    assert official_chunks(75.0) == [(0, 1600, 0), (900, 2500, 1600), (1800, 3400, 2500),
                                     (2700, 3750, 3400)]  # fmt: skip
    assert official_chunks(31.0) == [(0, 1550, 0)]  # one pass, where per-window makes two
    official = GenerationConfig().with_windows("official")
    assert (official.window_seconds, official.prompt_seconds) == (32.0, 14.0)
    generator = MusicGenerator(tiny_model, official)
    calls = []

    def window(condition, known, length, *rest):  # no LM: only where the windows fall
        calls.append((known.shape[-1], length, condition.clone()))
        new = torch.randint(0, 64, (known.shape[0], 4, length - known.shape[-1]))
        return torch.cat([known, new], dim=-1)

    monkeypatch.setattr(generator, "_generate_window", window)
    tokens = torch.randn(75, tiny_model.config.lm.hidden_size)
    with torch.inference_mode():
        codes = generator.generate_codes(tokens, torch.arange(75.0), 3750, seeds=[0])
    assert codes.shape == (1, 4, 3750)
    expected = [(new_from - start, end - start) for start, end, new_from in official_chunks(75.0)]
    assert [(prompt, length) for prompt, length, _ in calls] == expected
    for _, _, condition in calls:  # every window hears the whole cue, as the official code
        torch.testing.assert_close(condition, tokens)
    per_window = GenerationConfig()
    assert per_window.windows == "per-window" and plan_windows(3750, 1500, 500) == [
        Window(0, 1500, 0), Window(1000, 2500, 1500), Window(2000, 3500, 2500),
        Window(3000, 3750, 3500)]  # fmt: skip
