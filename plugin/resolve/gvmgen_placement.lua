--[[ GVMGen for Resolve: the music onto the timeline. Import the WAVs into the GVMGen bin,
append them to a score track in one batch, read every clip back, and take back everything the
append added when any of it is not as asked.

Resolve facts this follows (docs/resolve.md): recordFrame and TimelineItem:GetStart/GetEnd are
absolute, GetEnd exclusive; clipInfo startFrame/endFrame count the media's own frames (a WAV
keeps the project rate it was imported at), endFrame exclusive from 19.0 and inclusive on 18.x,
integers only on 21, and a range in another rate is floored onto the timeline; an append that
overlaps is dropped without a word and one onto a locked track returns {}; returned items can
have null ids; DeleteClips works on the Edit page only; ImportMedia lands in the current folder
and can return {} for a file still being written. ]]

local use = assert(..., "this is GVMGen's shared code: run a GVMGen command from the menu instead")
local shell, console, frames, api = use("shell"), use("console"), use("frames"), use("api")
local fail, call, list_of = console.fail, api.call, api.list_of

local placement = {}

placement.TRACK_NAME = "GVMGen Score"
placement.BIN_NAME = "GVMGen"
placement.CLIP_COLOR = "Purple"
placement.MARKER_COLOR = "Purple"
placement.IMPORT_TRIES = 20 -- ImportMedia may return {} while a WAV is still being flushed
placement.IMPORT_WAIT_SECONDS = 0.25

---------------------------------------------------------------------------------------------
-- Media pool
---------------------------------------------------------------------------------------------
function placement.score_bin(session)
  local pool = session.media_pool
  local root = pool:GetRootFolder()
  for _, folder in ipairs(list_of(root:GetSubFolderList())) do
    if folder:GetName() == placement.BIN_NAME then return folder end
  end
  local folder = pool:AddSubFolder(root, placement.BIN_NAME)
  if not folder then fail("Cannot create the '" .. placement.BIN_NAME .. "' bin in the media pool.") end
  return folder
end

local function same_path(a, b)
  a, b = tostring(a or ""), tostring(b or "")
  if shell.IS_WINDOWS then a, b = a:lower():gsub("/", "\\"), b:lower():gsub("/", "\\") end
  return a == b
end

function placement.clip_path(mpi)
  local ok, path = call(mpi, "GetClipProperty", "File Path")
  return ok and path or nil
end
local clip_path = placement.clip_path

--- Import one WAV into `bin`, retrying while Resolve reports nothing; returns the MediaPoolItem.
function placement.import_wav(session, bin, path)
  if not shell.file_exists(path) then fail("The backend reported " .. path .. " but it is not there.") end
  for attempt = 1, placement.IMPORT_TRIES do
    session.media_pool:SetCurrentFolder(bin) -- ImportMedia lands in the current folder
    for _, mpi in ipairs(list_of(session.media_pool:ImportMedia({ path }))) do
      if same_path(clip_path(mpi), path) then return mpi end
    end
    if attempt < placement.IMPORT_TRIES then shell.sleep(placement.IMPORT_WAIT_SECONDS) end
  end
  fail("Resolve would not import " .. path .. "; check that the file plays, then run the command again.")
end

--- `cues` imported: a copy of each cue with its MediaPoolItem as `mpi`.
function placement.import_all(session, cues)
  local bin = placement.score_bin(session)
  local imported = {}
  for i, cue in ipairs(cues) do
    local copy = { mpi = placement.import_wav(session, bin, cue.wav) }
    for k, v in pairs(cue) do copy[k] = v end
    imported[i] = copy
  end
  return imported
end

--- The clipInfo endFrame for `cue` and the frames it will fill on the timeline (the cue's own
--- length, or one short where Resolve cannot place that length of this media; see
--- frames.source_frames).
function placement.landing(session, cue)
  local ok, fps = call(cue.mpi, "GetClipProperty", "FPS")
  local media_rate = (ok and frames.parse_rate(fps)) or session.rate
  local n, landed = frames.source_frames(cue.frames, session.rate, media_rate)
  return api.at_least(session.version, { 19 }) and n or n - 1, landed
end

---------------------------------------------------------------------------------------------
-- Tracks
---------------------------------------------------------------------------------------------
local function audio_items(session, track)
  return list_of(session.timeline:GetItemListInTrack("audio", track))
end
placement.audio_items = audio_items

local function is_locked(session, track)
  local ok, locked = call(session.timeline, "GetIsTrackLocked", "audio", track)
  return ok and locked == true
end

local function is_free(session, track, first, last)
  for _, item in ipairs(audio_items(session, track)) do
    if item:GetStart() < last and item:GetEnd() > first then return false end
  end
  return true
end

local function is_score_track(name)
  return tostring(name or ""):sub(1, #placement.TRACK_NAME) == placement.TRACK_NAME
end

local function score_track_count(session)
  local count = 0
  for track = 1, session.timeline:GetTrackCount("audio") do
    if is_score_track(session.timeline:GetTrackName("audio", track)) then count = count + 1 end
  end
  return count
end

--- A new audio track named "GVMGen Score" (or "GVMGen Score N"); nil when Resolve adds none.
local function add_score_track(session)
  local timeline = session.timeline
  local before = timeline:GetTrackCount("audio")
  local ok = call(timeline, "AddTrack", "audio", "stereo")
  local track = timeline:GetTrackCount("audio")
  if not ok or track ~= before + 1 then return nil end
  local n = score_track_count(session)
  timeline:SetTrackName("audio", track, n == 0 and placement.TRACK_NAME or (placement.TRACK_NAME .. " " .. (n + 1)))
  return track
end

--- A "GVMGen Score" track that is unlocked and empty over [first, last) (absolute frames), or
--- nil: an overlapping append would be dropped without a word.
local function free_score_track(session, first, last)
  for track = 1, session.timeline:GetTrackCount("audio") do
    if is_score_track(session.timeline:GetTrackName("audio", track)) and not is_locked(session, track)
        and is_free(session, track, first, last) then
      return track
    end
  end
  return nil
end

---------------------------------------------------------------------------------------------
-- Append, read back, take back
---------------------------------------------------------------------------------------------
-- What tells a clip on a track from the others: its unique id, or (where Resolve gives none)
-- where it is and what it plays.
local function item_key(item)
  local ok, uid = call(item, "GetUniqueId")
  if ok and uid and uid ~= "" then return "id " .. tostring(uid) end
  local mpi = item:GetMediaPoolItem()
  return string.format("at %d-%d %s", item:GetStart(), item:GetEnd(),
    tostring(mpi and clip_path(mpi) or item:GetName()))
end

-- The keys of every clip on each audio track, and how many tracks there are.
local function snapshot(session)
  local tracks = {}
  for track = 1, session.timeline:GetTrackCount("audio") do
    local keys = {}
    for _, item in ipairs(audio_items(session, track)) do keys[item_key(item)] = true end
    tracks[track] = keys
  end
  return tracks
end

local function delete_items(session, items)
  if #items == 0 then return true end
  session.resolve:OpenPage("edit") -- DeleteClips does nothing on other pages
  local ok, deleted = call(session.timeline, "DeleteClips", items, false)
  return ok and deleted ~= false
end

-- Delete every clip on `track` that `keys` (the track as it was) does not hold.
local function take_back(session, track, keys)
  local added = {}
  for _, item in ipairs(audio_items(session, track)) do
    if not keys[item_key(item)] then added[#added + 1] = item end
  end
  delete_items(session, added)
end

local function find_placed(session, track, cue)
  local _, landed = placement.landing(session, cue)
  for _, item in ipairs(audio_items(session, track)) do
    if item:GetStart() == cue.record and item:GetDuration() == landed then
      local mpi = item:GetMediaPoolItem()
      if mpi and same_path(clip_path(mpi), cue.wav) then return item end
    end
  end
  return nil
end

local function clip_infos(session, track, cues)
  local infos = {}
  for i, cue in ipairs(cues) do
    infos[i] = {
      mediaPoolItem = cue.mpi, startFrame = 0, endFrame = (placement.landing(session, cue)),
      mediaType = 2, trackIndex = track, recordFrame = cue.record,
    }
  end
  return infos
end

--- Append `cues` (each with .mpi) to `track` in one batch and read each back. When any is
--- missing or not as asked, everything the append added to the track is deleted again, whatever
--- its length, and this returns nil and how many were not placed.
function placement.append_and_verify(session, track, cues)
  local before = snapshot(session)[track] or {}
  session.media_pool:AppendToTimeline(clip_infos(session, track, cues)) -- returns can lie: read back
  local placed, missing = {}, 0
  for i, cue in ipairs(cues) do
    placed[i] = find_placed(session, track, cue)
    if not placed[i] then missing = missing + 1 end
  end
  if missing == 0 then return placed end
  take_back(session, track, before)
  return nil, missing
end

local function remove_tracks(session, tracks)
  for i = #tracks, 1, -1 do call(session.timeline, "DeleteTrack", "audio", tracks[i]) end
end

-- The tracks and clips that differ from `before`, read back: nil when none do.
local function leftovers(session, before)
  local now = snapshot(session)
  local extra = #now - #before
  local stray = 0
  for track = 1, #now do
    for key in pairs(now[track]) do
      if not (before[track] or {})[key] then stray = stray + 1 end
    end
  end
  if extra == 0 and stray == 0 then return nil end
  return string.format("%d clip%s and %d track%s that Resolve would not take back", stray,
    stray == 1 and "" or "s", extra, extra == 1 and "" or "s")
end

local function span(cues)
  local first, last = math.huge, -math.huge
  for _, cue in ipairs(cues) do
    first, last = math.min(first, cue.record), math.max(last, cue.record + cue.frames)
  end
  return first, last
end

-- Take back the tracks `added` and say why nothing was placed, and whether the timeline really
-- is as it was.
local function give_up(session, before, added, why)
  remove_tracks(session, added)
  local left = leftovers(session, before)
  if left then fail(why .. "; remove the " .. left .. " by hand (Edit page).") end
  fail(why .. "; the timeline is unchanged, unlock the track or clear the range and try again.")
end

--- Place `cues` (each with .mpi) on a free score track, or on `track` when given (regenerate).
--- Returns the items placed (in the order of `cues`), the track, and the tracks it added.
function placement.place(session, cues, track)
  session.resolve:OpenPage("edit")
  local before = snapshot(session)
  local added = {}
  local chosen = track or free_score_track(session, span(cues))
  if not chosen then
    chosen = add_score_track(session)
    if not chosen then
      fail("Resolve would not add an audio track for the score; unlock the timeline and try again.")
    end
    added[#added + 1] = chosen
  end
  local placed, missing = placement.append_and_verify(session, chosen, cues)
  if not placed and not track then -- locked or occupied after all: once more on a new track
    local fresh = add_score_track(session)
    if not fresh then
      give_up(session, before, added,
        "Resolve did not place the score on audio track " .. chosen .. " and would not add an audio track for it")
    end
    chosen = fresh
    added[#added + 1] = fresh
    placed, missing = placement.append_and_verify(session, chosen, cues)
  end
  if not placed then
    give_up(session, before, added, string.format("Resolve did not place %d of %d score clips as "
      .. "asked on audio track %d (locked or occupied)", missing, #cues, chosen))
  end
  return placed, chosen, added
end

---------------------------------------------------------------------------------------------
-- Labels, saving, the whole delivery
---------------------------------------------------------------------------------------------
function placement.label(cues, placed)
  for i, cue in ipairs(cues) do
    local item = placed[i]
    call(item, "SetClipColor", placement.CLIP_COLOR)
    call(item, "AddMarker", 0, placement.MARKER_COLOR, "GVMGen " .. tostring(cue.name),
      string.format("take %s, seed %s", tostring(cue.take), tostring(cue.seed)), 1, cue.job_id)
    call(cue.mpi, "SetMetadata", "Comments", string.format("GVMGen job %s cue %s take %s seed %s",
      tostring(cue.job_id), tostring(cue.name), tostring(cue.take), tostring(cue.seed)))
  end
end

local function save(session)
  local name = session.project:GetName()
  if name and name ~= "" and name ~= "Untitled Project" then call(session.manager, "SaveProject") end
end

local function lost_cues(session, cues, track)
  local lost = {}
  for _, cue in ipairs(cues) do
    if not find_placed(session, track, cue) then lost[#lost + 1] = cue end
  end
  return lost
end

--- Save (never an untitled project: that opens a dialog) and count again: items can vanish on
--- save, so what vanished is placed once more before anyone is told.
function placement.save_and_recheck(session, cues, track)
  save(session)
  local lost = lost_cues(session, cues, track)
  if #lost == 0 then return end
  local placed = placement.append_and_verify(session, track, lost)
  if placed then
    placement.label(lost, placed)
    save(session)
    lost = lost_cues(session, cues, track)
  end
  if #lost > 0 then
    fail(string.format("%d of %d score clips vanished when the project was saved and could not "
      .. "be placed again; run the command again.", #lost, #cues))
  end
end

local function rate_text(rate)
  if rate.den == 1 then return tostring(rate.num) end
  return (string.format("%.3f", rate.value):gsub("0+$", ""))
end

-- Say so where Resolve could not place a cue's exact length (a WAV in the project's rate on a
-- faster timeline): the clip is short rather than over the next one.
local function tell_short(session, cues)
  for _, cue in ipairs(cues) do
    local _, landed = placement.landing(session, cue)
    if landed ~= cue.frames then
      console.say(string.format("placed %s %d frame%s short (%d of %d): its WAV counts frames at "
        .. "the project's rate, and no whole number of them fills exactly %d frames of this %s fps "
        .. "timeline", tostring(cue.name), cue.frames - landed, cue.frames - landed == 1 and "" or "s",
        landed, cue.frames, cue.frames, rate_text(session.rate)))
    end
  end
end

--- Import, place, label, save and count again; returns the items placed and their track.
function placement.deliver(session, cues, track)
  cues = placement.import_all(session, cues)
  local placed, chosen = placement.place(session, cues, track)
  placement.label(cues, placed)
  placement.save_and_recheck(session, cues, chosen)
  tell_short(session, cues)
  local name = session.timeline:GetTrackName("audio", chosen)
  console.say(string.format("placed %d cue%s on audio track %d (%s)", #cues, #cues == 1 and "" or "s",
    chosen, tostring(name)))
  return placed, chosen
end

--- Swap `item` for the new take (`cues`, one cue) at the same start on the same track; the old
--- take stays in the bin, and comes back on the track if the new one cannot be placed.
function placement.replace(session, item, track, cues)
  cues = placement.import_all(session, cues)
  local old = { mpi = item:GetMediaPoolItem(), record = item:GetStart(), frames = item:GetDuration() }
  old.wav = clip_path(old.mpi)
  if not delete_items(session, { item }) or find_placed(session, track, old) then
    fail("Resolve would not remove the selected clip (is its track locked?); the timeline is unchanged.")
  end
  local ok, placed = pcall(placement.place, session, cues, track)
  if not ok then
    if not placement.append_and_verify(session, track, { old }) then
      fail("Resolve took neither the new take nor the old one back on audio track " .. track
        .. "; both are in the " .. placement.BIN_NAME .. " bin: drag the old take back to "
        .. "where it was.")
    end
    error(placed, 0)
  end
  placement.label(cues, placed)
  placement.save_and_recheck(session, cues, track)
  console.say(string.format("take %s placed on audio track %d; earlier takes stay in the %s bin",
    tostring(cues[1].take), track, placement.BIN_NAME))
  return placed, track
end

return placement
