"""Bad controls on the command line: one line naming the field and the fix, exit 2, nothing
written (the output folder is not even made)."""

from __future__ import annotations

import pytest

from gvmgen.cli import main
from gvmgen.controls import MOODS


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--mood", "jolly"], "mood: unknown mood; choose one of " + ", ".join(MOODS)),
        (["--intensity", "0"], "intensity: intensity is a whole number 1-9"),
        (["--intensity", "10"], "intensity: intensity is a whole number 1-9"),
        (["--tempo", "30"], "tempo: tempo is BPM 40-220"),
        (["--tempo", "96-300"], "tempo: tempo is BPM 40-220"),
        (["--duck", "60"], "duck_db: Input should be greater than or equal to -40"),
        (["--loudness", "ebu-r128", "--target-lufs", "-14"], "loudness ebu-r128 means -23 LUFS"),
    ],
)
def test_a_bad_control_is_one_line_exit_2_and_nothing_written(tmp_path, capsys, flags, says):
    clip = tmp_path / "clip.mp4"
    clip.write_bytes(b"")  # never opened: the request is refused first
    out = tmp_path / "out"
    code = main(["score", str(clip), "--out", str(out), *flags])
    err = capsys.readouterr().err
    assert code == 2
    assert says in err and err.count("\n") == 1, err
    assert "Traceback" not in err
    assert not out.exists()
