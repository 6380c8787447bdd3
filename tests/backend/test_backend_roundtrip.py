"""Every request type against a live server (arranger engine, a 4 s clip): what comes back."""

from __future__ import annotations

import threading
import time
import uuid

import pytest
import soundfile as sf
from backend_helpers import curve_dealer, follow_all
from gvmgen_backend.client import BackendUnreachable, Client, Endpoint, KeyMismatch, RequestRefused
from gvmgen_backend.protocol import encode


def _submit_body(clip, out, **extra) -> dict:
    return {
        "input": str(clip),
        "out_dir": str(out),
        "engine": "arranger",
        "key": uuid.uuid4().hex,
        **extra,
    }


def test_submit_streams_progress_in_order_then_exactly_one_done(server, clip, tmp_path):
    with server.client() as client:
        events = follow_all(client, "submit", _submit_body(clip, tmp_path / "out"))
    types = [t for t, _ in events]
    assert types[0] == "accepted" and types[-1] == "done"
    assert sum(t in ("done", "failed", "cancelled") for t in types) == 1
    progress = [b for t, b in events if t == "progress"]
    fractions = [p["fraction"] for p in progress]
    assert progress and fractions == sorted(fractions) and fractions[-1] == 1.0
    job_id = events[0][1]["job_id"]
    assert {p["job_id"] for p in progress} == {job_id}
    stages = [p["stage"] for p in progress]
    assert stages[0] == "timeline" and stages[-1] == "done"
    result = events[-1][1]["result"]
    wav = result["cues"][0]["wav"]
    assert sf.info(wav).frames == 4 * 48000 and result["job_id"] == job_id


def test_status_result_list_takes_watch_after_the_job(server, clip, tmp_path):
    out = tmp_path / "out"
    with server.client() as client:
        job_id = follow_all(client, "submit", _submit_body(clip, out))[0][1]["job_id"]
        status_type, status = client.request("status", {"job_id": job_id})
        result_type, result = client.request("result", {"job_id": job_id})
        _, listing = client.request("list", {})
        _, takes = client.request("takes", {"out_dir": str(out)})
        watched = follow_all(client, "watch", {"job_id": job_id})
    assert (status_type, status["state"], status["fraction"]) == ("status", "done", 1.0)
    assert result_type == "done" and result["result"]["cues"][0]["wav"].startswith(str(out))
    assert [j["job_id"] for j in listing["jobs"]] == [job_id]
    assert [t["take"] for t in takes["takes"]] == [1] and takes["input"] == str(clip)
    assert [t for t, _ in watched] == ["watching", "done"]


def test_ping_says_what_the_server_runs(server):
    with server.client() as client:
        reply_type, pong = client.request("ping", {})
    assert reply_type == "pong" and pong["protocol"] == 1
    assert pong["engine"] == "arranger" and pong["queue"] == 0 and pong["running"] is None
    assert pong["engines"][0].startswith("arranger")


def test_cancel_mid_job_ends_it_within_one_step(start_server, clip, tmp_path):
    running = start_server(steps=200, step_seconds=0.02)
    out = tmp_path / "out"
    with running.client() as client:
        stream = client.follow("submit", _submit_body(clip, out), deadline=time.monotonic() + 60)
        job_id = next(stream)[1]["job_id"]
        for event_type, body in stream:
            if event_type == "progress" and body["message"].endswith("step 3 of 200"):
                break
        with running.engine.lock:
            steps_at_cancel = running.engine.steps_done
        with running.client() as other:
            _, status = other.request("cancel", {"job_id": job_id})
        rest = list(stream)
    assert status["cancel_requested"] is True
    assert rest[-1] == ("cancelled", {"job_id": job_id})
    assert running.engine.steps_done - steps_at_cancel <= 1
    assert not out.exists() or not any(out.rglob("*.wav"))  # a cancelled job leaves nothing


def test_cancel_a_queued_job_tells_its_watcher(start_server, clip, tmp_path):
    running = start_server(steps=100, step_seconds=0.02)
    with running.client() as client:
        first = client.request("submit", _submit_body(clip, tmp_path / "a", watch=False))[1]
        second = client.follow(
            "submit", _submit_body(clip, tmp_path / "b"), deadline=time.monotonic() + 60
        )
        job_id = next(second)[1]["job_id"]
        with running.client() as other:
            _, status = other.request("cancel", {"job_id": job_id})
            other.request("cancel", {"job_id": first["job_id"]})
        events = list(second)
    assert status["state"] == "cancelled"
    assert events[-1] == ("cancelled", {"job_id": job_id})


def test_interactive_jobs_go_before_batch(start_server, clip, batch_timeline, tmp_path):
    running = start_server(steps=10, step_seconds=0.02)
    with running.client() as client:
        blocker = client.request("submit", _submit_body(clip, tmp_path / "0", watch=False))
        batch = client.request(
            "submit", _submit_body(batch_timeline, tmp_path / "b", mode="batch", watch=False)
        )
        single = client.request("submit", _submit_body(clip, tmp_path / "1", watch=False))
        ids = [r[1]["job_id"] for r in (blocker, batch, single)]
        for job_id in ids:
            follow_all(client, "watch", {"job_id": job_id})
        _, listing = client.request("list", {})
    started = {j["job_id"]: j["started"] for j in listing["jobs"]}
    assert started[ids[2]] < started[ids[1]]  # submitted after the batch, ran before it


def test_idempotent_submit_after_a_dropped_reply_gives_one_job(server, clip, tmp_path):
    body = _submit_body(clip, tmp_path / "out", watch=False)
    msg_id = uuid.uuid4().hex
    endpoint = server.client().endpoint
    lost = curve_dealer(endpoint)
    lost.send(encode(endpoint.key, "submit", msg_id, body))
    time.sleep(0.3)
    lost.close(0)  # the reply had nowhere to go: the client never learnt the job id
    with server.client() as client:
        reply_type, again = client.request("submit", body, msg_id=msg_id)  # Lazy Pirate resend
        _, third = client.request("submit", body)
        follow_all(client, "watch", {"job_id": again["job_id"]})
        _, listing = client.request("list", {})
    assert reply_type == "accepted" and again["duplicate"] and third["duplicate"]
    assert third["job_id"] == again["job_id"]
    assert [j["job_id"] for j in listing["jobs"]] == [again["job_id"]]


def test_a_key_reused_for_another_request_is_refused(server, clip, tmp_path):
    body = _submit_body(clip, tmp_path / "out", watch=False)
    with server.client() as client:
        client.request("submit", body)
        with pytest.raises(RequestRefused) as refused:
            client.request("submit", {**body, "takes": 2})
    assert refused.value.error["field"] == "key"


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"input": "relative.mp4"}, "invalid_request", "input"),
        ({"input": "/nonexistent/clip.mp4"}, "invalid_request", "input"),
        ({"input": "/tmp"}, "invalid_request", "input"),
        ({"takes": 0}, "invalid_request", "takes"),
        ({"mode": "everything"}, "invalid_request", "mode"),
        ({"out_dir": "../../escape"}, "invalid_request", "out_dir"),
        ({"out_dir": "FILE/sub"}, "output_not_writable", "out_dir"),
        ({"key": ""}, "invalid_request", "key"),
    ],
    ids=["relative", "missing", "folder", "takes", "mode", "escape", "unwritable", "key"],
)
def test_bad_submits_are_refused_naming_the_field(server, clip, tmp_path, change, code, field):
    change = {
        k: v.replace("FILE", str(clip)) if isinstance(v, str) else v for k, v in change.items()
    }
    body = _submit_body(clip, tmp_path / "out") | change
    with server.client() as client, pytest.raises(RequestRefused) as refused:
        client.request("submit", body)
    assert (refused.value.error["code"], refused.value.error.get("field")) == (code, field)
    with server.client() as client:
        assert client.request("list", {})[1]["jobs"] == []  # nothing was stored


def test_unsigned_and_badly_signed_submits_are_refused(server, clip, tmp_path):
    endpoint = server.client().endpoint
    body = _submit_body(clip, tmp_path / "out")
    forged = Endpoint(endpoint.address, b"0" * 64, endpoint.curve, endpoint.data_dir)
    # the server's reply is signed with the real key: the client cannot verify it, and says
    # its key is the wrong one
    with Client(forged, timeout=1.0, retries=1) as client, pytest.raises(KeyMismatch):
        client.request("submit", body)
    socket = curve_dealer(endpoint)
    try:
        socket.send_json({"v": 1, "id": "x", "type": "submit", "body": body})
        assert socket.poll(5000)
        reply = socket.recv_json()
    finally:
        socket.close(0)
    assert reply["type"] == "error" and reply["body"]["code"] == "unauthorized"
    with server.client() as client:
        assert client.request("list", {})[1]["jobs"] == []


def test_relative_out_dir_lands_under_the_data_dir(server, clip):
    body = _submit_body(clip, "my-score")
    with server.client() as client:
        done = follow_all(client, "submit", body)[-1][1]
    assert done["result"]["cues"][0]["wav"].startswith(str(server.data_dir / "outputs"))


def test_unknown_job_and_unfinished_result(start_server, clip, tmp_path):
    running = start_server(steps=50, step_seconds=0.02)
    with running.client() as client:
        with pytest.raises(RequestRefused) as missing:
            client.request("status", {"job_id": "nope"})
        job = client.request("submit", _submit_body(clip, tmp_path / "o", watch=False))[1]
        with pytest.raises(RequestRefused) as early:
            client.request("result", {"job_id": job["job_id"]})
        client.request("cancel", {"job_id": job["job_id"]})
    assert missing.value.error["code"] == "not_found"
    assert early.value.error["code"] == "not_finished"


def test_a_dead_server_is_noticed_within_three_seconds(start_server, clip, tmp_path):
    running = start_server(steps=400, step_seconds=0.02)
    with running.client(retries=1) as client:
        stream = client.follow("submit", _submit_body(clip, tmp_path / "out"))
        next(stream)
        killer = threading.Timer(0.2, _freeze, args=(running,))
        killer.start()
        began = time.monotonic()
        with pytest.raises(BackendUnreachable):
            list(stream)
    assert time.monotonic() - began < 3.0 + 1.0  # liveness 3 s, plus the freeze delay


def _freeze(running) -> None:
    """Silence the server as a hang would: stop its socket thread (the fixture cleans up).
    Twice: a single stop keeps serving until the job reaches its cue boundary."""
    running.server.stop()
    running.server.stop()


def test_out_of_memory_retries_with_fewer_takes_then_fails_clearly(
    server, clip, tmp_path, monkeypatch
):
    from gvmgen.errors import OutOfMemory

    runner = server.server.runner
    real, seen = runner.scorer.score, []

    def score(request, **kw):
        seen.append(request["takes"])
        if request["takes"] > 1:
            raise OutOfMemory("CUDA out of memory")
        return real(request, **kw)

    monkeypatch.setattr(runner.scorer, "score", score)
    with server.client() as client:
        done = follow_all(client, "submit", _submit_body(clip, tmp_path / "a", takes=4))[-1]
        status = client.request("status", {"job_id": done[1]["job_id"]})[1]
        monkeypatch.setattr(runner.scorer, "score", _always_out_of_memory)
        failed = follow_all(client, "submit", _submit_body(clip, tmp_path / "b"))[-1]
    assert seen == [4, 2, 1] and done[0] == "done"
    assert "made 1 instead" in done[1]["warnings"][-1]
    assert status["takes"] == 1 and status["warnings"] == done[1]["warnings"]  # resumable
    assert failed[0] == "failed" and failed[1]["error"]["code"] == "out_of_memory"
    assert "hint" in failed[1]["error"]


def _always_out_of_memory(request, **kw):
    from gvmgen.errors import OutOfMemory

    raise OutOfMemory("CUDA out of memory")


def test_a_follower_rides_out_a_server_restart(start_server, clip, tmp_path):
    """Titanic's promise: any piece but the client may restart and nothing is lost."""
    first = start_server(steps=150, step_seconds=0.02)
    with first.client() as client:
        stream = client.follow(
            "submit", _submit_body(clip, tmp_path / "out"), deadline=time.monotonic() + 90
        )
        job_id = next(stream)[1]["job_id"]
        next(e for e in stream if e[0] == "progress")
        first.server.stop()
        first.thread.join(60)
        second = start_server(steps=5, data_dir=first.data_dir, bind=first.server.address)
        rest = list(stream)
    progress = [b["fraction"] for t, b in rest if t == "progress"]
    assert rest[-1][0] == "done" and rest[-1][1]["job_id"] == job_id
    assert sum(t in ("done", "failed", "cancelled") for t, _ in rest) == 1
    assert progress == sorted(progress)
    # the job's one cue made once: a stop lets a cue in progress finish (the next start keeps
    # it), and one stopped before its first cue leaves it all to the second server
    assert len(first.engine.calls) + len(second.engine.calls) == 1


def test_a_bug_in_a_handler_is_an_internal_error_and_the_server_carries_on(
    server, caplog, monkeypatch
):
    def broken(body):
        raise RuntimeError("a bug")

    monkeypatch.setitem(server.server.service.handlers, "list", broken)
    with server.client() as client:
        with pytest.raises(RequestRefused) as refused:
            client.request("list", {})
        assert client.request("ping", {})[0] == "pong"
    assert refused.value.error["code"] == "internal_error"
    assert "serve.log" in refused.value.error["message"]
    assert any("failed" in r.getMessage() for r in caplog.records)
    caplog.clear()  # the ERROR it logged was the point of this test


def test_a_running_batch_yields_to_an_interactive_job_between_cues(
    start_server, clip, batch_timeline, tmp_path
):
    running = start_server(steps=25, step_seconds=0.02)  # ~0.5 s per cue, cues in order
    with running.client() as client:
        batch = client.follow(
            "submit",
            _submit_body(batch_timeline, tmp_path / "b", mode="batch"),
            deadline=time.monotonic() + 120,
        )
        batch_id = next(batch)[1]["job_id"]
        next(e for e in batch if e[0] == "progress" and e[1]["message"].endswith("step 1 of 25"))
        with running.client() as other:
            single = follow_all(other, "submit", _submit_body(clip, tmp_path / "s", seed=100))
            _, batch_then = other.request("status", {"job_id": batch_id})
        batch_events = list(batch)
    assert single[-1][0] == "done" and batch_then["state"] == "running"  # it did not wait
    assert batch_events[-1][0] == "done" and len(batch_events[-1][1]["result"]["cues"]) == 3
    calls = running.engine.calls
    assert sorted(calls) == [0, 1, 2, 100]  # nothing redone
    assert 0 < calls.index(100) < 3  # between the batch's cues


def test_out_of_memory_with_one_take_retries_with_shorter_cues(server, clip, tmp_path, monkeypatch):
    monkeypatch.setattr(server.engine, "window_seconds", 4.0, raising=False)
    server.engine.oom_over = 3.9  # the whole 4 s clip in one cue does not fit; 2 s cues do
    with server.client() as client:
        events = follow_all(client, "submit", _submit_body(clip, tmp_path / "out"))
    assert events[-1][0] == "done", events[-1]
    assert len(events[-1][1]["result"]["cues"]) == 2
    assert "cues of at most 2 s" in events[-1][1]["warnings"][-1]
