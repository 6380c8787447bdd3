--[[ GVMGen for Resolve: frame rates, timecodes and frame counts. Pure arithmetic, no Resolve.

Rates are exact fractions (23.976 is 24000/1001), because Resolve counts whole frames and a
rounding error of one frame is a clip that no longer fits its place. ]]

local frames = {}

local NTSC_BASES = { 24, 30, 48, 60, 120 }

local function round(x)
  return math.floor(x + 0.5)
end

local function gcd(a, b)
  while b ~= 0 do a, b = b, a % b end
  return a
end

-- Only the NTSC rates whose nominal rate is a multiple of 30 have a drop-frame count.
local function can_drop(rate)
  return rate.den == 1001 and rate.num % 30000 == 0
end

--- A rate as Resolve writes it ("23.976", "25", "29.97 DF") as { num, den, value, drop_frame }.
--- The leading number is the rate; drop-frame is the text's "DF" or `drop_frame` (the timeline's
--- own setting), whichever says so. nil when there is no number.
function frames.parse_rate(text, drop_frame)
  text = tostring(text or "")
  local value = tonumber(text:match("^%s*(%d+%.?%d*)"))
  if not value or value <= 0 then return nil end
  local rate
  for _, base in ipairs(NTSC_BASES) do
    if math.abs(value - base * 1000 / 1001) < 5e-3 then rate = { num = base * 1000, den = 1001 } end
  end
  if not rate and math.abs(value - round(value)) < 1e-6 then rate = { num = round(value), den = 1 } end
  rate = rate or { num = round(value * 1000), den = 1000 }
  rate.value = rate.num / rate.den
  local says_df = false
  for word in text:upper():gmatch("%a+") do says_df = says_df or word == "DF" end -- not "NDF"
  rate.drop_frame = (drop_frame == true or says_df) and can_drop(rate)
  return rate
end

--- Seconds (as the backend reports them) to whole frames at `rate`.
function frames.frames_at(seconds, rate)
  return round(seconds * rate.num / rate.den)
end

--- "HH:MM:SS:FF" (";" or "," before FF for drop-frame) to a frame count at `rate`; a timeline
--- whose rate says drop-frame counts drop-frame whatever the separator.
function frames.timecode_frame(text, rate)
  local h, m, s, sep, f = tostring(text or ""):match("^(%d+):(%d+):(%d+)([:;.,])(%d+)$")
  if not h then return nil end
  h, m, s, f = tonumber(h), tonumber(m), tonumber(s), tonumber(f)
  local nominal = round(rate.value)
  local frame = ((h * 60 + m) * 60 + s) * nominal + f
  if sep == ";" or sep == "," or rate.drop_frame then
    -- 2 (4 at 59.94) numbers skipped each minute but every 10th
    local drop = round(nominal / 15)
    local minutes = h * 60 + m
    frame = frame - drop * (minutes - math.floor(minutes / 10))
  end
  return frame
end

--- Source frames of media at `media_rate` that fill `wanted` frames of a timeline at
--- `timeline_rate`, and the frames they fill there. Resolve floors a range in another rate onto
--- the timeline: n source frames last floor(n * timeline / media) timeline frames, so n is the
--- fewest that reach `wanted`. Where the timeline is the faster one, some lengths cannot be
--- reached at all (25 fps media on a 50 fps timeline fills only even lengths; 1000 frames of
--- 23.976 on 24 fill 999 or 1001); then n falls one short, never past `wanted`, since a clip one
--- frame long would overlap the next cue and Resolve would drop it.
function frames.source_frames(wanted, timeline_rate, media_rate)
  local p, q = timeline_rate.num * media_rate.den, timeline_rate.den * media_rate.num
  local g = gcd(p, q)
  p, q = p / g, q / g -- a timeline frame is q/p source frames
  local function landed(n) return math.floor(n * p / q) end
  local n = math.floor((wanted * q + p - 1) / p) -- ceil(wanted * q / p)
  if landed(n) > wanted then n = n - 1 end
  return n, landed(n)
end

return frames
