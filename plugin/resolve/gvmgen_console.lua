--[[ GVMGen for Resolve: what the editor is told, on Resolve's Console (Workspace > Console).

A Failure is the one way a command stops: a sentence for the editor (what went wrong and what
to do), raised with error() and printed by core.run, the timeline left as it was. Any other Lua
error is ours and is reported as an internal one. ]]

local console = {}

function console.say(text)
  print("[GVMGen] " .. text)
end

local Failure = {}
Failure.__index = Failure
Failure.__tostring = function(self) return self.message end

--- Stop the command with `message`, one sentence for the editor.
function console.fail(message)
  error(setmetatable({ message = message }, Failure), 0)
end

function console.is_failure(value)
  return getmetatable(value) == Failure
end

--- An internal error (a Lua error string) as a Failure that asks to be reported.
function console.internal(err, traceback)
  return setmetatable({ message = "GVMGen stopped on an internal error: " .. console.one_line(err)
    .. " (please report it)", internal = traceback }, Failure)
end

--- `text` on one line, trimmed: what a process wrote, fit for a sentence.
function console.one_line(text)
  text = tostring(text or ""):gsub("[\r\n]+", " "):gsub("^%s+", ""):gsub("%s+$", "")
  return text
end

return console
