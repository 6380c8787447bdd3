--[[ GVMGen for DaVinci Resolve: the code the four Workspace > Scripts > GVMGen menu scripts share.

Runs inside Resolve's (Fusion's) LuaJIT with the standard library only: Resolve allows no packages,
so the small JSON reader below is ours. The menu scripts find this file next to themselves and
call `core.run(command)`. Scoring happens in the GVMGen backend; we drive its client
(`gvmgen client submit ... --json-lines`, one JSON object per stdout line) through io.popen, and
place the WAVs it writes on the timeline.

Frame spaces (see docs/resolve.md): recordFrame and TimelineItem:GetStart/GetEnd are absolute
(they include GetStartFrame(), 86400 for 01:00:00:00 at 24 fps); GetMarkInOut and timeline
markers are relative to the timeline start; clipInfo start/endFrame count the media's own frames
and endFrame is exclusive from 19.0 (inclusive on 18.x). Appends that overlap are silently dropped
and a locked track returns an empty table, so every append is read back by start and duration.
]]

local core = {}

core.TRACK_NAME = "GVMGen Score"
core.BIN_NAME = "GVMGen"
core.CLIP_COLOR = "Purple"
core.MARKER_COLOR = "Purple"
core.IMPORT_TRIES = 20 -- ImportMedia may return {} while a WAV is still being flushed
core.IMPORT_WAIT_SECONDS = 0.25
-- GetMarkInOut's out is read as inclusive (the frame under the Out mark is scored), as the
-- Edit page shows it; docs/resolve.md has the live probe that checks it.
core.MARK_OUT_INCLUSIVE = true
core.MIN_VERSION = { 18, 5 } -- trackIndex/recordFrame, AddTrack, DeleteClips

local IS_WINDOWS = package.config:sub(1, 1) == "\\"
local SEP = IS_WINDOWS and "\\" or "/"

-- A user-facing failure: one sentence, the timeline left as it was.
local Failure = {}
Failure.__index = Failure
Failure.__tostring = function(self) return self.message end

local function fail(message)
  error(setmetatable({ message = message }, Failure), 0)
end
core.fail = fail

---------------------------------------------------------------------------------------------
-- JSON (decode only: the client speaks JSON lines; the installer writes gvmgen.json)
---------------------------------------------------------------------------------------------
local json = {}
core.json = json
json.null = setmetatable({}, { __tostring = function() return "null" end })

local escapes = { b = "\b", f = "\f", n = "\n", r = "\r", t = "\t", ['"'] = '"', ["\\"] = "\\", ["/"] = "/" }

local function utf8_char(code)
  if code < 0x80 then return string.char(code) end
  if code < 0x800 then
    return string.char(0xC0 + math.floor(code / 0x40), 0x80 + code % 0x40)
  end
  if code < 0x10000 then
    return string.char(0xE0 + math.floor(code / 0x1000), 0x80 + math.floor(code / 0x40) % 0x40,
      0x80 + code % 0x40)
  end
  return string.char(0xF0 + math.floor(code / 0x40000), 0x80 + math.floor(code / 0x1000) % 0x40,
    0x80 + math.floor(code / 0x40) % 0x40, 0x80 + code % 0x40)
end

local decode_value

local function skip(text, i)
  return text:find("[^ \t\r\n]", i) or #text + 1
end

local function decode_string(text, i)
  local parts, j = {}, i + 1
  while true do
    local c = text:sub(j, j)
    if c == "" then error("unterminated string at " .. i) end
    if c == '"' then return table.concat(parts), j + 1 end
    if c == "\\" then
      local e = text:sub(j + 1, j + 1)
      if e == "u" then
        local code = tonumber(text:sub(j + 2, j + 5), 16)
        if not code then error("bad \\u escape at " .. j) end
        j = j + 6
        if code >= 0xD800 and code < 0xDC00 and text:sub(j, j + 1) == "\\u" then
          local low = tonumber(text:sub(j + 2, j + 5), 16) or 0
          code = 0x10000 + (code - 0xD800) * 0x400 + (low - 0xDC00)
          j = j + 6
        end
        parts[#parts + 1] = utf8_char(code)
      elseif escapes[e] then
        parts[#parts + 1] = escapes[e]
        j = j + 2
      else
        error("bad escape at " .. j)
      end
    else
      local k = text:find('["\\]', j) or #text + 1
      parts[#parts + 1] = text:sub(j, k - 1)
      j = k
    end
  end
end

local function decode_list(text, i, close, read_item)
  local result, j = {}, skip(text, i + 1)
  if text:sub(j, j) == close then return result, j + 1 end
  while true do
    j = read_item(result, j)
    j = skip(text, j)
    local c = text:sub(j, j)
    if c == close then return result, j + 1 end
    if c ~= "," then error("expected ',' or '" .. close .. "' at " .. j) end
    j = skip(text, j + 1)
  end
end

function decode_value(text, i)
  i = skip(text, i)
  local c = text:sub(i, i)
  if c == "{" then
    return decode_list(text, i, "}", function(obj, j)
      if text:sub(j, j) ~= '"' then error("expected a key at " .. j) end
      local key, k = decode_string(text, j)
      k = skip(text, k)
      if text:sub(k, k) ~= ":" then error("expected ':' at " .. k) end
      local value
      value, k = decode_value(text, k + 1)
      obj[key] = value
      return k
    end)
  elseif c == "[" then
    return decode_list(text, i, "]", function(arr, j)
      local value, k = decode_value(text, j)
      arr[#arr + 1] = value
      return k
    end)
  elseif c == '"' then
    return decode_string(text, i)
  elseif text:sub(i, i + 3) == "true" then
    return true, i + 4
  elseif text:sub(i, i + 4) == "false" then
    return false, i + 5
  elseif text:sub(i, i + 3) == "null" then
    return json.null, i + 4
  end
  local number = text:match("^-?%d+%.?%d*[eE]?[-+]?%d*", i)
  if not number or number == "" or not tonumber(number) then
    error("unexpected character at " .. i)
  end
  return tonumber(number), i + #number
end

--- The value in a JSON text; raises a Lua error (a string) on malformed input.
function json.decode(text)
  local value, i = decode_value(text, 1)
  if skip(text, i) <= #text then error("trailing characters at " .. i) end
  return value
end

local function present(value)
  return value ~= nil and value ~= json.null
end

---------------------------------------------------------------------------------------------
-- Files, paths and processes
---------------------------------------------------------------------------------------------
local function file_exists(path)
  local f = io.open(path, "rb")
  if not f then return false end
  f:close()
  return true
end
core.file_exists = file_exists

local function file_size(path)
  local f = io.open(path, "rb")
  if not f then return 0 end
  local size = f:seek("end")
  f:close()
  return size or 0
end

local function read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local text = f:read("*a")
  f:close()
  return text
end

local function join(...)
  return table.concat({ ... }, SEP)
end

-- One argument for the shell, quoted so that spaces and quotes survive.
local function shell_quote(arg)
  arg = tostring(arg)
  if IS_WINDOWS then
    return '"' .. arg:gsub('(\\*)"', '%1%1\\"'):gsub('(\\+)$', '%1%1') .. '"'
  end
  return "'" .. arg:gsub("'", "'\\''") .. "'"
end

local function command_line(argv)
  local quoted = {}
  for i, arg in ipairs(argv) do quoted[i] = shell_quote(arg) end
  return table.concat(quoted, " ")
end

-- The line handed to the shell: cmd.exe /c drops the first and the last quote of a line that
-- starts with one, so on Windows the whole line, redirections included, gets one more pair.
local function for_shell(line)
  return IS_WINDOWS and ('"' .. line .. '"') or line
end

local function make_dirs(path)
  if IS_WINDOWS then
    os.execute(for_shell('if not exist ' .. shell_quote(path) .. ' mkdir ' .. shell_quote(path)))
  else
    os.execute("mkdir -p " .. shell_quote(path))
  end
end

function core.sleep(seconds)
  if IS_WINDOWS then
    os.execute("ping -n " .. math.max(2, math.ceil(seconds) + 1) .. " 127.0.0.1 >NUL")
  else
    os.execute("sleep " .. string.format("%.2f", seconds))
  end
end

local function one_line(text)
  text = tostring(text or ""):gsub("[\r\n]+", " "):gsub("^%s+", ""):gsub("%s+$", "")
  return text
end

---------------------------------------------------------------------------------------------
-- Console and (Studio) window
---------------------------------------------------------------------------------------------
function core.say(text)
  print("[GVMGen] " .. text)
end

---------------------------------------------------------------------------------------------
-- Where we are: the script's folder, the config the installer wrote
---------------------------------------------------------------------------------------------
function core.load_config(script_dir)
  local path = join(script_dir, "gvmgen.json")
  local text = read_file(path)
  if not text then
    fail("GVMGen is not installed for this Resolve: " .. path .. " is missing; run "
      .. "`gvmgen resolve install` in a terminal and restart Resolve.")
  end
  local ok, config = pcall(json.decode, text)
  if not ok or type(config) ~= "table" or type(config.gvmgen) ~= "table" then
    fail(path .. " is damaged; run `gvmgen resolve install` again.")
  end
  config.path = path
  config.engine = present(config.engine) and config.engine or "auto"
  return config
end

---------------------------------------------------------------------------------------------
-- Resolve: the handle, its version, the timeline
---------------------------------------------------------------------------------------------
local function call(object, method, ...)
  -- A missing method is nil on a Resolve object; pcall turns both that and a failing call
  -- into (false, message): hasattr-style probing does not work on these objects.
  local args = { ... }
  local n = select("#", ...)
  return pcall(function() return object[method](object, unpack(args, 1, n)) end)
end
core.call = call

function core.find_resolve(env)
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

local function version_of(resolve)
  local ok, v = call(resolve, "GetVersion")
  if ok and type(v) == "table" then
    return { tonumber(v[1]) or 0, tonumber(v[2]) or 0, tonumber(v[3]) or 0 }
  end
  local ok2, text = call(resolve, "GetVersionString")
  local major, minor, patch = tostring(ok2 and text or ""):match("(%d+)%.?(%d*)%.?(%d*)")
  return { tonumber(major) or 0, tonumber(minor) or 0, tonumber(patch) or 0 }
end

local function at_least(version, wanted)
  for i = 1, 3 do
    local have, want = version[i] or 0, wanted[i] or 0
    if have ~= want then return have > want end
  end
  return true
end
core.at_least = at_least

--- Everything a command needs about the running Resolve; fails with one sentence when the
--- version is too old or no timeline is open.
function core.context(resolve)
  local version = version_of(resolve)
  local _, product = call(resolve, "GetProductName")
  product = tostring(product or "DaVinci Resolve")
  if not at_least(version, core.MIN_VERSION) then
    fail(string.format("GVMGen needs DaVinci Resolve 18.5 or later; this is %d.%d.%d.",
      version[1], version[2], version[3]))
  end
  local _, manager = call(resolve, "GetProjectManager")
  local project = manager and select(2, call(manager, "GetCurrentProject"))
  local timeline = project and select(2, call(project, "GetCurrentTimeline"))
  if not timeline then fail("Open a timeline first, then run the GVMGen command again.") end
  local ctx = {
    resolve = resolve, manager = manager, project = project, timeline = timeline,
    version = version, studio = product:find("Studio") ~= nil,
    media_pool = select(2, call(project, "GetMediaPool")),
    start = timeline:GetStartFrame(),
  }
  ctx.rate = core.timeline_rate(timeline)
  return ctx
end

local NTSC_BASES = { 24, 30, 48, 60, 120 }

--- The timeline rate as { num, den } (23.976 -> 24000/1001) and as a number.
function core.parse_rate(text)
  local value = tonumber(text)
  if not value or value <= 0 then return nil end
  for _, base in ipairs(NTSC_BASES) do
    if math.abs(value - base * 1000 / 1001) < 5e-3 then
      return { num = base * 1000, den = 1001, value = base * 1000 / 1001 }
    end
  end
  if math.abs(value - math.floor(value + 0.5)) < 1e-6 then
    value = math.floor(value + 0.5)
    return { num = value, den = 1, value = value }
  end
  return { num = value * 1000, den = 1000, value = value }
end

function core.timeline_rate(timeline)
  local _, text = call(timeline, "GetSetting", "timelineFrameRate")
  local rate = core.parse_rate(text)
  if not rate then fail("Cannot read this timeline's frame rate (got " .. tostring(text) .. ").") end
  return rate
end

local function round(x)
  return math.floor(x + 0.5)
end

--- Seconds (as the backend reports them) to whole frames at `rate`.
function core.frames_at(seconds, rate)
  return round(seconds * rate.num / rate.den)
end

---------------------------------------------------------------------------------------------
-- The range to score
---------------------------------------------------------------------------------------------
local function marks_of(ctx)
  local ok, marks = call(ctx.timeline, "GetMarkInOut") -- 19.1 (README) or 20 (reports): probe
  if not ok or type(marks) ~= "table" then return nil end
  for _, kind in ipairs({ "video", "audio" }) do
    local m = marks[kind]
    if type(m) == "table" and tonumber(m["in"]) and tonumber(m["out"]) then
      local out = m["out"] + (core.MARK_OUT_INCLUSIVE and 1 or 0)
      return { first = m["in"], last = out, source = "the In/Out marks" }
    end
  end
  return nil
end

local function clip_under_playhead(ctx)
  local ok, item = call(ctx.timeline, "GetCurrentVideoItem")
  if not ok or not item then return nil end
  return {
    first = item:GetStart() - ctx.start, last = item:GetEnd() - ctx.start,
    source = "the clip under the playhead (" .. tostring(item:GetName()) .. ")",
  }
end

local function timeline_length(ctx)
  return ctx.timeline:GetEndFrame() - ctx.start
end

--- The range to score, in frames relative to the timeline start, end exclusive.
function core.marked_range(ctx)
  local range = marks_of(ctx) or clip_under_playhead(ctx)
  if not range then
    fail("Mark an In and an Out point on the timeline (or park the playhead over a clip), "
      .. "then run Score Marked Range again.")
  end
  if range.last <= range.first then
    fail("The range from " .. range.source .. " is empty: put the Out point after the In point.")
  end
  local length = timeline_length(ctx)
  if range.first < 0 or range.last > length then
    fail(string.format("The range from %s (frames %d-%d) lies outside the timeline "
      .. "(0-%d); mark it again inside the timeline.", range.source, range.first, range.last, length))
  end
  return range
end

---------------------------------------------------------------------------------------------
-- Export and submit
---------------------------------------------------------------------------------------------
local function safe_name(text)
  return (tostring(text or "untitled"):gsub("[^%w%-_]+", "_"))
end

--- The folder a range is scored into: the same range always maps to the same folder, so a
--- regenerate finds the earlier takes there (the backend never overwrites a take).
function core.out_dir_for(ctx, config, kind, first, last)
  local project = safe_name(ctx.project:GetName())
  local timeline = safe_name(ctx.timeline:GetName())
  local leaf = kind == "batch" and "timeline" or string.format("range-%d-%d", first, last)
  return join(config.scores_dir, project, timeline, leaf)
end

function core.export_timeline(ctx, out_dir)
  make_dirs(out_dir)
  local path = join(out_dir, "timeline.otio")
  local kind = ctx.resolve.EXPORT_OTIO
  if kind == nil then fail("This Resolve cannot export OpenTimelineIO (needs 18.5 or later).") end
  local ok, written = call(ctx.timeline, "Export", path, kind, ctx.resolve.EXPORT_NONE)
  if not ok or not written or file_size(path) == 0 then
    fail("Resolve did not export the timeline to " .. path .. "; check that the folder is "
      .. "writable and that no dialog is open in Resolve.")
  end
  return path
end

--- argv for `gvmgen client submit`; `job` = { input, range, mode, out_dir, seed }.
function core.submit_argv(config, job)
  local argv = {}
  for _, part in ipairs(config.gvmgen) do argv[#argv + 1] = part end
  local args = { "client", "submit", "--input", job.input, "--mode", job.mode, "--out", job.out_dir,
    "--engine", config.engine, "--json-lines" }
  for _, arg in ipairs(args) do argv[#argv + 1] = arg end
  local function add(flag, value)
    if present(value) then argv[#argv + 1] = flag; argv[#argv + 1] = tostring(value) end
  end
  add("--range", job.range)
  add("--seed", job.seed)
  add("--data-dir", config.data_dir)
  add("--connect", config.connect)
  add("--timeout", config.timeout)
  if config.spawn == true then argv[#argv + 1] = "--spawn" end
  return argv
end

local function stderr_path(out_dir)
  return join(out_dir, "client-stderr.txt")
end

--- Run a client command and hand each JSON line to `on_line`; returns the last line (the
--- outcome) or fails with one sentence when the client gave none.
function core.run_client(argv, scratch_dir, on_line)
  local err_path = stderr_path(scratch_dir)
  local pipe = io.popen(for_shell(command_line(argv) .. " 2>" .. shell_quote(err_path)), "r")
  if not pipe then fail("Cannot start the GVMGen client (" .. argv[1] .. ").") end
  local last
  for line in pipe:lines() do
    local ok, event = pcall(json.decode, line)
    if ok and type(event) == "table" and event.type then
      last = event
      if on_line then on_line(event) end
    end
  end
  pipe:close()
  if last and last.type ~= "accepted" and last.type ~= "progress" then
    os.remove(err_path)
    return last
  end
  local why = one_line((read_file(err_path) or ""):match("([^\r\n]*)[\r\n]*$"))
  os.remove(err_path)
  fail("The GVMGen client (" .. argv[1] .. ") stopped without an answer"
    .. (why ~= "" and (": " .. why) or "") .. "; run `gvmgen resolve install` again if it moved.")
end

local function show_progress(event)
  if event.type == "accepted" then
    core.say("job " .. tostring(event.job_id) .. " accepted")
  elseif event.type == "progress" then
    local pct = math.floor((tonumber(event.fraction) or 0) * 100 + 0.5)
    local eta = tonumber(event.eta_seconds)
    core.say(string.format("%3d%% %s%s", pct, tostring(event.stage or ""),
      (present(event.message) and event.message ~= "") and (": " .. event.message) or "")
      .. (eta and string.format(" (about %d s left)", round(eta)) or ""))
  end
end

local function error_sentence(error_body, what)
  local message = one_line(present(error_body) and error_body.message or "no reason given")
  local hint = present(error_body) and present(error_body.hint) and one_line(error_body.hint) or ""
  local sentence = what .. message
  if hint ~= "" and not message:find(hint, 1, true) then sentence = sentence .. " (" .. hint .. ")" end
  if not sentence:find("[%.!?]$") then sentence = sentence .. "." end
  return sentence
end

--- The ScoreResult of a finished job, or a failure with the backend's reason as one sentence.
function core.outcome_result(outcome)
  if outcome.type == "done" and type(outcome.result) == "table" then return outcome.result end
  if outcome.type == "cancelled" then fail("The GVMGen job was cancelled; the timeline is unchanged.") end
  if outcome.type == "failed" then fail(error_sentence(outcome.error, "The GVMGen job failed: ")) end
  if outcome.type == "error" then fail(error_sentence(outcome.error, "GVMGen: ")) end
  fail("The GVMGen client answered '" .. tostring(outcome.type) .. "', which this script does not know.")
end

function core.score(ctx, config, job)
  local argv = core.submit_argv(config, job)
  core.say("scoring " .. (job.range or "the whole timeline") .. " into " .. job.out_dir)
  local window = core.progress_window(ctx)
  local outcome
  if window then
    outcome = core.run_client_in_window(window, config, argv, job.out_dir)
  else -- free edition (no UIManager from 19.1): the Console shows the progress
    outcome = core.run_client(argv, job.out_dir, show_progress)
  end
  return core.outcome_result(outcome)
end

---------------------------------------------------------------------------------------------
-- Studio: a window with the progress and a Cancel button
---------------------------------------------------------------------------------------------
--- UIManager and a dispatcher, on Studio only: touching fu.UIManager on the free edition opens
--- an upsell dialog that makes later API calls fail.
function core.progress_window(ctx)
  if not ctx.studio or not ctx.env then return nil end
  local fusion = ctx.env.fu or ctx.env.fusion
  local ok, ui = pcall(function() return fusion.UIManager end)
  if not ok or not ui then return nil end
  local ok2, disp = pcall(function() return ctx.env.bmd.UIDispatcher(ui) end)
  if not ok2 or not disp then return nil end
  return { ui = ui, disp = disp }
end

-- Start `argv` in the background: JSON lines to lines_path, stderr to err_path, and its exit
-- status to exit_path when it ends (how we notice a client that died without an answer).
local function spawn(argv, lines_path, err_path, exit_path)
  local run = command_line(argv) .. " >" .. shell_quote(lines_path) .. " 2>" .. shell_quote(err_path)
  if IS_WINDOWS then
    os.execute(for_shell('start "" /b cmd /c "' .. run .. " & echo %errorlevel% >"
      .. shell_quote(exit_path) .. '"'))
  else
    os.execute("(" .. run .. "; echo $? >" .. shell_quote(exit_path) .. ") >/dev/null 2>&1 &")
  end
end

local function new_lines(state)
  local text = read_file(state.lines_path) or ""
  local events = {}
  for line in text:gmatch("([^\r\n]*)\r?\n") do events[#events + 1] = line end -- whole lines only
  local fresh = {}
  for i = (state.seen or 0) + 1, #events do
    local ok, event = pcall(json.decode, events[i])
    if ok and type(event) == "table" and event.type then fresh[#fresh + 1] = event end
  end
  state.seen = #events
  return fresh
end

local function bar(fraction)
  local filled = math.floor(fraction * 30 + 0.5)
  return string.rep("#", filled) .. string.rep("-", 30 - filled) .. string.format(" %3d%%", math.floor(fraction * 100 + 0.5))
end

local function build_window(window)
  local ui = window.ui
  return window.disp:AddWindow({ ID = "GVMGenProgress", WindowTitle = "GVMGen", Geometry = { 200, 200, 460, 130 } },
    ui:VGroup({
      ui:Label({ ID = "Stage", Text = "Submitting the job..." }),
      ui:Label({ ID = "Bar", Text = bar(0) }),
      ui:Button({ ID = "Cancel", Text = "Cancel" }),
    }))
end

--- Follow a background submit in a window; the dispatcher's timer reads its JSON lines.
function core.run_client_in_window(window, config, argv, scratch_dir)
  local state = {
    lines_path = join(scratch_dir, "client-lines.jsonl"), err_path = join(scratch_dir, "client-stderr.txt"),
    exit_path = join(scratch_dir, "client-exit.txt"),
  }
  for _, path in ipairs({ state.lines_path, state.err_path, state.exit_path }) do os.remove(path) end
  spawn(argv, state.lines_path, state.err_path, state.exit_path)
  local disp, win = window.disp, build_window(window)
  local items = win:GetItems()
  local function finish(outcome)
    state.outcome = outcome
    disp:ExitLoop()
  end
  local function cancel()
    if state.cancelling or not state.job_id then return end
    state.cancelling = true
    items.Stage.Text = "Cancelling..."
    pcall(core.run_client, core.client_argv(config, "cancel", state.job_id), scratch_dir)
  end
  local function poll()
    for _, event in ipairs(new_lines(state)) do
      show_progress(event)
      if event.type == "accepted" then state.job_id = event.job_id end
      if event.type == "progress" then
        items.Stage.Text = tostring(event.stage or "") .. ": " .. one_line(event.message)
        items.Bar.Text = bar(tonumber(event.fraction) or 0)
      elseif event.type ~= "accepted" then
        return finish(event)
      end
    end
    if file_exists(state.exit_path) and not state.outcome then finish(nil) end
  end
  local timer = window.ui:Timer({ ID = "GVMGenPoll", Interval = 250, SingleShot = false })
  -- scripts in the wild hook a timer's Timeout both ways; whichever this Fusion fires, one runs
  disp.On.Timeout = function() poll() end
  win.On.GVMGenPoll.Timeout = function() poll() end
  win.On.Cancel.Clicked = function() cancel() end
  win.On.GVMGenProgress.Close = function() cancel() end
  win:Show()
  timer:Start()
  disp:RunLoop()
  timer:Stop()
  win:Hide()
  local why = one_line((read_file(state.err_path) or ""):match("([^\r\n]*)[\r\n]*$"))
  for _, path in ipairs({ state.lines_path, state.err_path, state.exit_path }) do os.remove(path) end
  if state.outcome then return state.outcome end
  fail("The GVMGen client (" .. argv[1] .. ") stopped without an answer"
    .. (why ~= "" and (": " .. why) or "") .. "; run `gvmgen resolve install` again if it moved.")
end

--- The result's cues as placements: absolute record frame, frames on the timeline, WAV.
function core.cues_of(ctx, result, range_first)
  local cues = {}
  for i, cue in ipairs(result.cues or {}) do
    local first = core.frames_at(cue.start, ctx.rate)
    local last = core.frames_at(cue.start + cue.duration, ctx.rate)
    cues[i] = {
      wav = cue.wav, name = cue.name, seed = cue.seed, take = cue.take, index = cue.index,
      record = ctx.start + range_first + first, frames = last - first, job_id = result.job_id,
    }
  end
  if #cues == 0 then fail("The GVMGen job finished without any music to place.") end
  return cues
end

---------------------------------------------------------------------------------------------
-- Media pool
---------------------------------------------------------------------------------------------
local function list_of(value)
  if type(value) ~= "table" then return {} end
  local items = {}
  for _, v in ipairs(value) do items[#items + 1] = v end
  if #items == 0 then for _, v in pairs(value) do items[#items + 1] = v end end
  return items
end
core.list_of = list_of

function core.score_bin(ctx)
  local pool = ctx.media_pool
  local root = pool:GetRootFolder()
  for _, folder in ipairs(list_of(root:GetSubFolderList())) do
    if folder:GetName() == core.BIN_NAME then return folder end
  end
  local folder = pool:AddSubFolder(root, core.BIN_NAME)
  if not folder then fail("Cannot create the '" .. core.BIN_NAME .. "' bin in the media pool.") end
  return folder
end

local function same_path(a, b)
  a, b = tostring(a or ""), tostring(b or "")
  if IS_WINDOWS then a, b = a:lower():gsub("/", "\\"), b:lower():gsub("/", "\\") end
  return a == b
end

local function clip_path(mpi)
  local ok, path = call(mpi, "GetClipProperty", "File Path")
  return ok and path or nil
end

--- Import one WAV into the GVMGen bin, retrying while Resolve reports nothing (a file still
--- being written imports as {}); returns the MediaPoolItem.
function core.import_wav(ctx, bin, path)
  if not file_exists(path) then fail("The backend reported " .. path .. " but it is not there.") end
  for attempt = 1, core.IMPORT_TRIES do
    ctx.media_pool:SetCurrentFolder(bin) -- ImportMedia lands in the current folder
    for _, mpi in ipairs(list_of(ctx.media_pool:ImportMedia({ path }))) do
      if same_path(clip_path(mpi), path) then return mpi end
    end
    if attempt < core.IMPORT_TRIES then core.sleep(core.IMPORT_WAIT_SECONDS) end
  end
  fail("Resolve would not import " .. path .. "; check that the file plays, then run the command again.")
end

local function media_rate(ctx, mpi)
  local ok, fps = call(mpi, "GetClipProperty", "FPS")
  return (ok and core.parse_rate(fps)) or ctx.rate
end

--- clipInfo endFrame for `frames` timeline frames of `mpi`: counted at the media's own rate,
--- exclusive from 19.0 (inclusive on 18.x), always an integer (21 rejects fractions).
function core.media_frames(ctx, mpi, frames)
  local rate = media_rate(ctx, mpi)
  local n = round(frames * rate.num * ctx.rate.den / (rate.den * ctx.rate.num))
  return at_least(ctx.version, { 19 }) and n or n - 1
end

---------------------------------------------------------------------------------------------
-- Tracks and placement
---------------------------------------------------------------------------------------------
local function audio_items(ctx, track)
  return list_of(ctx.timeline:GetItemListInTrack("audio", track))
end

local function is_locked(ctx, track)
  local ok, locked = call(ctx.timeline, "GetIsTrackLocked", "audio", track)
  return ok and locked == true
end

local function is_free(ctx, track, first, last)
  for _, item in ipairs(audio_items(ctx, track)) do
    if item:GetStart() < last and item:GetEnd() > first then return false end
  end
  return true
end

local function is_score_track(name)
  return tostring(name or ""):sub(1, #core.TRACK_NAME) == core.TRACK_NAME
end

local function score_track_count(ctx)
  local count = 0
  for track = 1, ctx.timeline:GetTrackCount("audio") do
    if is_score_track(ctx.timeline:GetTrackName("audio", track)) then count = count + 1 end
  end
  return count
end

function core.add_score_track(ctx)
  local before = ctx.timeline:GetTrackCount("audio")
  local ok = call(ctx.timeline, "AddTrack", "audio", "stereo")
  local track = ctx.timeline:GetTrackCount("audio")
  if not ok or track ~= before + 1 then
    fail("Resolve would not add an audio track for the score; unlock the timeline and try again.")
  end
  local n = score_track_count(ctx)
  ctx.timeline:SetTrackName("audio", track, n == 0 and core.TRACK_NAME or (core.TRACK_NAME .. " " .. (n + 1)))
  ctx.added_tracks = ctx.added_tracks or {}
  ctx.added_tracks[#ctx.added_tracks + 1] = track
  return track
end

--- A "GVMGen Score" track that is unlocked and empty over [first, last) (absolute frames),
--- or a new one: an overlapping append would be dropped without a word.
function core.score_track(ctx, first, last)
  for track = 1, ctx.timeline:GetTrackCount("audio") do
    if is_score_track(ctx.timeline:GetTrackName("audio", track)) and not is_locked(ctx, track)
        and is_free(ctx, track, first, last) then
      return track
    end
  end
  return core.add_score_track(ctx)
end

local function find_placed(ctx, track, cue)
  for _, item in ipairs(audio_items(ctx, track)) do
    if item:GetStart() == cue.record and item:GetDuration() == cue.frames then
      local mpi = item:GetMediaPoolItem()
      if mpi and same_path(clip_path(mpi), cue.wav) then return item end
    end
  end
  return nil
end

local function clip_infos(ctx, track, cues)
  local infos = {}
  for i, cue in ipairs(cues) do
    infos[i] = {
      mediaPoolItem = cue.mpi, startFrame = 0, endFrame = core.media_frames(ctx, cue.mpi, cue.frames),
      mediaType = 2, trackIndex = track, recordFrame = cue.record,
    }
  end
  return infos
end

local function delete_items(ctx, items)
  if #items == 0 then return true end
  ctx.resolve:OpenPage("edit") -- DeleteClips does nothing on other pages
  local ok, deleted = call(ctx.timeline, "DeleteClips", items, false)
  return ok and deleted ~= false
end

--- Append `cues` to `track` in one batch and read every one back; on any loss, remove what
--- did land and return nil (the caller decides: another track, or a message).
function core.append_and_verify(ctx, track, cues)
  ctx.media_pool:AppendToTimeline(clip_infos(ctx, track, cues)) -- returned items can lie: read back
  local placed, missing = {}, 0
  for i, cue in ipairs(cues) do
    placed[i] = find_placed(ctx, track, cue)
    if not placed[i] then missing = missing + 1 end
  end
  if missing == 0 then return placed end
  local landed = {}
  for _, item in pairs(placed) do landed[#landed + 1] = item end
  delete_items(ctx, landed)
  return nil, missing
end

local function remove_added_tracks(ctx)
  for i = #(ctx.added_tracks or {}), 1, -1 do
    local track = ctx.added_tracks[i]
    if #audio_items(ctx, track) == 0 then call(ctx.timeline, "DeleteTrack", "audio", track) end
  end
  ctx.added_tracks = {}
end

local function span(cues)
  local first, last = math.huge, -math.huge
  for _, cue in ipairs(cues) do
    first, last = math.min(first, cue.record), math.max(last, cue.record + cue.frames)
  end
  return first, last
end

--- Place `cues` (each with .mpi) on a free score track; `track` forces one (regenerate).
function core.place(ctx, cues, track)
  ctx.resolve:OpenPage("edit")
  local first, last = span(cues)
  local chosen = track or core.score_track(ctx, first, last)
  local placed, missing = core.append_and_verify(ctx, chosen, cues)
  if not placed and not track then -- locked or occupied after all: once more on a new track
    chosen = core.add_score_track(ctx)
    placed, missing = core.append_and_verify(ctx, chosen, cues)
  end
  if not placed then
    remove_added_tracks(ctx)
    fail(string.format("Resolve dropped %d of %d score clips on audio track %d (locked or "
      .. "occupied); the timeline is unchanged, unlock the track or clear the range and try again.",
      missing, #cues, chosen))
  end
  return placed, chosen
end

function core.label(ctx, cues, placed)
  for i, cue in ipairs(cues) do
    local item = placed[i]
    call(item, "SetClipColor", core.CLIP_COLOR)
    call(item, "AddMarker", 0, core.MARKER_COLOR, "GVMGen " .. tostring(cue.name),
      string.format("take %s, seed %s", tostring(cue.take), tostring(cue.seed)), 1, cue.job_id)
    call(cue.mpi, "SetMetadata", "Comments", string.format("GVMGen job %s cue %s take %s seed %s",
      tostring(cue.job_id), tostring(cue.name), tostring(cue.take), tostring(cue.seed)))
  end
end

local function save(ctx)
  local name = ctx.project:GetName()
  if name and name ~= "" and name ~= "Untitled Project" then call(ctx.manager, "SaveProject") end
end

local function lost_cues(ctx, cues, track)
  local lost = {}
  for _, cue in ipairs(cues) do
    if not find_placed(ctx, track, cue) then lost[#lost + 1] = cue end
  end
  return lost
end

--- Save (never an untitled project: that opens a dialog) and count again: items can vanish on
--- save, so what vanished is placed once more before anyone is told.
function core.save_and_recheck(ctx, cues, track)
  save(ctx)
  local lost = lost_cues(ctx, cues, track)
  if #lost == 0 then return end
  local placed = core.append_and_verify(ctx, track, lost)
  if placed then
    core.label(ctx, lost, placed)
    save(ctx)
    lost = lost_cues(ctx, cues, track)
  end
  if #lost > 0 then
    fail(string.format("%d of %d score clips vanished when the project was saved and could not "
      .. "be placed again; run the command again.", #lost, #cues))
  end
end

function core.import_all(ctx, cues)
  local bin = core.score_bin(ctx)
  for _, cue in ipairs(cues) do cue.mpi = core.import_wav(ctx, bin, cue.wav) end
end

function core.deliver(ctx, cues, track)
  core.import_all(ctx, cues)
  local placed, chosen = core.place(ctx, cues, track)
  core.label(ctx, cues, placed)
  core.save_and_recheck(ctx, cues, chosen)
  local name = ctx.timeline:GetTrackName("audio", chosen)
  core.say(string.format("placed %d cue%s on audio track %d (%s)", #cues, #cues == 1 and "" or "s",
    chosen, tostring(name)))
  return placed, chosen
end

---------------------------------------------------------------------------------------------
-- The four commands
---------------------------------------------------------------------------------------------
local commands = {}
core.commands = commands

function commands.range(ctx, config)
  local range = core.marked_range(ctx)
  core.say("range from " .. range.source)
  local out_dir = core.out_dir_for(ctx, config, "range", range.first, range.last)
  local input = core.export_timeline(ctx, out_dir)
  local result = core.score(ctx, config, {
    input = input, range = string.format("f%d-f%d", range.first, range.last), mode = "range",
    out_dir = out_dir,
  })
  local cues = core.cues_of(ctx, result, range.first)
  return core.deliver(ctx, cues)
end

function commands.batch(ctx, config)
  local out_dir = core.out_dir_for(ctx, config, "batch")
  local input = core.export_timeline(ctx, out_dir)
  local result = core.score(ctx, config, { input = input, mode = "batch", out_dir = out_dir })
  return core.deliver(ctx, core.cues_of(ctx, result, 0))
end

local function is_ours(item, config)
  local ok, markers = call(item, "GetMarkers")
  if ok and type(markers) == "table" then
    for _, marker in pairs(markers) do
      if type(marker) == "table" and tostring(marker.name or ""):sub(1, 7) == "GVMGen " then return true end
    end
  end
  local mpi = item:GetMediaPoolItem()
  local path = mpi and clip_path(mpi) or ""
  return path:find(config.scores_dir, 1, true) == 1
end

-- Our clip in the timeline selection (21.0.4+), else our clip under the playhead.
local function selected_score_clip(ctx, config)
  if at_least(ctx.version, { 21, 0, 4 }) then
    local ok, selected = call(ctx.timeline, "GetSelectedClips")
    for _, item in ipairs(ok and list_of(selected) or {}) do
      if is_ours(item, config) then return item end
    end
  end
  local ok, tc = call(ctx.timeline, "GetCurrentTimecode")
  local frame = ok and core.timecode_frame(tc, ctx.rate)
  for track = 1, frame and ctx.timeline:GetTrackCount("audio") or 0 do
    for _, item in ipairs(audio_items(ctx, track)) do
      if item:GetStart() <= frame and frame < item:GetEnd() and is_ours(item, config) then
        return item, track
      end
    end
  end
  return nil
end

function core.timecode_frame(text, rate)
  local h, m, s, sep, f = tostring(text or ""):match("^(%d+):(%d+):(%d+)([:;.,])(%d+)$")
  if not h then return nil end
  h, m, s, f = tonumber(h), tonumber(m), tonumber(s), tonumber(f)
  local nominal = round(rate.value)
  local frame = ((h * 60 + m) * 60 + s) * nominal + f
  if sep == ";" or sep == "," then -- drop-frame: 2 (4 at 59.94) numbers skipped each minute but every 10th
    local drop = round(nominal / 15)
    local minutes = h * 60 + m
    frame = frame - drop * (minutes - math.floor(minutes / 10))
  end
  return frame
end

local function track_of(ctx, item, known)
  if known then return known end
  local ok, kind_index = call(item, "GetTrackTypeAndIndex")
  if ok and type(kind_index) == "table" and tonumber(kind_index[2]) then return tonumber(kind_index[2]) end
  for track = 1, ctx.timeline:GetTrackCount("audio") do
    for _, other in ipairs(audio_items(ctx, track)) do
      if other:GetStart() == item:GetStart() and other:GetName() == item:GetName() then return track end
    end
  end
  fail("Cannot tell which audio track the selected clip is on.")
end

local function previous_seed(item)
  local mpi = item:GetMediaPoolItem()
  local ok, comments = call(mpi, "GetMetadata", "Comments")
  return tonumber(tostring(ok and comments or ""):match("seed (%d+)"))
end

function commands.regenerate(ctx, config)
  local item, known_track = selected_score_clip(ctx, config)
  if not item then
    fail("Select a GVMGen score clip on the timeline (or park the playhead over one), then run "
      .. "Regenerate Selected Clip again.")
  end
  local track = track_of(ctx, item, known_track)
  local first, frames = item:GetStart() - ctx.start, item:GetDuration()
  local out_dir = core.out_dir_for(ctx, config, "range", first, first + frames)
  local earlier = file_exists(join(out_dir, "report.json"))
  local input = core.export_timeline(ctx, out_dir)
  local seed = not earlier and ((previous_seed(item) or 0) + 1) or nil
  local result = core.score(ctx, config, {
    input = input, range = string.format("f%d-f%d", first, first + frames), out_dir = out_dir,
    mode = earlier and "regenerate" or "range", seed = seed,
  })
  local cues = core.cues_of(ctx, result, first)
  if #cues ~= 1 or cues[1].record ~= item:GetStart() or cues[1].frames ~= frames then
    fail("The new take does not fit the selected clip's place; the timeline is unchanged.")
  end
  core.import_all(ctx, cues)
  return core.replace(ctx, item, track, cues)
end

--- Swap `item` for the new take at the same start on the same track; the old take stays in the
--- bin, and comes back on the track if the new one cannot be placed.
function core.replace(ctx, item, track, cues)
  local old = { mpi = item:GetMediaPoolItem(), record = item:GetStart(), frames = item:GetDuration() }
  old.wav = clip_path(old.mpi)
  if not delete_items(ctx, { item }) or find_placed(ctx, track, old) then
    fail("Resolve would not remove the selected clip (is its track locked?); the timeline is unchanged.")
  end
  local ok, placed = pcall(core.place, ctx, cues, track)
  if not ok then
    core.append_and_verify(ctx, track, { old })
    error(placed, 0)
  end
  core.label(ctx, cues, placed)
  core.save_and_recheck(ctx, cues, track)
  core.say(string.format("take %s placed on audio track %d; earlier takes stay in the %s bin",
    tostring(cues[1].take), track, core.BIN_NAME))
  return placed, track
end

--- argv for a client query (`ping`, `list`) with the config's connection flags.
function core.client_argv(config, ...)
  local argv = {}
  for _, part in ipairs(config.gvmgen) do argv[#argv + 1] = part end
  argv[#argv + 1] = "client"
  for _, arg in ipairs({ ... }) do argv[#argv + 1] = arg end
  argv[#argv + 1] = "--json-lines"
  if present(config.data_dir) then argv[#argv + 1] = "--data-dir"; argv[#argv + 1] = config.data_dir end
  if present(config.connect) then argv[#argv + 1] = "--connect"; argv[#argv + 1] = config.connect end
  return argv
end

function commands.status(ctx, config)
  make_dirs(config.scores_dir)
  local pong = core.run_client(core.client_argv(config, "ping"), config.scores_dir)
  if pong.type ~= "pong" then core.outcome_result(pong) end
  core.say("backend up" .. core.describe(pong, { "type" }))
  local shown = 0
  local ok, why = pcall(core.run_client, core.client_argv(config, "list"), config.scores_dir,
    function(event)
      if event.type == "job" and shown < core.STATUS_JOBS then
        shown = shown + 1
        core.say("job" .. core.describe(event, { "type" }, core.JOB_FIELDS))
      end
    end)
  if not ok then core.say("cannot list the jobs: " .. tostring(why)) end
  return pong
end

core.STATUS_JOBS = 5 -- the last jobs GVMGen Status lists
core.JOB_FIELDS = { job_id = true, state = true, mode = true, stage = true, fraction = true,
  message = true, created = true, error = true }

-- "key=value" pairs of a flat JSON object (only `only`'s keys when given), for the Console.
function core.describe(object, skip_keys, only)
  local keys, skipped = {}, {}
  for _, k in ipairs(skip_keys or {}) do skipped[k] = true end
  for k, v in pairs(object) do
    if not skipped[k] and type(v) ~= "table" and (not only or only[k]) then keys[#keys + 1] = k end
  end
  table.sort(keys)
  local parts = {}
  for i, k in ipairs(keys) do parts[i] = k .. "=" .. tostring(object[k]) end
  return #parts > 0 and (": " .. table.concat(parts, ", ")) or ""
end

--- Entry point of a menu script: `command` is "range", "regenerate", "batch" or "status";
--- `env` holds the globals Resolve gave the script. Returns true, or false after telling the
--- user in one sentence why nothing changed.
function core.run(command, script_dir, env)
  local ok, err = xpcall(function()
    local config = core.load_config(script_dir)
    local resolve = core.find_resolve(env)
    local ctx = command ~= "status" and core.context(resolve) or { resolve = resolve }
    ctx.env = env
    return commands[command](ctx, config)
  end, function(e)
    if getmetatable(e) == Failure then return e end
    return setmetatable({ message = "GVMGen stopped on an internal error: " .. one_line(e)
      .. " (please report it)", internal = debug.traceback() }, Failure)
  end)
  if ok then return true end
  core.say(err.message)
  if err.internal then print(err.internal) end
  return false, err.message
end

return core
