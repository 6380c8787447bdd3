--[[ GVMGen for Resolve: a JSON reader (decode only). The client speaks JSON lines and the
installer writes gvmgen.json with Python's json; Resolve's LuaJIT allows no packages, so this
small reader is ours. Loaded by gvmgen_core.lua, like every gvmgen_*.lua beside it. ]]

local json = {}
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

--- A value that is there: neither missing nor JSON null.
function json.present(value)
  return value ~= nil and value ~= json.null
end

return json
