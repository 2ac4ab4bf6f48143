// Load for bench/cloudflare.sh: plain node (18 or newer), no packages.
//
//   node bench/cloudflare_load.mjs MODE [--key value ...]
//
// Modes:
//   probe          initialize a session, check one tokens_list through the
//                  gateway and one GET straight to the sandbox, resolve the
//                  create body with a tokens_create dry run; prints
//                  "PROBE key=value ..." and "BODY <json>"
//   list-direct    GET <api>/user/tokens?page=1&per_page=50 to the sandbox
//                  with "Authorization: Bearer <token>" (the request the
//                  gateway's tokens_list sends upstream)
//   list-gw        MCP tools/call tokens_list {} through the gateway
//   cycle-direct   POST <api>/user/tokens (the body the gateway resolves),
//                  then DELETE <api>/user/tokens/<id>, keep-alive
//   cycle-upstream the upstream requests the gateway itself makes for one
//                  create and one delete, sent straight to the sandbox:
//                  GET the token list (keep-alive), then POST and DELETE
//                  each on a new connection (the gateway sends every write
//                  on a fresh connection, CURLOPT_FRESH_CONNECT)
//   cycle-gw       tools/call tokens_create, then tools/call tokens_delete
//                  of the id it answered, through the gateway
//
// Load: open loop at --rate operations per second for --seconds, after
// --warmup seconds at the same rate that are not counted.  Operation i
// is due at start + i/rate whether or not earlier ones finished; its
// latency is taken from that scheduled time (so a stall of the server or
// of this client shows up in the latency instead of slowing the load),
// and also from the moment it was actually sent ("service").  Each
// timestamp is process.hrtime.bigint().  Requests go over node's
// http.Agent with keepAlive (one pool per target; sockets are reused, a
// new one is opened only when every open one is busy).  The last ~1.2 ms
// before each due time are spent polling (setImmediate), so requests
// leave on time rather than on the next millisecond timer tick.
//
// --count N instead runs N operations one after the other (closed loop,
// no rate), for the callgrind run.
//
// Options: --mcp URL  --api URL  --token-file FILE  --rate R  --seconds S
//          --warmup S  --count N  --pid PID (sample its CPU time over the
//          measured window)  --body JSON (the create body; default: from
//          a dry run)  --deadline S (hard stop, default 120)
//
// Output: one line "RESULT key=value ..." on stdout (latencies in
// microseconds; cpu_us_op: the --pid process's CPU time per operation;
// wait_ms: how long that process was runnable but waited for a CPU
// during the measured window; self_wait_ms: the same for this process's
// main thread, which its own helper threads (GC) can also delay);
// errors on stderr, exit status 1.

import fs from 'node:fs';
import http from 'node:http';

const argv = process.argv.slice(2);
const mode = argv.shift();
const opt = {};
while (argv.length) {
    const k = argv.shift();
    if (!k.startsWith('--') || !argv.length) {
        usage();
    }
    opt[k.slice(2)] = argv.shift();
}

const MODES = ['probe', 'list-direct', 'list-gw', 'cycle-direct',
    'cycle-upstream', 'cycle-gw'];

function usage() {
    console.error('usage: node cloudflare_load.mjs ' + MODES.join('|') +
        ' --mcp URL --api URL --token-file FILE [--rate R --seconds S ' +
        '--warmup S | --count N] [--pid PID] [--body JSON]');
    process.exit(2);
}

if (!MODES.includes(mode) || !opt.mcp || !opt.api || !opt['token-file']) {
    usage();
}

const MCP = new URL(opt.mcp);
const API = new URL(opt.api.replace(/\/+$/, ''));
const TOKEN = fs.readFileSync(opt['token-file'], 'utf8').trim();
const RATE = Number(opt.rate || 500);
const SECONDS = Number(opt.seconds || 10);
const WARMUP = Number(opt.warmup ?? 1);
const COUNT = opt.count ? Number(opt.count) : 0;
const PID = opt.pid ? Number(opt.pid) : 0;
const DEADLINE = Number(opt.deadline || 120);
const REQ_TIMEOUT = 10000;

const deadline = setTimeout(() => {
    console.error(`cloudflare_load: deadline of ${DEADLINE} s reached`);
    process.exit(1);
}, DEADLINE * 1000);
deadline.unref();

function fail(msg) {
    console.error(`cloudflare_load ${mode}: ${msg}`);
    process.exit(1);
}

// ---------------------------------------------------------------------
// HTTP

// One pool per target, as a client of either would have.
const gwAgent = new http.Agent({ keepAlive: true, maxSockets: 256 });
const apiAgent = new http.Agent({ keepAlive: true, maxSockets: 256 });

const T0 = process.hrtime.bigint();
const now = () => Number(process.hrtime.bigint() - T0); // ns

// Resolves {status, body, end} (end: ns when the last byte was read).
function request(url, method, headers, body, agent) {
    return new Promise((resolve, reject) => {
        const h = { ...headers };
        if (body !== undefined) {
            h['content-length'] = Buffer.byteLength(body);
        }
        const req = http.request(url, { method, headers: h, agent,
            timeout: REQ_TIMEOUT }, (res) => {
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () => resolve({ status: res.statusCode,
                headers: res.headers, end: now(),
                body: Buffer.concat(chunks).toString() }));
            res.on('error', reject);
        });
        req.on('timeout', () => req.destroy(new Error('request timed out')));
        req.on('error', reject);
        req.end(body);
    });
}

const MCP_HEADERS = {
    'content-type': 'application/json',
    accept: 'application/json',
    'mcp-protocol-version': '2025-11-25',
};
let sid = null;
let rpcId = 10;

function mcp(method, params) {
    const body = JSON.stringify({ jsonrpc: '2.0', id: rpcId++, method,
        params });
    const h = { ...MCP_HEADERS };
    if (sid) {
        h['mcp-session-id'] = sid;
    }
    return request(MCP, 'POST', h, body, gwAgent);
}

async function initialize() {
    const r = await mcp('initialize', { protocolVersion: '2025-11-25',
        capabilities: {}, clientInfo: { name: 'mcpgw-cf-bench',
            version: '1' } });
    sid = r.headers['mcp-session-id'];
    if (r.status !== 200 || !sid) {
        fail(`initialize: HTTP ${r.status}: ${r.body.slice(0, 300)}`);
    }
    const n = await request(MCP, 'POST', { ...MCP_HEADERS,
        'mcp-session-id': sid }, JSON.stringify({ jsonrpc: '2.0',
        method: 'notifications/initialized' }), gwAgent);
    if (n.status !== 202) {
        fail(`notifications/initialized: HTTP ${n.status}`);
    }
}

async function toolCall(name, args) {
    const r = await mcp('tools/call', { name, arguments: args });
    if (r.status !== 200 || !r.body.includes('"isError":false')) {
        throw new Error(`${name}: HTTP ${r.status}: ${r.body.slice(0, 400)}`);
    }
    return r;
}

const AUTH = { authorization: `Bearer ${TOKEN}` };
const LIST_PATH = `${API.pathname}/user/tokens?page=1&per_page=50`;
const apiUrl = (p) => new URL(p, API.origin);

async function api(method, path, body, agent = apiAgent) {
    const h = { ...AUTH };
    if (body !== undefined) {
        h['content-type'] = 'application/json';
    }
    const r = await request(apiUrl(path), method, h, body, agent);
    if (r.status !== 200 || !r.body.includes('"success":true')) {
        throw new Error(`${method} ${path}: HTTP ${r.status}: ` +
            r.body.slice(0, 400));
    }
    return r;
}

// ---------------------------------------------------------------------
// The operations: each resolves with the ns its last answer ended.

let seq = 0;
const tag = `${process.pid}-${Date.now() % 1e6}`;
let createBody = null; // the body the gateway resolves, without name

const CREATE_ARGS = {
    policies: [{
        permission_groups: ['Workers Scripts Write', 'Workers AI Read',
            'D1 Write', 'Vectorize Write'],
        resources: { accounts: ['Sandbox Account'] },
    }],
};

const ops = {
    async 'list-direct'() {
        return (await api('GET', LIST_PATH)).end;
    },
    async 'list-gw'() {
        return (await toolCall('tokens_list', {})).end;
    },
    async 'cycle-direct'() {
        const body = JSON.stringify({ ...createBody,
            name: `bench-d-${tag}-${seq++}` });
        const c = await api('POST', `${API.pathname}/user/tokens`, body);
        const id = JSON.parse(c.body).result.id;
        return (await api('DELETE', `${API.pathname}/user/tokens/${id}`))
            .end;
    },
    async 'cycle-upstream'() {
        const body = JSON.stringify({ ...createBody,
            name: `bench-u-${tag}-${seq++}` });
        await api('GET', LIST_PATH);
        const c = await api('POST', `${API.pathname}/user/tokens`, body,
            false);
        const id = JSON.parse(c.body).result.id;
        return (await api('DELETE', `${API.pathname}/user/tokens/${id}`,
            undefined, false)).end;
    },
    async 'cycle-gw'() {
        const c = await toolCall('tokens_create', { ...CREATE_ARGS,
            name: `bench-g-${tag}-${seq++}` });
        const id = JSON.parse(c.body).result.structuredContent.token.id;
        return (await toolCall('tokens_delete', { token_id: id })).end;
    },
};

// ---------------------------------------------------------------------
// Sampling the machine and the server

// [ns on a CPU, ns runnable but waiting for a CPU] of all threads of a
// process (/proc/PID/task/*/schedstat, nanosecond resolution, unlike
// utime + stime in ticks).  The wait is the time other processes (or
// the process's own other threads) kept it from running.
function procSched(pid, mainOnly = false) {
    const out = [0, 0];
    if (!pid) {
        return out;
    }
    const tasks = mainOnly ? [String(pid)]
        : fs.readdirSync(`/proc/${pid}/task`);
    for (const t of tasks) {
        try {
            const f = fs.readFileSync(`/proc/${pid}/task/${t}/schedstat`,
                'utf8').split(' ');
            out[0] += Number(f[0]);
            out[1] += Number(f[1]);
        } catch {
            // the thread ended in between
        }
    }
    return out;
}

// {cpu0: [busy, steal, total], ...}: busy excludes idle, iowait, steal
function coreTicks() {
    const out = {};
    for (const line of fs.readFileSync('/proc/stat', 'utf8').split('\n')) {
        const f = line.split(/\s+/);
        if (!/^cpu\d*$/.test(f[0])) {
            continue;
        }
        const v = f.slice(1, 9).map(Number);
        const total = v.reduce((a, b) => a + b, 0);
        out[f[0]] = [total - v[3] - v[4] - v[7], v[7], total];
    }
    return out;
}

// ---------------------------------------------------------------------
// Load

function openLoop(op, rate, seconds) {
    const interval = 1e9 / rate;
    const n = Math.max(1, Math.round(rate * seconds));
    const start = now() + 2e6;
    const res = { sched: [], service: [], late: [], errors: 0, firstError:
        null, maxInflight: 0 };
    let i = 0;
    let done = 0;
    let inflight = 0;

    return new Promise((resolve) => {
        function finish(sched, sent, end) {
            inflight--;
            if (end !== null) {
                res.sched.push(end - sched);
                res.service.push(end - sent);
                res.late.push(sent - sched);
            }
            if (++done === n) {
                resolve(res);
            }
        }
        function pump() {
            const t = now();
            while (i < n && start + i * interval <= t) {
                const sched = start + i * interval;
                const sent = now();
                i++;
                inflight++;
                if (inflight > res.maxInflight) {
                    res.maxInflight = inflight;
                }
                op().then((end) => finish(sched, sent, end), (e) => {
                    res.errors++;
                    res.firstError ??= e.message;
                    finish(sched, sent, null);
                });
            }
            if (i < n) {
                const wait = start + i * interval - now();
                if (wait > 1.2e6) {
                    setTimeout(pump, Math.max(1, Math.floor(wait / 1e6) - 1));
                } else {
                    setImmediate(pump);
                }
            }
        }
        pump();
    });
}

async function closedLoop(op, count) {
    const res = { sched: [], service: [], late: [], errors: 0, firstError:
        null, maxInflight: 1 };
    for (let i = 0; i < count; i++) {
        const sent = now();
        try {
            const end = await op();
            res.sched.push(end - sent);
            res.service.push(end - sent);
            res.late.push(0);
        } catch (e) {
            res.errors++;
            res.firstError ??= e.message;
        }
    }
    return res;
}

function pct(sorted, p) {
    if (!sorted.length) {
        return 0;
    }
    const k = Math.min(sorted.length - 1,
        Math.max(0, Math.ceil(p / 100 * sorted.length) - 1));
    return sorted[k];
}

function stats(prefix, ns) {
    const s = Float64Array.from(ns).sort();
    const us = (v) => (v / 1e3).toFixed(1);
    const mean = s.length ? s.reduce((a, b) => a + b, 0) / s.length : 0;
    return `${prefix}p50=${us(pct(s, 50))} ${prefix}p90=${us(pct(s, 90))} ` +
        `${prefix}p99=${us(pct(s, 99))} ${prefix}p999=${us(pct(s, 99.9))} ` +
        `${prefix}max=${us(s.length ? s[s.length - 1] : 0)} ` +
        `${prefix}mean=${us(mean)}`;
}

// ---------------------------------------------------------------------

async function probe() {
    await initialize();
    const l = await toolCall('tokens_list', {});
    const d = await api('GET', LIST_PATH);
    const dry = await toolCall('tokens_create', { ...CREATE_ARGS,
        name: 'bench-probe', dry_run: true });
    const req = JSON.parse(dry.body).result.structuredContent.request;
    if (req.method !== 'POST' || !req.body) {
        fail(`dry run answered ${dry.body.slice(0, 300)}`);
    }
    const body = { ...req.body };
    delete body.name;
    // the three answers' sizes, for the report
    const c = await toolCall('tokens_create', { ...CREATE_ARGS,
        name: `bench-p-${tag}` });
    const id = JSON.parse(c.body).result.structuredContent.token.id;
    const del = await toolCall('tokens_delete', { token_id: id });
    const dc = await api('POST', `${API.pathname}/user/tokens`,
        JSON.stringify({ ...body, name: `bench-q-${tag}` }));
    const dd = await api('DELETE',
        `${API.pathname}/user/tokens/${JSON.parse(dc.body).result.id}`);
    console.log(`PROBE sid=${sid} list_gw_bytes=${l.body.length} ` +
        `list_direct_bytes=${d.body.length} ` +
        `create_gw_bytes=${c.body.length} delete_gw_bytes=${del.body.length} ` +
        `create_direct_bytes=${dc.body.length} ` +
        `delete_direct_bytes=${dd.body.length} ` +
        `create_request_bytes=${JSON.stringify(req.body).length}`);
    console.log(`BODY ${JSON.stringify(body)}`);
}

async function main() {
    if (mode === 'probe') {
        await probe();
        return;
    }

    if (mode.endsWith('-gw')) {
        await initialize();
    }
    if (mode.startsWith('cycle-direct') || mode === 'cycle-upstream') {
        if (opt.body) {
            createBody = JSON.parse(opt.body);
        } else {
            fail('--body (the resolved create body, from the probe) needed');
        }
    }

    const op = ops[mode];
    // one operation first: errors out before any load
    await op();

    if (!COUNT && WARMUP > 0) {
        await openLoop(op, RATE, WARMUP);
    }

    const c0 = procSched(PID);
    const s0 = procSched(process.pid, true);
    const k0 = coreTicks();
    const t0 = now();
    const res = COUNT ? await closedLoop(op, COUNT)
        : await openLoop(op, RATE, SECONDS);
    const t1 = now();
    const c1 = procSched(PID);
    const s1 = procSched(process.pid, true);
    const k1 = coreTicks();

    const cores = Object.keys(k1).filter((c) => c !== 'cpu').map((c) => {
        const t = k1[c][2] - k0[c][2] || 1;
        return `${c}_busy=${Math.round(100 * (k1[c][0] - k0[c][0]) / t)} ` +
            `${c}_steal=${Math.round(100 * (k1[c][1] - k0[c][1]) / t)}`;
    }).join(' ');
    const n = res.sched.length;

    console.log(`RESULT mode=${mode} ok=${n} errors=${res.errors} ` +
        `seconds=${((t1 - t0) / 1e9).toFixed(2)} ` +
        `rate=${(n / ((t1 - t0) / 1e9)).toFixed(1)} ` +
        `max_inflight=${res.maxInflight} ` +
        `sockets=${Object.values(gwAgent.sockets).flat().length +
            Object.values(gwAgent.freeSockets).flat().length +
            Object.values(apiAgent.sockets).flat().length +
            Object.values(apiAgent.freeSockets).flat().length} ` +
        `${stats('', res.sched)} ${stats('svc_', res.service)} ` +
        `${stats('late_', res.late)} ` +
        `cpu_us=${((c1[0] - c0[0]) / 1e3).toFixed(0)} ` +
        `cpu_us_op=${n ? ((c1[0] - c0[0]) / 1e3 / n).toFixed(1) : 0} ` +
        `wait_ms=${((c1[1] - c0[1]) / 1e6).toFixed(1)} ` +
        `self_wait_ms=${((s1[1] - s0[1]) / 1e6).toFixed(1)} ${cores}`);
    if (res.errors) {
        console.error(`cloudflare_load ${mode}: ${res.errors} errors, ` +
            `first: ${res.firstError}`);
    }
}

main().then(() => {
    gwAgent.destroy();
    apiAgent.destroy();
    process.exit(0);
}, (e) => fail(e.stack || e.message));
