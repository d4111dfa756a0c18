-- wrk script for bench/run: one endpoint per run, many distinct callers and patients.
--
--   wrk -t2 -c16 -d20s -s bench/wrk.lua http://127.0.0.1:8101 -- <kind> <data file> <threads>
--
-- kind: floor | check | authorize | status | ceiling | ceiling-check. Each line of the data file is
-- "token<TAB>registry_id<TAB>prescriber_npi"; wrk thread i takes lines i, i+T, i+2T, ...
-- and walks through them once (an RMA is issued to each patient once: `wrapped` counts the
-- requests sent after a thread ran out of patients). At the end one line is printed:
-- BENCH_RESULT {json}, which bench/run reads.

local threads = {}
local counter = 0

function setup(thread)
   counter = counter + 1
   thread:set("tid", counter)
   table.insert(threads, thread)
end

function init(args)
   kind = args[1]
   local nthreads = tonumber(args[3])
   items = {}
   local i = 0
   for line in io.lines(args[2]) do
      if i % nthreads == tid - 1 then
         local token, rid, npi = line:match("^([^\t]*)\t([^\t]*)\t([^\t]*)")
         table.insert(items, { token, rid, npi })
      end
      i = i + 1
   end
   n = 0
   wrapped = 0
   statuses = {}
end

function request()
   n = n + 1
   if n > #items then
      wrapped = wrapped + 1
   end
   local item = items[((n - 1) % #items) + 1]
   local headers = { ["Authorization"] = "Bearer " .. item[1],
                     ["Content-Type"] = "application/json" }
   if kind == "status" then
      return wrk.format("GET", "/api/v1/patients/" .. item[2] .. "/status", headers)
   end
   if kind == "floor" then
      return wrk.format("POST", "/api/v1/floor", headers,
                        '{"registry_id": "' .. item[2] .. '"}')
   end
   local path = "/api/v1/authorization-checks"
   if kind == "authorize" then
      path = "/api/v1/authorizations"
   elseif kind == "ceiling" then
      path = "/api/v1/ceiling"
   elseif kind == "ceiling-check" then
      path = "/api/v1/ceiling-check"
   end
   return wrk.format("POST", path, headers,
      '{"registry_id": "' .. item[2] .. '", "date_of_birth": "1990-01-01", ' ..
      '"prescriber_npi": "' .. item[3] .. '", "days_supply": 30, "quantity": 60, "refills": 0}')
end

function response(status, headers, body)
   statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
   local codes, total_wrapped = {}, 0
   for _, thread in ipairs(threads) do
      for code, count in pairs(thread:get("statuses")) do
         codes[code] = (codes[code] or 0) + count
      end
      total_wrapped = total_wrapped + thread:get("wrapped")
   end
   local parts = {}
   for code, count in pairs(codes) do
      table.insert(parts, string.format('"%d": %d', code, count))
   end
   local e = summary.errors
   io.write(string.format(
      'BENCH_RESULT {"requests": %d, "duration_us": %d, "p50_us": %d, "p90_us": %d, ' ..
      '"p99_us": %d, "max_us": %d, "mean_us": %.1f, "errors": {"connect": %d, ' ..
      '"read": %d, "write": %d, "timeout": %d, "status": %d}, "statuses": {%s}, ' ..
      '"wrapped": %d}\n',
      summary.requests, summary.duration, latency:percentile(50), latency:percentile(90),
      latency:percentile(99), latency.max, latency.mean, e.connect, e.read, e.write,
      e.timeout, e.status, table.concat(parts, ", "), total_wrapped))
end
