"""Every score option exists alike in `gvmgen score`, `gvmgen client submit`, the protocol's
request model (`ScoreRequest`, the `submit` body), docs/protocol.md and the Resolve scripts'
option table (`REQUEST_OPTIONS` in plugin/resolve/gvmgen_client.lua, read through lupa).

The table is `SCORE_OPTIONS` in gvmgen/commands/score.py. An option added to one place and not
the others fails here, and the message names the place to add it. The backend end of the wire
(the option arriving in a stored job) is `test_every_score_option_reaches_the_backend` in
tests/backend/test_backend_cli.py.
"""

from __future__ import annotations

import argparse
import types
import typing
from enum import Enum
from pathlib import Path

import pytest

from gvmgen.cli import build_parser
from gvmgen.commands.score import SCORE_OPTIONS
from gvmgen.schema import ScoreRequest

TABLE = "SCORE_OPTIONS in gvmgen/commands/score.py"
# ScoreRequest fields that no score option fills, and why.
NOT_OPTIONS = {
    "version": "the schema version, set by the model",
    "input": "INPUT (score) or --input (client submit)",
    "out_dir": "--out on both commands",
    "job_id": "score --job-id; the backend names its own jobs (the client sends --key)",
}
# Each command's own flags: not request options, so not in the table.
OWN_FLAGS = {
    "score": {"--out", "--job-id", "--json"},
    "client submit": {
        "--input",
        "--out",
        "--key",
        "--no-wait",
        "--json-lines",
        "--data-dir",
        "--connect",
        "--spawn",
        "--timeout",
        "--patience",
    },
}


def _subparser(parser: argparse.ArgumentParser, name: str) -> argparse.ArgumentParser:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return action.choices[name]


def _commands() -> dict[str, argparse.ArgumentParser]:
    root = build_parser()
    return {
        "score": _subparser(root, "score"),
        "client submit": _subparser(_subparser(root, "client"), "submit"),
    }


def _flags(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {
        flag: action
        for action in parser._actions
        for flag in action.option_strings
        if flag.startswith("--") and flag != "--help"
    }


def test_score_and_client_submit_take_the_same_request_options():
    table = {option.flag for option in SCORE_OPTIONS}
    problems = []
    for command, parser in _commands().items():
        flags = set(_flags(parser)) - OWN_FLAGS[command]
        problems += [
            f"gvmgen {command} takes {flag}, which is not in {TABLE}: add it there (both "
            f"commands and the protocol read that table), or to OWN_FLAGS here if it changes "
            "nothing in the request"
            for flag in sorted(flags - table)
        ]
        problems += [
            f"gvmgen {command} lacks {flag} from {TABLE}: add the table with add_score_options"
            for flag in sorted(table - flags)
        ]
    assert not problems, "\n".join(problems)


def test_each_option_is_read_alike_by_both_commands():
    """Same destination (the request field), choices, default, type and action."""
    score, submit = (_flags(p) for p in _commands().values())
    for option in SCORE_OPTIONS:
        a, b = score[option.flag], submit[option.flag]
        assert a.dest == b.dest == option.field, f"{option.flag} must store into {option.field!r}"
        for attribute in ("choices", "default", "type", "nargs", "const"):
            assert getattr(a, attribute) == getattr(b, attribute), (
                f"{option.flag}: gvmgen score and client submit differ in {attribute}"
            )
        assert type(a) is type(b), f"{option.flag}: the two commands read it differently"


def test_the_request_model_has_a_field_for_each_option_and_an_option_for_each_field():
    fields = set(ScoreRequest.model_fields)
    filled = {option.field: option.flag for option in SCORE_OPTIONS}
    problems = [
        f"ScoreRequest.{name} (the protocol's submit body) has no option: add one to {TABLE}, "
        "or to NOT_OPTIONS here with the reason no option fills it"
        for name in sorted(fields - set(filled) - set(NOT_OPTIONS))
    ]
    problems += [
        f"{flag} in {TABLE} fills ScoreRequest.{name}, which gvmgen/schema.py lacks: add the "
        "field (schema fields are additive; put it in the job fingerprint if it changes audio)"
        for name, flag in sorted(filled.items())
        if name not in fields
    ]
    problems += [
        f"NOT_OPTIONS names {name!r}, no longer a ScoreRequest field"
        for name in sorted(set(NOT_OPTIONS) - fields)
    ]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("option", SCORE_OPTIONS, ids=lambda o: o.flag)
def test_each_option_has_the_model_default_and_choices(option):
    field = ScoreRequest.model_fields.get(option.field)
    if field is None:
        pytest.skip("the field is missing: reported by the test above")
    default = option.spec.get("default")
    assert default == field.default, (
        f"{option.flag} defaults to {default!r} but ScoreRequest.{option.field} to "
        f"{field.default!r}: one default, the model's"
    )
    allowed = _allowed_values(field.annotation)
    if "choices" in option.spec or allowed is not None:
        assert tuple(option.spec.get("choices") or ()) == allowed, (
            f"{option.flag} offers {option.spec.get('choices')} but ScoreRequest.{option.field} "
            f"accepts {allowed}"
        )


def _allowed_values(annotation) -> tuple | None:
    """The values a Literal or Enum field accepts (besides None, for an optional one); None for
    open types."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    if typing.get_origin(annotation) in (typing.Union, types.UnionType) and len(args) == 1:
        annotation = args[0]
    if isinstance(annotation, type) and issubclass(annotation, Enum):
        return tuple(member.value for member in annotation)
    if typing.get_origin(annotation) is typing.Literal:
        return typing.get_args(annotation)
    return None


def test_docs_protocol_names_every_submit_field():
    doc = (Path(__file__).parents[1] / "docs" / "protocol.md").read_text(encoding="utf-8")
    row = next(line for line in doc.splitlines() if line.startswith("| `submit` |"))
    missing = [o.field for o in SCORE_OPTIONS if f"`{o.field}`" not in row]
    assert not missing, f"docs/protocol.md's submit row does not name {missing}"


PLUGIN_TABLE = "REQUEST_OPTIONS in plugin/resolve/gvmgen_client.lua"


def test_the_resolve_scripts_can_pass_every_score_option():
    from tests.plugin.options import plugin_request_flags

    plugin = plugin_request_flags() - {"--input", "--out"}
    table = {option.flag for option in SCORE_OPTIONS}
    problems = [
        f"{flag} is in {TABLE} but the Resolve scripts cannot pass it: add a row to "
        f"{PLUGIN_TABLE} (a `setting` named after the flag, or the `job` field it comes from)"
        for flag in sorted(table - plugin)
    ]
    problems += [
        f"{PLUGIN_TABLE} passes {flag}, which is not in {TABLE}: gvmgen score and the protocol "
        "do not know it"
        for flag in sorted(plugin - table)
    ]
    assert not problems, "\n".join(problems)


def test_every_flag_the_resolve_scripts_pass_is_one_the_client_takes():
    from tests.plugin.options import TABLES, plugin_options

    submit = set(_flags(_commands()["client submit"]))
    passed = {row["flag"]: table for table in TABLES for row in plugin_options(table)}
    unknown = [f"{flag} ({table})" for flag, table in sorted(passed.items()) if flag not in submit]
    assert not unknown, f"gvmgen client submit does not take what the scripts pass: {unknown}"
