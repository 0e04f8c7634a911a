-- GET requests over a list of paths (given as arguments), with the API key.
local paths = {}
local i = 0

function init(args)
  for _, p in ipairs(args) do paths[#paths + 1] = p end
  local key = os.getenv("BENCH_API_KEY")
  if key then wrk.headers["Authorization"] = "Bearer " .. key end
end

function request()
  i = i + 1
  return wrk.format("GET", paths[(i % #paths) + 1])
end
