-- Alertmanager notifications of 5 alerts: 80% repeats of known groups, 20% new groups.
local counter = 0
-- Each thread gets its own `thread_id` global from setup(), which runs in the main
-- state; a chunk-level `local thread_id` would shadow it and make every thread 0.
local threads = 0
local repeats = {}
local new_ratio = tonumber(os.getenv("BENCH_NEW_RATIO") or "0.2")

function setup(thread)
  thread:set("thread_id", threads)
  threads = threads + 1
end

local function body(group, starts)
  local alerts = {}
  for i = 1, 5 do
    alerts[i] = string.format(
      '{"status":"firing","labels":{"alertname":"HighErrorRate","service":"svc-%s","severity":"warning","instance":"i-%d"},' ..
      '"annotations":{"summary":"svc-%s error rate above 5%%"},"startsAt":"%s","endsAt":"0001-01-01T00:00:00Z",' ..
      '"generatorURL":"http://prometheus/graph","fingerprint":"%s%02d"}',
      group, i, group, starts, group, i)
  end
  return string.format(
    '{"receiver":"muster","status":"firing","alerts":[%s],"groupLabels":{"alertname":"HighErrorRate","service":"svc-%s"},' ..
    '"commonLabels":{"alertname":"HighErrorRate","service":"svc-%s","severity":"warning"},' ..
    '"commonAnnotations":{"summary":"svc-%s error rate above 5%%"},"externalURL":"http://alertmanager:9093",' ..
    '"version":"4","groupKey":"{}:{alertname=\\"HighErrorRate\\", service=\\"svc-%s\\"}","truncatedAlerts":0}',
    table.concat(alerts, ","), group, group, group, group)
end

function init(args)
  math.randomseed(os.time() + thread_id * 7919)
  -- Repeats are the same groups in every run, so that the warm-up has made them known;
  -- new groups are named after the run (its first argument), so that each is new.
  for i = 1, 20 do
    repeats[i] = body(string.format("rep-%d-%d", thread_id, i), "2026-11-28T14:01:26.07Z")
  end
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_AM_TOKEN") or "bench-am-token")
  prefix = args[1] or "r"
end

function request()
  counter = counter + 1
  local payload
  if math.random() < new_ratio then
    payload = body(string.format("%s-new-%d-%d", prefix, thread_id, counter), "2026-11-28T14:01:26.07Z")
  else
    payload = repeats[math.random(#repeats)]
  end
  return wrk.format(nil, nil, nil, payload)
end
