"""docs/protocol.md's promises about crashes, full disks and hostile neighbours, each with the
tests that check it (issue 21): the sentence must stay in the document as written, and each
test it names must exist. A promise reworded or dropped, or a test renamed away, fails here.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

DOC = Path(__file__).parents[2] / "docs" / "protocol.md"
HERE = Path(__file__).parent

PROMISES = {
    "Every connection runs CurveZMQ, loopback included.": [
        "test_backend_cli::test_curve_keys_encrypt_and_authenticate",
        "test_backend_peers::test_keyless_peers_cannot_make_the_server_hold_50_mb",
    ],
    "Such a peer can make the server hold at most one handshake frame per connection: under "
    "50 MB in all": ["test_backend_peers::test_keyless_peers_cannot_make_the_server_hold_50_mb"],
    "at start the server raises its soft open-file limit to the hard limit, and it keeps at "
    "least 256 files free for the running job beside its connections": [
        "test_backend_peers::test_1100_idle_connections_at_a_1024_file_limit_do_not_fail_a_job"
    ],
    "A job never fails because of another peer's behaviour.": [
        "test_backend_peers::test_1100_idle_connections_at_a_1024_file_limit_do_not_fail_a_job",
        "test_backend_fuzz::test_a_peer_flooding_errors_is_cut_off_and_others_are_still_served",
    ],
    "Errors are answered within a budget per peer": [
        "test_backend_fuzz::test_a_peer_flooding_errors_is_cut_off_and_others_are_still_served"
    ],
    "A client's mistake is never logged with a traceback.": [
        "test_backend_peers::test_a_non_ascii_sig_is_unauthorized_and_logs_no_traceback",
        "test_backend_fuzz::test_a_peer_flooding_errors_is_cut_off_and_others_are_still_served",
    ],
    "64 lowercase hex digits; anything else (another length, non-ASCII text) is `unauthorized`": [
        "test_backend_peers::test_a_non_ascii_sig_is_unauthorized_and_logs_no_traceback"
    ],
    "`accepted` is sent only after the job is durably stored": [
        "test_backend_store_damage::test_a_damaged_store_comes_back_whole_from_the_journal"
    ],
    "The path is resolved once, by the file system, when the job is submitted": [
        "test_backend_outputs::test_out_dir_through_a_link_and_dots_is_the_folder_the_os_means"
    ],
    'Refused up front, each as `invalid_request` with `field: "out_dir"`': [
        "test_backend_outputs::test_odd_out_dir_values_are_refused_up_front"
    ],
    "One server per data dir": [
        "test_backend_store_damage::test_one_server_per_data_dir_even_with_every_lock_file_deleted"
    ],
    "A take becomes visible in one step.": [
        "test_backend_commit::test_kill_9_between_two_renames_shows_the_whole_take_and_a_restart_finishes_it"
    ],
    "never a partial folder, never a temporary file.": [
        "test_backend_commit::test_kill_9_between_two_renames_shows_the_whole_take_and_a_restart_finishes_it",
        "test_backend_commit::test_kill_9_while_a_cue_wav_is_written_leaves_no_temp_file_in_the_take",
    ],
    "Temporary files never leave the stage.": [
        "test_backend_commit::test_kill_9_while_a_cue_wav_is_written_leaves_no_temp_file_in_the_take"
    ],
    "A half-made commit is finished before anything else": [
        "test_backend_commit::test_kill_9_between_two_renames_shows_the_whole_take_and_a_restart_finishes_it",
        "test_backend_commit::test_a_half_made_commit_is_finished_by_the_next_run_in_the_folder",
    ],
    "Stages and take reservations are reclaimed": [
        "test_backend_commit::test_kill_9_during_cleanup_leaves_no_stage_or_reservation_after_restart",
        "test_backend_outputs::test_a_folder_made_read_only_mid_job_fails_cleanly_and_the_next_job_reclaims_it",
    ],
    "Writes cannot escape `out_dir`.": [
        "test_backend_outputs::test_a_symlinked_takes_folder_is_refused_by_a_root_server",
        "test_backend_outputs::test_a_symlinked_takes_folder_is_refused_by_a_server_without_root_powers",
        "test_backend_outputs::test_symlinked_stage_report_and_output_files_are_refused",
    ],
    "A full disk is `output_not_writable`, saying how much space the job needs and how much "
    "is free.": [
        "test_backend_disk::test_a_job_its_disk_cannot_hold_is_refused_up_front",
        "test_backend_disk::test_a_disk_filling_up_mid_job_fails_it_cleanly",
        "test_backend_disk::test_a_real_full_disk_up_front_and_mid_job",
    ],
    "the job is refused up front when the disk cannot hold it": [
        "test_backend_disk::test_a_job_its_disk_cannot_hold_is_refused_up_front",
        "test_backend_disk::test_the_estimate_covers_what_a_job_holds_at_its_peak",
    ],
    "A damaged store is quarantined": [
        "test_backend_store_damage::test_a_damaged_store_comes_back_whole_from_the_journal"
    ],
    "A damaged store with no journal stops the start with one line saying what to do (exit 2).": [
        "test_backend_store_damage::test_a_damaged_store_without_a_journal_refuses_to_start_with_one_line"
    ],
    "The server never starts silently empty.": [
        "test_backend_store_damage::test_a_damaged_store_comes_back_whole_from_the_journal"
    ],
    "Wrong keys are named as such.": [
        "test_backend_client_wait::test_a_wrong_key_file_is_named_as_a_key_mismatch",
        "test_backend_client_wait::test_a_client_curve_key_the_server_does_not_accept_is_named",
        "test_backend_client_wait::test_a_wrong_server_key_is_named",
    ],
    "The server never sends its own paths to a peer that did not sign with its key.": [
        "test_backend_client_wait::test_a_wrong_key_file_is_named_as_a_key_mismatch",
        "test_backend_peers::test_a_non_ascii_sig_is_unauthorized_and_logs_no_traceback",
    ],
    "Clients ride out a stalled server.": [
        "test_backend_client_wait::test_a_client_rides_out_a_server_stopped_for_10_s"
    ],
    "gives up only after `--patience` seconds of silence": [
        "test_backend_client_wait::test_a_client_gives_up_past_its_patience_and_names_the_job"
    ],
    "It exits 3 (`backend_unreachable`) only when the server is really gone": [
        "test_backend_client_wait::test_a_client_exits_3_soon_when_the_server_is_really_gone",
        "test_backend_client_wait::test_a_client_rides_out_a_server_stopped_for_10_s",
    ],
    "A busy job store delays retention, never the server:": [
        "test_backend_retention::test_a_locked_store_delays_retention_and_the_server_serves_on"
    ],
    "the server's log, rotated at 10 MB": ["test_backend_peers::test_serve_log_is_rotated_by_size"],
}


def _plain(text: str) -> str:
    return re.sub(r"\s+", " ", text.replace("**", ""))


@pytest.mark.parametrize("sentence", PROMISES)
def test_each_promise_is_stated_and_checked(sentence):
    assert _plain(sentence) in _plain(DOC.read_text(encoding="utf-8")), sentence
    for test in PROMISES[sentence]:
        module, name = test.split("::")
        tree = ast.parse((HERE / f"{module}.py").read_text(encoding="utf-8"))
        names = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
        assert name in names, f"{test} (named for {sentence!r}) does not exist"
