"""Retention in a running server: a store whose lock another connection holds makes the pass
wait for the next try, with a log line; the server serves on, and prunes once the lock is
free (seen in a full-suite run under load: the socket thread died of "database is locked")."""

from __future__ import annotations

import logging
import sqlite3
import threading

from backend_helpers import LOOPBACK, wait_for
from counting_engine import CountingArranger


def test_a_locked_store_delays_retention_and_the_server_serves_on(tmp_path, monkeypatch, caplog):
    from gvmgen_backend import server as server_module
    from gvmgen_backend.retention import Retention
    from gvmgen_backend.runner import Runner
    from gvmgen_backend.server import Server
    from gvmgen_backend.store import JobStore

    from gvmgen.engines import EngineRegistry

    monkeypatch.setattr(server_module, "RETENTION_RETRY_SECONDS", 0.5)
    monkeypatch.setattr(server_module, "RETENTION_PATIENCE_SECONDS", 0.1)
    data, folder = tmp_path / "data", tmp_path / "editors-folder"
    data.mkdir(mode=0o700)
    folder.mkdir()
    store = JobStore(data / "jobs.sqlite")  # a job that finished before this server started
    old, _ = store.submit("old", {"input": "/a.mp4", "out_dir": str(folder)}, "range")
    store.claim("w", 10)
    assert store.finish(old.id, "w", "done", result={})
    store.close()

    runner = Runner("arranger", EngineRegistry(engines={"arranger": CountingArranger()}))
    server = Server(data, LOOPBACK, runner=runner, retention=Retention(max_age_days=0))
    server.start()
    holder = sqlite3.connect(str(data / "jobs.sqlite"), isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the store's lock
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    caplog.set_level(logging.WARNING, logger="gvmgen_backend.server")
    thread.start()
    try:
        from gvmgen_backend.client import Client, find_endpoint

        with Client(find_endpoint(data)) as client:
            wait_for(lambda: "retention: the job store is busy" in caplog.text, 30)
            assert "database is locked" in caplog.text and "trying again in" in caplog.text
            assert client.request("ping", {})[0] == "pong"  # the socket thread lives on
            assert thread.is_alive()
            assert client.request("status", {"job_id": old.id})[1]["state"] == "done"
            holder.execute("ROLLBACK")  # the lock is free: the next try prunes
            wait_for(lambda: client.request("list", {"limit": 10})[1]["jobs"] == [], 30)
            assert client.request("ping", {})[0] == "pong"
        assert folder.exists()  # the editor's folder: forgotten by the store, never removed
    finally:
        holder.close()
        server.stop()
        thread.join(60)
    assert not thread.is_alive()
