--[[ GVMGen for Resolve: on Studio, a job's progress in a small window with a Cancel button.

UIManager is Studio-only from 19.1: touching fu.UIManager on the free edition opens an upsell
dialog that makes later API calls fail, so nothing here runs there (the Console shows the
progress instead). The client runs in the background, writing its JSON lines to a file that the
dispatcher's timer reads four times a second; Cancel runs `gvmgen client cancel JOB`. ]]

local use = assert(..., "this is GVMGen's shared code: run a GVMGen command from the menu instead")
local shell, console, client = use("shell"), use("console"), use("client")

local window = {}

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
