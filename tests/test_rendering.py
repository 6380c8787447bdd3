"""rendering.py on its own: the helpers that join, rest, release and prompt, the checkpoint
format, and `render_takes` against in-memory checkpoints (what a rerun of a killed job hears,
what the engine is given, what comes out)."""

from __future__ import annotations

import io
import threading
from dataclasses import replace

import numpy as np
import pytest
from score_plans import generated_plan

from gvmgen.cues import Cue
from gvmgen.engines import EngineChoice
from gvmgen.engines.arranger import ArrangerEngine
from gvmgen.errors import Paused
from gvmgen.media.audio import DELIVERY_RATE
from gvmgen.progress import Pump, Update
from gvmgen.rendering import (
    PROMPT_SECONDS,
    TAIL_SECONDS,
    RenderedCue,
    cue_arrays,
    cue_from_arrays,
    joined,
    kept_cue,
    prompt,
    render_takes,
    rest,
)

RATE = 25.0


class MemoryCheckpoints:
    """`Checkpoints` in memory, through the same .npz bytes a job's staging folder holds."""

    def __init__(self):
        self.saved: dict[tuple[int, int], bytes] = {}

    def save_cue(self, take: int, cue_index: int, arrays: dict) -> None:
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        self.saved[take, cue_index] = buffer.getvalue()

    def load_cue(self, take: int, cue_index: int):
        data = self.saved.get((take, cue_index))
        if data is None:
            return None
        with np.load(io.BytesIO(data), allow_pickle=False) as kept:
            return {name: kept[name] for name in kept.files}


class Continuing(ArrangerEngine):
    """The arranger as an engine that continues music: cues in order, every prompt recorded."""

    takes_prompt_audio = True

    def __init__(self):
        super().__init__()
        self.prompts: list[tuple[int, np.ndarray | None]] = []

    def generate_with_beats(self, cue, seed, progress=None, cancel=None):
        self.prompts.append((seed, cue.prompt_audio))
        return super().generate_with_beats(cue, seed, progress, cancel)


class Refusing(ArrangerEngine):
    """An engine that must not be asked: every cue should come from a checkpoint."""

    def generate_with_beats(self, cue, seed, progress=None, cancel=None):
        raise AssertionError(f"the engine was asked for seed {seed}")


def _render(plan, takes, checkpoints, pause=None):
    """`render_takes` as the pipeline runs it: on a worker thread, its steps through a Pump."""
    updates: list[Update] = []
    pump = Pump(lambda update, eta: updates.append(update))

    def work():
        return render_takes(
            plan,
            takes,
            checkpoints,
            pump.post,
            stop=pump.stop,
            pause=pause,
            seconds={},
            span=(0.1, 0.85),
        )

    return pump.run(work), updates


# two cues of music around a rest: 6 s, 3 s of black, 6 s; cuts inside the music
CUES = [Cue(0, "cue 1", 0, 150), Cue(1, "rest", 150, 225, silent=True), Cue(2, "cue 2", 225, 375)]
CUTS = (48, 101, 270, 330)


@pytest.fixture(scope="module")
def first_run():
    plan = generated_plan(375, CUTS, CUES, rate=RATE)
    checkpoints = MemoryCheckpoints()
    rendered, updates = _render(plan, [(1, 0), (2, 7)], checkpoints)
    return plan, checkpoints, rendered, updates


def test_every_cue_is_frame_exact_its_ring_into_a_rest_declared_and_a_rest_no_audio(first_run):
    _, _, rendered, _ = first_run
    slots = [
        round(c.end * DELIVERY_RATE / RATE) - round(c.start * DELIVERY_RATE / RATE) for c in CUES
    ]
    ring = round(TAIL_SECONDS * DELIVERY_RATE)  # the music before the rest rings into it
    for take in rendered:
        lengths = [c.audio.shape[1] for c in take]
        assert lengths == [slots[0] + ring, 0, slots[2]]
        assert all(c.audio.dtype == np.float32 and c.audio.shape[0] == 2 for c in take)
        assert [c.silent for c in take] == [False, True, False]
        assert [c.seed for c in take] == [take[0].seed + i for i in range(3)]
    assert not np.array_equal(rendered[0][0].audio, rendered[1][0].audio)  # seeds 0 and 7


def test_the_music_before_a_rest_rings_into_it_then_digital_silence(first_run):
    _, _, rendered, _ = first_run
    music = rendered[0][0]
    slot, ring = round(6 * DELIVERY_RATE), round(TAIL_SECONDS * DELIVERY_RATE)
    assert np.abs(music.audio[:, slot - DELIVERY_RATE // 10 : slot]).max() > 1e-3  # to its end
    assert np.abs(music.audio[:, slot : slot + ring // 4]).max() > 0  # rings into the rest …
    assert np.abs(music.audio[:, -round(0.01 * DELIVERY_RATE) :]).max() < 1e-4  # … and is gone


def test_progress_fills_the_span_and_never_goes_back(first_run):
    _, _, _, updates = first_run
    fractions = [u.fraction for u in updates]
    assert fractions == sorted(fractions)
    assert fractions[0] >= 0.1 and fractions[-1] == pytest.approx(0.85)
    assert {u.stage for u in updates} == {"generate", "align", "level"}
    assert any(u.message == "take 2 rest: rest: silence over the gap" for u in updates)


def test_a_rerun_takes_every_cue_from_its_checkpoint_unchanged(first_run):
    plan, checkpoints, rendered, _ = first_run
    refusing = replace(plan, choice=EngineChoice(Refusing(), "must not run"))
    again, updates = _render(refusing, [(1, 0), (2, 7)], checkpoints)
    for before, after in zip(rendered, again, strict=True):
        for a, b in zip(before, after, strict=True):
            assert a.audio.tobytes() == b.audio.tobytes()
            assert (a.seed, a.tempo, a.silent) == (b.seed, b.tempo, b.silent)
    kept = {(u.take, u.cue) for u in updates if u.message.endswith("from the interrupted run")}
    assert kept == {(1, 0), (1, 2), (2, 0), (2, 2)}  # the music; rests are never checkpointed


def test_a_pause_stops_before_the_first_cue_and_keeps_nothing_new():
    plan = generated_plan(375, CUTS, CUES, rate=RATE)
    checkpoints, pause = MemoryCheckpoints(), threading.Event()
    pause.set()
    with pytest.raises(Paused):
        _render(plan, [(1, 0)], checkpoints, pause=pause)
    assert checkpoints.saved == {}


def test_an_engine_that_continues_hears_the_end_of_its_own_previous_cue():
    cues = [Cue(0, "cue 1", 0, 150), Cue(1, "cue 2", 150, 300)]
    cues += [Cue(2, "rest", 300, 375, silent=True), Cue(3, "cue 3", 375, 525)]
    engine = Continuing()
    plan = generated_plan(525, (60, 200, 420), cues, rate=RATE, engine=engine)
    rendered, _ = _render(plan, [(1, 3)], MemoryCheckpoints())
    heard = dict(engine.prompts)
    assert heard[3] is None  # the first cue starts afresh
    previous = rendered[0][0].alignment.audio  # as aligned, at the engine's rate
    expected = previous[:, -round(PROMPT_SECONDS * engine.sample_rate) :]
    assert np.array_equal(heard[4], expected)
    assert heard[6] is None  # after a rest the music starts afresh


# --- the helpers, each on its own ------------------------------------------------------------


def _cue_audio(seconds: float, value: float = 0.5) -> np.ndarray:
    return np.full((2, round(seconds * DELIVERY_RATE)), value, np.float32)


def _rendered(audio: np.ndarray, silent: bool = False) -> RenderedCue:
    return replace(rest(Cue(0, "c", 0, 25), RATE, 0.06, 0), audio=audio, silent=silent)


def test_rest_is_exact_length_silence_at_any_frame_rate():
    rate = 30000 / 1001  # 29.97: frame edges fall between samples
    cues = [Cue(i, "r", 37 * i, 37 * (i + 1), silent=True) for i in range(5)]
    rests = [rest(c, rate, 0.06, seed=10) for c in cues]
    assert sum(r.audio.shape[1] for r in rests) == round(5 * 37 * DELIVERY_RATE / rate)
    assert all(r.silent and not r.audio.any() for r in rests)
    assert [r.seed for r in rests] == [10, 11, 12, 13, 14]
    assert rests[0].alignment.metrics.splices == 0 and rests[0].tempo == 0.0


def test_joined_cuts_one_track_into_frame_exact_cues_with_the_segue_baked_in():
    """Cue "a" rings 1.5 s past its out frame; "b" (120 BPM) enters there: an equal-power
    crossfade over its whole beats within 1.5 s (three), from that shared downbeat."""
    cues = [Cue(0, "a", 0, 50), Cue(1, "b", 50, 100)]
    first = _rendered(_cue_audio(3.5, 0.5))  # 2 s slot + 1.5 s ring under "b"
    second = replace(_rendered(_cue_audio(2.0, 0.25)), tempo=120.0)
    out = joined(cues, [first, second], RATE)
    assert [c.audio.shape[1] for c in out] == [2 * DELIVERY_RATE, 2 * DELIVERY_RATE]
    b = out[1].audio[0]
    assert b[10] > 0.49  # the outgoing accent at full level on the shared downbeat
    fade = round(1.5 * DELIVERY_RATE)
    middle = b[fade // 2]
    assert middle == pytest.approx(0.5 * np.cos(np.pi / 4) + 0.25 * np.sin(np.pi / 4), abs=2e-3)
    assert np.allclose(b[fade + 10 : -DELIVERY_RATE // 5], 0.25)  # then "b" alone


def test_joined_lets_the_last_cue_ring_past_the_out_frame_by_the_tail():
    cues = [Cue(0, "a", 0, 50)]
    out = joined(cues, [_rendered(_cue_audio(3.0, 0.5))], RATE, tail=1.0)
    assert out[0].audio.shape[1] == 3 * DELIVERY_RATE
    assert np.abs(out[0].audio[:, 2 * DELIVERY_RATE + 100]).max() > 0.4


def test_prompt_is_the_end_of_the_previous_cue_as_aligned():
    aligned = np.arange(2 * 40000, dtype=np.float32).reshape(2, 40000)
    previous = _rendered(_cue_audio(1.0))
    previous = replace(previous, alignment=replace(previous.alignment, audio=aligned))
    assert np.array_equal(prompt(previous, 1000), aligned[:, -round(PROMPT_SECONDS * 1000) :])
    assert prompt(None, 1000) is None
    assert prompt(replace(previous, silent=True), 1000) is None


# --- the checkpoint format -------------------------------------------------------------------


def test_a_checkpoint_round_trips_exactly_through_npz(first_run):
    _, checkpoints, rendered, _ = first_run
    original = rendered[0][2]
    back = kept_cue(checkpoints, 1, 2)  # saved by the job, read back as a rerun reads it
    assert back is not None
    # the checkpoint is the cue before joining: the same alignment, seed and tempo
    assert (back.seed, back.tempo, back.silent) == (original.seed, original.tempo, False)
    again = cue_from_arrays(_through_npz(cue_arrays(back)))
    assert again.audio.dtype == back.audio.dtype and again.audio.tobytes() == back.audio.tobytes()
    _assert_same(again.alignment, back.alignment)
    assert again.alignment.plan.pieces and again.alignment.metrics.per_cut  # not empty


def test_a_checkpoint_keeps_numpy_scalars_and_refuses_what_is_not_data():
    cue = rest(Cue(0, "r", 0, 25), RATE, 0.06, 0)
    scalar = replace(cue, alignment=replace(cue.alignment, audio=np.float32(0.25)))
    back = cue_from_arrays(_through_npz(cue_arrays(scalar)))
    assert back.alignment.audio == np.float32(0.25) and back.alignment.audio.dtype == np.float32
    with pytest.raises(TypeError):
        cue_arrays(replace(cue, alignment=np.array([object()], dtype=object)))
    with pytest.raises(TypeError):
        cue_arrays(replace(cue, alignment=threading.Event()))
    arrays = cue_arrays(cue)
    arrays["meta"] = np.frombuffer(b'{"kind": "Popen", "fields": {}}', np.uint8)
    with pytest.raises(ValueError):
        cue_from_arrays(arrays)


def test_an_unreadable_checkpoint_is_rendered_again():
    """A checkpoint another version of the code wrote: not an error, the cue is made again."""
    checkpoints = MemoryCheckpoints()
    arrays = cue_arrays(rest(Cue(0, "r", 0, 25), RATE, 0.06, 0))
    arrays["meta"] = np.frombuffer(b"\xff\xfe", np.uint8)
    checkpoints.save_cue(1, 0, arrays)
    assert kept_cue(checkpoints, 1, 0) is None


def _through_npz(arrays: dict) -> dict:
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    buffer.seek(0)
    with np.load(buffer, allow_pickle=False) as kept:
        return {name: kept[name] for name in kept.files}


def _assert_same(a, b) -> None:
    """Equal values of equal types, numpy arrays by dtype and bytes, down through dataclasses."""
    assert type(a) is type(b)
    if isinstance(a, np.ndarray | np.generic):
        assert a.dtype == b.dtype and np.asarray(a).tobytes() == np.asarray(b).tobytes()
    elif hasattr(a, "__dataclass_fields__"):
        for name in a.__dataclass_fields__:
            _assert_same(getattr(a, name), getattr(b, name))
    elif isinstance(a, list | tuple):
        assert len(a) == len(b)
        for x, y in zip(a, b, strict=True):
            _assert_same(x, y)
    elif isinstance(a, dict):
        assert a.keys() == b.keys()
        for key in a:
            _assert_same(a[key], b[key])
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b)
    else:
        assert a == b
