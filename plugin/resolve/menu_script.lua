-- GVMGen › @TITLE@ (Workspace › Scripts › GVMGen): @ABOUT@.
-- The code is in gvmgen_core.lua (which loads the gvmgen_*.lua modules beside it); this file
-- only finds it. `gvmgen resolve install` writes one such script per menu entry from
-- plugin/resolve/menu_script.lua, filling in the command.
local COMMAND = "@COMMAND@"

-- Find gvmgen_core.lua beside this script. Resolve may run a menu script from its file (then
-- debug.getinfo names it) or from a string; then Fusion's Scripts: path map and the installer's
-- folders are tried, so the script works however it was started.
local function script_dirs()
  local dirs = {}
  local info = debug.getinfo(1, "S")
  local source = info and info.source or ""
  if source:sub(1, 1) == "@" then dirs[#dirs + 1] = source:sub(2):match("^(.*)[/\\]") end
  local host = rawget(_G, "fu") or rawget(_G, "fusion") or rawget(_G, "app")
  if host then
    local ok, mapped = pcall(function() return host:MapPath("Scripts:") end)
    for dir in tostring(ok and mapped or ""):gmatch("[^;]+") do
      dirs[#dirs + 1] = dir:gsub("[/\\]$", "") .. "/Utility/GVMGen"
    end
  end
  local home = os.getenv("HOME") or ""
  local appdata, programdata = os.getenv("APPDATA") or "", os.getenv("PROGRAMDATA") or ""
  for _, dir in ipairs({
    os.getenv("GVMGEN_RESOLVE_SCRIPTS") or "",
    home .. "/.local/share/DaVinciResolve/Fusion/Scripts/Utility/GVMGen",
    "/opt/resolve/Fusion/Scripts/Utility/GVMGen",
    home .. "/Library/Application Support/Blackmagic Design/DaVinci Resolve/Fusion/Scripts/Utility/GVMGen",
    "/Library/Application Support/Blackmagic Design/DaVinci Resolve/Fusion/Scripts/Utility/GVMGen",
    appdata .. "\\Blackmagic Design\\DaVinci Resolve\\Support\\Fusion\\Scripts\\Utility\\GVMGen",
    programdata .. "\\Blackmagic Design\\DaVinci Resolve\\Fusion\\Scripts\\Utility\\GVMGen",
  }) do
    if dir ~= "" then dirs[#dirs + 1] = dir end
  end
  return dirs
end

local function load_core()
  for _, dir in ipairs(script_dirs()) do
    local path = dir .. "/gvmgen_core.lua"
    local f = io.open(path, "r")
    if f then
      f:close()
      local ok, core = pcall(dofile, path) -- it loads its modules from beside itself
      if ok then return core, dir end
      print(tostring(core))
      return nil
    end
  end
  print("[GVMGen] gvmgen_core.lua is not beside this script; run `gvmgen resolve install` again.")
end

local core, dir = load_core()
if core then
  core.run(COMMAND, dir, {
    resolve = rawget(_G, "resolve"), fu = rawget(_G, "fu"), fusion = rawget(_G, "fusion"),
    app = rawget(_G, "app"), bmd = rawget(_G, "bmd"),
  })
end
