--[[ GVMGen live probe: measures, on a real DaVinci Resolve, the behaviours the menu scripts and
the fake Resolve of tests/plugin assume (docs/resolve.md, "Live probes"). Not installed by
`gvmgen resolve install` and never run by the tests.

Use a SCRATCH project: it makes a timeline "GVMGen probe", writes WAVs to the system temp
folder, imports them into the current bin and appends them. Copy this file into
<Scripts>/Utility/, restart Resolve, run Workspace > Scripts > GVMGen Live Probe, and paste the
Console output into an issue. Each line is "PROBE <fact>: <measured> (<what the scripts assume>)".
]]

local resolve = resolve or (app and app:GetResolve()) or (fu and fu:GetResolve())
local IS_WINDOWS = package.config:sub(1, 1) == "\\"
local TMP = (os.getenv("TMPDIR") or os.getenv("TEMP") or "/tmp"):gsub("[/\\]$", "")

local function say(fact, measured, assumed)
  print(string.format("PROBE %s: %s (assumed: %s)", fact, tostring(measured), assumed))
end

local function le(n, bytes)
  local out = {}
  for i = 1, bytes do
    out[i] = string.char(n % 256)
    n = math.floor(n / 256)
  end
  return table.concat(out)
end

-- A 48 kHz 16-bit mono WAV of `samples` samples of silence, written with the stdlib.
local function write_wav(path, samples)
  local f = assert(io.open(path, "wb"))
  local data = samples * 2
  f:write("RIFF", le(36 + data, 4), "WAVEfmt ", le(16, 4), le(1, 2), le(1, 2), le(48000, 4),
    le(96000, 4), le(2, 2), le(16, 2), "data", le(data, 4))
  f:write(string.rep("\0", data))
  f:close()
  return path
end

local pm = resolve:GetProjectManager()
local project = pm:GetCurrentProject()
local pool = project:GetMediaPool()
local v = resolve:GetVersion()
say("version", resolve:GetVersionString() .. " " .. resolve:GetProductName(), ">= 18.5")

local timeline = pool:CreateEmptyTimeline("GVMGen probe " .. os.time())
project:SetCurrentTimeline(timeline)
resolve:OpenPage("edit")
local start = timeline:GetStartFrame()
local fps = timeline:GetSetting("timelineFrameRate")
say("start frame", start .. " at " .. tostring(fps) .. " fps", "86400 for 01:00:00:00 at 24")

-- GetMarkInOut: present? relative? out inclusive?
local ok_marks = pcall(function() return timeline.GetMarkInOut end)
local ok_set = pcall(function() return timeline:SetMarkInOut(10, 33, "all") end)
local ok_get, marks = pcall(function() return timeline:GetMarkInOut() end)
if ok_get and type(marks) == "table" and marks.video then
  say("GetMarkInOut", string.format("in=%s out=%s after SetMarkInOut(10, 33)", tostring(marks.video["in"]),
    tostring(marks.video["out"])), "relative frames; read the Edit page's marked Duration: 24 frames means out is inclusive")
else
  say("GetMarkInOut", "missing (" .. tostring(ok_marks) .. "/" .. tostring(ok_set) .. ")", "19.1 README, 20+ reported")
end

-- A WAV of exactly 48 frames at the timeline rate (non-integer samples per frame at 29.97).
-- the leading number: some builds write "29.97 DF"
local function number_of(text) return tonumber(tostring(text):match("[%d%.]+")) end
local rate = number_of(fps)
local per_frame = 48000 / rate
local wav = write_wav(TMP .. (IS_WINDOWS and "\\" or "/") .. "gvmgen-probe-48f.wav", math.floor(48 * per_frame + 0.5))
local mpi = pool:ImportMedia({ wav })[1]
say("ImportMedia", mpi and mpi:GetClipProperty("File Path") or "nothing", "the MediaPoolItem, in the current bin")
if not mpi then return end
say("WAV FPS / Frames", tostring(mpi:GetClipProperty("FPS")) .. " / " .. tostring(mpi:GetClipProperty("Frames")),
  "the project rate at import; 48")

timeline:AddTrack("audio", "stereo")
local track = timeline:GetTrackCount("audio")
local returned = pool:AppendToTimeline({ { mediaPoolItem = mpi, startFrame = 0, endFrame = 48, mediaType = 2,
  trackIndex = track, recordFrame = start + 100 } })
local items = timeline:GetItemListInTrack("audio", track)
local item = items and items[1]
say("endFrame 48 gives duration", item and item:GetDuration() or "nothing placed", "48 on 19+ (exclusive), 49 on 18.x")
say("recordFrame start+100 lands at", item and (item:GetStart() - start) or "-", "100 (recordFrame is absolute)")
say("returned item id", returned and returned[1] and tostring(returned[1]:GetUniqueId()) or "none", "may be null")

-- Overlap: silently dropped?
local overlap = pool:AppendToTimeline({ { mediaPoolItem = mpi, startFrame = 0, endFrame = 48, mediaType = 2,
  trackIndex = track, recordFrame = start + 120 } })
say("overlapping append", string.format("returned %d, track now holds %d", #(overlap or {}),
  #timeline:GetItemListInTrack("audio", track)), "dropped: the track still holds 1")

-- Fractional recordFrame (21 rejects fractional batches)
local fractional = pool:AppendToTimeline({ { mediaPoolItem = mpi, startFrame = 0, endFrame = 48, mediaType = 2,
  trackIndex = track, recordFrame = start + 300.5 } })
say("fractional recordFrame", "returned " .. #(fractional or {}), "0 on 21")

-- Locked track
timeline:SetTrackLock("audio", track, true)
local locked = pool:AppendToTimeline({ { mediaPoolItem = mpi, startFrame = 0, endFrame = 48, mediaType = 2,
  trackIndex = track, recordFrame = start + 500 } })
say("append onto a locked track", "returned " .. #(locked or {}), "an empty table")
say("GetIsTrackLocked", tostring(select(2, pcall(function() return timeline:GetIsTrackLocked("audio", track) end))), "true")
timeline:SetTrackLock("audio", track, false)

-- DeleteClips off the Edit page
resolve:OpenPage("fairlight")
local deleted_off = timeline:DeleteClips({ item }, false)
resolve:OpenPage("edit")
say("DeleteClips on the Fairlight page", tostring(deleted_off), "false (Edit page only)")

-- Markers: relative frames, and where the OTIO export puts them
timeline:AddMarker(24, "Blue", "cue probe", "note", 1, "gvmgen-probe")
local marker_frames = {}
for frame in pairs(timeline:GetMarkers() or {}) do marker_frames[#marker_frames + 1] = frame end
say("timeline marker frames", table.concat(marker_frames, ","), "24 (relative to the start)")
local otio = TMP .. (IS_WINDOWS and "\\" or "/") .. "gvmgen-probe.otio"
timeline:Export(otio, resolve.EXPORT_OTIO, resolve.EXPORT_NONE)
local f = io.open(otio, "rb")
local text = f and f:read("*a") or ""
if f then f:close() end
local at = text:find('"cue probe"', 1, true)
say("OTIO export size / marker found", #text .. " bytes / " .. tostring(at ~= nil), "the marker in the export")
if at then print("PROBE marker context: " .. text:sub(math.max(1, at - 400), at + 60):gsub("%s+", " ")) end

-- Rates: the project's and the timeline's as strings, and a range in another rate (a timeline
-- at a rate of its own): the WAV keeps the project rate, and Resolve floors the range onto the
-- timeline, so n source frames should last floor(n * timeline / project) frames there.
local project_fps = project:GetSetting("timelineFrameRate")
say("project / timeline rate", string.format("%s / %s (timelineDropFrameTimecode %s)", tostring(project_fps),
  tostring(fps), tostring(timeline:GetSetting("timelineDropFrameTimecode"))), "strings: '23.976', maybe '29.97 DF'")
local other = math.abs((number_of(project_fps) or 0) - 24) < 0.01 and "23.976" or "24"
local mixed = pool:CreateEmptyTimeline("GVMGen probe mixed " .. os.time())
local custom = mixed and mixed:SetSetting("useCustomSettings", "1") and mixed:SetSetting("timelineFrameRate", other)
say("a timeline at " .. other .. " in this project", tostring(custom) .. ", reads "
  .. tostring(mixed and mixed:GetSetting("timelineFrameRate")), "true: a mixed-rate timeline")
if custom then
  project:SetCurrentTimeline(mixed)
  local long = write_wav(TMP .. (IS_WINDOWS and "\\" or "/") .. "gvmgen-probe-46s.wav", 46 * 48000)
  local long_mpi = pool:ImportMedia({ long })[1]
  mixed:AddTrack("audio", "stereo")
  local mixed_track, mixed_start = mixed:GetTrackCount("audio"), mixed:GetStartFrame()
  local ratio = tonumber(other) / (number_of(project_fps) or 1)
  for i, n in ipairs({ 24, 599, 600, 1000 }) do
    local at = mixed_start + i * 1200
    pool:AppendToTimeline({ { mediaPoolItem = long_mpi, startFrame = 0, endFrame = n, mediaType = 2,
      trackIndex = mixed_track, recordFrame = at } })
    local landed = "nothing placed"
    for _, placed in ipairs(mixed:GetItemListInTrack("audio", mixed_track) or {}) do
      if placed:GetStart() == at then landed = placed:GetDuration() end
    end
    say(string.format("%d source frames of %s on %s last", n, tostring(project_fps), other), landed,
      tostring(math.floor(n * ratio)) .. " (floored)")
  end
  say("the 46 s WAV's FPS on that timeline", tostring(long_mpi and long_mpi:GetClipProperty("FPS")), "the project rate")
  project:SetCurrentTimeline(timeline)
end

-- UIManager on this edition (do not touch it on free: it opens an upsell dialog)
if resolve:GetProductName():find("Studio") then
  say("fu.UIManager", tostring(fu and fu.UIManager), "present on Studio")
end
print("PROBE done: delete the 'GVMGen probe' timelines and the probe WAVs from the bin")
