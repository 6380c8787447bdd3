"""50 concurrent clients × 20 requests each: every request answered, every answer its own."""

from __future__ import annotations

import threading
import uuid

import pytest
from backend_helpers import follow_all
from gvmgen_backend.client import RequestRefused

CLIENTS, REQUESTS = 50, 20


def test_fifty_clients_twenty_requests_each_all_answered_correctly(server, clip, tmp_path):
    out = tmp_path / "out"
    with server.client() as client:
        events = follow_all(
            client,
            "submit",
            {
                "input": str(clip),
                "out_dir": str(out),
                "engine": "arranger",
                "key": uuid.uuid4().hex,
            },
        )
    job_id = events[0][1]["job_id"]
    wrong: list[str] = []
    answered = [0] * CLIENTS
    go = threading.Barrier(CLIENTS)

    def one_client(index: int) -> None:
        with server.client(timeout=20.0) as client:
            go.wait()
            for number in range(REQUESTS):
                problem = _check_one(client, index, number, job_id, out)
                if problem:
                    wrong.append(problem)
                answered[index] += 1

    threads = [threading.Thread(target=one_client, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert not any(t.is_alive() for t in threads)
    assert wrong == []
    assert answered == [REQUESTS] * CLIENTS


def _check_one(client, index: int, number: int, job_id: str, out) -> str | None:
    """One request; a description of what was wrong with its answer, or None."""
    kind = number % 4
    if kind == 0:
        reply_type, body = client.request("ping", {})
        ok = reply_type == "pong" and body["protocol"] == 1
    elif kind == 1:
        reply_type, body = client.request("status", {"job_id": job_id})
        ok = reply_type == "status" and body["job_id"] == job_id and body["state"] == "done"
    elif kind == 2:
        reply_type, body = client.request("takes", {"out_dir": str(out)})
        ok = reply_type == "takes" and [t["take"] for t in body["takes"]] == [1]
    else:  # a question only this client asks: its answer must name this client's id
        mine = f"c{index}-r{number}"
        with pytest.raises(RequestRefused) as refused:
            client.request("status", {"job_id": mine})
        reply_type, body = "error", refused.value.error
        ok = body["code"] == "not_found" and mine in body["message"]
    return None if ok else f"client {index} request {number}: {reply_type} {body}"
