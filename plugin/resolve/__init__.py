"""The DaVinci Resolve menu scripts: Lua files run by Resolve's LuaJIT, shipped as package data
(`gvmgen resolve install` copies them into Resolve's Scripts folder). No Python here runs in
Resolve."""
