import numpy as np
import pytest
from align_music import beat_times, kick_attacks, make_music

from gvmgen.align import align_to_cuts

RATE = 22050


def test_music_warped_past_the_fast_pulse_bound_is_delivered_on_the_cuts_and_reported_hit():
    # 155 BPM, which a listener taps at 155; the cuts ask for it 5 % faster (163 BPM), past the
    # 160 BPM at which a fresh tactus guess taps every other beat. Re-measured at that half
    # level, the warp looked like it missed the odd-beat cuts and the unwarped music was kept.
    music = make_music(155.0, 12.0, RATE)
    period = 60.0 / 155.0 * 0.95
    cuts = beat_times(155.0, 12.0)[2] + period * np.array([0, 3, 7, 10, 15, 19])
    result = align_to_cuts(music, RATE, cuts, fps=24.0)
    kicks = kick_attacks(result.audio, RATE)
    nearest = np.array([np.min(np.abs(kicks - cut)) for cut in cuts])
    assert np.all(nearest < 0.02), nearest  # a kick's attack on every cut, in what is delivered
    assert result.beats_after.tempo == pytest.approx(155.0 / 0.95, rel=0.03)
    assert all(row["hit"] for row in result.metrics.per_cut), result.metrics.per_cut
