"""The controls in a request: what is accepted, what each bad value says (one line, the field
named), and that a request without them (an older client's) is as it always was."""

from __future__ import annotations

import pytest

from gvmgen.controls import MOODS, TempoBand
from gvmgen.errors import InputError
from gvmgen.schema import LOUDNESS_PRESETS, ScoreRequest, parse_request

BASE = {"input": "/x/cut.otio", "out_dir": "/x/out"}


def test_an_old_clients_request_gets_the_picture_alone_and_the_default_levels():
    request = parse_request(BASE)
    assert (request.mood, request.intensity, request.tempo) == (None, None, None)
    assert not request.controls().given
    assert request.loudness_target == (-16.0, -1.0)
    assert request.ducking == -10.0


def test_controls_are_read_and_normalised():
    request = parse_request(BASE | {"mood": " Tense ", "intensity": 8, "tempo": 96})
    assert request.mood == "tense"
    assert request.tempo == "96"
    assert request.controls().tempo == TempoBand(96.0, 96.0)
    assert parse_request(BASE | {"tempo": "90 - 110"}).controls().tempo == TempoBand(90.0, 110.0)


def test_an_unknown_mood_lists_the_moods():
    with pytest.raises(InputError) as caught:
        parse_request(BASE | {"mood": "jolly"})
    message = str(caught.value)
    assert message.startswith("mood:") and "\n" not in message
    assert all(name in message for name in MOODS)


@pytest.mark.parametrize("value", [0, 10, -1, "high", 5.5, True])
def test_intensity_outside_1_to_9_is_refused(value):
    with pytest.raises(InputError, match=r"^intensity: intensity is a whole number 1-9"):
        parse_request(BASE | {"intensity": value})


@pytest.mark.parametrize("value", [39, 221, "300", "110-90", "fast", "30-100"])
def test_tempo_outside_40_to_220_is_refused(value):
    with pytest.raises(InputError, match=r"^tempo: tempo is BPM 40-220"):
        parse_request(BASE | {"tempo": value})


@pytest.mark.parametrize("name", list(LOUDNESS_PRESETS))
def test_each_loudness_preset_names_its_target_and_ceiling(name):
    request = parse_request(BASE | {"loudness": name})
    assert request.loudness_target == LOUDNESS_PRESETS[name]


def test_a_preset_and_a_different_custom_target_disagree():
    with pytest.raises(InputError, match=r"^loudness: loudness ebu-r128 means -23 LUFS"):
        parse_request(BASE | {"loudness": "ebu-r128", "target_lufs": -18.0})
    same = parse_request(BASE | {"loudness": "ebu-r128", "target_lufs": -23.0})
    assert same.loudness_target == (-23.0, -1.0)
    with pytest.raises(InputError, match=r"^loudness:"):
        parse_request(BASE | {"loudness": "cinema"})


def test_ducking_off_and_depths():
    assert parse_request(BASE | {"duck_db": None}).ducking is None
    assert parse_request(BASE | {"duck_db": 0}).ducking is None
    assert parse_request(BASE | {"duck_db": -6}).ducking == -6.0
    with pytest.raises(InputError, match=r"^duck_db:"):
        parse_request(BASE | {"duck_db": -60})


def test_the_request_round_trips_through_json():
    request = parse_request(BASE | {"mood": "epic", "intensity": 3, "tempo": "100-120"})
    again = ScoreRequest.model_validate_json(request.model_dump_json())
    assert again == request


def test_the_documented_moods_are_the_moods():
    from pathlib import Path

    doc = (Path(__file__).parents[2] / "docs" / "controls.md").read_text(encoding="utf-8")
    rows = [line for line in doc.splitlines() if line.startswith("| `")]
    documented = {row.split("`")[1]: row for row in rows if " BPM | " in row}
    assert list(documented) == list(MOODS)
    for name, mood in MOODS.items():
        assert f"{mood.tempo[0]:g}–{mood.tempo[1]:g} BPM | {mood.mode} |" in documented[name]
