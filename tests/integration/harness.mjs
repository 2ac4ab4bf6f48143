// Starts the real objs/mcpgw on loopback with a configuration written for
// the test, and checks after it stops that neither its error log nor its
// stderr holds an alert or a sanitizer report.

import { spawn } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import assert from 'node:assert/strict';

export const ROOT = process.env.MCPGW_ROOT ||
    path.resolve(new URL('../..', import.meta.url).pathname);
export const BIN = process.env.MCPGW_BIN || path.join(ROOT, 'objs/mcpgw');

export async function freePort() {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.unref();
        srv.on('error', reject);
        srv.listen(0, '127.0.0.1', () => {
            const { port } = srv.address();
            srv.close(() => resolve(port));
        });
    });
}

// The configuration a test runs with; `extra` is appended verbatim and
// `over` replaces whole sections by name.
export function testConfig(port, { modules = ['test'], extra = '',
                                   over = {} } = {}) {
    const sections = {
        error_log: 'error_log = { path = "logs/error.log"; level = "info"; };',
        modules: `modules = { path = "${ROOT}/objs/tests/modules"; ` +
            `load = [ ${modules.map((m) => `"${m}"`).join(', ')} ]; };`,
        http: `http = { listen = [ "127.0.0.1:${port}" ]; ` +
            'max_body_size = 65536; keepalive_timeout = 2000; ' +
            'header_timeout = 2000; body_timeout = 2000; };',
        mcp: 'mcp = { session_key_file = "keys/session.key"; ' +
            'create_keys = true; page_size = 100; };',
        clients: 'clients = { anonymous = { enabled = true; ' +
            'role = "admin"; }; };',
        ...over,
    };
    return Object.values(sections).join('\n') + '\n' + extra + '\n';
}

// The shipped conf/mcpgw.conf, moved to free ports and absolute paths so
// a test runs exactly what users run without clashing with anything.
export async function shippedConfig(port) {
    const sandboxPort = await freePort();
    return fs.readFileSync(path.join(ROOT, 'conf/mcpgw.conf'), 'utf8')
        .replace(/"127\.0\.0\.1:8787"/, `"127.0.0.1:${port}"`)
        .replaceAll('127.0.0.1:8788', `127.0.0.1:${sandboxPort}`)
        .replace(/path = "objs\/modules";/, `path = "${ROOT}/objs/modules";`)
        .replaceAll('"conf/sandbox.token"',
            `"${path.join(ROOT, 'conf/sandbox.token')}"`);
}

const BAD_LOG = /\[(alert|emerg|crit)\]|AddressSanitizer|LeakSanitizer|runtime error:|UndefinedBehaviorSanitizer/;

export class Gateway {
    constructor({ port, prefix, conf, proc }) {
        this.port = port;
        this.prefix = prefix;
        this.conf = conf;
        this.proc = proc;
        this.stderr = '';
        this.exited = new Promise((resolve) => {
            proc.on('exit', (code, signal) => resolve({ code, signal }));
        });
        proc.stderr.on('data', (d) => { this.stderr += d; });
    }

    get url() {
        return `http://127.0.0.1:${this.port}/mcp`;
    }

    errorLog() {
        if (this.finalLog !== undefined) {
            return this.finalLog;
        }
        const f = path.join(this.prefix, 'logs/error.log');
        return fs.existsSync(f) ? fs.readFileSync(f, 'utf8') : '';
    }

    // Stop the gateway and assert that it left a clean record.
    async stop() {
        if (this.proc.exitCode === null && this.proc.signalCode === null) {
            this.proc.kill('SIGTERM');
        }
        const timer = setTimeout(() => this.proc.kill('SIGKILL'), 10000);
        const { code, signal } = await this.exited;
        clearTimeout(timer);
        const log = this.errorLog();
        assert.doesNotMatch(log, BAD_LOG, `error log has an alert:\n${log}`);
        assert.doesNotMatch(this.stderr, BAD_LOG,
            `stderr has a sanitizer report:\n${this.stderr}`);
        assert.equal(signal, null, `gateway died from ${signal}`);
        assert.equal(code, 0, `gateway exited with ${code}:\n${this.stderr}`);
        this.finalLog = log;
        fs.rmSync(this.prefix, { recursive: true, force: true });
    }
}

async function waitForPort(port, proc, ms = 15000) {
    const end = Date.now() + ms;
    while (Date.now() < end) {
        if (proc.exitCode !== null) {
            return false;
        }
        const ok = await new Promise((resolve) => {
            const s = net.connect(port, '127.0.0.1');
            s.on('connect', () => { s.destroy(); resolve(true); });
            s.on('error', () => resolve(false));
        });
        if (ok) {
            return true;
        }
        await new Promise((r) => setTimeout(r, 50));
    }
    return false;
}

// Start a gateway.  opts.conf(port) may give the whole configuration.
export async function startGateway(opts = {}) {
    const port = opts.port || await freePort();
    const prefix = fs.mkdtempSync(path.join(os.tmpdir(), 'mcpgw-test-'));
    const conf = opts.conf ? await opts.conf(port, prefix)
        : testConfig(port, opts);
    fs.mkdirSync(path.join(prefix, 'conf'));
    fs.writeFileSync(path.join(prefix, 'conf/mcpgw.conf'), conf);

    const proc = spawn(BIN, ['-p', prefix, '-c', 'conf/mcpgw.conf'], {
        stdio: ['ignore', 'pipe', 'pipe'],
        env: { ...process.env, ...(opts.env || {}) },
    });
    const gw = new Gateway({ port, prefix, conf, proc });

    if (!await waitForPort(port, proc)) {
        proc.kill('SIGKILL');
        await gw.exited;
        throw new Error(`gateway did not start:\n${gw.stderr}\n` +
                        gw.errorLog());
    }
    return gw;
}

// A raw POST to the endpoint, for what SDK clients never send.
export async function post(gw, body, headers = {}) {
    const res = await fetch(gw.url, {
        method: 'POST',
        headers: {
            'content-type': 'application/json',
            accept: 'application/json, text/event-stream',
            ...headers,
        },
        body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    const text = await res.text();
    let json = null;
    try {
        json = text ? JSON.parse(text) : null;
    } catch {
        json = null;
    }
    return { status: res.status, headers: res.headers, text, json };
}

// initialize over raw HTTP; returns the session id.
export async function rawSession(gw, version = '2025-11-25') {
    const r = await post(gw, {
        jsonrpc: '2.0', id: 0, method: 'initialize',
        params: {
            protocolVersion: version, capabilities: {},
            clientInfo: { name: 'raw', version: '1' },
        },
    });
    assert.equal(r.status, 200, r.text);
    return r.headers.get('mcp-session-id');
}
