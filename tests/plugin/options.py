"""The Resolve scripts' option tables, read from the Lua itself (gvmgen_client.lua), for tests
that compare them with the CLI's (tests/test_option_parity.py can include the plugin)."""

from __future__ import annotations

import json
from pathlib import Path

from gvmgen_plugin import installer

CLIENT_MODULE = Path(installer.__file__).parent / "resolve" / "gvmgen_client.lua"
TABLES = ("REQUEST_OPTIONS", "WAIT_OPTIONS", "CONNECTION_OPTIONS")


def plugin_options(table: str = "REQUEST_OPTIONS") -> list[dict]:
    """Each row of a table as {"flag", and "job" or "setting"}: what the scripts can pass to
    `gvmgen client submit`, and where the value comes from (the command, or gvmgen.json)."""
    from lupa import luajit21

    lua = luajit21.LuaRuntime(unpack_returned_tuples=True)
    load = lua.eval("function(path) return loadfile(path)(function() return {} end) end")
    rows = load(str(CLIENT_MODULE))[table]
    return [dict(rows[i].items()) for i in range(1, len(rows) + 1)]


def plugin_request_flags() -> set[str]:
    return {row["flag"] for row in plugin_options()}


if __name__ == "__main__":
    print(json.dumps({table: plugin_options(table) for table in TABLES}, indent=2))
