--[[ GVMGen for Resolve: the four menu commands (Workspace > Scripts > GVMGen).

range       Score Marked Range: the In/Out marks (or the clip under the playhead), one cue
regenerate  Regenerate Selected Clip: a new take in the selected score clip's place
batch       Score Whole Timeline: every cue of the timeline, end to end
status      GVMGen Status: the backend, its engine and queue, the last jobs

Frame spaces (docs/resolve.md): GetMarkInOut and timeline markers are relative to the timeline
start; recordFrame and TimelineItem:GetStart/GetEnd are absolute (they include GetStartFrame(),
86400 for 01:00:00:00 at 24 fps). The range goes to the client in frames from the start
(`f217-f937`), the form `gvmgen score --range` reads without timecode arithmetic. ]]

local use = assert(..., "this is GVMGen's shared code: run a GVMGen command from the menu instead")
local shell, console, frames, api = use("shell"), use("console"), use("frames"), use("api")
local client, window, placement = use("client"), use("window"), use("placement")
local fail, call, say = console.fail, api.call, console.say

local commands = {}

-- The commands that work on the open timeline (each `commands.NAME(session, config)`); status
-- needs only the backend (`commands.status(config)`).
commands.ON_TIMELINE = { range = true, regenerate = true, batch = true }

-- GetMarkInOut's out is read as inclusive (the frame under the Out mark is scored), as the
-- Edit page shows it; docs/resolve.md has the live probe that checks it.
commands.MARK_OUT_INCLUSIVE = true
commands.STATUS_JOBS = 5 -- the last jobs GVMGen Status lists
commands.JOB_FIELDS = { job_id = true, state = true, mode = true, stage = true, fraction = true,
  message = true, created = true, error = true }

---------------------------------------------------------------------------------------------
-- The range to score
---------------------------------------------------------------------------------------------
local function marks_of(session)
  local ok, marks = call(session.timeline, "GetMarkInOut") -- 19.1 (README) or 20 (reports): probe
  if not ok or type(marks) ~= "table" then return nil end
  for _, kind in ipairs({ "video", "audio" }) do
    local m = marks[kind]
    if type(m) == "table" and tonumber(m["in"]) and tonumber(m["out"]) then
      local out = m["out"] + (commands.MARK_OUT_INCLUSIVE and 1 or 0)
      return { first = m["in"], last = out, source = "the In/Out marks" }
    end
  end
  return nil
end

local function clip_under_playhead(session)
  local ok, item = call(session.timeline, "GetCurrentVideoItem")
  if not ok or not item then return nil end
  return {
    first = item:GetStart() - session.start, last = item:GetEnd() - session.start,
    source = "the clip under the playhead (" .. tostring(item:GetName()) .. ")",
  }
end

--- The range to score, in frames relative to the timeline start, end exclusive.
function commands.marked_range(session)
  local range = marks_of(session) or clip_under_playhead(session)
  if not range then
    fail("Mark an In and an Out point on the timeline (or park the playhead over a clip), "
      .. "then run Score Marked Range again.")
  end
  if range.last <= range.first then
    fail("The range from " .. range.source .. " is empty: put the Out point after the In point.")
  end
  local length = session.timeline:GetEndFrame() - session.start
  if range.first < 0 or range.last > length then
    fail(string.format("The range from %s (frames %d-%d) lies outside the timeline "
      .. "(0-%d); mark it again inside the timeline.", range.source, range.first, range.last, length))
  end
  return range
end

---------------------------------------------------------------------------------------------
-- Export, score, read the result
---------------------------------------------------------------------------------------------
local function safe_name(text)
  return (tostring(text or "untitled"):gsub("[^%w%-_]+", "_"))
end

--- The folder a range is scored into: the same range always maps to the same folder, so a
--- regenerate finds the earlier takes there (the backend never overwrites a take).
function commands.out_dir_for(session, config, kind, first, last)
  local project = safe_name(session.project:GetName())
  local timeline = safe_name(session.timeline:GetName())
  local leaf = kind == "batch" and "timeline" or string.format("range-%d-%d", first, last)
  return shell.join(config.scores_dir, project, timeline, leaf)
end

function commands.export_timeline(session, out_dir)
  shell.make_dirs(out_dir)
  local path = shell.join(out_dir, "timeline.otio")
  local kind = session.resolve.EXPORT_OTIO
  if kind == nil then fail("This Resolve cannot export OpenTimelineIO (needs 18.5 or later).") end
  local ok, written = call(session.timeline, "Export", path, kind, session.resolve.EXPORT_NONE)
  if not ok or not written or shell.file_size(path) == 0 then
    fail("Resolve did not export the timeline to " .. path .. "; check that the folder is "
      .. "writable and that no dialog is open in Resolve.")
  end
  return path
end

--- Submit `job` (input, range, mode, out_dir, seed) and wait for its ScoreResult: in a window
--- on Studio, on the Console on the free edition.
function commands.score(session, config, job)
  say("scoring " .. (job.range or "the whole timeline") .. " into " .. job.out_dir)
  local win = window.open(session)
  local answer
  if win then
    config = window.ask_controls(win, config)
    if not config then fail("Nothing was scored: the score dialog was closed.") end
    answer = window.follow(win, config, job, job.out_dir)
  else
    answer = client.run(config, "submit", job, job.out_dir, client.show_progress)
  end
  local result = client.outcome_result(answer)
  commands.say_warnings(result)
  return result
end

--- What the backend left out or could not honour (media it could not read, a control it did
--- not apply, an EDL read at its record times): the Console is the only place the editor
--- sees it, since the music is placed all the same.
function commands.say_warnings(result)
  for _, warning in ipairs(type(result.warnings) == "table" and result.warnings or {}) do
    say("warning: " .. console.one_line(tostring(warning)))
  end
end

--- The result's cues as placements: absolute record frame, frames on the timeline, WAV.
function commands.cues_of(session, result, range_first)
  local cues = {}
  for _, cue in ipairs(result.cues or {}) do
    if type(cue.wav) == "string" then -- a rest has no WAV: it stays a gap on the track
      local first = frames.frames_at(cue.start, session.rate)
      -- what rings past the out frame (into a rest, or the --tail) is part of the clip
      local last = frames.frames_at(cue.start + cue.duration + (cue.ring or 0), session.rate)
      cues[#cues + 1] = {
        wav = cue.wav, name = cue.name, seed = cue.seed, take = cue.take, index = cue.index,
        record = session.start + range_first + first, frames = last - first, job_id = result.job_id,
      }
    end
  end
  if #cues == 0 then fail("The GVMGen job finished without any music to place.") end
  return cues
end

---------------------------------------------------------------------------------------------
-- Score Marked Range, Score Whole Timeline
---------------------------------------------------------------------------------------------
function commands.range(session, config)
  local range = commands.marked_range(session)
  say("range from " .. range.source)
  local out_dir = commands.out_dir_for(session, config, "range", range.first, range.last)
  local result = commands.score(session, config, {
    input = commands.export_timeline(session, out_dir), mode = "range", out_dir = out_dir,
    range = string.format("f%d-f%d", range.first, range.last),
  })
  return placement.deliver(session, commands.cues_of(session, result, range.first))
end

function commands.batch(session, config)
  local out_dir = commands.out_dir_for(session, config, "batch")
  local result = commands.score(session, config, {
    input = commands.export_timeline(session, out_dir), mode = "batch", out_dir = out_dir,
  })
  return placement.deliver(session, commands.cues_of(session, result, 0))
end

---------------------------------------------------------------------------------------------
-- Regenerate Selected Clip
---------------------------------------------------------------------------------------------
local function is_ours(item, config)
  local ok, markers = call(item, "GetMarkers")
  if ok and type(markers) == "table" then
    for _, marker in pairs(markers) do
      if type(marker) == "table" and tostring(marker.name or ""):sub(1, 7) == "GVMGen " then return true end
    end
  end
  local mpi = item:GetMediaPoolItem()
  local path = mpi and placement.clip_path(mpi) or ""
  return path:find(config.scores_dir, 1, true) == 1
end

-- Our clip in the timeline selection (21.0.4+), else our clip under the playhead.
local function selected_score_clip(session, config)
  if api.at_least(session.version, { 21, 0, 4 }) then
    local ok, selected = call(session.timeline, "GetSelectedClips")
    for _, item in ipairs(ok and api.list_of(selected) or {}) do
      if is_ours(item, config) then return item end
    end
  end
  local ok, tc = call(session.timeline, "GetCurrentTimecode")
  local frame = ok and frames.timecode_frame(tc, session.rate)
  for track = 1, frame and session.timeline:GetTrackCount("audio") or 0 do
    for _, item in ipairs(placement.audio_items(session, track)) do
      if item:GetStart() <= frame and frame < item:GetEnd() and is_ours(item, config) then
        return item, track
      end
    end
  end
  return nil
end

local function track_of(session, item, known)
  if known then return known end
  local ok, kind_index = call(item, "GetTrackTypeAndIndex")
  if ok and type(kind_index) == "table" and tonumber(kind_index[2]) then return tonumber(kind_index[2]) end
  for track = 1, session.timeline:GetTrackCount("audio") do
    for _, other in ipairs(placement.audio_items(session, track)) do
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

function commands.regenerate(session, config)
  local item, known_track = selected_score_clip(session, config)
  if not item then
    fail("Select a GVMGen score clip on the timeline (or park the playhead over one), then run "
      .. "Regenerate Selected Clip again.")
  end
  local track = track_of(session, item, known_track)
  local first, frames_long = item:GetStart() - session.start, item:GetDuration()
  local out_dir = commands.out_dir_for(session, config, "range", first, first + frames_long)
  local earlier = shell.file_exists(shell.join(out_dir, "report.json"))
  local input = commands.export_timeline(session, out_dir)
  local result = commands.score(session, config, {
    input = input, range = string.format("f%d-f%d", first, first + frames_long), out_dir = out_dir,
    mode = earlier and "regenerate" or "range",
    seed = not earlier and ((previous_seed(item) or 0) + 1) or nil,
  })
  local cues = commands.cues_of(session, result, first)
  if #cues ~= 1 or cues[1].record ~= item:GetStart() or cues[1].frames ~= frames_long then
    fail("The new take does not fit the selected clip's place; the timeline is unchanged.")
  end
  return placement.replace(session, item, track, cues)
end

---------------------------------------------------------------------------------------------
-- GVMGen Status
---------------------------------------------------------------------------------------------
-- "key=value" pairs of a flat JSON object (only `only`'s keys when given), for the Console.
function commands.describe(object, skip_keys, only)
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

function commands.status(config)
  shell.make_dirs(config.scores_dir)
  local pong = client.run(config, "ping", nil, config.scores_dir)
  if pong.type ~= "pong" then client.outcome_result(pong) end
  say("backend up" .. commands.describe(pong, { "type" }))
  local shown = 0
  -- a backend with no jobs lists nothing: that is an answer, not a client that died
  local ok, answer = pcall(client.run, config, "list", nil, config.scores_dir, function(event)
    if event.type == "job" and shown < commands.STATUS_JOBS then
      shown = shown + 1
      say("job" .. commands.describe(event, { "type" }, commands.JOB_FIELDS))
    end
  end)
  if ok and answer and answer.type ~= "job" then ok, answer = pcall(client.outcome_result, answer) end
  if not ok then
    say("cannot list the jobs: " .. tostring(answer))
  elseif shown == 0 then
    say("jobs: none yet")
  end
  return pong
end

return commands
