--[[ GVMGen for Resolve: driving `gvmgen client` (docs/protocol.md). Every action runs with
--json-lines: one JSON object per stdout line, the last of them the answer. The exit status
(which the shell reports on POSIX; LuaJIT's pclose reports none) matters only where there is no
such line: `list` with no jobs prints nothing and exits 0. A client that ends without an answer
is reported, by one function for every action, with the last line it wrote to stderr. ]]

local use = assert(..., "this is GVMGen's shared code: run a GVMGen command from the menu instead")
local json, shell, console = use("json"), use("shell"), use("console")
local fail, present = console.fail, json.present

local client = {}

-- Every `gvmgen client submit` option the plugin can pass, as { flag, and where its value
-- comes from }: `job`, what the menu command decided; `setting`, the editor's standing choice
-- in gvmgen.json. A value `true` passes the bare flag; nil, false or null leaves it out. A new
-- request option is one line here (tests read this table to compare it with the CLI's).
client.REQUEST_OPTIONS = {
  { flag = "--input", job = "input" },
  { flag = "--mode", job = "mode" },
  { flag = "--out", job = "out_dir" },
  { flag = "--range", job = "range" },
  { flag = "--seed", job = "seed" },
  { flag = "--engine", setting = "engine" },
  { flag = "--takes", setting = "takes" },
  { flag = "--max-stretch", setting = "max_stretch" },
  { flag = "--target-lufs", setting = "target_lufs" },
  { flag = "--edit-points-only", setting = "edit_points_only" },
  { flag = "--rate", setting = "rate" }, -- an EDL's rate; Resolve exports OTIO, which has one
  { flag = "--preview", setting = "preview" },
  -- The editor's controls for the whole range (Studio: the score dialog; free edition:
  -- gvmgen.json). Markers named `mood …`, `intensity N`, `tempo N` change them mid-range.
  { flag = "--mood", setting = "mood" },
  { flag = "--intensity", setting = "intensity" },
  { flag = "--tempo", setting = "tempo" },
  { flag = "--duck", setting = "duck" },
  { flag = "--no-duck", setting = "no_duck" },
  { flag = "--loudness", setting = "loudness" },
  -- How each cue ends, and how long the last may ring past the range's out frame.
  { flag = "--ending", setting = "ending" },
  { flag = "--tail", setting = "tail" },
  { flag = "--stems", setting = "stems" },
}
-- How a submit waits for its job: how long, and whether to start `gvmgen serve` if none answers.
client.WAIT_OPTIONS = {
  { flag = "--timeout", setting = "timeout" },
  { flag = "--spawn", setting = "spawn" },
}
-- Where the backend is: every action.
client.CONNECTION_OPTIONS = {
  { flag = "--data-dir", setting = "data_dir" },
  { flag = "--connect", setting = "connect" },
}

-- Lines that say the job goes on; any other line type is an answer.
local PENDING = { accepted = true, progress = true }
-- Actions for which printing nothing is an answer: `list` with no jobs yet.
local SILENCE_ANSWERS = { list = true }

local function add_options(argv, options, job, config)
  for _, option in ipairs(options) do
    local value
    if option.job then value = job[option.job] else value = config[option.setting] end
    if value == true then
      argv[#argv + 1] = option.flag
    elseif present(value) and value ~= false then
      argv[#argv + 1] = option.flag
      argv[#argv + 1] = tostring(value)
    end
  end
end

--- argv for `gvmgen client ACTION`: `job` holds the submit's job fields, or `job_id` for an
--- action on one job (cancel).
function client.argv(config, action, job)
  job = job or {}
  local argv = {}
  for _, part in ipairs(config.gvmgen) do argv[#argv + 1] = part end
  argv[#argv + 1] = "client"
  argv[#argv + 1] = action
  if job.job_id then argv[#argv + 1] = tostring(job.job_id) end
  if action == "submit" then
    add_options(argv, client.REQUEST_OPTIONS, job, config)
    add_options(argv, client.WAIT_OPTIONS, job, config)
  end
  argv[#argv + 1] = "--json-lines"
  add_options(argv, client.CONNECTION_OPTIONS, job, config)
  return argv
end

--- The one failure for a client that ended without an answer: `why` is its last stderr line.
function client.no_answer(argv, why)
  why = console.one_line(why)
  fail("The GVMGen client (" .. argv[1] .. ") stopped without an answer"
    .. (why ~= "" and (": " .. why) or "") .. "; run `gvmgen resolve install` again if it moved.")
end

--- A JSON line of the client as an event table, or nil for anything else.
function client.event(line)
  local ok, event = pcall(json.decode, line)
  if ok and type(event) == "table" and event.type then return event end
  return nil
end

function client.is_answer(event)
  return event ~= nil and not PENDING[event.type]
end

--- Run `gvmgen client ACTION` to its end, handing each event to `on_event`; returns the
--- answer (the last event), or nil for an action whose answer may be silence.
function client.run(config, action, job, scratch_dir, on_event)
  local argv = client.argv(config, action, job)
  local err_path = shell.join(scratch_dir, "client-stderr.txt")
  local last
  local status = shell.each_line(argv, err_path, function(line)
    local event = client.event(line)
    if event then
      last = event
      if on_event then on_event(event) end
    end
  end)
  local why = shell.last_line(err_path)
  os.remove(err_path)
  if client.is_answer(last) then return last end
  -- where the shell cannot tell the exit status (Windows), an empty stderr stands for 0
  local clean = status == 0 or (status == nil and why == "")
  if last == nil and SILENCE_ANSWERS[action] and clean then return nil end
  client.no_answer(argv, why)
end

--- A job's progress on the Console (the free edition's only display).
function client.show_progress(event)
  if event.type == "accepted" then
    console.say("job " .. tostring(event.job_id) .. " accepted")
  elseif event.type == "progress" then
    local pct = math.floor((tonumber(event.fraction) or 0) * 100 + 0.5)
    local eta = tonumber(event.eta_seconds)
    console.say(string.format("%3d%% %s%s", pct, tostring(event.stage or ""),
      (present(event.message) and event.message ~= "") and (": " .. event.message) or "")
      .. (eta and string.format(" (about %d s left)", math.floor(eta + 0.5)) or ""))
  end
end

local function error_sentence(error_body, what)
  local message = console.one_line(present(error_body) and error_body.message or "no reason given")
  local hint = present(error_body) and present(error_body.hint) and console.one_line(error_body.hint) or ""
  local sentence = what .. message
  if hint ~= "" and not message:find(hint, 1, true) then sentence = sentence .. " (" .. hint .. ")" end
  if not sentence:find("[%.!?]$") then sentence = sentence .. "." end
  return sentence
end

--- The ScoreResult of a finished job, or a failure with the backend's reason as one sentence.
function client.outcome_result(outcome)
  if outcome.type == "done" and type(outcome.result) == "table" then return outcome.result end
  if outcome.type == "cancelled" then fail("The GVMGen job was cancelled; the timeline is unchanged.") end
  if outcome.type == "failed" then fail(error_sentence(outcome.error, "The GVMGen job failed: ")) end
  if outcome.type == "error" then fail(error_sentence(outcome.error, "GVMGen: ")) end
  fail("The GVMGen client answered '" .. tostring(outcome.type) .. "', which this script does not know.")
end

return client
