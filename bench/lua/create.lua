-- Incident creation, each request with its own Idempotency-Key.
local counter = 0
-- Each thread gets its own `thread_id` global from setup(), which runs in the main
-- state; a chunk-level `local thread_id` would shadow it and make every thread 0.
local threads = 0

function setup(thread)
  thread:set("thread_id", threads)
  threads = threads + 1
end

function init(args)
  prefix = args[1] or "run"
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. os.getenv("BENCH_API_KEY")
end

function request()
  counter = counter + 1
  -- wrk.format replaces wrk.headers with the table it is given, so copy them in
  local headers = {}
  for name, value in pairs(wrk.headers) do headers[name] = value end
  headers["Idempotency-Key"] = string.format("%s-%d-%d", prefix, thread_id, counter)
  local body = string.format(
    '{"title":"Bench incident %d-%d","severity":"sev3","services":["svc-%d"],"labels":{"bench":"yes"}}',
    thread_id, counter, counter % 50)
  return wrk.format(nil, nil, headers, body)
end
