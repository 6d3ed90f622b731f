-- wrk: POST /v1/api-keys/verify with each key of a file in turn, as the admin.
--
--   wrk -s bench/lib/verify.lua <url> -- <keys file> <admin token>
--
-- BENCH_PAUSE_MS (environment): each connection waits that long after each answer, to hold
-- the rate below the peak (wrk asks for delay() only when the script defines it).
local keys, token, at = {}, "", 0

function init(args)
  for line in io.lines(args[1]) do
    keys[#keys + 1] = line
  end
  token = args[2]
  at = math.random(#keys) -- each thread starts at a place of its own
end

function request()
  at = at % #keys + 1
  return wrk.format("POST", "/v1/api-keys/verify",
    { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" },
    '{"key":"' .. keys[at] .. '"}')
end

local pause = tonumber(os.getenv("BENCH_PAUSE_MS") or "0")
if pause > 0 then
  function delay()
    return pause
  end
end
