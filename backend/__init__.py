"""The ZeroMQ scoring service (import name gvmgen_backend): `gvmgen serve` and `gvmgen client`.

protocol.py   the signed JSON envelope (protocol v1, docs/protocol.md)
datadir.py    the data dir: key file, server.json, lock, default location
store.py      the job store: SQLite WAL, leases, idempotency keys
runner.py     the one adapter to the pipeline (`gvmgen.pipeline.Scorer`)
worker.py     one warm worker: claims jobs, streams progress, cancel, out-of-memory retries
handlers.py   what each request does (socket-free)
server.py     the ROUTER socket thread, heartbeats, fan-out of events
client.py     Lazy Pirate client, job streams with liveness, `spawn_server`
security.py   loopback check, CURVE keys (ironhouse)
retention.py  the cleaning rule for finished jobs' outputs
"""
