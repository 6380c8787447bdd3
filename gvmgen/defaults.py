"""The choices and defaults every layer shares, each written once (standard library only).

The request schema (`gvmgen.schema.ScoreRequest`), the CLI's option tables (`gvmgen score`,
`gvmgen client submit`, `demo`, `serve`, `align`), the library functions' own defaults
(alignment, loudness) and the Resolve installer's `gvmgen.json` read them from here; the Resolve
scripts pass an option only when the editor set one, so the client's default applies.
tests/test_defaults.py fails when a copy drifts.
"""

from __future__ import annotations

from typing import Literal, get_args

EngineName = Literal["auto", "arranger", "gvmgen"]
ENGINE_CHOICES: tuple[str, ...] = get_args(EngineName)
DEFAULT_ENGINE: EngineName = "auto"  # GVMGen when its weights and a GPU are there, else arranger

DEFAULT_MAX_STRETCH = 0.06  # largest local tempo change the alignment may use: ±6 %
DEFAULT_TARGET_LUFS = -16.0  # integrated loudness of each cue (the "web" delivery preset)
DEFAULT_TRUE_PEAK_DBTP = -1.0  # true-peak ceiling with a custom --target-lufs
DEFAULT_DUCK_DB = -10.0  # music under dialogue: a musical dip, not a mute
