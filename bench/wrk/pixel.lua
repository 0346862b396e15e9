-- bench (c): GET /t/o/<token> over real open-pixel paths taken from sent messages.
-- wrk -s pixel.lua URL -- PATHS_FILE   (one path per line). Each thread starts at its own
-- offset, and the requests are formatted once, in init, so the script costs no time per hit.
local requests = {}
local next_index = 1
local threads_made = 0

function setup(thread)
  thread:set("thread_number", threads_made)
  threads_made = threads_made + 1
end

function init(args)
  for path in io.lines(args[1]) do
    requests[#requests + 1] = wrk.format("GET", path)
  end
  next_index = (thread_number * 7919) % #requests + 1
end

function request()
  local r = requests[next_index]
  next_index = next_index % #requests + 1
  return r
end
