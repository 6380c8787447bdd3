--[[ GVMGen for DaVinci Resolve: what the four Workspace > Scripts > GVMGen menu scripts share.

Runs inside Resolve's (Fusion's) LuaJIT with the standard library only. Resolve loads a menu
script as one file; that file loads this one (menu_script.lua), and this one loads its modules
from beside itself, gvmgen_<name>.lua:

  console    what the editor is told; the one way a command stops (a Failure sentence)
  json       the JSON reader (the client speaks JSON lines)
  shell      files, paths, processes
  frames     rates, timecodes, frame counts (pure arithmetic)
  api        calling Resolve safely; the session (handle, version, timeline) read once
  client     `gvmgen client` argv (one option table), runs, answers, the one no-answer failure
  window     Studio's progress window with Cancel
  placement  import, append, read back, take back, label, save
  commands   the four menu commands

Scoring happens in the GVMGen backend; the scripts drive its client and place the WAVs it
writes (docs/resolve.md).
]]

-- In dependency order: a module loads those it uses through the function it is given.
local MODULES = { "console", "json", "shell", "frames", "api", "client", "window", "placement", "commands" }

local function own_folder()
  local source = debug.getinfo(1, "S").source or ""
  if source:sub(1, 1) ~= "@" then return "." end
  return source:sub(2):match("^(.*)[/\\]") or "."
end

local core = { folder = own_folder(), MODULES = MODULES, modules = {} }

--- Module `name` (gvmgen_<name>.lua beside this file), loaded once. Each module file is a chunk
--- that receives this function as `...` and returns its table.
function core.use(name)
  local module = core.modules[name]
  if module ~= nil then return module end
  local path = core.folder .. "/gvmgen_" .. name .. ".lua"
  local chunk, why = loadfile(path)
  if not chunk then
    error("[GVMGen] cannot load " .. path .. " (" .. tostring(why) .. "); run `gvmgen resolve "
      .. "install` again and restart Resolve.", 0)
  end
  module = chunk(core.use)
  core.modules[name] = module
  return module
end

for _, name in ipairs(MODULES) do core[name] = core.use(name) end

local console, json = core.console, core.json

--- gvmgen.json, which the installer wrote beside the scripts.
function core.load_config(script_dir)
  local path = script_dir .. "/gvmgen.json"
  local text = core.shell.read_file(path)
  if not text then
    console.fail("GVMGen is not installed for this Resolve: " .. path .. " is missing; run "
      .. "`gvmgen resolve install` in a terminal and restart Resolve.")
  end
  local ok, config = pcall(json.decode, text)
  if not ok or type(config) ~= "table" or type(config.gvmgen) ~= "table" then
    console.fail(path .. " is damaged; run `gvmgen resolve install` again.")
  end
  config.path = path
  -- no engine chosen: none is passed, and the client's default (gvmgen.defaults) applies
  return config
end

local function run_command(command, script_dir, env)
  local config = core.load_config(script_dir)
  local resolve = core.api.find(env)
  if command == "status" then return core.commands.status(config) end
  if not core.commands.ON_TIMELINE[command] then
    console.fail("GVMGen has no command '" .. tostring(command) .. "'; run `gvmgen resolve install` again.")
  end
  return core.commands[command](core.api.session(resolve, env), config)
end

--- Entry point of a menu script: `command` is "range", "regenerate", "batch" or "status";
--- `env` holds the globals Resolve gave the script. Returns true, or false after telling the
--- user in one sentence why nothing changed.
function core.run(command, script_dir, env)
  local ok, err = xpcall(function() return run_command(command, script_dir or core.folder, env) end,
    function(e)
      if console.is_failure(e) then return e end
      return console.internal(e, debug.traceback())
    end)
  if ok then return true end
  console.say(err.message)
  if err.internal then print(err.internal) end
  return false, err.message
end

return core
