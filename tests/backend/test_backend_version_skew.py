"""Version skew between client and backend, both ways: an older client (no control fields) is
served as ever by this backend, and this client against a backend older than its fields says so
in one line (not "bad request") and how to fix it."""

from __future__ import annotations

import json
import time

import pytest
from pydantic import ConfigDict, create_model

from gvmgen.cli import main
from gvmgen.schema import ScoreRequest

NEW_FIELDS = ("mood", "intensity", "tempo", "duck_db", "loudness")


def _client(capsys, *argv) -> tuple[int, list[dict]]:
    code = main(["client", *argv, "--json-lines"])
    return code, [json.loads(line) for line in capsys.readouterr().out.splitlines()]


@pytest.fixture
def old_server(start_server, monkeypatch):
    """A running backend as it was before the controls: its request model forbids them, and
    it answers ping with an older version."""
    import gvmgen_backend.handlers as handlers

    fields = {
        name: (info.annotation, info)
        for name, info in ScoreRequest.model_fields.items()
        if name not in NEW_FIELDS
    }
    old = create_model(
        "ScoreRequest", __config__=ConfigDict(extra="forbid", use_enum_values=True), **fields
    )
    monkeypatch.setattr(handlers, "ScoreRequest", old)
    monkeypatch.setattr(handlers, "__version__", "0.0.9")
    return start_server()


def test_an_old_clients_submit_without_the_new_fields_is_served(server, clip, tmp_path):
    with server.client() as client:
        body = {"input": str(clip), "out_dir": str(tmp_path / "o"), "engine": "arranger"}
        events = list(client.follow("submit", body | {"key": "old-1"}, time.monotonic() + 60))
    assert events[-1][0] == "done", events[-1]
    request = server.server.store.get(events[0][1]["job_id"]).request
    assert request["mood"] is None and request["duck_db"] == -10.0


def test_this_client_without_controls_still_works_against_an_old_backend(
    old_server, clip, tmp_path, capsys
):
    data = ["--data-dir", str(old_server.data_dir)]
    out = ["--input", str(clip), "--out", str(tmp_path / "o"), "--no-wait"]
    code, lines = _client(capsys, "submit", *out, *data)
    assert code == 0 and lines[-1]["type"] == "accepted", lines


@pytest.mark.parametrize("flags", [["--mood", "tense"], ["--no-duck"], ["--loudness", "web"]])
def test_a_control_sent_to_an_old_backend_says_restart_it(
    old_server, clip, tmp_path, capsys, flags
):
    data = ["--data-dir", str(old_server.data_dir)]
    out = ["--input", str(clip), "--out", str(tmp_path / "o")]
    code, lines = _client(capsys, "submit", *out, *flags, *data)
    assert code == 2 and len(lines) == 1 and lines[0]["type"] == "error", lines
    error = lines[0]["error"]
    assert error["code"] == "backend_outdated"
    assert error["message"] == (
        "the backend (version 0.0.9) is older than this client: restart `gvmgen serve`"
    )
    # and for people: the same one line on stderr
    code = main(["client", "submit", *out, *flags, *data])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert "older than this client: restart `gvmgen serve`" in err and "invalid" not in err
