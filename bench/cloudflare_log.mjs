// Upstream requests per operation, from the gateway's access log, for
// bench/cloudflare.sh: plain node, no packages.
//
//   node bench/cloudflare_log.mjs ACCESS_LOG FROM_BYTE TO_BYTE
//
// Reads the log lines between the two byte offsets (the log's size
// before and after one measured phase) and prints, one per line:
//
//   MCP <tool> <count>
//   UP <METHOD> <path, 32-hex ids as {id}> <count> <connections> <new>
//
// where UP lines are the sandbox's requests (path /client/v4/...), i.e.
// the gateway's upstream requests, <connections> the distinct connection
// numbers they came on, and <new> how many of those connections carried
// no request before this phase (opened during it).  The sandbox runs in
// the gateway's process and logs to the same file.

import fs from 'node:fs';

const [file, fromArg, toArg] = process.argv.slice(2);
const from = Number(fromArg);
const to = Number(toArg);

if (!file || !(from >= 0) || !(to >= from)) {
    console.error('usage: node cloudflare_log.mjs ACCESS_LOG FROM TO');
    process.exit(2);
}

const fd = fs.openSync(file, 'r');
const before = Buffer.alloc(from);
fs.readSync(fd, before, 0, from, 0);
const buf = Buffer.alloc(to - from);
fs.readSync(fd, buf, 0, to - from, from);
fs.closeSync(fd);

const seen = new Set();
for (const line of before.toString().split('\n')) {
    const m = /"conn":(\d+)/.exec(line);
    if (m) {
        seen.add(m[1]);
    }
}

const mcp = new Map();
const up = new Map();

for (const line of buf.toString().split('\n')) {
    if (!line) {
        continue;
    }
    let r;
    try {
        r = JSON.parse(line);
    } catch {
        continue;
    }
    if (r.path && r.path.startsWith('/client/v4')) {
        const key = `${r.method} ${r.path.replace(/[0-9a-f]{32}/g, '{id}')}`;
        const e = up.get(key) || { n: 0, conns: new Set() };
        e.n++;
        e.conns.add(String(r.conn));
        up.set(key, e);
    } else if (r.tool) {
        mcp.set(r.tool, (mcp.get(r.tool) || 0) + 1);
    }
}

for (const [tool, n] of mcp) {
    console.log(`MCP ${tool} ${n}`);
}
for (const [key, e] of up) {
    const fresh = [...e.conns].filter((c) => !seen.has(c)).length;
    console.log(`UP ${key} ${e.n} ${e.conns.size} ${fresh}`);
}
