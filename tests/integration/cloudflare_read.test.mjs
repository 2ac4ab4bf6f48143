// mod_cloudflare's read-only tools through the official MCP SDK client
// (which validates every structuredContent against the tool's
// outputSchema, error results included), against a gateway that runs the
// in-process Cloudflare sandbox and the cloudflare module on free ports.
// Tokens and faults are set through the sandbox's control endpoint.

import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from
    '@modelcontextprotocol/sdk/client/streamableHttp.js';

import { ROOT, freePort, startGateway } from './harness.mjs';
import { assertError, call, control as sbControl, seen }
    from './cloudflare_lib.mjs';

const SEED = fs.readFileSync(path.join(ROOT, 'conf/sandbox.token'), 'utf8')
    .trim();
const SEED_ID = '5eed5a4db0c5e0000000000000000001';
const A1 = '023e105f4ecef8ad9ca31a8372d0c353';
const A2 = '01a7362d577a6c3019a474fd6f485823';
const Z1 = '9a7806061c88ada191ed06f989cc3dac';

const PG = {
    zoneRead: 'c8fed203ed3043cba015a93ad1616f1f',
    dnsRead: '82e64a83756745bbbb1c9c2701bf816b',
    apiTokensWrite: '686d18d5ac6c441c867cbf6771e58a0a',
    accountSettingsRead: 'c1fde68c7bcc44588cbb6ddbc16d6480',
};

const TIME = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/;
const TOOLS = ['token_permission_groups_list', 'tokens_list', 'tokens_get',
    'tokens_verify'];

// Small on purpose: 26 user tokens at 5 per page need 6 pages, so a
// listing at that size is cut short.
const MAX_PAGES = 5;

function cloudflareConf(port, sbPort, { extra = '', sandbox = '',
                                               cloudflare = '' } = {}) {
    return `
error_log = { path = "logs/error.log"; level = "info"; };
access_log = "logs/access.log";
modules = { path = "${ROOT}/objs/modules"; load = [ "cfsandbox", "cloudflare" ]; };
http = { listen = [ "127.0.0.1:${port}" ]; keepalive_timeout = 2000;
         header_timeout = 2000; body_timeout = 2000; };
mcp = { session_key_file = "keys/session.key"; create_keys = true; };
clients = { anonymous = { enabled = true; role = "admin"; }; };
cfsandbox = { listen = "127.0.0.1:${sbPort}";
              seed_token_file = "${ROOT}/conf/sandbox.token"; ${sandbox} };
cloudflare = { api = "http://127.0.0.1:${sbPort}/client/v4";
               token_file = "${ROOT}/conf/sandbox.token";
               connect_timeout = 2000; timeout = 10000; cache_ttl = 300;
               ${cloudflare} };
${extra}
`;
}

async function waitForLog(gw, re, ms = 10000) {
    const end = Date.now() + ms;
    while (Date.now() < end) {
        if (re.test(gw.errorLog())) {
            return;
        }
        await new Promise((r) => setTimeout(r, 50));
    }
    assert.fail(`the error log never matched ${re}:\n${gw.errorLog()}`);
}

async function connect(gw) {
    const client = new Client({ name: 'cloudflare-read-test', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(gw.url)));
    // Caches the outputSchemas: every later result is validated by the SDK.
    const { tools } = await client.listTools();
    return { client, tools };
}

// Every text the gateway sent back, to search for secrets at the end.
let gw;
let sb;
let client;

// The sandbox's control endpoint, straight.
const control = (method, what, body) => sbControl(sb, method, what, body);

const fault = (f) => control('POST', 'faults', f);

function userToken(name, extra = {}) {
    return control('POST', 'tokens', {
        name,
        policies: [{
            effect: 'allow',
            permission_groups: [{ id: PG.zoneRead }, { id: PG.dnsRead }],
            resources: { [`com.cloudflare.api.account.zone.${Z1}`]: '*' },
        }],
        ...extra,
    });
}

function accountToken(account, name) {
    return control('POST', 'tokens', {
        owner: account,
        name,
        policies: [{
            effect: 'allow',
            permission_groups: [{ id: PG.accountSettingsRead }],
            resources: { [`com.cloudflare.api.account.${account}`]: '*' },
        }],
    });
}

async function seedUserTokens(n) {
    const out = [];
    for (let i = 0; i < n; i++) {
        out.push(await userToken(`ci-token-${String(i).padStart(2, '0')}`));
    }
    return out;
}

before(async () => {
    const sbPort = await freePort();
    sb = `http://127.0.0.1:${sbPort}`;
    gw = await startGateway({
        conf: (port) => cloudflareConf(port, sbPort, {
            cloudflare: `max_pages = ${MAX_PAGES};`,
        }),
    });
    await waitForLog(gw, /Cloudflare token verified: active, can manage user tokens/);
    ({ client } = await connect(gw));
});

after(async () => {
    await client?.close();
    const access = fs.readFileSync(path.join(gw.prefix, 'logs/access.log'),
        'utf8');
    await gw.stop();
    const log = gw.errorLog();

    assert.ok(seen.length > 20, 'results were collected');
    for (const { text } of seen) {
        assert.ok(!text.includes(SEED), 'a result holds the gateway token');
    }
    assert.ok(!log.includes(SEED), 'error.log holds the gateway token');
    assert.ok(!access.includes(SEED), 'access.log holds the gateway token');
    assert.match(log, /names cache: 46 permission groups loaded/);
});

beforeEach(async () => {
    await control('POST', 'reset');
});

// One access log holds the MCP endpoint's requests and the sandbox's (the
// gateway's upstream calls): each line names its server.
test('access log lines name their server: mcp or the module', async () => {
    await call(client, 'tokens_list', {});
    const lines = fs.readFileSync(path.join(gw.prefix, 'logs/access.log'),
        'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l));
    const mcp = lines.filter((e) => e.path === '/mcp');
    const api = lines.filter((e) => e.path.startsWith('/client/v4/'));
    assert.ok(mcp.length > 0 && api.length > 0, 'both kinds were logged');
    for (const e of mcp) {
        assert.equal(e.server, 'mcp', JSON.stringify(e));
    }
    for (const e of api) {
        assert.equal(e.server, 'cfsandbox', JSON.stringify(e));
    }
    assert.deepEqual(Object.keys(lines[0]).slice(0, 3),
        ['time', 'server', 'conn']);
});

// The access log tells a refused call from one that worked.
test('access log lines say how a tools/call ended', async () => {
    const logFile = path.join(gw.prefix, 'logs/access.log');
    const calls = () => fs.readFileSync(logFile, 'utf8').split('\n')
        .filter(Boolean).map((l) => JSON.parse(l))
        .filter((e) => e.rpc === 'tools/call');
    const before = calls().length;

    await call(client, 'tokens_list', {});
    await call(client, 'tokens_get', { token_id: '0'.repeat(32) });
    await assert.rejects(client.callTool({ name: 'tokens_lst',
        arguments: {} }), (e) => e.code === -32602);

    const [ok, failed, unknown] = calls().slice(before);
    assert.equal(ok.tool, 'tokens_list');
    assert.equal(ok.outcome, 'ok');
    assert.ok(!('tool_error' in ok) && !('rpc_error' in ok));
    assert.equal(failed.tool, 'tokens_get');
    assert.equal(failed.outcome, 'error');
    assert.equal(failed.tool_error, 'cloudflare_error');
    assert.equal(unknown.tool, 'tokens_lst');
    assert.equal(unknown.rpc_error, -32602);
    assert.ok(!('outcome' in unknown));
    for (const e of [ok, failed, unknown]) {
        assert.equal(e.status, 200);
    }
});

describe('tools/list', () => {
    test('lists the four read tools with full metadata', async () => {
        const { tools } = await connect(gw);
        for (const name of TOOLS) {
            const t = tools.find((x) => x.name === name);
            assert.ok(t, `${name} is listed`);
            assert.ok(t.title && t.title.length > 5);
            assert.ok(t.description.length > 150, `${name} explains itself`);
            assert.equal(t.inputSchema.type, 'object');
            assert.equal(t.inputSchema.additionalProperties, false);
            assert.deepEqual(t.inputSchema.properties.account_id.pattern,
                '^[0-9a-f]{32}$');
            assert.equal(t.outputSchema.type, 'object');
            assert.ok(t.outputSchema.properties.error, 'admits {error}');
            const { readOnlyHint, destructiveHint, idempotentHint,
                openWorldHint } = t.annotations;
            assert.deepEqual({ readOnlyHint, destructiveHint, idempotentHint,
                openWorldHint }, {
                readOnlyHint: true, destructiveHint: false,
                idempotentHint: true, openWorldHint: true,
            });
        }
        const get = tools.find((x) => x.name === 'tokens_get');
        assert.deepEqual(get.inputSchema.required, ['token_id']);
        const list = tools.find((x) => x.name === 'tokens_list');
        assert.equal(list.inputSchema.properties.per_page.minimum, 5);
        assert.equal(list.inputSchema.properties.per_page.maximum, 50);
    });
});

describe('token_permission_groups_list', () => {
    test('all groups, from the names cache', async () => {
        const res = await call(client, 'token_permission_groups_list');
        assert.equal(res.isError, false);
        const groups = res.structuredContent.permission_groups;
        assert.equal(groups.length, 46);
        for (const g of groups) {
            assert.match(g.id, /^[0-9a-f]{32}$/);
            assert.ok(g.name);
            assert.ok(Array.isArray(g.scopes) && g.scopes.length === 1);
        }
    });

    test('name: exact, and case-insensitive part', async () => {
        let res = await call(client, 'token_permission_groups_list',
            { name: 'DNS Write' });
        assert.deepEqual(res.structuredContent.permission_groups.map(
            (g) => g.name), ['DNS Write']);

        res = await call(client, 'token_permission_groups_list',
            { name: 'dns' });
        const names = res.structuredContent.permission_groups.map(
            (g) => g.name);
        assert.ok(names.includes('DNS Read') && names.includes('DNS Write'));
        assert.ok(names.every((n) => /dns/i.test(n)));

        res = await call(client, 'token_permission_groups_list',
            { name: 'Logs Write' });
        const scopes = res.structuredContent.permission_groups.map(
            (g) => g.scopes[0]).sort();
        assert.deepEqual(scopes, ['com.cloudflare.api.account',
            'com.cloudflare.api.account.zone']);
    });

    test('scope: full or short', async () => {
        const full = await call(client, 'token_permission_groups_list',
            { scope: 'com.cloudflare.api.account.zone' });
        const short = await call(client, 'token_permission_groups_list',
            { scope: 'zone' });
        assert.ok(full.structuredContent.permission_groups.length > 5);
        assert.deepEqual(short.structuredContent, full.structuredContent);
        for (const g of full.structuredContent.permission_groups) {
            assert.deepEqual(g.scopes, ['com.cloudflare.api.account.zone']);
        }
        const user = await call(client, 'token_permission_groups_list',
            { scope: 'user', name: 'api tokens' });
        assert.deepEqual(user.structuredContent.permission_groups.map(
            (g) => g.name).sort(), ['API Tokens Read', 'API Tokens Write']);
    });

    test('account_id: that account\'s groups, no user groups', async () => {
        const res = await call(client, 'token_permission_groups_list',
            { account_id: A1 });
        assert.equal(res.isError, false);
        const groups = res.structuredContent.permission_groups;
        assert.ok(groups.length > 30);
        assert.ok(!groups.some((g) => g.scopes[0] ===
            'com.cloudflare.api.user'));
        const filtered = await call(client, 'token_permission_groups_list',
            { account_id: A1, name: 'account api tokens' });
        assert.deepEqual(filtered.structuredContent.permission_groups.map(
            (g) => g.name).sort(),
        ['Account API Tokens Read', 'Account API Tokens Write']);
    });

    test('an unknown account is a clean Cloudflare error', async () => {
        const res = await call(client, 'token_permission_groups_list',
            { account_id: 'f'.repeat(32) });
        const err = assertError(res, 'cloudflare_error', /7003.*HTTP 404/);
        assert.equal(err.details.status, 404);
        assert.equal(err.details.cloudflare_errors[0].code, 7003);
    });
});

describe('tokens_list', () => {
    test('user tokens: every page, complete', async () => {
        await seedUserTokens(25);
        const res = await call(client, 'tokens_list', { per_page: 10 });
        assert.equal(res.isError, false);
        const s = res.structuredContent;
        assert.equal(s.tokens.length, 26);
        assert.equal(s.complete, true);
        assert.equal(s.next_page, null);
        assert.equal(s.result_info.pages_read, 3);
        assert.equal(s.result_info.total_count, 26);
        assert.equal(s.result_info.count, 26);
        assert.ok(s.tokens.some((t) => t.id === SEED_ID));
        assert.equal(new Set(s.tokens.map((t) => t.id)).size, 26);
        for (const t of s.tokens) {
            assert.ok(!('value' in t), 'no secret in a listing');
            assert.match(t.issued_on, TIME);
        }
        const one = s.tokens.find((t) => t.name === 'ci-token-07');
        assert.deepEqual(
            one.policies[0].permission_groups.map((g) => g.name),
            ['Zone Read', 'DNS Read']);
    });

    test('default: every page at 50 per page', async () => {
        await seedUserTokens(25);
        const res = await call(client, 'tokens_list');
        assert.equal(res.structuredContent.tokens.length, 26);
        assert.equal(res.structuredContent.result_info.per_page, 50);
        assert.equal(res.structuredContent.result_info.pages_read, 1);
        assert.equal(res.structuredContent.complete, true);
    });

    test('page: that page only, complete false', async () => {
        await seedUserTokens(25);
        const res = await call(client, 'tokens_list',
            { page: 2, per_page: 5 });
        const s = res.structuredContent;
        assert.equal(s.tokens.length, 5);
        assert.equal(s.complete, false);
        assert.equal(s.next_page, 3);
        assert.equal(s.result_info.page, 2);
        assert.equal(s.result_info.pages_read, 1);
        assert.match(s.note, /page=3/);
    });

    test('a listing longer than max_pages is cut and says so',
        async () => {
            await seedUserTokens(25);
            const res = await call(client, 'tokens_list', { per_page: 5 });
            const s = res.structuredContent;
            assert.equal(res.isError, false);
            assert.equal(s.tokens.length, 25);
            assert.equal(s.complete, false);
            assert.equal(s.next_page, MAX_PAGES + 1);
            assert.equal(s.result_info.pages_read, MAX_PAGES);
            assert.match(s.note, new RegExp(`page=${MAX_PAGES + 1}`));
        });

    test('name_contains: case-insensitive, over every page', async () => {
        await seedUserTokens(25);
        const res = await call(client, 'tokens_list',
            { name_contains: 'CI-TOKEN-1', per_page: 10 });
        const names = res.structuredContent.tokens.map((t) => t.name).sort();
        assert.equal(names.length, 10);
        assert.equal(names[0], 'ci-token-10');
        assert.equal(res.structuredContent.result_info.count, 10);
        assert.equal(res.structuredContent.result_info.filtered_out, 16);
        assert.equal(res.structuredContent.result_info.total_count, 26);

        const all = await call(client, 'tokens_list', { per_page: 10 });
        assert.equal(all.structuredContent.result_info.count, 26);
        assert.equal(all.structuredContent.result_info.filtered_out, 0);
    });

    test('account tokens: every page of that account', async () => {
        for (let i = 0; i < 30; i++) {
            await accountToken(A1, `acct-${i}`);
        }
        await accountToken(A2, 'other-account');
        const res = await call(client, 'tokens_list',
            { account_id: A1, per_page: 10 });
        const s = res.structuredContent;
        assert.equal(s.tokens.length, 30);
        assert.equal(s.result_info.pages_read, 3);
        assert.equal(s.complete, true);
        assert.ok(s.tokens.every((t) => t.name.startsWith('acct-')));

        const other = await call(client, 'tokens_list', { account_id: A2 });
        assert.deepEqual(other.structuredContent.tokens.map((t) => t.name),
            ['other-account']);
    });
});

describe('tokens_get', () => {
    test('a user token, with group names and its condition', async () => {
        const t = await userToken('with-condition', {
            condition: { request_ip: { in: ['192.0.2.0/24'] } },
            expires_on: '2031-01-02T03:04:05Z',
        });
        const res = await call(client, 'tokens_get', { token_id: t.id });
        assert.equal(res.isError, false);
        const tok = res.structuredContent.token;
        assert.equal(tok.id, t.id);
        assert.equal(tok.name, 'with-condition');
        assert.equal(tok.status, 'active');
        assert.equal(tok.expires_on, '2031-01-02T03:04:05Z');
        assert.match(tok.issued_on, TIME);
        assert.deepEqual(tok.condition.request_ip.in, ['192.0.2.0/24']);
        assert.deepEqual(tok.policies[0].permission_groups.map(
            (g) => [g.id, g.name]),
        [[PG.zoneRead, 'Zone Read'], [PG.dnsRead, 'DNS Read']]);
        assert.ok(!('value' in tok));
    });

    test('the gateway\'s own token', async () => {
        const res = await call(client, 'tokens_get', { token_id: SEED_ID });
        const names = res.structuredContent.token.policies.flatMap(
            (p) => p.permission_groups.map((g) => g.name));
        assert.ok(names.includes('API Tokens Write'));
        assert.ok(names.includes('Account API Tokens Write'));
    });

    test('an account token needs its account_id', async () => {
        const t = await accountToken(A1, 'acct-get');
        const res = await call(client, 'tokens_get',
            { token_id: t.id, account_id: A1 });
        assert.equal(res.structuredContent.token.name, 'acct-get');
        assert.equal(res.structuredContent.token.policies[0]
            .permission_groups[0].name, 'Account Settings Read');

        const asUser = await call(client, 'tokens_get', { token_id: t.id });
        assertError(asUser, 'cloudflare_error',
            /HTTP 404.*an account owns is found only with that account_id/);
    });

    test('an unknown id is a clean Cloudflare error', async () => {
        const res = await call(client, 'tokens_get',
            { token_id: '0'.repeat(32) });
        const err = assertError(res, 'cloudflare_error',
            /error 7003.*HTTP 404.*tokens_list/);
        assert.equal(err.details.cloudflare_code, 7003);
        assert.equal(res.content[1].text, err.message);
    });
});

describe('tokens_verify', () => {
    test('the gateway\'s own token, with its policies', async () => {
        const res = await call(client, 'tokens_verify');
        const s = res.structuredContent;
        assert.equal(res.isError, false);
        assert.equal(s.id, SEED_ID);
        assert.equal(s.status, 'active');
        assert.equal(s.policies_known, true);
        assert.equal(s.name, 'Sandbox seed token');
        const names = s.policies.flatMap(
            (p) => p.permission_groups.map((g) => g.name));
        assert.ok(names.includes('API Tokens Write'));
    });

    test('a seeded token\'s secret', async () => {
        const t = await userToken('to-verify',
            { expires_on: '2032-05-06T07:08:09Z' });
        assert.ok(t.value);
        const res = await call(client, 'tokens_verify', { token: t.value });
        const s = res.structuredContent;
        assert.equal(s.id, t.id);
        assert.equal(s.status, 'active');
        assert.equal(s.expires_on, '2032-05-06T07:08:09Z');
        assert.equal(s.policies_known, true);
        assert.equal(s.name, 'to-verify');
        assert.deepEqual(s.policies[0].permission_groups.map((g) => g.name),
            ['Zone Read', 'DNS Read']);
        const text = JSON.stringify(res);
        assert.ok(!text.includes(t.value), 'the secret is not echoed');
    });

    test('an account token\'s secret with its account_id', async () => {
        const t = await accountToken(A2, 'acct-verify');
        const res = await call(client, 'tokens_verify',
            { token: t.value, account_id: A2 });
        assert.equal(res.structuredContent.id, t.id);
        assert.equal(res.structuredContent.policies_known, true);

        const asUser = await call(client, 'tokens_verify',
            { token: t.value });
        assertError(asUser, 'cloudflare_error', /Invalid API Token/);
        assert.ok(!JSON.stringify(asUser).includes(t.value));
    });

    test('an unknown or garbage secret is a clean error', async () => {
        const unknown = 'Q'.repeat(40);
        let res = await call(client, 'tokens_verify', { token: unknown });
        let err = assertError(res, 'cloudflare_error',
            /Authentication error.*HTTP 403/);
        assert.equal(err.details.cloudflare_code, 10000);
        assert.ok(!JSON.stringify(res).includes(unknown));

        res = await call(client, 'tokens_verify', { token: 'short!' });
        err = assertError(res, 'cloudflare_error', /6003|6111/);
        assert.ok(!JSON.stringify(res).includes('short!'));

        res = await call(client, 'tokens_verify', { token: 'has a space' });
        err = assertError(res, 'invalid_arguments', /"token" must be/);
        assert.ok(!JSON.stringify(res).includes('has a space'));
    });

    test('policies_known is false when the lookup fails', async () => {
        const t = await userToken('unlookable');
        await fault({ route: `GET /user/tokens/${t.id}`, mode: 'status5xx',
            status: 503 });
        const res = await call(client, 'tokens_verify', { token: t.value });
        const s = res.structuredContent;
        assert.equal(res.isError, false);
        assert.equal(s.id, t.id);
        assert.equal(s.policies_known, false);
        assert.ok(!('policies' in s));
        assert.match(s.policies_unknown_reason, /HTTP 503/);
    });
});

describe('argument errors, before anything is sent', () => {
    // Anything that reached the sandbox would fail with cloudflare_error.
    beforeEach(async () => {
        await fault({ route: '*', mode: 'status5xx', status: 500 });
    });

    const cases = [
        ['tokens_list', { bogus: 1 }, /unknown argument "bogus".*per_page/],
        ['tokens_list', { page: '2' }, /"page" must be a whole number/],
        ['tokens_list', { page: 0 }, /"page" must be/],
        ['tokens_list', { page: 1.5 }, /"page" must be/],
        ['tokens_list', { per_page: 4 }, /"per_page".*from 5 to 50/],
        ['tokens_list', { per_page: 51 }, /"per_page".*from 5 to 50, not 51/],
        ['tokens_list', { account_id: A1.toUpperCase() },
            /"account_id" must be a Cloudflare id/],
        ['tokens_list', { name_contains: '' }, /"name_contains"/],
        ['tokens_get', {}, /"token_id" is required/],
        ['tokens_get', { token_id: 'abc' }, /"token_id".*32 lowercase/],
        ['tokens_get', { token_id: SEED_ID, account_id: 7 },
            /"account_id".*not 7/],
        ['tokens_verify', { token: 42 }, /"token" must be a token secret/],
        ['tokens_verify', { token: '' }, /"token" must be/],
        ['token_permission_groups_list', { name: ['x'] },
            /"name".*not an array/],
        ['token_permission_groups_list', { scope: null },
            /"scope".*not null/],
    ];

    for (const [tool, args, re] of cases) {
        test(`${tool} ${JSON.stringify(args)}`, async () => {
            const res = await call(client, tool, args);
            const err = assertError(res, 'invalid_arguments', re);
            assert.ok(err.details.argument, 'details name the argument');
        });
    }
});

describe('upstream faults give a clean isError naming the cause', () => {
    const route = 'GET /user/tokens';

    test('latency within the timeout: ok', async () => {
        await fault({ route, mode: 'latency', latency_ms: 400 });
        const t0 = Date.now();
        const res = await call(client, 'tokens_list');
        assert.equal(res.isError, false);
        assert.ok(Date.now() - t0 >= 350);
    });

    test('5xx', async () => {
        await fault({ route, mode: 'status5xx', status: 503 });
        const res = await call(client, 'tokens_list');
        const err = assertError(res, 'cloudflare_error',
            /listing user tokens.*10001.*HTTP 503.*try again later/);
        assert.equal(err.details.status, 503);
    });

    test('429 with retry-after', async () => {
        await fault({ route, mode: 'ratelimit', retry_after: 30 });
        const res = await call(client, 'tokens_list');
        const err = assertError(res, 'rate_limited', /retry after 30 s/);
        assert.equal(err.details.retry_after, 30);
        assert.equal(err.details.status, 429);
    });

    test('malformed JSON', async () => {
        await fault({ route, mode: 'malformed' });
        const res = await call(client, 'tokens_list');
        assertError(res, 'bad_upstream_response', /listing user tokens/);
    });

    test('empty body is never a success', async () => {
        await fault({ route, mode: 'empty' });
        const res = await call(client, 'tokens_list');
        assertError(res, 'bad_upstream_response', /empty/);
    });

    test('connection reset once: the read is retried', async () => {
        await fault({ route, mode: 'reset', count: 1 });
        const res = await call(client, 'tokens_list');
        assert.equal(res.isError, false, JSON.stringify(res));
        assert.ok(res.structuredContent.tokens.length >= 1);
    });

    test('connection reset every time: upstream_unavailable', async () => {
        await fault({ route, mode: 'reset' });
        const res = await call(client, 'tokens_list');
        const err = assertError(res, 'upstream_unavailable',
            /listing user tokens/);
        assert.ok(err.details.reason);
    });

    test('tokens_get and tokens_verify report faults too', async () => {
        await fault({ route: `GET /user/tokens/${SEED_ID}`, mode: 'empty' });
        let res = await call(client, 'tokens_get', { token_id: SEED_ID });
        assertError(res, 'bad_upstream_response', /reading user token/);

        await fault({ route: 'GET /user/tokens/verify', mode: 'ratelimit',
            retry_after: 7 });
        res = await call(client, 'tokens_verify');
        assertError(res, 'rate_limited', /retry after 7 s/);

        await fault({ route: `GET /accounts/${A1}/tokens/permission_groups`,
            mode: 'malformed' });
        res = await call(client, 'token_permission_groups_list',
            { account_id: A1 });
        assertError(res, 'bad_upstream_response');
    });
});
