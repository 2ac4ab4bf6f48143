// Memory load for bench/run.sh: plain node, no packages.
//
//   node bench/mem.mjs sessions    URL N   initialize N sessions (8 at a
//                                          time on keep-alive connections),
//                                          then exit
//   node bench/mem.mjs connections URL N   open N keep-alive connections,
//                                          each with its own session
//                                          (initialize, then one echo
//                                          tools/call on the same
//                                          connection), print "READY", and
//                                          hold them until SIGTERM, SIGINT
//                                          or the deadline
//
// Every step is bounded: BENCH_MEM_DEADLINE seconds in all (default 120).
// The last line on stdout is "READY n=..." or "DONE n=..."; errors go to
// stderr and give exit status 1.

import http from 'node:http';

const [mode, url, countArg] = process.argv.slice(2);
const count = Number(countArg || 1000);
const deadline = Number(process.env.BENCH_MEM_DEADLINE || 120) * 1000;

if (!['sessions', 'connections'].includes(mode) || !url ||
    !(count > 0)) {
    console.error('usage: node mem.mjs sessions|connections URL N');
    process.exit(2);
}

const timer = setTimeout(() => {
    console.error(`mem.mjs: deadline of ${deadline / 1000} s reached`);
    process.exit(ready ? 0 : 1);
}, deadline);

let ready = false;

const HEADERS = {
    'content-type': 'application/json',
    accept: 'application/json',
    'mcp-protocol-version': '2025-11-25',
};

const INIT = JSON.stringify({
    jsonrpc: '2.0', id: 1, method: 'initialize',
    params: {
        protocolVersion: '2025-11-25', capabilities: {},
        clientInfo: { name: 'mcpgw-bench', version: '1' },
    },
});

const CALL = JSON.stringify({
    jsonrpc: '2.0', id: 2, method: 'tools/call',
    params: { name: 'echo', arguments: { text: 'hello' } },
});

// One POST on the given agent; resolves with status, headers, body and
// the socket it went over.
function post(agent, body, extra = {}) {
    return new Promise((resolve, reject) => {
        const req = http.request(url, {
            method: 'POST', agent,
            headers: { ...HEADERS, ...extra,
                       'content-length': Buffer.byteLength(body) },
            timeout: 15000,
        }, (res) => {
            const chunks = [];
            res.on('data', (c) => chunks.push(c));
            res.on('end', () => resolve({
                status: res.statusCode, headers: res.headers,
                body: Buffer.concat(chunks).toString(), socket: req.socket,
            }));
            res.on('error', reject);
        });
        req.on('timeout', () => req.destroy(new Error('request timed out')));
        req.on('error', reject);
        req.end(body);
    });
}

async function initialize(agent) {
    const r = await post(agent, INIT);
    const sid = r.headers['mcp-session-id'];
    if (r.status !== 200 || !sid) {
        throw new Error(`initialize: HTTP ${r.status} ${r.body}`);
    }
    return { sid, socket: r.socket };
}

// Run fn(i) for i in [0, n) with at most `width` in flight.
async function pool(n, width, fn) {
    let next = 0;
    const workers = Array.from({ length: Math.min(width, n) }, async () => {
        while (next < n) {
            await fn(next++);
        }
    });
    await Promise.all(workers);
}

async function sessions() {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 8 });
    const ids = new Set();
    await pool(count, 8, async () => {
        ids.add((await initialize(agent)).sid);
    });
    agent.destroy();
    if (ids.size !== count) {
        throw new Error(`${ids.size} distinct session ids for ${count}`);
    }
    console.log(`DONE n=${ids.size}`);
}

async function connections() {
    const agents = [];
    const sockets = new Set();
    // 50 at a time, so the listen backlog never drops a SYN.
    await pool(count, 50, async (i) => {
        const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
        agents[i] = agent;
        const { sid, socket } = await initialize(agent);
        const r = await post(agent, CALL, { 'mcp-session-id': sid });
        if (r.status !== 200 || !r.body.includes('"isError":false')) {
            throw new Error(`tools/call: HTTP ${r.status} ${r.body}`);
        }
        if (r.socket !== socket) {
            throw new Error('the call did not reuse the connection');
        }
        sockets.add(socket);
    });
    if (sockets.size !== count) {
        throw new Error(`${sockets.size} connections open, wanted ${count}`);
    }
    ready = true;
    console.log(`READY n=${sockets.size}`);

    const stop = () => {
        ready = false;
        for (const a of agents) {
            a.destroy();
        }
        clearTimeout(timer);
        // Let the FINs go out before exiting.
        setTimeout(() => process.exit(0), 100);
    };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
    // A connection the gateway closes is an error for this measurement.
    for (const s of sockets) {
        s.on('close', () => {
            if (ready) {
                console.error('mem.mjs: the gateway closed a connection');
            }
        });
    }
}

try {
    if (mode === 'sessions') {
        await sessions();
        clearTimeout(timer);
    } else {
        await connections();
    }
} catch (e) {
    console.error(`mem.mjs: ${e.message}`);
    process.exit(1);
}
