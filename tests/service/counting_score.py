"""`gvmgen score` with the arranger counting its calls: the crash-and-resume test's subprocess.

Each `generate_with_beats` call appends its seed to `$GVMGEN_TEST_CALLS`. With
`$GVMGEN_TEST_STALL_FROM` set, a call for that seed or a later one waits (at most 60 s) for the
test to kill the process, so the kill lands at a known point: after the earlier cues finished.
"""

from __future__ import annotations

import os
import sys
import time

from gvmgen.cli import main
from gvmgen.engines.arranger.engine import ArrangerEngine

STALL_SECONDS = 60.0

_generate_with_beats = ArrangerEngine.generate_with_beats


def _counted(self, cue, seed, progress=None, cancel=None):
    with open(os.environ["GVMGEN_TEST_CALLS"], "a", encoding="utf-8") as calls:
        calls.write(f"{seed}\n")
    stall_from = os.environ.get("GVMGEN_TEST_STALL_FROM")
    if stall_from is not None and seed >= int(stall_from):
        time.sleep(STALL_SECONDS)  # killed long before this ends
        sys.exit(3)
    return _generate_with_beats(self, cue, seed, progress, cancel)


if __name__ == "__main__":
    ArrangerEngine.generate_with_beats = _counted
    sys.exit(main(sys.argv[1:]))
