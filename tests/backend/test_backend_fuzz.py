"""10,000 malformed messages: each gets one `error` (oversize ones are dropped), and the server
still answers ping afterwards. A seeded generator, so a failure replays exactly."""

from __future__ import annotations

import json
import random
import time
import uuid
from collections import Counter

from backend_helpers import curve_dealer
from gvmgen_backend.protocol import MAX_MESSAGE_BYTES, encode, signature

MESSAGES = 10_000
BATCH = 250  # send a batch, then read its replies: the tight loop stays under the HWMs
KNOWN_CODES = {
    "bad_message",
    "unauthorized",
    "unknown_type",
    "invalid_request",
    "unsupported_version",
    "not_found",
    "output_not_writable",
    "message_too_large",
}


def _signed(key: bytes, message: dict) -> bytes:
    message = dict(message)
    message["sig"] = signature(key, message)
    return json.dumps(message).encode()


def _envelope(rng: random.Random, msg_type: str, body) -> dict:
    return {"v": 1, "id": uuid.UUID(int=rng.getrandbits(128)).hex, "type": msg_type, "body": body}


def _random_bytes(rng, key):
    return [rng.randbytes(rng.randint(0, 200))]


def _broken_json(rng, key):
    text = _signed(key, _envelope(rng, "ping", {})).decode()
    return [text[: rng.randint(0, len(text) - 1)].encode()]


def _not_an_object(rng, key):
    return [json.dumps(rng.choice([[], [1, 2], 3, "ping", None, True, 1.5])).encode()]


def _missing_fields(rng, key):
    message = _envelope(rng, rng.choice(["ping", "status", "list"]), {})
    for name in rng.sample(sorted(message), rng.randint(1, 4)):
        del message[name]
    return [_signed(key, message) if rng.random() < 0.7 else json.dumps(message).encode()]


def _wrong_types(rng, key):
    message = _envelope(rng, "ping", {})
    name, value = rng.choice(
        [
            ("v", "1"),
            ("v", 1.0),
            ("v", True),
            ("id", 5),
            ("id", None),
            ("type", ["ping"]),
            ("type", ""),
            ("body", "x"),
            ("body", [1]),
            ("id", "x" * 500),
        ]
    )
    message[name] = value
    return [_signed(key, message)]


def _unknown_type(rng, key):
    name = rng.choice(["pong", "accepted", "done", "PING", "submit ", "shutdown", "exec", "x"])
    return [_signed(key, _envelope(rng, name, {}))]


def _bad_signature(rng, key):
    data = json.loads(_signed(key, _envelope(rng, "ping", {})))
    choice = rng.random()
    if choice < 0.4:
        data["sig"] = data["sig"][:-1] + ("0" if data["sig"][-1] != "0" else "1")
    elif choice < 0.7:
        data["sig"] = signature(rng.randbytes(32), data)
    else:
        data["body"] = {"tampered": True}  # signed before the change
    return [json.dumps(data).encode()]


def _bad_body(rng, key):
    msg_type, body = rng.choice(
        [
            ("ping", {"extra": 1}),
            ("status", {}),
            ("status", {"job_id": 12}),
            ("status", {"job_id": "no-such-job"}),
            ("result", {"job_id": ""}),
            ("cancel", {"job_id": "x" * 100}),
            ("watch", {"job": "abc"}),
            ("list", {"limit": -1}),
            ("list", {"limit": "10"}),
            ("list", {"state": "exploded"}),
            ("takes", {"out_dir": 5}),
            ("takes", {}),
            ("submit", {}),
            ("submit", {"input": "/nonexistent.mp4", "out_dir": "/tmp/x", "key": "k"}),
            ("submit", {"input": "/etc", "out_dir": "/tmp/x", "key": "k"}),
            ("submit", {"input": 3, "out_dir": "/tmp/x", "key": "k"}),
            ("submit", {"input": "/etc/hostname", "out_dir": "/tmp/x", "key": "k", "takes": 99}),
            ("submit", {"input": "/etc/hostname", "out_dir": "/tmp/x", "key": "k", "bogus": 1}),
            ("submit", {"input": "/etc/hostname", "out_dir": "/tmp/x"}),
        ]
    )
    return [_signed(key, _envelope(rng, msg_type, body))]


def _wrong_version(rng, key):
    message = _envelope(rng, "ping", {})
    message["v"] = rng.choice([0, 2, 99, -1])
    return [_signed(key, message)]


def _frames(rng, key):
    good = _signed(key, _envelope(rng, "ping", {}))
    return rng.choice([[good, good], [b"", good], [good, b"extra"], [b""]])


def _deep(rng, key):
    depth = rng.choice([1000, 100_000])
    return [("[" * depth + "]" * depth).encode()]


GENERATORS = [
    _random_bytes,
    _broken_json,
    _not_an_object,
    _missing_fields,
    _wrong_types,
    _unknown_type,
    _bad_signature,
    _bad_body,
    _wrong_version,
    _frames,
    _deep,
]


def test_ten_thousand_malformed_messages_each_get_an_error(server):
    """From 40 peers of 250 each: within each peer's error budget, every one is answered."""
    rng = random.Random(9)
    endpoint = server.client().endpoint
    codes, kinds = Counter(), Counter()
    for _ in range(MESSAGES // BATCH):
        socket = curve_dealer(endpoint)
        try:
            for _ in range(BATCH):
                make = rng.choice(GENERATORS)
                kinds[make.__name__] += 1
                socket.send_multipart(make(rng, endpoint.key))
            for _ in range(BATCH):
                assert socket.poll(10_000), "a malformed message got no reply"
                reply = json.loads(socket.recv())
                assert reply["type"] == "error", reply
                codes[reply["body"]["code"]] += 1
            assert not socket.poll(200)  # exactly one reply each
        finally:
            socket.close(0)
    assert sum(codes.values()) == MESSAGES and set(codes) <= KNOWN_CODES, codes
    assert len(kinds) == len(GENERATORS)
    _still_answers_ping(server)


def test_a_peer_flooding_errors_is_cut_off_and_others_are_still_served(server):
    """One peer sends 5,000 badly signed messages as fast as it can: it is answered within
    its budget (1,000 at once, then 200 a second), the rest are dropped with one log line,
    and another peer's ping is answered meanwhile."""
    from gvmgen_backend.server import ERROR_BURST, ERROR_RATE

    endpoint = server.client().endpoint
    flood = curve_dealer(endpoint)
    bad = json.dumps({"v": 1, "id": "x", "type": "ping", "body": {}, "sig": "0" * 64}).encode()
    try:
        began = time.monotonic()
        for _ in range(5000):
            flood.send(bad)
        with server.client() as client:
            assert client.request("ping", {})[0] == "pong"
        answered = 0
        while flood.poll(1000):
            flood.recv()
            answered += 1
        elapsed = time.monotonic() - began
    finally:
        flood.close(0)
    assert ERROR_BURST <= answered <= ERROR_BURST + ERROR_RATE * elapsed + 1
    assert answered < 5000
    log = server.data_dir / "serve.log"
    assert not log.exists() or "Traceback" not in log.read_text()


def test_oversize_messages_are_dropped_and_the_server_carries_on(server):
    endpoint = server.client().endpoint
    socket = curve_dealer(endpoint)
    try:
        for size in (MAX_MESSAGE_BYTES + 1, 4 * MAX_MESSAGE_BYTES):
            socket.send(encode(endpoint.key, "ping", "big", {"pad": "x" * size}))
        assert not socket.poll(500)  # dropped by libzmq (MAXMSGSIZE): no reply, no crash
    finally:
        socket.close(0)
    _still_answers_ping(server)


def _still_answers_ping(server) -> None:
    assert server.thread.is_alive()
    with server.client() as client:
        assert client.request("ping", {})[0] == "pong"
