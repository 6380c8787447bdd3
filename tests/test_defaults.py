"""Engine choices and defaults are written once, in gvmgen.defaults: the request schema, every
command that takes them, the library's own defaults and the Resolve side all agree with it
(the score options' parity with the schema is tests/test_option_parity.py)."""

from __future__ import annotations

import argparse
import inspect
import json
from pathlib import Path

import pytest
from gvmgen_plugin import installer
from lupa import luajit21

from gvmgen import defaults
from gvmgen.align import align_to_cuts, normalize_loudness, plan_alignment
from gvmgen.cli import build_parser
from gvmgen.rendering import levelled
from gvmgen.schema import ScoreRequest

RESOLVE_DIR = Path(installer.__file__).parent / "resolve"


def _subparser(parser: argparse.ArgumentParser, *names: str) -> argparse.ArgumentParser:
    for name in names:
        action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
        parser = action.choices[name]
    return parser


def _option(parser: argparse.ArgumentParser, flag: str) -> argparse.Action:
    return next(a for a in parser._actions if flag in a.option_strings)


@pytest.mark.parametrize("command", [("score",), ("client", "submit"), ("demo",), ("serve",)])
def test_every_command_offers_the_same_engines_with_the_same_default(command):
    engine = _option(_subparser(build_parser(), *command), "--engine")
    assert tuple(engine.choices) == defaults.ENGINE_CHOICES == ("auto", "arranger", "gvmgen")
    assert engine.default == defaults.DEFAULT_ENGINE


def test_the_request_schema_takes_its_defaults_from_the_one_place():
    fields = ScoreRequest.model_fields
    assert fields["engine"].default == defaults.DEFAULT_ENGINE
    assert fields["max_stretch"].default == defaults.DEFAULT_MAX_STRETCH
    assert fields["target_lufs"].default == defaults.DEFAULT_TARGET_LUFS
    assert fields["duck_db"].default == defaults.DEFAULT_DUCK_DB
    with pytest.raises(ValueError, match="engine"):
        ScoreRequest(input="a.mp4", out_dir="out", engine="other")


def test_the_library_defaults_are_the_requests():
    """A caller of the library without a request gets what `gvmgen score` makes by default."""

    def default(function, name):
        return inspect.signature(function).parameters[name].default

    assert default(align_to_cuts, "max_stretch") == defaults.DEFAULT_MAX_STRETCH
    assert default(plan_alignment, "max_stretch") == defaults.DEFAULT_MAX_STRETCH
    assert default(normalize_loudness, "target_lufs") == defaults.DEFAULT_TARGET_LUFS
    assert default(normalize_loudness, "true_peak_dbtp") == defaults.DEFAULT_TRUE_PEAK_DBTP
    assert default(levelled, "true_peak_dbtp") == defaults.DEFAULT_TRUE_PEAK_DBTP
    align = _subparser(build_parser(), "align")
    assert _option(align, "--max-stretch").default == defaults.DEFAULT_MAX_STRETCH


def test_the_resolve_scripts_pass_an_engine_only_when_one_was_chosen(tmp_path):
    """The installer writes the default engine into gvmgen.json; a gvmgen.json without one
    passes no --engine, so the client's own default applies (the scripts hold no copy)."""
    installed = json.loads(installer.plan(scripts_dir=tmp_path).files[installer.CONFIG])
    assert installed["engine"] == defaults.DEFAULT_ENGINE
    lua = luajit21.LuaRuntime(unpack_returned_tuples=True)
    core = lua.eval(f"dofile({json.dumps(str(RESOLVE_DIR / 'gvmgen_core.lua'))})")
    job = lua.table_from({"input": "cut.otio", "out_dir": str(tmp_path / "o"), "mode": "range"})
    for chosen in (None, "arranger"):
        config = {"gvmgen": ["gvmgen"], **({"engine": chosen} if chosen else {})}
        (tmp_path / installer.CONFIG).write_text(json.dumps(config))
        argv = list(core.client.argv(core.load_config(str(tmp_path)), "submit", job).values())
        passed = argv[argv.index("--engine") + 1] if "--engine" in argv else None
        assert passed == chosen
