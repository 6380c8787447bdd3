"""Editor integrations (import name gvmgen_plugin).

- `resolve/`: the DaVinci Resolve menu scripts (Lua, stdlib only; shipped as package data);
- `installer`: copies them into Resolve's Scripts folder (`gvmgen resolve install`).

Other NLEs use the OTIO-file workflow in docs/editors.md.
"""
