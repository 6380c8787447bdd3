--[[ GVMGen for Resolve: files, paths and processes with LuaJIT's standard library only
(io.open, io.popen, os.execute): Resolve allows no packages. ]]

local shell = {}

shell.IS_WINDOWS = package.config:sub(1, 1) == "\\"
shell.SEP = shell.IS_WINDOWS and "\\" or "/"
local IS_WINDOWS = shell.IS_WINDOWS

function shell.file_exists(path)
  local f = io.open(path, "rb")
  if not f then return false end
  f:close()
  return true
end

function shell.file_size(path)
  local f = io.open(path, "rb")
  if not f then return 0 end
  local size = f:seek("end")
  f:close()
  return size or 0
end

function shell.read_file(path)
  local f = io.open(path, "rb")
  if not f then return nil end
  local text = f:read("*a")
  f:close()
  return text
end

--- The last non-empty line of a file ("" when there is none): what a process said last.
function shell.last_line(path)
  local last = ""
  for line in (shell.read_file(path) or ""):gmatch("[^\r\n]+") do
    if line:find("%S") then last = line end
  end
  return last
end

function shell.join(...)
  return table.concat({ ... }, shell.SEP)
end

-- One argument for the shell, quoted so that spaces and quotes survive.
function shell.quote(arg)
  arg = tostring(arg)
  if IS_WINDOWS then
    return '"' .. arg:gsub('(\\*)"', '%1%1\\"'):gsub('(\\+)$', '%1%1') .. '"'
  end
  return "'" .. arg:gsub("'", "'\\''") .. "'"
end

function shell.command_line(argv)
  local quoted = {}
  for i, arg in ipairs(argv) do quoted[i] = shell.quote(arg) end
  return table.concat(quoted, " ")
end

-- The line handed to the shell: cmd.exe /c drops the first and the last quote of a line that
-- starts with one, so on Windows the whole line, redirections included, gets one more pair.
local function for_shell(line)
  return IS_WINDOWS and ('"' .. line .. '"') or line
end

function shell.make_dirs(path)
  if IS_WINDOWS then
    os.execute(for_shell('if not exist ' .. shell.quote(path) .. ' mkdir ' .. shell.quote(path)))
  else
    os.execute("mkdir -p " .. shell.quote(path))
  end
end

function shell.sleep(seconds)
  if IS_WINDOWS then
    os.execute("ping -n " .. math.max(2, math.ceil(seconds) + 1) .. " 127.0.0.1 >NUL")
  else
    os.execute("sleep " .. string.format("%.2f", seconds))
  end
end

-- LuaJIT's pclose reports no exit status (without its Lua 5.2 switch), so on POSIX the shell
-- prints it after the command's own lines, behind this mark.
local EXIT_MARK = "gvmgen_shell_exit=" -- no Lua pattern magic in it

local function command_line_with_status(argv, err_path)
  local run = shell.command_line(argv) .. " 2>" .. shell.quote(err_path)
  if IS_WINDOWS then return for_shell(run) end
  return run .. "; echo '" .. EXIT_MARK .. "'$?"
end

--- Run `argv`, stderr to `err_path`, and hand each line it prints to `on_line` as it comes.
--- Returns the exit status, or nil where the shell cannot tell it (Windows).
function shell.each_line(argv, err_path, on_line)
  local line = command_line_with_status(argv, err_path)
  local pipe = io.popen(line, "r")
  if not pipe then return nil end
  local status
  for text in pipe:lines() do
    local code = text:match("^" .. EXIT_MARK .. "(%d+)%s*$")
    if code then status = tonumber(code) else on_line(text) end
  end
  pipe:close()
  return status
end

--- Start `argv` in the background: its stdout to lines_path, stderr to err_path, and (once it
--- ends) its exit status to exit_path, which is how a caller notices it died without a word.
function shell.spawn(argv, lines_path, err_path, exit_path)
  local run = shell.command_line(argv) .. " >" .. shell.quote(lines_path) .. " 2>" .. shell.quote(err_path)
  if IS_WINDOWS then
    os.execute(for_shell('start "" /b cmd /c "' .. run .. " & echo %errorlevel% >"
      .. shell.quote(exit_path) .. '"'))
  else
    os.execute("(" .. run .. "; echo $? >" .. shell.quote(exit_path) .. ") >/dev/null 2>&1 &")
  end
end

return shell
