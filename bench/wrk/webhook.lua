-- bench (c): signed Standard Webhooks posts to /webhooks/standard.
-- wrk -s webhook.lua URL -- REQUESTS_FILE THREADS
-- REQUESTS_FILE holds one pre-signed request per line: webhook-id TAB webhook-timestamp TAB
-- webhook-signature TAB body (wrk's LuaJIT has no HMAC, so bench.py signs them). Thread k of
-- THREADS takes lines k, k+THREADS, ...: every webhook-id is posted once until a thread runs
-- out and starts again from its first line; the server answers those as duplicates, which
-- bench.py counts from the events table.
local requests = {}
local next_index = 1
local threads_made = 0

function setup(thread)
  thread:set("thread_number", threads_made)
  threads_made = threads_made + 1
end

function init(args)
  local threads = tonumber(args[2])
  local line_number = 0
  for line in io.lines(args[1]) do
    if line_number % threads == thread_number then
      local id, timestamp, signature, body = line:match("^([^\t]+)\t([^\t]+)\t([^\t]+)\t(.*)$")
      requests[#requests + 1] = wrk.format("POST", "/webhooks/standard", {
        ["Content-Type"] = "application/json",
        ["webhook-id"] = id,
        ["webhook-timestamp"] = timestamp,
        ["webhook-signature"] = signature,
      }, body)
    end
    line_number = line_number + 1
  end
end

function request()
  local r = requests[next_index]
  next_index = next_index % #requests + 1
  return r
end
