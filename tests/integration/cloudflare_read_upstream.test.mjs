// mod_cloudflare against a Cloudflare that misbehaves: a small node HTTP
// server stands in for the API wherever the sandbox cannot produce the
// answer (success:false with HTTP 200, an echoed bearer, a failing second
// page, a slow or failing names load, a token without group names).  Also
// the start-up check's log lines, the names cache, shutdown with calls in
// flight, and configuration errors.

import { after, afterEach, before, beforeEach, describe, test }
    from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from
    '@modelcontextprotocol/sdk/client/streamableHttp.js';

import { BIN, ROOT, freePort, startGateway } from './harness.mjs';
import { assertError, call, seen } from './cloudflare_lib.mjs';

const USER = '7c5dae5552338874e5053f2534d2767a';
const A1 = '023e105f4ecef8ad9ca31a8372d0c353';
const Z1 = '9a7806061c88ada191ed06f989cc3dac';
const OWN_ID = 'ab'.repeat(16);
const PG = {
    apiTokensWrite: '686d18d5ac6c441c867cbf6771e58a0a',
    accountTokensWrite: '5bc3f8b21c554832afc660159ab75fa4',
    zoneRead: 'c8fed203ed3043cba015a93ad1616f1f',
    dnsRead: '82e64a83756745bbbb1c9c2701bf816b',
};

// The gateway's own secret for the fake upstream, in a file of its own.
const TMP = fs.mkdtempSync(path.join(os.tmpdir(), 'cf-read-upstream-'));
const SECRET = 'fakeGw_' + crypto.randomBytes(24).toString('hex');
const TOKEN_FILE = path.join(TMP, 'token');
fs.writeFileSync(TOKEN_FILE, SECRET + '\n', { mode: 0o600 });

const ok = (result, resultInfo) => ({
    success: true, errors: [], messages: [], result,
    ...(resultInfo ? { result_info: resultInfo } : {}),
});
const fail = (code, message) => ({
    success: false, errors: [{ code, message }], messages: [], result: null,
});

function pageOf(items, url) {
    const page = Number(url.searchParams.get('page') || 1);
    const perPage = Number(url.searchParams.get('per_page') || 20);
    const slice = items.slice((page - 1) * perPage, page * perPage);
    return ok(slice, {
        page, per_page: perPage, count: slice.length,
        total_count: items.length,
        total_pages: Math.ceil(items.length / perPage),
    });
}

function ownToken(extra = {}) {
    return {
        id: OWN_ID, name: 'fake gateway token', status: 'active',
        issued_on: '2024-01-01T01:00:00+01:00',
        modified_on: '2024-01-02T00:00:00.123456Z',
        policies: [{
            id: 'a'.repeat(32), effect: 'allow',
            permission_groups: [{ id: PG.apiTokensWrite }],
            resources: { [`com.cloudflare.api.user.${USER}`]: '*' },
        }],
        condition: {},
        ...extra,
    };
}

function listedToken(i) {
    return {
        id: crypto.createHash('md5').update(`t${i}`).digest('hex'),
        name: `listed-${i}`, status: 'active',
        issued_on: '2024-03-01T00:00:00Z', modified_on: '2024-03-01T00:00:00Z',
        policies: [{
            id: 'b'.repeat(32), effect: 'allow',
            permission_groups: [{ id: PG.zoneRead }],
            resources: { [`com.cloudflare.api.account.zone.${Z1}`]: '*' },
        }],
    };
}

// A stand-in for api.cloudflare.com/client/v4 whose answers a test sets.
class FakeCloudflare {
    constructor() {
        this.reset();
        this.server = http.createServer((req, res) => this.handle(req, res));
    }

    reset() {
        const groups = [
            { id: PG.apiTokensWrite, name: 'API Tokens Write',
                scopes: ['com.cloudflare.api.user'] },
            { id: PG.accountTokensWrite, name: 'Account API Tokens Write',
                scopes: ['com.cloudflare.api.account'] },
            { id: PG.zoneRead, name: 'Zone Read',
                scopes: ['com.cloudflare.api.account.zone'] },
            { id: PG.dnsRead, name: 'DNS Read',
                scopes: ['com.cloudflare.api.account.zone'] },
        ];
        const tokens = [0, 1, 2].map(listedToken);
        this.requests = [];
        this.delay = {};
        this.routes = new Map([
            ['/user/tokens/verify', () => ok({ id: OWN_ID, status: 'active' })],
            [`/user/tokens/${OWN_ID}`, () => ok(ownToken())],
            ['/user/tokens/permission_groups', () => ok(groups)],
            ['/accounts', (url) => pageOf([{ id: A1, name: 'Fake' }], url)],
            ['/zones', (url) => pageOf([{ id: Z1, name: 'example.com',
                account: { id: A1, name: 'Fake' } }], url)],
            ['/user/tokens', (url) => pageOf(tokens, url)],
        ]);
    }

    count(p) {
        return this.requests.filter((r) => r.path === p).length;
    }

    async handle(req, res) {
        const url = new URL(req.url, 'http://x');
        const p = url.pathname.replace(/^\/client\/v4/, '');
        this.requests.push({ path: p, search: url.search,
            auth: req.headers.authorization });
        if (this.delay[p]) {
            await new Promise((r) => setTimeout(r, this.delay[p]));
        }
        const route = this.routes.get(p);
        let out = route ? route(url, req) : { status: 404,
            body: fail(7003, 'No route for the URI') };
        if (out && out.success !== undefined) {
            out = { body: out };
        }
        if (out.destroy) {
            req.socket.destroy();
            return;
        }
        const body = typeof out.body === 'string' ? out.body
            : JSON.stringify(out.body);
        res.writeHead(out.status || 200, {
            'content-type': out.type || 'application/json',
            ...(out.headers || {}),
        });
        res.end(body);
    }

    async start() {
        await new Promise((r) => this.server.listen(0, '127.0.0.1', r));
        this.api = `http://127.0.0.1:${this.server.address().port}/client/v4`;
    }

    stop() {
        this.server.closeAllConnections();
        return new Promise((r) => this.server.close(r));
    }
}

function conf(port, api, cloudflare = '', shutdown = 10000) {
    return `
error_log = { path = "logs/error.log"; level = "info"; };
access_log = "logs/access.log";
modules = { path = "${ROOT}/objs/modules"; load = [ "cloudflare" ]; };
http = { listen = [ "127.0.0.1:${port}" ]; keepalive_timeout = 2000;
         header_timeout = 2000; body_timeout = 2000;
         shutdown_timeout = ${shutdown}; };
mcp = { session_key_file = "keys/session.key"; create_keys = true; };
clients = { anonymous = { enabled = true; role = "admin"; }; };
cloudflare = { api = "${api}"; token_file = "${TOKEN_FILE}";
               connect_timeout = 1000; timeout = 5000; ${cloudflare} };
`;
}

async function waitForLog(gw, re, ms = 10000) {
    const end = Date.now() + ms;
    while (Date.now() < end) {
        if (re.test(gw.errorLog())) {
            return;
        }
        await new Promise((r) => setTimeout(r, 25));
    }
    assert.fail(`the error log never matched ${re}:\n${gw.errorLog()}`);
}

async function connect(gw) {
    const client = new Client({ name: 'cloudflare-upstream-test',
        version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(gw.url)));
    await client.listTools(); // the SDK validates results from now on
    return client;
}


// Stop the gateway; its logs must never hold the secret.
async function stopClean(gw) {
    const accessFile = path.join(gw.prefix, 'logs/access.log');
    const access = fs.existsSync(accessFile)
        ? fs.readFileSync(accessFile, 'utf8') : '';
    await gw.stop();
    assert.ok(!gw.errorLog().includes(SECRET), 'error.log holds the secret');
    assert.ok(!access.includes(SECRET), 'access.log holds the secret');
    return gw.errorLog();
}

const fake = new FakeCloudflare();

before(async () => {
    await fake.start();
});

after(async () => {
    await fake.stop();
    fs.rmSync(TMP, { recursive: true, force: true });
    for (const { text } of seen) {
        assert.ok(!text.includes(SECRET), 'a result holds the secret');
    }
});

describe('Cloudflare answers that must not pass as success', () => {
    let gw;
    let client;

    before(async () => {
        fake.reset();
        gw = await startGateway({ conf: (port) => conf(port, fake.api) });
        await waitForLog(gw, /Cloudflare token verified: active, can manage user tokens, reads 1 account and 1 zone/);
        client = await connect(gw);
    });

    after(async () => {
        await client.close();
        await stopClean(gw);
    });

    beforeEach(() => {
        fake.reset();
    });

    test('success:false with HTTP 200 (field report 8)', async () => {
        fake.routes.set('/user/tokens', () => ({
            status: 200, body: fail(10000, 'Authentication error'),
        }));
        const res = await call(client, 'tokens_list');
        const err = assertError(res, 'cloudflare_error',
            /error 10000: Authentication error \(HTTP 200\)/);
        assert.equal(err.details.status, 200);
        assert.deepEqual(err.details.cloudflare_errors,
            [{ code: 10000, message: 'Authentication error' }]);
    });

    test('403 with Cloudflare\'s envelope (field report 8)', async () => {
        fake.routes.set('/user/tokens', () => ({
            status: 403,
            body: '{"success":false,"errors":[{"code":10000,"message":' +
                '"Authentication error"}],"result":null}',
        }));
        const res = await call(client, 'tokens_list');
        assertError(res, 'cloudflare_error',
            /error 10000: Authentication error \(HTTP 403\).*permission/);
    });

    test('429 with retry-after: 30 (field report 8)', async () => {
        fake.routes.set('/user/tokens', () => ({
            status: 429, headers: { 'retry-after': '30' },
            body: fail(971, 'Please wait'),
        }));
        let res = await call(client, 'tokens_list');
        let err = assertError(res, 'rate_limited', /retry after 30 s/);
        assert.equal(err.details.retry_after, 30);

        fake.routes.set('/user/tokens', () => ({ status: 429, body: '' }));
        res = await call(client, 'tokens_list');
        err = assertError(res, 'rate_limited', /retry later/);
        assert.equal(err.details.retry_after, undefined);
    });

    test('empty, truncated or non-JSON bodies (field report 7)',
        async () => {
            const bodies = [
                { body: '' },
                { body: '{"success":true,"errors":[],"result":[' },
                { body: '<html>502</html>', type: 'text/html' },
                { body: '{"errors":[],"result":[]}' },
            ];
            for (const b of bodies) {
                fake.routes.set('/user/tokens', () => b);
                const res = await call(client, 'tokens_list');
                assertError(res, 'bad_upstream_response',
                    /listing user tokens/);
            }
        });

    test('a success without a result object is not a token', async () => {
        const id = 'c'.repeat(32);
        fake.routes.set(`/user/tokens/${id}`, () => ok(null));
        let res = await call(client, 'tokens_get', { token_id: id });
        assertError(res, 'bad_upstream_response', /held no result/);

        fake.routes.set(`/user/tokens/${id}`, () => ok(['not', 'a', 'token']));
        res = await call(client, 'tokens_get', { token_id: id });
        assertError(res, 'bad_upstream_response', /no token object/);
    });

    test('a failing later page fails the listing, no partial success',
        async () => {
            const tokens = [...Array(12).keys()].map(listedToken);
            fake.routes.set('/user/tokens', (url) => (
                url.searchParams.get('page') === '2'
                    ? { status: 500, body: fail(10001, 'Internal error') }
                    : pageOf(tokens, url)));
            const res = await call(client, 'tokens_list', { per_page: 5 });
            assertError(res, 'cloudflare_error', /HTTP 500/);
            assert.deepEqual(fake.requests.filter(
                (r) => r.path === '/user/tokens').slice(-2).map(
                (r) => r.search), ['?page=1&per_page=5', '?page=2&per_page=5']);
        });

    test('pages followed by total_count, or by full pages', async () => {
        const tokens = [...Array(12).keys()].map(listedToken);
        fake.routes.set('/user/tokens', (url) => {
            const env = pageOf(tokens, url);
            delete env.result_info.total_pages;
            return env;
        });
        let res = await call(client, 'tokens_list', { per_page: 5 });
        assert.equal(res.structuredContent.tokens.length, 12);
        assert.equal(res.structuredContent.complete, true);

        fake.routes.set('/user/tokens', (url) => {
            const env = pageOf(tokens, url);
            delete env.result_info;
            return env;
        });
        res = await call(client, 'tokens_list', { per_page: 5 });
        assert.equal(res.isError, false);
        assert.equal(res.structuredContent.complete, false);
        assert.match(res.structuredContent.note, /result_info/);
    });

    test('a secret echoed by the upstream is redacted', async () => {
        fake.routes.set('/user/tokens', (url, req) => ({
            status: 400,
            body: fail(6003, `bad header: ${req.headers.authorization}`),
        }));
        const res = await call(client, 'tokens_list');
        const text = JSON.stringify(res);
        assert.ok(!text.includes(SECRET));
        assert.match(text, /\[redacted\]/);

        const given = 'Given_' + crypto.randomBytes(20).toString('hex');
        fake.routes.set('/user/tokens/verify', (url, req) => ({
            status: 403, body: fail(1000, `no: ${req.headers.authorization}`),
        }));
        const v = await call(client, 'tokens_verify', { token: given });
        assert.ok(!JSON.stringify(v).includes(given));
        assertError(v, 'cloudflare_error', /\[redacted\]/);
    });

    test('tokens_get fills group names from the cache and normalises',
        async () => {
            const res = await call(client, 'tokens_get', { token_id: OWN_ID });
            const t = res.structuredContent.token;
            assert.equal(t.issued_on, '2024-01-01T00:00:00Z');
            assert.equal(t.modified_on, '2024-01-02T00:00:00Z');
            assert.deepEqual(t.policies[0].permission_groups,
                [{ id: PG.apiTokensWrite, name: 'API Tokens Write' }]);

            fake.routes.set(`/user/tokens/${OWN_ID}`, () => ok(ownToken({
                condition: { 'request.ip': { in: ['10.0.0.0/8'] } },
                value: 'must-not-leak-' + 'x'.repeat(30),
            })));
            const r2 = await call(client, 'tokens_get', { token_id: OWN_ID });
            assert.deepEqual(r2.structuredContent.token.condition,
                { request_ip: { in: ['10.0.0.0/8'] } });
            assert.ok(!('value' in r2.structuredContent.token));
        });

    test('no upstream call per tool call to resolve names', async () => {
        const before = fake.count('/user/tokens/permission_groups');
        for (let i = 0; i < 3; i++) {
            await call(client, 'tokens_get', { token_id: OWN_ID });
            await call(client, 'token_permission_groups_list');
        }
        assert.equal(fake.count('/user/tokens/permission_groups'), before);
    });

    test('a given secret is the bearer of the verify call only',
        async () => {
            const given = 'Given_' + crypto.randomBytes(20).toString('hex');
            const id = 'd'.repeat(32);
            fake.routes.set('/user/tokens/verify', (url, req) => ok(
                req.headers.authorization === `Bearer ${given}`
                    ? { id, status: 'active',
                        expires_on: '2030-01-01T00:00:00+00:00' }
                    : { id: OWN_ID, status: 'active' }));
            fake.routes.set(`/user/tokens/${id}`, () => ok({
                ...listedToken(5), id }));
            const n = fake.requests.length;
            const res = await call(client, 'tokens_verify', { token: given });
            const s = res.structuredContent;
            assert.equal(s.id, id);
            assert.equal(s.expires_on, '2030-01-01T00:00:00Z');
            assert.equal(s.policies_known, true);
            assert.equal(s.policies[0].permission_groups[0].name, 'Zone Read');
            const sent = fake.requests.slice(n);
            assert.deepEqual(sent.map((r) => [r.path, r.auth]), [
                ['/user/tokens/verify', `Bearer ${given}`],
                [`/user/tokens/${id}`, `Bearer ${SECRET}`],
            ]);
        });

    test('the lookup failing leaves policies unknown', async () => {
        fake.routes.set(`/user/tokens/${OWN_ID}`, () => ({
            status: 403, body: fail(9109, 'Unauthorized to access'),
        }));
        const res = await call(client, 'tokens_verify');
        assert.equal(res.isError, false);
        assert.equal(res.structuredContent.policies_known, false);
        assert.match(res.structuredContent.policies_unknown_reason, /9109/);
    });
});

describe('the start-up check says what is wrong', () => {
    let gw;

    afterEach(async () => {
        if (gw) {
            await stopClean(gw);
            gw = null;
        }
        fake.reset();
    });

    async function startWith(setup, cloudflare = '', api = fake.api) {
        fake.reset();
        setup();
        gw = await startGateway({
            conf: (port) => conf(port, api, cloudflare),
        });
    }

    test('invalid: authentication error', async () => {
        await startWith(() => fake.routes.set('/user/tokens/verify', () => ({
            status: 403, body: fail(10000, 'Authentication error') })));
        await waitForLog(gw, /\[error\].*Cloudflare token \(token_file ".*"\) is invalid: Cloudflare answered with an authentication error .*unknown, disabled, expired/);
        const client = await connect(gw);
        const res = await call(client, 'tokens_verify');
        assertError(res, 'cloudflare_error', /Authentication error/);
        await client.close();
    });

    test('invalid as a user token: maybe an account token', async () => {
        await startWith(() => fake.routes.set('/user/tokens/verify', () => ({
            status: 403, body: fail(1000, 'Invalid API Token') })));
        await waitForLog(gw, /is invalid: .*Invalid API Token.*set default_account/);
    });

    test('IP-restricted: refused from this address', async () => {
        await startWith(() => fake.routes.set('/user/tokens/verify', () => ({
            status: 403,
            body: fail(9109, 'Cannot use the access token from location: ' +
                '127.0.0.1') })));
        await waitForLog(gw, /\[error\].*is IP-restricted and may not be used from this gateway's address/);
    });

    test('a token echoed in an error stays out of the log', async () => {
        await startWith(() => fake.routes.set('/user/tokens/verify',
            (url, req) => ({ status: 400, body: fail(6003,
                `Invalid request headers: ${req.headers.authorization}`) })));
        await waitForLog(gw, /\[error\].*is malformed .*Bearer \[redacted\]/);
    });

    test('disabled and expired', async () => {
        await startWith(() => fake.routes.set('/user/tokens/verify',
            () => ok({ id: OWN_ID, status: 'disabled' })));
        await waitForLog(gw, /\[error\].*Cloudflare token .* is disabled/);
        await stopClean(gw);

        await startWith(() => fake.routes.set('/user/tokens/verify',
            () => ok({ id: OWN_ID, status: 'expired',
                expires_on: '2020-01-01T00:00:00Z' })));
        await waitForLog(gw, /is expired, expires_on 2020-01-01T00:00:00Z/);
    });

    test('lacking API Tokens Write and Account API Tokens Write',
        async () => {
            await startWith(() => fake.routes.set(`/user/tokens/${OWN_ID}`,
                () => ok(ownToken({ policies: [{
                    effect: 'allow',
                    permission_groups: [{ id: PG.zoneRead,
                        name: 'Zone Read' }],
                    resources: { [`com.cloudflare.api.account.zone.${Z1}`]:
                        '*' },
                }] }))));
            await waitForLog(gw, /\[warn\].*Cloudflare token verified: active, but it lacks API Tokens Write \(user tokens\) and Account API Tokens Write/);
        });

    test('account tokens only, through default_account', async () => {
        await startWith(() => {
            fake.routes.set(`/accounts/${A1}/tokens/verify`,
                () => ok({ id: OWN_ID, status: 'active' }));
            fake.routes.set(`/accounts/${A1}/tokens/${OWN_ID}`, () => ok(
                ownToken({ policies: [{
                    effect: 'allow',
                    permission_groups: [{ id: PG.accountTokensWrite }],
                    resources: { [`com.cloudflare.api.account.${A1}`]: '*' },
                }] })));
            fake.routes.set(`/accounts/${A1}/tokens/permission_groups`,
                () => ok([{ id: PG.accountTokensWrite,
                    name: 'Account API Tokens Write',
                    scopes: ['com.cloudflare.api.account'] }]));
            fake.routes.set('/accounts', () => ({ status: 400,
                body: fail(1001, 'List accounts endpoint does not support ' +
                    'account owned tokens.') }));
            fake.routes.set(`/accounts/${A1}`,
                () => ok({ id: A1, name: 'Fake' }));
        }, `default_account = "${A1}";`);
        await waitForLog(gw, /\[notice\].*Cloudflare token verified: active, can manage the account tokens of 1 account, reads 1 account and 1 zone/);
        assert.equal(fake.count('/user/tokens/verify'), 0);
    });

    test('cannot read its own policies', async () => {
        await startWith(() => fake.routes.set(`/user/tokens/${OWN_ID}`,
            () => ({ status: 403, body: fail(10000, 'Authentication error') })));
        await waitForLog(gw, /\[warn\].*cannot read its own policies .*lacks API Tokens Read or Write/);
    });

    test('IP condition on an accepted token', async () => {
        await startWith(() => fake.routes.set(`/user/tokens/${OWN_ID}`,
            () => ok(ownToken({ condition: { request_ip:
                { in: ['127.0.0.1/32'] } } }))));
        await waitForLog(gw, /Cloudflare token verified: active, can manage user tokens/);
        assert.match(gw.errorLog(), /\[warn\].*is IP-restricted \(condition request_ip\)/);
    });

    test('lacking account and zone read', async () => {
        await startWith(() => {
            fake.routes.set('/accounts', () => ({ status: 403,
                body: fail(10000, 'Authentication error') }));
            fake.routes.set('/zones', (url) => pageOf([], url));
        });
        await waitForLog(gw, /Cloudflare token verified: active, can manage user tokens, reads no accounts and 0 zones/);
        const log = gw.errorLog();
        assert.match(log, /\[warn\].*cannot list accounts .*Authentication error.*lacks account read access/);
        assert.match(log, /\[warn\].*reads no zones: it lacks zone read access/);
    });

    test('an unreachable API never stops the start', async () => {
        const dead = `http://127.0.0.1:${await freePort()}/client/v4`;
        await startWith(() => {}, '', dead);
        await waitForLog(gw, /\[error\].*could not be verified: Cloudflare could not be reached/);
        const client = await connect(gw);
        const res = await call(client, 'tokens_list');
        assertError(res, 'upstream_unavailable', /could not load Cloudflare's permission groups/);
        await client.close();
    });
});

describe('the names cache', () => {
    let gw;

    afterEach(async () => {
        if (gw) {
            await stopClean(gw);
            gw = null;
        }
        fake.reset();
    });

    test('calls during the first load wait for it, sharing it', async () => {
        fake.reset();
        fake.delay['/user/tokens/permission_groups'] = 800;
        gw = await startGateway({ conf: (port) => conf(port, fake.api) });
        const client = await connect(gw);
        const results = await Promise.all([
            call(client, 'tokens_get', { token_id: OWN_ID }),
            call(client, 'tokens_list'),
            call(client, 'token_permission_groups_list', { name: 'zone' }),
        ]);
        for (const r of results) {
            assert.equal(r.isError, false, JSON.stringify(r));
        }
        assert.equal(results[0].structuredContent.token.policies[0]
            .permission_groups[0].name, 'API Tokens Write');
        assert.equal(fake.count('/user/tokens/permission_groups'), 1);
        await client.close();
    });

    test('a failed load fails the waiting calls; a later call retries',
        async () => {
            fake.reset();
            fake.routes.set('/user/tokens/permission_groups', () => ({
                status: 403, body: fail(10000, 'Authentication error') }));
            gw = await startGateway({ conf: (port) => conf(port, fake.api) });
            await waitForLog(gw, /\[warn\].*cannot list permission groups/);
            const client = await connect(gw);

            const res = await call(client, 'tokens_get', { token_id: OWN_ID });
            assertError(res, 'cloudflare_error',
                /could not load Cloudflare's permission groups.*10000/);
            assert.equal(fake.count('/user/tokens/permission_groups'), 2);

            fake.routes.set('/user/tokens/permission_groups', () => ok([
                { id: PG.apiTokensWrite, name: 'API Tokens Write',
                    scopes: ['com.cloudflare.api.user'] }]));
            const again = await call(client, 'tokens_get',
                { token_id: OWN_ID });
            assert.equal(again.isError, false);
            assert.equal(again.structuredContent.token.policies[0]
                .permission_groups[0].name, 'API Tokens Write');
            assert.equal(fake.count('/user/tokens/permission_groups'), 3);
            await client.close();
        });

    test('every page of zones is read (field report 11)', async () => {
        fake.reset();
        const zones = [...Array(120).keys()].map((i) => ({
            id: crypto.createHash('md5').update(`z${i}`).digest('hex'),
            name: `zone-${i}.example`, account: { id: A1, name: 'Fake' },
        }));
        fake.routes.set('/zones', (url) => pageOf(zones, url));
        gw = await startGateway({ conf: (port) => conf(port, fake.api) });
        await waitForLog(gw, /Cloudflare token verified: .* reads 1 account and 120 zones/);
        assert.deepEqual(fake.requests.filter((r) => r.path === '/zones')
            .map((r) => r.search), ['?page=1&per_page=50',
            '?page=2&per_page=50', '?page=3&per_page=50']);
        assert.match(gw.errorLog(), /names cache: 120 zones loaded/);
    });

    test('a names listing longer than max_pages says so', async () => {
        fake.reset();
        const zones = [...Array(120).keys()].map((i) => ({
            id: crypto.createHash('md5').update(`z${i}`).digest('hex'),
            name: `zone-${i}.example`,
        }));
        fake.routes.set('/zones', (url) => pageOf(zones, url));
        gw = await startGateway({
            conf: (port) => conf(port, fake.api, 'max_pages = 2;'),
        });
        await waitForLog(gw, /reads 1 account and more than 100 zones/);
        assert.match(gw.errorLog(), /\[warn\].*more zones than 2 pages; only those are known by name \(raise max_pages/);
    });

    test('refreshed every cache_ttl seconds', async () => {
        fake.reset();
        gw = await startGateway({
            conf: (port) => conf(port, fake.api, 'cache_ttl = 1;'),
        });
        await waitForLog(gw, /Cloudflare token verified/);
        const first = fake.count('/zones');
        await new Promise((r) => setTimeout(r, 2300));
        assert.ok(fake.count('/zones') >= first + 2);
        assert.ok(fake.count('/user/tokens/permission_groups') >= 3);
    });
});

describe('shutdown with calls in flight', () => {
    test('a call waiting on Cloudflare, one waiting on the cache',
        async () => {
            fake.reset();
            fake.delay['/user/tokens/permission_groups'] = 4000;
            // A short graceful stop: the calls outlive it, so the module
            // must answer them as it unloads.
            const gw = await startGateway({
                conf: (port) => conf(port, fake.api, '', 100),
            });
            const client = await connect(gw);
            const waiting = call(client, 'tokens_list').catch((e) => e);

            fake.delay['/user/tokens/permission_groups'] = 0;
            fake.delay['/user/tokens/verify'] = 4000;
            const verifying = call(client, 'tokens_verify', {
                account_id: A1 }).catch((e) => e);

            // Both calls must have reached the gateway before it stops
            // (on a busy machine 300 ms was not always enough), and the
            // cache load they wait for takes 4 s: stop after one.
            await new Promise((r) => setTimeout(r, 1000));
            const log = await stopClean(gw);
            assert.match(log, /module "cloudflare" unloaded/);
            // Both were answered (and resumed) before the module went.
            assert.match(log, /tool "tokens_list" for "[^"]*": error/);
            assert.match(log, /tool "tokens_verify" for "[^"]*": error/);
            await Promise.race([
                Promise.all([waiting, verifying]),
                new Promise((r) => setTimeout(r, 5000)),
            ]);
            fake.reset();
        });
});

describe('configuration errors, with file and line', () => {
    function check(block, env = {}) {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cf-conf-'));
        fs.mkdirSync(path.join(dir, 'conf'));
        fs.writeFileSync(path.join(dir, 'conf/mcpgw.conf'),
            conf(1, 'http://127.0.0.1:1/client/v4').replace(
                /cloudflare = \{[^}]*\};/, block));
        const r = spawnSync(BIN, ['-p', dir, '-t', '-c', 'conf/mcpgw.conf'],
            { encoding: 'utf8', env: { ...process.env, ...env } });
        fs.rmSync(dir, { recursive: true, force: true });
        return { status: r.status, out: r.stdout + r.stderr };
    }

    test('a valid block, with token_file or token_env', () => {
        let r = check(`cloudflare = { token_file = "${TOKEN_FILE}"; };`);
        assert.equal(r.status, 0, r.out);
        r = check('cloudflare = { token_env = "CF_TEST_TOKEN"; ' +
            `default_account = "${A1}"; cache_ttl = 60; max_pages = 10; };`,
        { CF_TEST_TOKEN: SECRET });
        assert.equal(r.status, 0, r.out);
        assert.ok(!r.out.includes(SECRET));
    });

    const bad = [
        ['cloudflare = { token_file = "x"; token_env = "Y"; };',
            /conf\/mcpgw.conf:\d+: give token_file or token_env, not both/],
        ['cloudflare = { api = "http://127.0.0.1:1/client/v4"; };',
            /:\d+: cloudflare needs the gateway's API token/],
        ['cloudflare = { token_env = "CF_TEST_UNSET_VAR"; };',
            /:\d+: token_env: the environment variable "CF_TEST_UNSET_VAR" is not set/],
        ['cloudflare = { token_file = "/nonexistent/token"; };',
            /:\d+: cannot read token_file "\/nonexistent\/token": No such file/],
        [`cloudflare = { token_file = "${TOKEN_FILE}"; bogus = 1; ` +
            'cache_ttl = 0; default_account = "ABC"; timeout = 0; ' +
            'api = "ftp://x"; };',
        /unknown setting "bogus"[^]*api must be an http[^]*default_account must be[^]*timeout must be from 1[^]*cache_ttl must be from 1/],
    ];

    for (const [block, re] of bad) {
        test(block, () => {
            const r = check(block);
            assert.equal(r.status, 1, r.out);
            assert.match(r.out, re);
        });
    }

    test('a malformed token file is refused without quoting it', () => {
        const file = path.join(TMP, 'bad-token');
        fs.writeFileSync(file, 'two words-of-secret\n');
        const r = check(`cloudflare = { token_file = "${file}"; };`);
        assert.equal(r.status, 1);
        assert.match(r.out, /must hold one Cloudflare API token/);
        assert.ok(!r.out.includes('words-of-secret'));
    });
});
