-- wrk script for bench/cloudflare.sh.  CFB_MODE picks the request:
--
--   direct   GET (the URL given to wrk: <api>/user/tokens?page=1&
--            per_page=50) with "Authorization: Bearer $CFB_TOKEN"; an
--            answer counts as good when it holds "success":true
--   gateway  POST (the URL: the MCP endpoint) of a JSON-RPC tools/call of
--            tokens_list {} on session $CFB_SID; good when it holds
--            "isError":false
--
-- Every answer's body is checked (a 200 can carry a tool error).  At the
-- end it prints one machine-readable line, "RESULT key=value ...", with
-- latencies in microseconds and "bad" = answers that were not good.

local mode = os.getenv("CFB_MODE") or "direct"
local marker

if mode == "gateway" then
    wrk.method = "POST"
    wrk.body = '{"jsonrpc":"2.0","id":2,"method":"tools/call",' ..
               '"params":{"name":"tokens_list","arguments":{}}}'
    wrk.headers["Content-Type"] = "application/json"
    wrk.headers["Accept"] = "application/json"
    wrk.headers["MCP-Protocol-Version"] = "2025-11-25"
    wrk.headers["Mcp-Session-Id"] = os.getenv("CFB_SID") or ""
    marker = '"isError":false'
else
    wrk.method = "GET"
    wrk.headers["Authorization"] = "Bearer " .. (os.getenv("CFB_TOKEN") or "")
    marker = '"success":true'
end

local threads = {}

function setup(thread)
    table.insert(threads, thread)
end

function init(args)
    bad = 0
end

function response(status, headers, body)
    if status ~= 200 or not string.find(body, marker, 1, true) then
        bad = bad + 1
    end
end

function done(summary, latency, requests)
    local e = summary.errors
    local b = 0
    for _, t in ipairs(threads) do
        b = b + t:get("bad")
    end
    io.write(string.format(
        "RESULT requests=%d duration_us=%d rps=%.1f bytes=%d " ..
        "p50=%d p90=%d p99=%d p999=%d max=%d mean=%.1f " ..
        "err_connect=%d err_read=%d err_write=%d err_status=%d " ..
        "err_timeout=%d bad=%d\n",
        summary.requests, summary.duration,
        summary.requests / (summary.duration / 1e6), summary.bytes,
        latency:percentile(50), latency:percentile(90),
        latency:percentile(99), latency:percentile(99.9), latency.max,
        latency.mean, e.connect, e.read, e.write, e.status, e.timeout, b))
end
