// The command line and API keys: -v, -t with every error as file:line,
// -k minting a key whose line works when pasted into the configuration,
// 401 with WWW-Authenticate for a missing or wrong key, and the loader
// refusing a module built for another ABI.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from
    '@modelcontextprotocol/sdk/client/streamableHttp.js';

import { BIN, ROOT, startGateway, testConfig, freePort, post }
    from './harness.mjs';

function run(args, opts = {}) {
    return spawnSync(BIN, args, { encoding: 'utf8', ...opts });
}

function tempConf(text) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcpgw-cli-'));
    fs.writeFileSync(path.join(dir, 'mcpgw.conf'), text);
    return dir;
}

test('-v prints the version and the build signature', () => {
    const r = run(['-v']);
    assert.equal(r.status, 0);
    assert.match(r.stdout, /^mcpgw \d+\.\d+\.\d+/);
    assert.match(r.stdout, /build signature abi=1,ptr=8,/);
});

test('-t accepts the shipped configuration', () => {
    const r = run(['-t', '-c', 'conf/mcpgw.conf'], { cwd: ROOT });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /configuration .*mcpgw\.conf is ok/);
});

test('-t reports every error as file:line and exits 1', () => {
    const dir = tempConf('http = {\n  max_body_size = 5;\n  lisen = "x";\n};\n' +
                         'mcp = { page_size = "ten"; };\n');
    const r = run(['-t', '-p', dir, '-c', 'mcpgw.conf']);
    assert.equal(r.status, 1);
    const file = path.join(dir, 'mcpgw.conf');
    assert.match(r.stderr, new RegExp(`${file}:2: "max_body_size" is 5`));
    assert.match(r.stderr, new RegExp(`${file}:3: unknown setting "lisen"`));
    assert.match(r.stderr,
        new RegExp(`${file}:5: "page_size" must be an integer, not a string`));
    assert.match(r.stderr, /configuration has 3 errors/);
    fs.rmSync(dir, { recursive: true });
});

test('a module built for another ABI is refused, naming what differs',
    async () => {
        const port = await freePort();
        const dir = tempConf(testConfig(port, { modules: ['badabi'] }));
        const r = run(['-t', '-p', dir, '-c', 'mcpgw.conf']);
        assert.equal(r.status, 1);
        assert.match(r.stderr, /module ".*mod_badabi\.so" was built for module ABI version 2, this gateway has version 1/);
        fs.rmSync(dir, { recursive: true });
    });

test('a missing module is refused with the path tried', async () => {
    const port = await freePort();
    const dir = tempConf(testConfig(port, { modules: ['nosuch'] }));
    const r = run(['-t', '-p', dir, '-c', 'mcpgw.conf']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /cannot load module "nosuch": .*mod_nosuch\.so/);
    fs.rmSync(dir, { recursive: true });
});

function mint(name) {
    const r = run(['-k', name]);
    assert.equal(r.status, 0, r.stderr);
    const key = r.stdout.match(/^\s+(mgk_[A-Za-z0-9_-]{43})$/m)[1];
    const line = r.stdout.match(/^\s+(\{ name = .*\})$/m)[1];
    return { key, line };
}

test('-k mints a key; its line works in clients.keys; others get 401',
    async () => {
        const ci = mint('ci-pipeline');
        const other = mint('other');
        assert.notEqual(ci.key, other.key);
        assert.doesNotMatch(ci.line, new RegExp(ci.key), 'only the hash');

        const gw = await startGateway({
            over: {
                clients: `clients = { anonymous = { enabled = false; }; ` +
                    `keys = ( ${ci.line} ); };`,
            },
        });
        try {
            const transport = new StreamableHTTPClientTransport(
                new URL(gw.url),
                { requestInit: { headers: {
                    authorization: `Bearer ${ci.key}` } } });
            const client = new Client({ name: 'keyed', version: '1' });
            await client.connect(transport);
            const res = await client.callTool({
                name: 'echo', arguments: { text: 'k' } });
            assert.equal(res.structuredContent.client, 'ci-pipeline');
            await client.close();

            const init = {
                jsonrpc: '2.0', id: 1, method: 'initialize',
                params: { protocolVersion: '2025-11-25', capabilities: {},
                          clientInfo: { name: 'x', version: '1' } },
            };
            for (const auth of [undefined, `Bearer ${other.key}`,
                                'Bearer ', 'Basic abc', ci.key]) {
                const r = await post(gw, init,
                    auth ? { authorization: auth } : {});
                assert.equal(r.status, 401, `${auth}: ${r.text}`);
                assert.match(r.headers.get('www-authenticate'),
                    /^Bearer realm="mcpgw"/);
                assert.equal(r.json.error.code, -32000);
            }

            const log = fs.readFileSync(
                path.join(gw.prefix, 'logs/access.log'), 'utf8') +
                gw.errorLog();
            assert.ok(!log.includes(ci.key), 'the key is never logged');
            assert.ok(!log.includes(other.key), 'the key is never logged');
        } finally {
            await gw.stop();
        }
    });

test('-t accepts conf/cloudflare.conf.example once its token is set',
    () => {
        const env = { ...process.env, CLOUDFLARE_API_TOKEN: 'x'.repeat(40) };
        let r = run(['-t', '-c', 'conf/cloudflare.conf.example'],
            { cwd: ROOT, env });
        assert.equal(r.status, 0, r.stderr);

        delete env.CLOUDFLARE_API_TOKEN;
        r = run(['-t', '-c', 'conf/cloudflare.conf.example'],
            { cwd: ROOT, env });
        assert.equal(r.status, 1);
        assert.match(r.stderr, /cloudflare\.conf\.example:\d+: token_env: the environment variable "CLOUDFLARE_API_TOKEN" is not set/);
    });

test('-t names a misspelt module and the block it leaves orphaned', () => {
    const dir = tempConf(
        `modules = { path = "${ROOT}/objs/modules"; ` +
        'load = [ "cfsandbox", "cloudfare" ]; };\n' +
        'cloudflare = { token_file = "x"; };\n');
    const r = run(['-t', '-p', dir, '-c', 'mcpgw.conf']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /mcpgw\.conf:1: cannot load module "cloudfare"/);
    assert.match(r.stderr, /mcpgw\.conf:2: unknown setting "cloudflare"/);
    fs.rmSync(dir, { recursive: true });
});
