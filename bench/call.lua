-- wrk script for bench/run.sh: every request is the same MCP tools/call
-- of the test module's "echo" tool on one session.  MCPGW_SID holds the
-- session id (bench/run.sh gets it with an initialize first).  At the
-- end it prints one machine-readable line, "RESULT key=value ...", with
-- latencies in microseconds.

wrk.method = "POST"
wrk.body = '{"jsonrpc":"2.0","id":2,"method":"tools/call",' ..
           '"params":{"name":"echo","arguments":{"text":"hello"}}}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"
wrk.headers["MCP-Protocol-Version"] = "2025-11-25"

local sid = os.getenv("MCPGW_SID")
if sid and sid ~= "" then
    wrk.headers["Mcp-Session-Id"] = sid
end

function done(summary, latency, requests)
    local e = summary.errors
    io.write(string.format(
        "RESULT requests=%d duration_us=%d rps=%.1f bytes=%d " ..
        "p50=%d p90=%d p99=%d p999=%d max=%d mean=%.1f " ..
        "err_connect=%d err_read=%d err_write=%d err_status=%d " ..
        "err_timeout=%d\n",
        summary.requests, summary.duration,
        summary.requests / (summary.duration / 1e6), summary.bytes,
        latency:percentile(50), latency:percentile(90),
        latency:percentile(99), latency:percentile(99.9), latency.max,
        latency.mean, e.connect, e.read, e.write, e.status, e.timeout))
end
