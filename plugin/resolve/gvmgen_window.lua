--[[ GVMGen for Resolve: on Studio, a job's progress in a small window with a Cancel button.

UIManager is Studio-only from 19.1: touching fu.UIManager on the free edition opens an upsell
dialog that makes later API calls fail, so nothing here runs there (the Console shows the
progress instead). The client runs in the background, writing its JSON lines to a file that the
dispatcher's timer reads four times a second; Cancel runs `gvmgen client cancel JOB`. ]]

local use = assert(..., "this is GVMGen's shared code: run a GVMGen command from the menu instead")
local shell, console, client = use("shell"), use("console"), use("client")

local window = {}

-- The moods `--mood` takes (gvmgen.controls.MOODS; tests compare the two lists).
window.MOODS = { "tense", "warm", "uplifting", "sombre", "playful", "epic", "driving", "ambient" }
local FROM_PICTURE = "from the picture"

--- UIManager and a dispatcher on Studio; nil on the free edition or where UIManager is missing.
function window.open(session)
  if not session.studio or not session.env then return nil end
  local fusion = session.env.fu or session.env.fusion
  local ok, ui = pcall(function() return fusion.UIManager end)
  if not ok or not ui then return nil end
  local ok2, disp = pcall(function() return session.env.bmd.UIDispatcher(ui) end)
  if not ok2 or not disp then return nil end
  return { ui = ui, disp = disp }
end

local function new_events(state)
  local text = shell.read_file(state.lines_path) or ""
  local lines = {}
  for line in text:gmatch("([^\r\n]*)\r?\n") do lines[#lines + 1] = line end -- whole lines only
  local fresh = {}
  for i = (state.seen or 0) + 1, #lines do fresh[#fresh + 1] = client.event(lines[i]) end
  state.seen = #lines
  return fresh
end

local function bar(fraction)
  local filled = math.floor(fraction * 30 + 0.5)
  return string.rep("#", filled) .. string.rep("-", 30 - filled)
    .. string.format(" %3d%%", math.floor(fraction * 100 + 0.5))
end

local function build(ui, disp)
  return disp:AddWindow({ ID = "GVMGenProgress", WindowTitle = "GVMGen", Geometry = { 200, 200, 460, 130 } },
    ui:VGroup({
      ui:Label({ ID = "Stage", Text = "Submitting the job..." }),
      ui:Label({ ID = "Bar", Text = bar(0) }),
      ui:Button({ ID = "Cancel", Text = "Cancel" }),
    }))
end

local function pick(items, id, choices, current)
  items[id]:AddItem(FROM_PICTURE)
  for i, choice in ipairs(choices) do
    items[id]:AddItem(choice)
    if tostring(current) == choice then items[id].CurrentIndex = i end
  end
end

local function chosen(text)
  if text == nil or text == "" or text == FROM_PICTURE then return nil end
  return text
end

--- Studio's score dialog: mood, intensity and tempo for the whole range, preset from
--- gvmgen.json. Returns a copy of `config` with the editor's choices, or nil when the editor
--- closed it (then nothing is submitted). Markers still change them mid-range.
function window.ask_controls(win_ui, config)
  local ui, disp = win_ui.ui, win_ui.disp
  local levels = {}
  for i = 1, 9 do levels[i] = tostring(i) end
  local win = disp:AddWindow({ ID = "GVMGenControls", WindowTitle = "GVMGen: score",
    Geometry = { 200, 200, 420, 170 } },
    ui:VGroup({
      ui:HGroup({ ui:Label({ Text = "Mood" }), ui:ComboBox({ ID = "Mood" }) }),
      ui:HGroup({ ui:Label({ Text = "Intensity (1-9)" }), ui:ComboBox({ ID = "Intensity" }) }),
      ui:HGroup({ ui:Label({ Text = "Tempo (BPM or MIN-MAX)" }),
        ui:LineEdit({ ID = "Tempo", Text = config.tempo and tostring(config.tempo) or "",
          PlaceholderText = FROM_PICTURE }) }),
      ui:HGroup({ ui:Button({ ID = "Score", Text = "Score" }), ui:Button({ ID = "Close", Text = "Cancel" }) }),
    }))
  local items = win:GetItems()
  pick(items, "Mood", window.MOODS, config.mood)
  pick(items, "Intensity", levels, config.intensity)
  local answer
  win.On.Score.Clicked = function()
    answer = {}
    for key, value in pairs(config) do answer[key] = value end
    answer.mood = chosen(items.Mood.CurrentText)
    answer.intensity = chosen(items.Intensity.CurrentText)
    answer.tempo = chosen(items.Tempo.Text)
    disp:ExitLoop()
  end
  win.On.Close.Clicked = function() disp:ExitLoop() end
  win.On.GVMGenControls.Close = function() disp:ExitLoop() end
  win:Show()
  disp:RunLoop()
  win:Hide()
  return answer
end

--- Submit `job` in the background and follow it in the window until it answers; returns the
--- answer (the client's last line), or fails as the client does when it died without one.
function window.follow(win_ui, config, job, scratch_dir)
  local argv = client.argv(config, "submit", job)
  local state = {
    lines_path = shell.join(scratch_dir, "client-lines.jsonl"),
    err_path = shell.join(scratch_dir, "client-stderr.txt"),
    exit_path = shell.join(scratch_dir, "client-exit.txt"),
  }
  for _, path in ipairs({ state.lines_path, state.err_path, state.exit_path }) do os.remove(path) end
  shell.spawn(argv, state.lines_path, state.err_path, state.exit_path)
  local disp, win = win_ui.disp, build(win_ui.ui, win_ui.disp)
  local items = win:GetItems()
  local function finish(answer)
    state.answer, state.ended = answer, true
    disp:ExitLoop()
  end
  local function cancel()
    if state.cancelling or not state.job_id then return end
    state.cancelling = true
    items.Stage.Text = "Cancelling..."
    pcall(client.run, config, "cancel", { job_id = state.job_id }, scratch_dir)
  end
  local function poll()
    for _, event in ipairs(new_events(state)) do
      client.show_progress(event)
      if event.type == "accepted" then state.job_id = event.job_id end
      if event.type == "progress" then
        items.Stage.Text = tostring(event.stage or "") .. ": " .. console.one_line(event.message)
        items.Bar.Text = bar(tonumber(event.fraction) or 0)
      elseif client.is_answer(event) then
        return finish(event)
      end
    end
    if shell.file_exists(state.exit_path) and not state.ended then finish(nil) end
  end
  local timer = win_ui.ui:Timer({ ID = "GVMGenPoll", Interval = 250, SingleShot = false })
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
  local why = shell.last_line(state.err_path)
  for _, path in ipairs({ state.lines_path, state.err_path, state.exit_path }) do os.remove(path) end
  if state.answer then return state.answer end
  client.no_answer(argv, why)
end

return window
