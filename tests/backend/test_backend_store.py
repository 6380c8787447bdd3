"""The job store's promises, without sockets: claim order, leases, once-only outcomes, the
retention rule, and the envelope's signature."""

from __future__ import annotations

import time

import pytest
from gvmgen_backend.protocol import ProtocolError, decode, encode
from gvmgen_backend.retention import Retention, apply_retention
from gvmgen_backend.store import JobStore, KeyConflict

KEY = b"k" * 64


def _request(out: str, mode: str = "range") -> dict:
    return {"input": "/media/a.mp4", "out_dir": out, "mode": mode}


@pytest.fixture
def store(tmp_path):
    store = JobStore(tmp_path / "jobs.sqlite")
    try:
        yield store
    finally:
        store.close()


def test_same_key_same_job_other_request_refused(store):
    job, created = store.submit("key-1", _request("/o"), "range")
    again, created_again = store.submit("key-1", _request("/o"), "range")
    assert created and not created_again and again.id == job.id
    assert job.request["job_id"] == job.id
    with pytest.raises(KeyConflict):
        store.submit("key-1", _request("/elsewhere"), "range")


def test_interactive_jobs_are_claimed_before_older_batch_jobs(store):
    batch, _ = store.submit("b", _request("/b", "batch"), "batch")
    single, _ = store.submit("r", _request("/r"), "range")
    assert store.claim("w", 10).id == single.id
    assert store.claim("w", 10).id == batch.id
    assert store.claim("w", 10) is None


def test_expired_leases_are_requeued_and_outcomes_are_once_only(store):
    job, _ = store.submit("a", _request("/a"), "range")
    store.claim("dead-worker", lease_seconds=-1)  # a lease that has already run out
    assert store.requeue_abandoned() == [job.id]
    claimed = store.claim("alive", 10)
    assert claimed.attempts == 2
    assert not store.finish(job.id, "dead-worker", "done", result={})  # not its lease any more
    assert store.finish(job.id, "alive", "done", result={"ok": 1})
    assert not store.finish(job.id, "alive", "failed", error={})  # terminal is terminal
    assert store.get(job.id).state == "done" and store.get(job.id).result == {"ok": 1}


def test_cancel_queued_at_once_running_by_flag(store):
    queued, _ = store.submit("q", _request("/q"), "range")
    running, _ = store.submit("r", _request("/r"), "range")
    store.claim("w", 10)  # claims q (older)
    assert store.request_cancel(running.id).state == "cancelled"
    flagged = store.request_cancel(queued.id)
    assert flagged.state == "running" and flagged.cancel_requested


def test_retention_cleans_old_outputs_but_never_a_live_jobs(store, tmp_path):
    outputs = tmp_path / "outputs"
    old, live, theirs = outputs / "old", outputs / "live", tmp_path / "editors-folder"
    for folder in (old, live, theirs):
        (folder / "takes").mkdir(parents=True)
        (folder / "takes" / "cue-01.wav").write_bytes(b"x" * 1000)
    for key, folder in (("old", old), ("done-live", live), ("theirs", theirs)):
        job, _ = store.submit(key, _request(str(folder)), "range")
        store.claim("w", 10)
        store.finish(job.id, "w", "done", result={})
    store.submit("queued-live", _request(str(live)), "range")  # a job still to write there
    removed = apply_retention(store, outputs, Retention(max_age_days=1), now=time.time() + 2e5)
    assert len(removed) == 2  # old and theirs forgotten; the live folder's jobs kept
    assert not old.exists() and live.exists() and theirs.exists()  # theirs: not ours to delete


def test_retention_by_size_removes_oldest_first(store, tmp_path):
    outputs = tmp_path / "outputs"
    for name in ("a", "b", "c"):
        (outputs / name).mkdir(parents=True)
        (outputs / name / "x.wav").write_bytes(b"x" * 1000)
        job, _ = store.submit(name, _request(str(outputs / name)), "range")
        store.claim("w", 10)
        store.finish(job.id, "w", "done", result={})
        time.sleep(0.01)
    apply_retention(store, outputs, Retention(max_age_days=None, max_output_bytes=1500))
    assert sorted(p.name for p in outputs.iterdir()) == ["c"]


def test_envelope_round_trip_and_tampering():
    frame = encode(KEY, "ping", "id-1", {"a": [1, "é"]})
    envelope = decode(KEY, frame)
    assert (envelope.type, envelope.id, envelope.body) == ("ping", "id-1", {"a": [1, "é"]})
    with pytest.raises(ProtocolError) as bad:
        decode(KEY, frame.replace(b'"ping"', b'"list"'))
    assert bad.value.code == "unauthorized" and bad.value.msg_id == "id-1"
    with pytest.raises(ProtocolError) as other_key:
        decode(b"x" * 64, frame)
    assert other_key.value.code == "unauthorized"
