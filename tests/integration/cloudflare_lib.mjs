// Shared by the cloudflare_*.test.mjs files: the shipped
// configuration started through the harness, the official MCP SDK client,
// the sandbox's control endpoint and its API (to count tokens without
// the gateway), and a recording proxy that can stand between the gateway
// and the sandbox to capture, refuse or lose answers.

import assert from 'node:assert/strict';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from
    '@modelcontextprotocol/sdk/client/streamableHttp.js';

import { ROOT, freePort, shippedConfig, startGateway } from './harness.mjs';

export const SEED = fs.readFileSync(path.join(ROOT, 'conf/sandbox.token'),
    'utf8').trim();
export const SEED_ID = '5eed5a4db0c5e0000000000000000001';

// Accounts and zones the sandbox is seeded with.
export const A1 = '023e105f4ecef8ad9ca31a8372d0c353';
export const A1_NAME = 'Sandbox Account';
export const A2 = '01a7362d577a6c3019a474fd6f485823'; // "...Second Account"
export const Z_COM = '9a7806061c88ada191ed06f989cc3dac'; // example.com, A1
export const Z_ORG = 'eb78d65290b24279ba6f44721b3ea3c4'; // example.org, A1
export const Z_SHARED_A1 = '22b1de5f1c0e4b3ea97bb1e963b06a43'; // shared.example
export const Z_SHARED_A2 = '372e67954025e0ba6aaa6d586b9e0b59'; // shared.example
export const Z_SECOND = 'd56084adb405e0b7e32c52321bf07be6'; // second.example

export const PG = {
    workersScriptsWrite: 'e086da7e2179491d91ee5f35b3ca210a',
    workersAiRead: 'a92d2450e05d4e7bb7d0a64968f83d11',
    d1Write: '09b2857d1c31407795e75e3fed8617a1',
    d1Read: '192192df92ee43ac90f2aeeffce67e35',
    vectorizeWrite: '1f2e3d4c5b6a79808796a5b4c3d2e1f1',
    dnsWrite: '4755a26eedb94da69e1066d98aa820be',
    dnsRead: '82e64a83756745bbbb1c9c2701bf816b',
    zoneRead: 'c8fed203ed3043cba015a93ad1616f1f',
    logsWriteZone: '96163bd1b0784f62b3e44ed8c2ab1eb6',
    logsWriteAccount: '9cc17e5ab58a4e5ea1ec4cbc7ba9ea25',
    accountSettingsRead: 'c1fde68c7bcc44588cbb6ddbc16d6480',
};

export const ACCOUNT = 'com.cloudflare.api.account.';
export const ZONE = 'com.cloudflare.api.account.zone.';
export const ALL_ZONES = 'com.cloudflare.api.account.zone.*';
export const TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;

export const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// "2026-12-03T14:00:00Z" for a time in ms; whole seconds, UTC.
export function iso(ms) {
    return new Date(Math.floor(ms / 1000) * 1000).toISOString()
        .replace(/\.\d{3}Z$/, 'Z');
}

export const secs = (s) => Date.parse(s) / 1000;

// The shipped conf/mcpgw.conf on free ports; `edit(conf, sandboxPort)`
// may change it further (a lower timeout, the API through a proxy).
export async function startShipped(edit = (c) => c) {
    let sandboxPort;
    const gw = await startGateway({
        conf: async (port) => {
            const conf = await shippedConfig(port);
            sandboxPort = sandboxPortOf(conf);
            return edit(conf, sandboxPort);
        },
    });
    gw.sandbox = `http://127.0.0.1:${sandboxPort}`;
    await waitForLog(gw, /Cloudflare token verified: active/);
    return gw;
}

// The sandbox's port: `listen = "127.0.0.1:NNNN"` in the cfsandbox block.
export function sandboxPortOf(conf) {
    const block = conf.slice(conf.indexOf('cfsandbox = {'));
    const m = block.match(/listen\s*=\s*"127\.0\.0\.1:(\d+)"/);
    assert.ok(m, 'the shipped configuration has a cfsandbox listen');
    return Number(m[1]);
}

// The shipped cloudflare block pointed elsewhere, or with a timeout.
export function withApi(conf, url) {
    const out = conf.replace(/api = "http:\/\/127\.0\.0\.1:\d+\/client\/v4";/,
        `api = "${url}";`);
    assert.notEqual(out, conf, 'the cloudflare api line was replaced');
    return out;
}

export function withTimeout(conf, ms) {
    // Not body_timeout in the http block: the line of its own.
    const out = conf.replace(/^(\s*)timeout = 30000;/m, `$1timeout = ${ms};`);
    assert.notEqual(out, conf, 'the cloudflare timeout line was replaced');
    return out;
}

export async function waitForLog(gw, re, ms = 10000) {
    const end = Date.now() + ms;
    while (Date.now() < end) {
        if (re.test(gw.errorLog())) {
            return;
        }
        await sleep(50);
    }
    assert.fail(`the error log never matched ${re}:\n${gw.errorLog()}`);
}

export function accessLog(gw) {
    const f = path.join(gw.prefix, 'logs/access.log');
    return fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '';
}

export async function connect(gw, name = 'cloudflare-write-test') {
    const client = new Client({ name, version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(gw.url)));
    // Caches each tool's outputSchema: every later result, error results
    // included, is validated against it by the SDK.
    const { tools } = await client.listTools();
    return { client, tools };
}

// Every result the gateway sent, by tool, to look for secrets afterwards.
export const seen = [];

// Call a tool; the first text block must be the structuredContent.
export async function call(client, name, args = {}) {
    const res = await client.callTool({ name, arguments: args });
    assert.ok(res.structuredContent, `${name} returned structuredContent`);
    assert.equal(res.content[0].type, 'text');
    assert.deepEqual(JSON.parse(res.content[0].text), res.structuredContent);
    seen.push({ tool: name, text: JSON.stringify(res) });
    return res;
}

export function assertOk(res) {
    assert.equal(res.isError, false, JSON.stringify(res.structuredContent));
    return res.structuredContent;
}

export function assertError(res, code, re) {
    assert.equal(res.isError, true, JSON.stringify(res));
    const err = res.structuredContent.error;
    assert.ok(err, JSON.stringify(res.structuredContent));
    assert.equal(err.code, code, JSON.stringify(err));
    if (re) {
        assert.match(err.message, re);
    }
    return err;
}

// ------------------------------------------------------------------
// The sandbox: control endpoint and API, straight, not via the gateway.

export async function control(sb, method, what, body) {
    const res = await fetch(`${sb}/__sandbox/${what}`, {
        method,
        headers: { 'content-type': 'application/json' },
        body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await res.json();
    assert.equal(res.status, 200, JSON.stringify(json));
    return json.result;
}

export const fault = (sb, f) => control(sb, 'POST', 'faults', f);
export const clearFaults = (sb) => control(sb, 'DELETE', 'faults');
export const resetSandbox = (sb) => control(sb, 'POST', 'reset');

// Every token of an owner as the sandbox holds it (the seed token reads).
export async function sandboxTokens(sb, account) {
    const base = account ? `/accounts/${account}/tokens` : '/user/tokens';
    const out = [];
    for (let page = 1; page < 50; page++) {
        const res = await fetch(`${sb}/client/v4${base}?per_page=50&` +
            `page=${page}&include_expired=true`,
        { headers: { authorization: `Bearer ${SEED}` } });
        const json = await res.json();
        assert.equal(json.success, true, JSON.stringify(json));
        out.push(...json.result);
        if (json.result.length < 50) {
            return out;
        }
    }
    return out;
}

// What the sandbox holds, user and both accounts: names and ids, to
// prove that a refused call changed nothing.
export async function sandboxState(sb) {
    const all = [];
    for (const a of [null, A1, A2]) {
        for (const t of await sandboxTokens(sb, a)) {
            all.push(`${a || 'user'}:${t.id}:${t.name}:${t.modified_on}`);
        }
    }
    return all.sort();
}

// ------------------------------------------------------------------
// A recording proxy between the gateway and the sandbox (or Prism).
//
// `hook(req)` for each request, with req = {method, path, body, n}, may
// return undefined (forward as is), {reply: {status, headers, body}}
// (answer without forwarding), {forwardThenDrop: true} (forward, let the
// upstream act, then destroy the gateway's socket without an answer), or
// {forwardThenReply: {status, headers, body}} (forward, let the upstream
// act, then answer this instead of its answer; or a function of the
// recorded request, whose .answer holds the upstream's), or {drop: true}
// (destroy the socket at once, forwarding nothing).

export class Proxy {
    constructor(target) {
        this.target = new URL(target);
        this.requests = [];
        this.hook = () => undefined;
        this.server = http.createServer((req, res) => this.handle(req, res));
        this.sockets = new Set();
        this.server.on('connection', (s) => {
            this.sockets.add(s);
            s.on('close', () => this.sockets.delete(s));
        });
    }

    async listen(port = 0) {
        await new Promise((r) => this.server.listen(port, '127.0.0.1', r));
        this.port = this.server.address().port;
        return this;
    }

    get url() {
        return `http://127.0.0.1:${this.port}`;
    }

    // Requests as the gateway sent them: method, path without
    // /client/v4, parsed JSON body or null.
    count(method, re) {
        return this.requests.filter((r) => r.method === method &&
            re.test(r.path)).length;
    }

    writes() {
        return this.requests.filter((r) => r.method !== 'GET')
            .map((r) => `${r.method} ${r.path}`);
    }

    // Apply `action` to the first request of `method` whose path matches
    // `re` (a RegExp or an exact path); every other request goes through.
    once(method, re, action) {
        let done = false;
        const match = typeof re === 'string' ? (p) => p === re
            : (p) => re.test(p);
        this.hook = (r) => {
            if (!done && r.method === method && match(r.path)) {
                done = true;
                return action;
            }
            return undefined;
        };
    }

    async handle(req, res) {
        const chunks = [];
        for await (const c of req) {
            chunks.push(c);
        }
        const raw = Buffer.concat(chunks).toString('utf8');
        let body = null;
        try {
            body = raw ? JSON.parse(raw) : null;
        } catch {
            body = raw;
        }
        const url = new URL(req.url, 'http://x');
        const rec = {
            method: req.method,
            path: url.pathname.replace(/^\/client\/v4/, ''),
            search: url.search,
            body, raw,
            n: this.requests.length,
        };
        this.requests.push(rec);

        const action = this.hook(rec) || {};
        if (action.drop) {
            req.socket.destroy();
            return;
        }
        if (action.reply) {
            const { status = 200, headers = {}, body: b } = action.reply;
            const text = typeof b === 'string' ? b : JSON.stringify(b);
            res.writeHead(status, { 'content-type': 'application/json',
                ...headers });
            res.end(text);
            return;
        }

        res.on('error', () => {});
        let upstream;
        try {
            upstream = await this.forward(req, raw);
        } catch (e) {
            rec.error = String(e);
            req.socket.destroy();
            return;
        }
        rec.status = upstream.status;
        rec.answer = upstream.text;
        rec.headers = upstream.headers;
        if (this.onAnswer) {
            this.onAnswer(rec);
        }
        if (action.forwardThenDrop) {
            req.socket.destroy();
            return;
        }
        if (action.forwardThenReply) {
            const { status = 200, headers = {}, body: b } =
                typeof action.forwardThenReply === 'function'
                    ? action.forwardThenReply(rec) : action.forwardThenReply;
            res.writeHead(status, { 'content-type': 'application/json',
                ...headers });
            res.end(typeof b === 'string' ? b : JSON.stringify(b));
            return;
        }
        const headers = {};
        for (const [k, v] of Object.entries(upstream.headers)) {
            if (!['connection', 'keep-alive', 'transfer-encoding',
                'content-length'].includes(k)) {
                headers[k] = v;
            }
        }
        res.writeHead(upstream.status, headers);
        res.end(upstream.text);
    }

    forward(req, raw) {
        const headers = { ...req.headers };
        delete headers.host;
        delete headers.connection;
        headers['content-length'] = Buffer.byteLength(raw);
        const base = this.target.pathname.replace(/\/$/, '');
        const url = new URL(req.url, 'http://x');
        const p = base + url.pathname.replace(/^\/client\/v4/, '') +
            url.search;
        return new Promise((resolve, reject) => {
            const up = http.request({
                host: this.target.hostname, port: this.target.port,
                method: req.method, path: p, headers,
                agent: false,
            }, (r) => {
                const cs = [];
                r.on('data', (c) => cs.push(c));
                r.on('end', () => resolve({ status: r.statusCode,
                    headers: r.headers,
                    text: Buffer.concat(cs).toString('utf8') }));
                r.on('error', reject);
            });
            up.on('error', reject);
            up.end(raw);
        });
    }

    async close() {
        for (const s of this.sockets) {
            s.destroy();
        }
        await new Promise((r) => this.server.close(r));
    }
}

// A gateway on the shipped configuration whose Cloudflare API goes
// through a Proxy in front of its own sandbox.
export async function startProxied({ timeout } = {}) {
    const proxy = new Proxy('http://127.0.0.1:1');
    await proxy.listen();
    const gw = await startShipped((conf, sbPort) => {
        proxy.target = new URL(`http://127.0.0.1:${sbPort}/client/v4`);
        let c = withApi(conf, `${proxy.url}/client/v4`);
        if (timeout) {
            c = withTimeout(c, timeout);
        }
        return c;
    });
    return { gw, proxy };
}

export { freePort, ROOT };
