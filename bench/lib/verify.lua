-- wrk: POST /v1/api-keys/verify with each key of a file in turn, as the admin.
--
--   wrk -s bench/lib/verify.lua <url> -- <keys file> <admin token>
--
-- BENCH_PAUSE_MS (environment): each connection waits that long after each answer, to hold
-- the rate below the peak (wrk asks for delay() only when the script defines it).
--
-- Every request is formatted once, in init: wrk shares the machine with the server, and a
-- request built anew each time would cost wrk more than a fixed one (GET /healthz) does.
local requests, at = {}, 0

function init(args)
  local headers = { ["Authorization"] = "Bearer " .. args[2], ["Content-Type"] = "application/json" }
  for key in io.lines(args[1]) do
    requests[#requests + 1] = wrk.format("POST", "/v1/api-keys/verify", headers,
      '{"key":"' .. key .. '"}')
  end
  at = math.random(#requests) -- each thread starts at a place of its own
end

function request()
  at = at % #requests + 1
  return requests[at]
end

local pause = tonumber(os.getenv("BENCH_PAUSE_MS") or "0")
if pause > 0 then
  function delay()
    return pause
  end
end
