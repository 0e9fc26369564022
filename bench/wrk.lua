-- One benchmark scenario for wrk (bench/bench.py runs it):
--   wrk ... -s bench/wrk.lua URL -- <scenario> <credentials.tsv> <run tag>
--
-- credentials.tsv has one line per user: the username, then TAB-separated
-- "Header: value" pairs sent with that user's requests (Authorization for
-- the gateways; X-Microblog-User and X-Microblog-Secret for a direct call).
-- Each thread starts at its own place in the list and takes the next user
-- for every request, so tokens and users rotate. POST bodies are unique:
-- run tag, thread, counter and a random number.
--
-- done() prints one line "BENCH_JSON {...}" that bench.py parses.

local scenario, tag
local users = {}       -- {name=, get=headers, post=headers with Content-Type}
local index = 0
local counter = 0
local id = 0

function setup(thread)
   -- Runs in the main Lua state, before the thread's init().
   made = (made or 0) + 1
   thread:set("thread_number", made)
end

local function copy(t)
   local c = {}
   for k, v in pairs(t) do c[k] = v end
   return c
end

function init(args)
   scenario, tag = args[1], args[3] or "bench"
   id = thread_number or 1
   for line in io.lines(args[2]) do
      if line ~= "" then
         local fields = {}
         for field in string.gmatch(line, "[^\t]+") do fields[#fields + 1] = field end
         local headers = {}
         for i = 2, #fields do
            local name, value = string.match(fields[i], "^([^:]+):%s*(.*)$")
            headers[name] = value
         end
         local post = copy(headers)
         post["Content-Type"] = "application/json"
         users[#users + 1] = {name = fields[1], get = headers, post = post}
      end
   end
   if #users == 0 then error("no credentials in " .. args[2]) end
   index = ((id - 1) * 31) % #users
   math.randomseed(os.time() * 1000 + id * 7919)
end

local function body(fmt, ...)
   counter = counter + 1
   return string.format(fmt, ...)
end

function request()
   local me = users[index + 1]
   local other = users[((index + 17) % #users) + 1].name
   index = (index + 1) % #users
   if scenario == "public_timeline" then
      return wrk.format("GET", "/publicTimeline", me.get)
   elseif scenario == "home_timeline" then
      return wrk.format("GET", "/homeTimeline", me.get)
   elseif scenario == "user_timeline" then
      return wrk.format("GET", "/userTimeline/" .. other, me.get)
   elseif scenario == "listmsg" then
      return wrk.format("GET", "/listmsg/" .. me.name, me.get)
   elseif scenario == "post_tweet" then
      return wrk.format("POST", "/postTweet", me.post,
         body('{"tweet":"bench %s t%d n%d r%d"}', tag, id, counter + 1, math.random(1, 1000000000)))
   elseif scenario == "sendmsg" then
      return wrk.format("POST", "/sendmsg", me.post,
         body('{"to":"%s","msg":"bench %s t%d n%d r%d"}', other, tag, id, counter + 1,
              math.random(1, 1000000000)))
   elseif scenario == "login" then
      return wrk.format("POST", "/login", me.get)
   end
   error("unknown scenario " .. tostring(scenario))
end

function done(summary, latency, requests)
   local e = summary.errors
   io.write(string.format(
      'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
      '"p50_us":%.1f,"p90_us":%.1f,"p99_us":%.1f,"max_us":%.1f,"mean_us":%.1f,' ..
      '"errors_connect":%d,"errors_read":%d,"errors_write":%d,' ..
      '"errors_status":%d,"errors_timeout":%d}\n',
      summary.requests, summary.duration, summary.bytes,
      latency:percentile(50), latency:percentile(90), latency:percentile(99),
      latency.max, latency.mean,
      e.connect, e.read, e.write, e.status, e.timeout))
end
