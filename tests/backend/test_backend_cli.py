"""`gvmgen client`, `gvmgen serve` and `gvmgen keys` as the Resolve scripts and a user see them:
JSON lines on stdout, the last line, and the exit status (docs/protocol.md)."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest
import zmq
from gvmgen_backend.datadir import read_server_info

from gvmgen.cli import main


def _client(capsys, *argv) -> tuple[int, list[dict]]:
    code = main(["client", *argv, "--json-lines"])
    out = capsys.readouterr().out
    return code, [json.loads(line) for line in out.splitlines()]  # nothing but JSON lines


def test_ping_answers_and_exits_0(server, capsys):
    code, lines = _client(capsys, "ping", "--data-dir", str(server.data_dir))
    assert code == 0 and len(lines) == 1
    assert lines[0]["type"] == "pong" and lines[0]["engine"] == "arranger"


def test_no_server_exits_3_with_one_error_line(tmp_path, capsys):
    for action in (["ping"], ["status", "abc"], ["list"]):
        code, lines = _client(capsys, *action, "--data-dir", str(tmp_path / "nothing"))
        assert code == 3 and len(lines) == 1
        assert lines[0]["type"] == "error"
        assert lines[0]["error"]["code"] == "backend_unreachable"
        assert "gvmgen serve" in lines[0]["error"]["message"]


def test_submit_prints_accepted_progress_then_done(server, clip, tmp_path, capsys):
    code, lines = _client(
        capsys,
        "submit",
        "--input",
        str(clip),
        "--out",
        str(tmp_path / "o"),
        "--engine",
        "arranger",
        "--range",
        "0-3",
        "--data-dir",
        str(server.data_dir),
    )
    assert code == 0
    assert lines[0] == {"type": "accepted", "job_id": lines[0]["job_id"]}
    assert {line["type"] for line in lines[1:-1]} == {"progress"}
    assert lines[-1]["type"] == "done" and lines[-1]["job_id"] == lines[0]["job_id"]
    assert lines[-1]["result"]["cues"][0]["duration"] == pytest.approx(3.0)
    assert all(
        set(p) >= {"stage", "fraction", "eta_seconds", "message", "cue", "take"}
        for p in lines[1:-1]
    )


def test_a_failing_job_exits_2_with_failed_last(server, clip, tmp_path, capsys):
    code, lines = _client(
        capsys,
        "submit",
        "--input",
        str(clip),
        "--out",
        str(tmp_path / "o"),
        "--range",
        "50-60",
        "--data-dir",
        str(server.data_dir),
    )
    assert code == 2 and lines[0]["type"] == "accepted"
    assert lines[-1]["type"] == "failed" and lines[-1]["error"]["message"]
    assert not (tmp_path / "o").exists()


def test_a_refused_submit_exits_2_with_error_naming_the_field(server, tmp_path, capsys):
    code, lines = _client(
        capsys,
        "submit",
        "--input",
        str(tmp_path / "missing.mp4"),
        "--out",
        str(tmp_path / "o"),
        "--data-dir",
        str(server.data_dir),
    )
    assert code == 2 and len(lines) == 1
    assert lines[0]["type"] == "error" and lines[0]["error"]["field"] == "input"


def test_no_wait_then_watch_status_result_list_takes(server, clip, tmp_path, capsys):
    data, out = str(server.data_dir), str(tmp_path / "o")
    code, lines = _client(
        capsys, "submit", "--input", str(clip), "--out", out, "--no-wait", "--data-dir", data
    )
    assert code == 0 and [line["type"] for line in lines] == ["accepted"]
    job_id = lines[0]["job_id"]
    code, watched = _client(capsys, "watch", job_id, "--data-dir", data)
    assert code == 0 and watched[-1]["type"] == "done"
    assert _client(capsys, "result", job_id, "--data-dir", data)[1][0]["type"] == "done"
    status = _client(capsys, "status", job_id, "--data-dir", data)[1]
    assert status[0]["type"] == "status" and status[0]["state"] == "done"
    listed = _client(capsys, "list", "--data-dir", data)[1]
    assert [(j["type"], j["job_id"]) for j in listed] == [("job", job_id)]
    takes = _client(capsys, "takes", "--out", out, "--data-dir", data)[1]
    assert [t["take"] for t in takes[0]["takes"]] == [1]


def test_cancel_then_watch_ends_cancelled_with_exit_4(start_server, clip, tmp_path, capsys):
    running = start_server(steps=300, step_seconds=0.02)
    data = str(running.data_dir)
    job_id = _client(
        capsys,
        "submit",
        "--input",
        str(clip),
        "--out",
        str(tmp_path / "o"),
        "--no-wait",
        "--data-dir",
        data,
    )[1][0]["job_id"]
    code, lines = _client(capsys, "cancel", job_id, "--data-dir", data)
    assert code == 0 and lines[0]["cancel_requested"] is True
    code, lines = _client(capsys, "watch", job_id, "--data-dir", data)
    assert code == 4 and lines[-1] == {"type": "cancelled", "job_id": job_id}
    assert _client(capsys, "result", job_id, "--data-dir", data)[0] == 4


def test_serve_refuses_a_non_loopback_bind_without_keys(tmp_path, capsys):
    code = main(["serve", "--bind", "tcp://0.0.0.0:*", "--data-dir", str(tmp_path / "d")])
    err = capsys.readouterr().err
    assert code == 2 and "gvmgen keys generate" in err and len(err.splitlines()) == 1
    assert read_server_info(tmp_path / "d") is None


def test_serve_refuses_a_stop_grace_that_is_not_seconds(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["serve", "--stop-grace", "-5", "--data-dir", str(tmp_path / "d")])
    assert exit_info.value.code == 2
    assert "--stop-grace: expected seconds, a number >= 0 (got '-5')" in capsys.readouterr().err
    assert not (tmp_path / "d").exists()


def test_curve_keys_encrypt_and_authenticate(start_server, tmp_path, capsys):
    data = tmp_path / "curve-data"
    assert main(["keys", "generate", "--data-dir", str(data)]) == 0
    assert "server key pair" in capsys.readouterr().out
    running = start_server(data_dir=data)
    assert running.server.curve and read_server_info(data)["curve"] is True
    code, lines = _client(capsys, "ping", "--data-dir", str(data))
    assert code == 0 and lines[0]["type"] == "pong"
    plain = zmq.Context.instance().socket(zmq.DEALER)  # no CURVE: the handshake never completes
    plain.setsockopt(zmq.LINGER, 0)
    plain.connect(running.server.address)
    try:
        plain.send(b"{}")
        assert not plain.poll(500)
    finally:
        plain.close(0)
    assert main(["keys", "generate", "--data-dir", str(data)]) == 2  # never silently replaced
    keyless = tmp_path / "no-curve-keys"  # the HMAC key and the address, but no CURVE keys
    keyless.mkdir()
    for name in ("key", "server.json"):
        (keyless / name).write_bytes((data / name).read_bytes())
    (keyless / "key").chmod(0o600)
    code, lines = _client(capsys, "ping", "--data-dir", str(keyless))
    assert code == 3 and "client.key_secret" in lines[0]["error"]["message"]


def test_spawn_starts_a_server_that_sigterm_stops_cleanly(tmp_path, capsys):
    data = tmp_path / "spawned"
    try:
        code, lines = _client(capsys, "ping", "--spawn", "--data-dir", str(data))
        assert code == 0 and lines[0]["type"] == "pong"
        pid = read_server_info(data)["pid"]
        assert (data / "key").stat().st_mode & 0o777 == 0o600
        os.kill(pid, signal.SIGTERM)
        end = time.monotonic() + 30
        while _alive(pid) and time.monotonic() < end:
            time.sleep(0.1)
        assert not _alive(pid) and read_server_info(data) is None
        assert "stopped" in (data / "serve.log").read_text()
    finally:
        info = read_server_info(data)
        if info and _alive(info["pid"]):
            os.kill(info["pid"], signal.SIGKILL)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie child of ours counts as gone
        return os.waitpid(pid, os.WNOHANG) == (0, 0)
    except ChildProcessError:
        return True


def test_a_server_json_left_by_a_killed_server_is_not_waited_for(tmp_path, capsys):
    import subprocess

    from gvmgen_backend.datadir import ensure_key, write_server_info

    gone = subprocess.Popen(["true"])
    gone.wait()
    data = tmp_path / "stale"
    ensure_key(data)
    write_server_info(data, {"address": "tcp://127.0.0.1:9", "pid": gone.pid, "version": "0"})
    code, lines = _client(capsys, "ping", "--data-dir", str(data))
    assert code == 3 and "no GVMGen backend is running" in lines[0]["error"]["message"]


def test_timeout_stops_following_but_the_job_goes_on(start_server, clip, tmp_path, capsys):
    running = start_server(steps=100, step_seconds=0.02)
    data = str(running.data_dir)
    code, lines = _client(
        capsys,
        "submit",
        "--input",
        str(clip),
        "--out",
        str(tmp_path / "o"),
        "--timeout",
        "0.5",
        "--data-dir",
        data,
    )
    assert code == 1 and lines[0]["type"] == "accepted"
    assert lines[-1]["type"] == "error" and lines[-1]["error"]["code"] == "timeout"
    code, lines = _client(capsys, "watch", lines[0]["job_id"], "--data-dir", data)
    assert code == 0 and lines[-1]["type"] == "done"


def test_serve_on_a_port_in_use_says_so_in_one_line(server, tmp_path, capsys):
    code = main(["serve", "--bind", server.server.address, "--data-dir", str(tmp_path / "d2")])
    err = capsys.readouterr().err
    assert code == 2 and len(err.splitlines()) == 1
    assert server.server.address in err and "--bind" in err


def test_without_json_lines_a_person_reads_the_summary(server, clip, tmp_path, capsys):
    data = str(server.data_dir)
    assert main(["client", "ping", "--data-dir", data]) == 0
    assert capsys.readouterr().out.startswith("backend ")
    code = main(
        ["client", "submit", "--input", str(clip), "--out", str(tmp_path / "o"), "--data-dir", data]
    )
    out = capsys.readouterr().out
    assert code == 0 and "engine: arranger" in out and f"timeline: {tmp_path / 'o'}" in out
    assert main(["client", "list", "--data-dir", data]) == 0
    assert " done " in capsys.readouterr().out


def _edl(path, media=None, rate=25):
    """Two events cut at `rate` from 01:00:00:00, frame fields all 00 (24 or 25 fps alike)."""
    events = [(1, 3, 0), (2, 5, 2)]  # (source in s, source out s, record in s)
    lines = ["TITLE: T", "FCM: NON-DROP FRAME", ""]
    for number, (src_in, src_out, rec_in) in enumerate(events, start=1):
        rec_out = rec_in + src_out - src_in
        lines.append(
            f"{number:03d}  AX       V     C        00:00:{src_in:02d}:00 00:00:{src_out:02d}:00 "
            f"01:00:{rec_in:02d}:00 01:00:{rec_out:02d}:00"
        )
        lines.append(f"* FROM CLIP NAME: shot{number}")
        if media:
            lines.append(f"* FROM FILE: {media}")
    path.write_text("\n".join(lines) + "\n")
    return path


def test_an_edl_is_scored_through_the_client_with_rate_and_edit_points_only(
    server, tmp_path, capsys
):
    edl = _edl(tmp_path / "cut.edl")
    data, out = str(server.data_dir), str(tmp_path / "o")
    argv = ["submit", "--input", str(edl), "--out", out, "--data-dir", data]
    code, lines = _client(capsys, *argv)
    assert code == 2 and "--rate" in lines[-1]["error"]["message"]
    code, lines = _client(capsys, *argv, "--rate", "25", "--edit-points-only")
    assert code == 0 and lines[-1]["type"] == "done"
    result = lines[-1]["result"]
    assert result["rate"] == 25.0 and result["range_in"] == "01:00:00:00"
    assert [c["record"] for c in result["cuts"]] == ["01:00:02:00"]


def test_a_refusal_says_its_hint_once(server, tmp_path, capsys):
    edl = _edl(tmp_path / "cut.edl")
    data, out = str(server.data_dir), str(tmp_path / "o")
    code = main(["client", "submit", "--input", str(edl), "--out", out, "--data-dir", data,
                 "--rate", "25"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    (line,) = [line for line in err.splitlines() if "failed" in line]
    assert "media for clip 'shot1' not found" in line and "1 more clip(s) also missing" in line
    assert line.count("--edit-points-only") == 1


# A value for each score option other than its default, as a user would type it.
EXAMPLES = {
    "--range": "0-3",
    "--mode": "batch",
    "--engine": "arranger",
    "--seed": "7",
    "--takes": "2",
    "--max-stretch": "0.05",
    "--target-lufs": "-23",  # agrees with --loudness ebu-r128 below
    "--edit-points-only": None,
    "--rate": "25",
    "--preview": None,
    "--mood": "tense",
    "--intensity": "7",
    "--tempo": "90-110",
    "--duck": "6",
    "--no-duck": None,
    "--loudness": "ebu-r128",
    "--ending": "ring",
    "--tail": "1.5",
    "--stems": None,
}


def test_every_score_option_reaches_the_backend(server, clip, tmp_path, capsys):
    """What `gvmgen client submit` is given is what the backend stores for the job."""
    from gvmgen.commands.score import SCORE_OPTIONS

    missing = [o.flag for o in SCORE_OPTIONS if o.flag not in EXAMPLES]
    assert not missing, f"give {missing} a value in EXAMPLES here (tests/backend)"
    argv = ["submit", "--input", str(clip), "--out", str(tmp_path / "o"), "--no-wait"]
    for option in SCORE_OPTIONS:
        value = EXAMPLES[option.flag]
        argv += [option.flag] if value is None else [option.flag, value]
    code, lines = _client(capsys, *argv, "--data-dir", str(server.data_dir))
    assert code == 0, lines
    stored = server.server.store.get(lines[0]["job_id"]).request
    sent = {}  # by field: the last option given for a field wins (--duck, then --no-duck)
    for option in SCORE_OPTIONS:
        value = EXAMPLES[option.flag]
        flag_value = option.spec.get("const", True)
        sent[option.field] = (
            flag_value if value is None else option.spec.get("type", str)(value),
            option.flag,
        )
    for field, (value, flag) in sent.items():
        assert stored.get(field) == value, f"{flag} did not reach the backend"


def test_takes_is_a_table_for_people_and_json_for_programs(server, clip, tmp_path, capsys):
    data, out = str(server.data_dir), str(tmp_path / "o")
    argv = ["--input", str(clip), "--out", out, "--range", "0-3", "--data-dir", data]
    assert _client(capsys, "submit", *argv, "--takes", "2")[0] == 0
    assert main(["client", "takes", "--out", out, "--data-dir", data]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"2 take(s) in {tmp_path / 'o'} (clip.mp4, 00:00:00:00-00:00:03:00)"
    assert lines[1].split()[:4] == ["take", "seed", "created", "cues"]
    rows = [line.split() for line in lines[2:]]
    assert [(row[0], row[1]) for row in rows] == [("1", "0"), ("2", "1")]
    assert all("LUFS" in line and "(" in line for line in lines[2:])  # hits and loudness
    assert main(["client", "takes", "--out", out, "--json", "--data-dir", data]) == 0
    body = json.loads(capsys.readouterr().out)
    assert [t["take"] for t in body["takes"]] == [1, 2] and body["out_dir"] == out


def test_list_shows_each_jobs_input_out_folder_and_why_it_failed(server, clip, tmp_path, capsys):
    data = str(server.data_dir)
    good, bad = str(tmp_path / "good"), str(tmp_path / "bad")
    assert (
        _client(capsys, "submit", "--input", str(clip), "--out", good, "--data-dir", data)[0] == 0
    )
    argv = ["submit", "--input", str(clip), "--out", bad, "--range", "50-60", "--data-dir", data]
    assert _client(capsys, *argv)[0] == 2
    assert main(["client", "list", "--data-dir", data]) == 0
    header, failed, reason, done = capsys.readouterr().out.splitlines()
    assert header.split() == ["job", "state", "mode", "done", "created", "input", "out"]
    assert failed.split()[1] == "failed" and "clip.mp4" in failed and failed.endswith(bad)
    assert reason.startswith("  └ failed: range ") and "outside" in reason
    assert done.split()[1] == "done" and done.endswith(good)


def test_list_with_no_jobs_says_so(server, capsys):
    assert main(["client", "list", "--data-dir", str(server.data_dir)]) == 0
    assert capsys.readouterr().out == "no jobs yet\n"
    code, lines = _client(capsys, "list", "--data-dir", str(server.data_dir))
    assert code == 0 and lines == []  # scripts: no jobs, no lines


def test_cancel_on_a_finished_job_exits_2_saying_so(server, clip, tmp_path, capsys):
    data = str(server.data_dir)
    argv = ["submit", "--input", str(clip), "--out", str(tmp_path / "o"), "--data-dir", data]
    job_id = _client(capsys, *argv)[1][0]["job_id"]
    code, lines = _client(capsys, "cancel", job_id, "--data-dir", data)
    assert code == 2 and [line["error"]["code"] for line in lines] == ["already_finished"]
    assert main(["client", "cancel", job_id, "--data-dir", data]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == (
        f"gvmgen client: error: job {job_id} had already finished (done); nothing to cancel "
        f"(its outcome: `gvmgen client result {job_id}`)\n"
    )
    assert _client(capsys, "result", job_id, "--data-dir", data)[1][-1]["type"] == "done"


def test_serve_says_so_when_ctrl_c_stops_it(tmp_path):
    import subprocess
    import sys

    serve = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gvmgen.cli",
            "serve",
            "--bind",
            "tcp://127.0.0.1:*",
            "--data-dir",
            str(tmp_path / "d"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert serve.stdout.readline().startswith("gvmgen serve: listening on ")
        serve.send_signal(signal.SIGINT)
        out, _ = serve.communicate(timeout=60)
    finally:
        if serve.poll() is None:
            serve.kill()
            serve.wait()
    assert serve.returncode == 0
    assert out.splitlines() == [
        "gvmgen serve: stopping on SIGINT: a running job first finishes its current cue "
        "(at most 60 s); Ctrl-C again stops at once",
        "gvmgen serve: stopped",
    ]


def test_a_relative_out_lands_under_the_clients_working_directory(
    server, clip, tmp_path, capsys, monkeypatch
):
    """As README says: `client submit --out scored/` means ./scored where the client runs,
    not a folder under the backend's data dir."""
    work = tmp_path / "edit-suite"
    work.mkdir()
    monkeypatch.chdir(work)
    argv = ["submit", "--input", str(clip), "--out", "scored", "--no-wait"]
    code, lines = _client(capsys, *argv, "--data-dir", str(server.data_dir))
    assert code == 0, lines
    stored = server.server.store.get(lines[0]["job_id"]).request
    assert stored["out_dir"] == str(work / "scored")
    readme = (Path(__file__).parents[2] / "README.md").read_text(encoding="utf-8")
    assert "`--out` made absolute against its own working directory" in readme
