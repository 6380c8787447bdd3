"""What the controls tests share: the committed speech fixture and its hand-checked regions."""

from __future__ import annotations

from pathlib import Path

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
# espeak-ng (en-us, 150 wpm) saying two lines, 1 s of silence before, 2.5 s between, 1 s after;
# made once by the recipe in tests/fixtures/README.md. Speech regions by energy (-45 dBFS over
# 10 ms frames, gaps under 0.3 s bridged), checked by ear.
SPEECH_WAV = FIXTURES / "speech.wav"
SPEECH_REGIONS = [(1.01, 4.95), (7.89, 9.10)]


def read_speech():
    """The speech fixture as `([1, N] float32, rate)`."""
    import soundfile as sf

    audio, rate = sf.read(str(SPEECH_WAV), dtype="float32", always_2d=True)
    return audio.T.copy(), rate
