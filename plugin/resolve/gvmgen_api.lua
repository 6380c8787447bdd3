--[[ GVMGen for Resolve: calling its scripting API safely, and the handle, version and open
timeline gathered once into a session that every command reads and none writes.

Version gates (docs/resolve.md): trackIndex/recordFrame, AddTrack and DeleteClips arrived in
18.5, GetMarkInOut in 19.1, GetSelectedClips in 21.0.4. A missing method is nil on a Resolve
object, and hasattr-style probing says nothing, so calls go through pcall. ]]

local use = assert(..., "this is GVMGen's shared code: run a GVMGen command from the menu instead")
local console, frames = use("console"), use("frames")
local fail = console.fail

local api = {}

api.MIN_VERSION = { 18, 5 }

--- pcall(object:method(...)): (true, results...) or (false, message) for a missing or failing
--- method.
function api.call(object, method, ...)
  local args = { ... }
  local n = select("#", ...)
  return pcall(function() return object[method](object, unpack(args, 1, n)) end)
end
local call = api.call

--- A Resolve list (an array, or a table keyed otherwise) as a Lua array.
function api.list_of(value)
  if type(value) ~= "table" then return {} end
  local items = {}
  for _, v in ipairs(value) do items[#items + 1] = v end
  if #items == 0 then for _, v in pairs(value) do items[#items + 1] = v end end
  return items
end

function api.at_least(version, wanted)
  for i = 1, 3 do
    local have, want = version[i] or 0, wanted[i] or 0
    if have ~= want then return have > want end
  end
  return true
end

local function version_of(resolve)
  local ok, v = call(resolve, "GetVersion")
  if ok and type(v) == "table" then
    return { tonumber(v[1]) or 0, tonumber(v[2]) or 0, tonumber(v[3]) or 0 }
  end
  local ok2, text = call(resolve, "GetVersionString")
  local major, minor, patch = tostring(ok2 and text or ""):match("(%d+)%.?(%d*)%.?(%d*)")
  return { tonumber(major) or 0, tonumber(minor) or 0, tonumber(patch) or 0 }
end

--- The `resolve` a menu script was given (or can reach through Fusion).
function api.find(env)
  if env.resolve then return env.resolve end
  local host = env.app or env.fu or env.fusion
  if host then
    local ok, handle = call(host, "GetResolve")
    if ok and handle then return handle end
  end
  if env.bmd then
    local ok, handle = pcall(function() return env.bmd.scriptapp("Resolve") end)
    if ok and handle then return handle end
  end
  fail("Cannot reach Resolve from this script; run it from Workspace > Scripts > GVMGen.")
end

local function is_on(setting)
  return setting == true or setting == 1 or setting == "1" or tostring(setting):lower() == "true"
end

--- The timeline's rate. GetSetting may say "29.97" or "29.97 DF"; drop-frame is taken from that
--- text or from the timelineDropFrameTimecode setting, whichever says so.
function api.timeline_rate(timeline)
  local _, text = call(timeline, "GetSetting", "timelineFrameRate")
  local _, drop = call(timeline, "GetSetting", "timelineDropFrameTimecode")
  local rate = frames.parse_rate(text, is_on(drop))
  if not rate then fail("Cannot read this timeline's frame rate (got " .. tostring(text) .. ").") end
  return rate
end

--- Everything a command needs about the running Resolve, read once: fails with one sentence
--- when the version is too old or no timeline is open. `env` holds the script's globals.
function api.session(resolve, env)
  local version = version_of(resolve)
  if not api.at_least(version, api.MIN_VERSION) then
    fail(string.format("GVMGen needs DaVinci Resolve 18.5 or later; this is %d.%d.%d.",
      version[1], version[2], version[3]))
  end
  local _, product = call(resolve, "GetProductName")
  local _, manager = call(resolve, "GetProjectManager")
  local project = manager and select(2, call(manager, "GetCurrentProject"))
  local timeline = project and select(2, call(project, "GetCurrentTimeline"))
  if not timeline then fail("Open a timeline first, then run the GVMGen command again.") end
  return {
    resolve = resolve, manager = manager, project = project, timeline = timeline, env = env,
    version = version, studio = tostring(product or ""):find("Studio") ~= nil,
    media_pool = select(2, call(project, "GetMediaPool")),
    start = timeline:GetStartFrame(), rate = api.timeline_rate(timeline),
  }
end

return api
