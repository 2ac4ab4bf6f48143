// mod_cfsandbox driven by the official `cloudflare` SDK: the real gateway
// serves the sandbox on a free loopback port, the SDK talks to it as it
// would to api.cloudflare.com, and plain fetch drives the control
// endpoint (/__sandbox/...).

import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import Cloudflare from 'cloudflare';
import { BIN, ROOT, freePort, startGateway, testConfig } from './harness.mjs';

const SEED = fs.readFileSync(path.join(ROOT, 'conf/sandbox.token'), 'utf8')
    .trim();
const USER = '7c5dae5552338874e5053f2534d2767a';
const SEED_ID = '5eed5a4db0c5e0000000000000000001';
const A1 = '023e105f4ecef8ad9ca31a8372d0c353';
const A2 = '01a7362d577a6c3019a474fd6f485823';
const Z1 = '9a7806061c88ada191ed06f989cc3dac'; // example.com in A1
const Z_SHARED_A2 = '372e67954025e0ba6aaa6d586b9e0b59';

const PG = {
    zoneRead: 'c8fed203ed3043cba015a93ad1616f1f',
    dnsWrite: '4755a26eedb94da69e1066d98aa820be',
    apiTokensRead: '0cc3a61731504c89b99ec1be78b77aa0',
    apiTokensWrite: '686d18d5ac6c441c867cbf6771e58a0a',
    accountTokensWrite: '5bc3f8b21c554832afc660159ab75fa4',
    accountSettingsRead: 'c1fde68c7bcc44588cbb6ddbc16d6480',
    workersScriptsRead: '1a71c399035b4950a1bd1466bbe4f420',
};

const RES = {
    user: { [`com.cloudflare.api.user.${USER}`]: '*' },
    a1: { [`com.cloudflare.api.account.${A1}`]: '*' },
    a2: { [`com.cloudflare.api.account.${A2}`]: '*' },
    allZonesA1: {
        [`com.cloudflare.api.account.${A1}`]: {
            'com.cloudflare.api.account.zone.*': '*',
        },
    },
    z1: { [`com.cloudflare.api.account.zone.${Z1}`]: '*' },
};

// The OpenAPI fragment of the contract, beside the repository as shared/.
const OPENAPI = path.join(ROOT, '..', 'shared', 'reference',
    'cloudflare-tokens-openapi-2024.json');

// Enough of JSON Schema for that fragment: $ref, allOf, oneOf, type with
// nullable, properties, required, items, enum, lengths, minimum and the
// date-time format.  Returns the first mismatch, or null.
function schemaError(spec, schema, value, where = '$') {
    if (schema.$ref) {
        const name = schema.$ref.replace('#/components/schemas/', '');
        return schemaError(spec, spec.components.schemas[name], value, where);
    }
    if (value === null) {
        return schema.nullable || (schema.enum && schema.enum.includes(null))
            || !schema.type ? null : `${where} is null`;
    }
    for (const sub of schema.allOf || []) {
        const e = schemaError(spec, sub, value, where);
        if (e) {
            return e;
        }
    }
    if (schema.oneOf &&
        schema.oneOf.every((sub) => schemaError(spec, sub, value, where))) {
        return `${where} matches none of oneOf`;
    }
    const type = Array.isArray(value) ? 'array' : typeof value;
    if (schema.type === 'integer' ? !Number.isInteger(value)
        : schema.type && schema.type !== type &&
          !(schema.type === 'number' && type === 'number')) {
        return `${where} is ${type}, not ${schema.type}`;
    }
    if (schema.enum && !schema.enum.includes(value)) {
        return `${where} = ${JSON.stringify(value)} is not in the enum`;
    }
    if (typeof value === 'string') {
        if (value.length < (schema.minLength ?? 0) ||
            value.length > (schema.maxLength ?? Infinity)) {
            return `${where} has a length out of range`;
        }
        if (schema.format === 'date-time' &&
            !/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/.test(value)) {
            return `${where} is not a date-time`;
        }
    }
    if (typeof value === 'number' && value < (schema.minimum ?? -Infinity)) {
        return `${where} is below the minimum`;
    }
    if (type === 'object') {
        for (const key of schema.required || []) {
            if (!(key in value)) {
                return `${where}.${key} is missing`;
            }
        }
        for (const [key, sub] of Object.entries(schema.properties || {})) {
            if (key in value) {
                const e = schemaError(spec, sub, value[key], `${where}.${key}`);
                if (e) {
                    return e;
                }
            }
        }
    }
    if (type === 'array' && schema.items) {
        for (let i = 0; i < value.length; i++) {
            const e = schemaError(spec, schema.items, value[i],
                `${where}[${i}]`);
            if (e) {
                return e;
            }
        }
    }
    return null;
}

function sandboxBlock(sbPort, extra = '') {
    return `cfsandbox = { listen = "127.0.0.1:${sbPort}"; ` +
        `seed_token_file = "${ROOT}/conf/sandbox.token"; ${extra} };`;
}

function gatewayConf(port, sbPort, extra = '') {
    return testConfig(port, {
        over: {
            modules: `modules = { path = "${ROOT}/objs/modules"; ` +
                'load = [ "cfsandbox" ]; };',
        },
        extra: sandboxBlock(sbPort, extra),
    });
}

// The sandbox listener opens just after the MCP one the harness waits for.
async function waitForSandbox(base) {
    for (let i = 0; i < 100; i++) {
        try {
            const r = await fetch(`${base}/__sandbox/faults`);
            if (r.ok) {
                return;
            }
        } catch {
            // not listening yet
        }
        await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error('the sandbox did not start listening');
}

async function startSandbox(extra = '') {
    const sbPort = await freePort();
    const gw = await startGateway({
        conf: (port) => gatewayConf(port, sbPort, extra),
    });
    const base = `http://127.0.0.1:${sbPort}`;
    await waitForSandbox(base);
    return { gw, base, api: `${base}/client/v4` };
}

function policy(groups, resources, effect = 'allow') {
    return {
        effect,
        permission_groups: groups.map((id) => ({ id })),
        resources,
    };
}

// The SDK call must fail with the given class, status and Cloudflare code.
async function rejects(promise, cls, status, code) {
    let err;
    try {
        await promise;
    } catch (e) {
        err = e;
    }
    assert.ok(err, 'expected the call to fail');
    assert.ok(err instanceof cls,
        `expected ${cls.name}, got ${err.constructor.name}: ${err.message}`);
    if (status !== undefined) {
        assert.equal(err.status, status);
    }
    if (code !== undefined) {
        assert.equal(err.errors[0].code, code, JSON.stringify(err.error));
        assert.equal(err.error.success, false);
        assert.equal(err.error.result, null);
    }
    return err;
}

describe('cfsandbox through the cloudflare SDK', () => {
    let sb;
    let cf;

    const client = (apiToken) => new Cloudflare({
        apiToken, baseURL: sb.api, maxRetries: 0, timeout: 10000,
    });

    const control = async (method, what, body) => {
        const r = await fetch(`${sb.base}/__sandbox/${what}`, {
            method,
            headers: { 'content-type': 'application/json' },
            body: body === undefined ? undefined : JSON.stringify(body),
        });
        const json = await r.json();
        assert.equal(r.status, 200, JSON.stringify(json));
        return json.result;
    };

    const raw = async (route, init = {}) => {
        const r = await fetch(`${sb.api}${route}`, {
            ...init,
            headers: { authorization: `Bearer ${SEED}`, ...init.headers },
        });
        return { status: r.status, headers: r.headers, json: await r.json() };
    };

    before(async () => {
        sb = await startSandbox();
        cf = client(SEED);
    });

    after(async () => {
        await sb.gw.stop();
    });

    beforeEach(async () => {
        await control('POST', 'reset');
    });

    test('the seed token verifies', async () => {
        const v = await cf.user.tokens.verify();
        assert.deepEqual(v, { id: SEED_ID, status: 'active' });

        const body = await raw('/user/tokens/verify');
        assert.equal(body.json.messages[0].code, 10000);
        assert.equal(body.json.messages[0].message,
            'This API Token is valid and active');
    });

    test('permission groups: all, by name, by scope', async () => {
        const all = [];
        for await (const g of cf.user.tokens.permissionGroups.list()) {
            all.push(g);
        }
        assert.equal(all.length, 46);

        const logs = (await cf.user.tokens.permissionGroups.list(
            { name: 'Logs Write' })).result;
        assert.equal(logs.length, 2);
        assert.deepEqual(logs.map((g) => g.scopes[0]).sort(), [
            'com.cloudflare.api.account',
            'com.cloudflare.api.account.zone',
        ]);

        const one = (await cf.user.tokens.permissionGroups.list({
            name: 'Logs Write', scope: 'com.cloudflare.api.account.zone',
        })).result;
        assert.equal(one.length, 1);
        assert.equal(one[0].id, '96163bd1b0784f62b3e44ed8c2ab1eb6');

        const acct = (await cf.accounts.tokens.permissionGroups.list(
            { account_id: A1 })).result;
        assert.equal(acct.length, 41);
        assert.ok(acct.every((g) => g.scopes[0] !== 'com.cloudflare.api.user'));
    });

    test('user tokens: create, list, get, update, delete', async () => {
        const created = await cf.user.tokens.create({
            name: 'dns editor',
            policies: [policy([PG.dnsWrite], RES.allZonesA1)],
            not_before: '2020-01-01T00:00:00Z',
            expires_on: '2099-01-01T00:00:00Z',
        });
        assert.match(created.id, /^[0-9a-f]{32}$/);
        assert.match(created.value, /^cfut_[A-Za-z0-9]{40}$/);
        assert.equal(created.status, 'active');
        assert.equal(created.not_before, '2020-01-01T00:00:00Z');
        assert.equal(created.expires_on, '2099-01-01T00:00:00Z');
        assert.match(created.issued_on, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
        const pol = created.policies[0];
        assert.match(pol.id, /^[0-9a-f]{32}$/);
        assert.deepEqual(pol.permission_groups,
            [{ id: PG.dnsWrite, name: 'DNS Write' }]);
        assert.deepEqual(pol.resources, RES.allZonesA1);

        const got = await cf.user.tokens.get(created.id);
        assert.equal(got.name, 'dns editor');
        assert.equal(got.value, undefined);

        const ids = [];
        for await (const t of cf.user.tokens.list()) {
            ids.push(t.id);
        }
        assert.deepEqual(ids, [SEED_ID, created.id]);

        const updated = await cf.user.tokens.update(created.id, {
            name: 'zone reader',
            policies: [
                { id: pol.id, ...policy([PG.zoneRead], RES.z1) },
                policy([PG.accountSettingsRead], RES.a2),
            ],
            status: 'disabled',
        });
        assert.equal(updated.name, 'zone reader');
        assert.equal(updated.status, 'disabled');
        assert.equal(updated.policies.length, 2);
        assert.equal(updated.policies[0].id, pol.id, 'policy id kept');
        assert.notEqual(updated.policies[1].id, pol.id);
        assert.equal(updated.not_before, undefined, 'full replacement');
        assert.equal(updated.value, undefined);

        const del = await cf.user.tokens.delete(created.id);
        assert.deepEqual(del, { id: created.id });
        await rejects(cf.user.tokens.get(created.id), Cloudflare.NotFoundError,
            404, 7003);
    });

    test('unknown token ids are 404 with Cloudflare\'s error', async () => {
        const id = '0123456789abcdef0123456789abcdef';
        await rejects(cf.user.tokens.get(id), Cloudflare.NotFoundError, 404,
            7003);
        await rejects(cf.user.tokens.update(id, {
            name: 'x', policies: [policy([PG.zoneRead], RES.z1)],
        }), Cloudflare.NotFoundError, 404, 7003);
        await rejects(cf.user.tokens.delete(id), Cloudflare.NotFoundError,
            404, 7003);
        await rejects(cf.user.tokens.value.update(id),
            Cloudflare.NotFoundError, 404, 7003);
        await rejects(cf.accounts.tokens.get(id, { account_id: A1 }),
            Cloudflare.NotFoundError, 404, 7003);
    });

    test('roll: the new secret works, the old one stops', async () => {
        const t = await cf.user.tokens.create({
            name: 'to roll', policies: [policy([PG.zoneRead], RES.z1)],
        });
        const before = await client(t.value).user.tokens.verify();
        assert.equal(before.id, t.id);

        const value = await cf.user.tokens.value.update(t.id);
        assert.equal(typeof value, 'string');
        assert.match(value, /^cfut_[A-Za-z0-9]{40}$/);
        assert.notEqual(value, t.value);

        await rejects(client(t.value).user.tokens.verify(),
            Cloudflare.PermissionDeniedError, 403, 10000);
        const v = await client(value).user.tokens.verify();
        assert.equal(v.id, t.id);
        assert.equal(v.status, 'active');

        // Older SDKs send {} as the body; that is accepted too.
        const r = await raw(`/user/tokens/${t.id}/value`, {
            method: 'PUT', body: '{}',
            headers: { 'content-type': 'application/json' },
        });
        assert.equal(r.status, 200);
        assert.match(r.json.result, /^cfut_/);
    });

    test('account tokens: every operation', async () => {
        const created = await cf.accounts.tokens.create({
            account_id: A1,
            name: 'workers ci',
            policies: [
                policy([PG.workersScriptsRead], RES.a1),
                policy([PG.dnsWrite], RES.allZonesA1),
            ],
        });
        assert.match(created.value, /^cfat_[A-Za-z0-9]{40}$/);

        const list = await cf.accounts.tokens.list({ account_id: A1 });
        assert.deepEqual(list.result.map((t) => t.id), [created.id]);
        assert.equal(list.result_info.total_count, 1);
        const other = await cf.accounts.tokens.list({ account_id: A2 });
        assert.equal(other.result.length, 0);

        const got = await cf.accounts.tokens.get(created.id,
            { account_id: A1 });
        assert.equal(got.name, 'workers ci');
        await rejects(cf.accounts.tokens.get(created.id, { account_id: A2 }),
            Cloudflare.NotFoundError, 404, 7003);
        await rejects(cf.user.tokens.get(created.id),
            Cloudflare.NotFoundError, 404, 7003);

        const updated = await cf.accounts.tokens.update(created.id, {
            account_id: A1, name: 'workers ci 2',
            policies: [policy([PG.workersScriptsRead], RES.a1)],
        });
        assert.equal(updated.name, 'workers ci 2');
        assert.equal(updated.policies.length, 1);

        const own = client(created.value);
        const v = await own.accounts.tokens.verify({ account_id: A1 });
        assert.equal(v.id, created.id);
        await rejects(own.user.tokens.verify(),
            Cloudflare.PermissionDeniedError, 403);
        await rejects(own.accounts.tokens.verify({ account_id: A2 }),
            Cloudflare.PermissionDeniedError, 403);
        await rejects(own.user.tokens.list(),
            Cloudflare.PermissionDeniedError, 403, 10000);

        const rolled = await cf.accounts.tokens.value.update(created.id,
            { account_id: A1 });
        assert.match(rolled, /^cfat_[A-Za-z0-9]{40}$/);
        await rejects(own.accounts.tokens.verify({ account_id: A1 }),
            Cloudflare.PermissionDeniedError, 403, 10000);
        const fresh = client(rolled);
        assert.equal((await fresh.accounts.tokens.verify(
            { account_id: A1 })).id, created.id);

        assert.deepEqual(await cf.accounts.tokens.delete(created.id,
            { account_id: A1 }), { id: created.id });
        await rejects(fresh.accounts.tokens.verify({ account_id: A1 }),
            Cloudflare.PermissionDeniedError, 403, 10000);
    });

    test('account tokens stay inside their account', async () => {
        await rejects(cf.accounts.tokens.create({
            account_id: A1, name: 'escape',
            policies: [policy([PG.workersScriptsRead], RES.a2)],
        }), Cloudflare.BadRequestError, 400, 1001);
        await rejects(cf.accounts.tokens.create({
            account_id: A1, name: 'user group',
            policies: [policy([PG.apiTokensWrite], RES.user)],
        }), Cloudflare.BadRequestError, 400, 1001);
        await rejects(cf.accounts.tokens.list(
            { account_id: 'ffffffffffffffffffffffffffffffff' }),
        Cloudflare.NotFoundError, 404, 7003);
    });

    test('accounts and zones, with the name filter', async () => {
        const accounts = [];
        for await (const a of cf.accounts.list()) {
            accounts.push(a);
        }
        assert.deepEqual(accounts.map((a) => a.id), [A1, A2]);
        assert.equal(accounts[0].name, 'Sandbox Account');

        const zones = [];
        for await (const z of cf.zones.list()) {
            zones.push(z);
        }
        assert.equal(zones.length, 5);
        assert.ok(zones.every((z) => z.account && z.account.id &&
            z.account.name));

        const shared = (await cf.zones.list({ name: 'shared.example' }))
            .result;
        assert.equal(shared.length, 2);
        assert.deepEqual(shared.map((z) => z.account.id).sort(),
            [A1, A2].sort());

        const inA2 = (await cf.zones.list({
            name: 'shared.example', account: { id: A2 },
        })).result;
        assert.deepEqual(inA2.map((z) => z.id), [Z_SHARED_A2]);

        const none = await cf.zones.list({ name: 'absent.example' });
        assert.equal(none.result.length, 0);
        assert.equal(none.result_info.total_count, 0);

        const z = await cf.zones.get({ zone_id: Z1 });
        assert.equal(z.name, 'example.com');
        assert.deepEqual(z.account, { id: A1, name: 'Sandbox Account' });
    });

    test('pagination follows result_info to the end', async () => {
        const made = [];
        for (let i = 0; i < 25; i++) {
            const t = await cf.user.tokens.create({
                name: `page token ${i}`,
                policies: [policy([PG.zoneRead], RES.z1)],
            });
            made.push(t.id);
        }

        const seen = [];
        for await (const t of cf.user.tokens.list({ per_page: 10 })) {
            seen.push(t.id);
        }
        assert.deepEqual(seen, [SEED_ID, ...made]);

        const page = await cf.user.tokens.list({ per_page: 10, page: 3 });
        assert.deepEqual(page.result_info, {
            page: 3, per_page: 10, count: 6, total_count: 26, total_pages: 3,
        });

        const desc = await cf.user.tokens.list({
            per_page: 5, direction: 'desc',
        });
        assert.equal(desc.result[0].id, made[24]);

        const past = await cf.user.tokens.list({ per_page: 50, page: 9 });
        assert.equal(past.result.length, 0);

        await rejects(cf.user.tokens.list({ per_page: 4 }),
            Cloudflare.BadRequestError, 400, 1001);
        await rejects(cf.user.tokens.list({ per_page: 51 }),
            Cloudflare.BadRequestError, 400, 1001);
        const bad = await raw('/user/tokens?direction=sideways');
        assert.equal(bad.status, 400);
        const zero = await raw('/user/tokens?page=0');
        assert.equal(zero.status, 400);
    });

    test('validation errors are 400s shaped like Cloudflare\'s', async () => {
        const ok = policy([PG.zoneRead], RES.z1);
        const cases = [
            [{ policies: [ok] }, /name is required/],
            [{ name: '', policies: [ok] }, /name must not be empty/],
            [{ name: 'x'.repeat(121), policies: [ok] }, /121 characters/],
            [{ name: 'x' }, /policies is required/],
            [{ name: 'x', policies: [] }, /must not be empty/],
            [{ name: 'x', policies: [{ ...ok, effect: 'maybe' }] },
                /effect must be/],
            [{ name: 'x', policies: [policy(['0'.repeat(32)], RES.z1)] },
                /unknown permission group id "0{32}"/],
            [{ name: 'x', policies: [policy([PG.zoneRead], RES.a1)] },
                /Zone Read.*cannot be used on/],
            [{ name: 'x', policies: [policy([PG.accountSettingsRead],
                RES.z1)] }, /Account Settings Read.*cannot be used/],
            [{ name: 'x', policies: [policy([PG.zoneRead],
                { 'com.example.zone': '*' })] }, /invalid resource key/],
            [{ name: 'x', policies: [policy([PG.zoneRead], {
                [`com.cloudflare.api.account.zone.${'f'.repeat(32)}`]: '*',
            })] }, /unknown zone/],
            [{ name: 'x', policies: [policy([PG.accountSettingsRead], {
                [`com.cloudflare.api.account.${'f'.repeat(32)}`]: '*',
            })] }, /unknown account/],
            [{ name: 'x', policies: [policy([PG.zoneRead],
                { [`com.cloudflare.api.account.zone.${Z1}`]: 'read' })] },
            /must map to "\*"/],
            [{ name: 'x', policies: [policy([PG.apiTokensRead], {
                [`com.cloudflare.api.user.${'f'.repeat(32)}`]: '*',
            })] }, /only name its own user/],
            [{ name: 'x', policies: [ok], expires_on: 'tomorrow' },
                /expires_on must be an RFC 3339/],
            [{ name: 'x', policies: [ok], not_before: '2030-02-30T00:00:00Z' },
                /not_before must be an RFC 3339/],
            [{ name: 'x', policies: [ok], not_before: '2030-01-02T00:00:00Z',
                expires_on: '2030-01-01T00:00:00Z' },
            /expires_on must be later than not_before/],
            [{ name: 'x', policies: [ok],
                condition: { request_ip: { in: ['10.0.0.300/8'] } } },
            /not a CIDR block/],
            [{ name: 'x', policies: [ok],
                condition: { request_ip: { in: ['192.0.2.1'] } } },
            /not a CIDR block/],
            [{ name: 'x', policies: [ok],
                condition: { 'request.ip': { not_in: ['::1/129'] } } },
            /not a CIDR block/],
            [{ name: 'x', policies: [ok],
                condition: { request_ip: { maybe: ['::1/128'] } } },
            /request_ip.maybe is not supported/],
            [{ name: 'x', policies: [ok], condition: { time: {} } },
                /condition.time is not supported/],
        ];

        for (const [body, message] of cases) {
            const err = await rejects(cf.user.tokens.create(body),
                Cloudflare.BadRequestError, 400, 1001);
            assert.match(err.errors[0].message, message,
                JSON.stringify(body).slice(0, 200));
        }

        const bad = await raw('/user/tokens', {
            method: 'POST', body: '{"name":',
            headers: { 'content-type': 'application/json' },
        });
        assert.equal(bad.status, 400);
        assert.equal(bad.json.errors[0].code, 6007);

        // Nothing was created by any of the failures.
        const list = await cf.user.tokens.list();
        assert.equal(list.result.length, 1);
    });

    test('condition: request.ip is read, request_ip is written', async () => {
        const t = await cf.user.tokens.create({
            name: 'old key',
            policies: [policy([PG.zoneRead], RES.z1)],
            condition: { 'request.ip': { in: ['127.0.0.0/8', '::1/128'] } },
        });
        assert.deepEqual(t.condition,
            { request_ip: { in: ['127.0.0.0/8', '::1/128'] } });
        assert.equal((await client(t.value).user.tokens.verify()).id, t.id);

        const blocked = await cf.user.tokens.create({
            name: 'elsewhere',
            policies: [policy([PG.zoneRead], RES.z1)],
            condition: { request_ip: { not_in: ['127.0.0.0/8'] } },
        });
        const err = await rejects(client(blocked.value).user.tokens.verify(),
            Cloudflare.PermissionDeniedError, 403, 9109);
        assert.match(err.errors[0].message, /location: 127\.0\.0\.1/);
    });

    test('the 50-token user quota', async () => {
        // The seed token is the first of the 50.
        for (let i = 1; i < 50; i++) {
            await cf.user.tokens.create({
                name: `quota ${i}`, policies: [policy([PG.zoneRead], RES.z1)],
            });
        }
        const err = await rejects(cf.user.tokens.create({
            name: 'one too many', policies: [policy([PG.zoneRead], RES.z1)],
        }), Cloudflare.BadRequestError, 400, 1001);
        assert.match(err.errors[0].message, /quota.*at most 50/);

        // Account tokens have their own quota.
        const acct = await cf.accounts.tokens.create({
            account_id: A1, name: 'still fine',
            policies: [policy([PG.workersScriptsRead], RES.a1)],
        });
        assert.match(acct.value, /^cfat_/);
    });

    test('authentication errors', async () => {
        await rejects(client('cfut_' + 'x'.repeat(40)).user.tokens.verify(),
            Cloudflare.PermissionDeniedError, 403, 10000);
        await rejects(client('cfut_' + 'x'.repeat(40)).user.tokens.list(),
            Cloudflare.PermissionDeniedError, 403, 10000);

        const r = await fetch(`${sb.api}/user/tokens`, {
            headers: { authorization: 'Bearer not a token' },
        });
        assert.equal(r.status, 400);
        const body = await r.json();
        assert.deepEqual(body.errors, [{
            code: 6003, message: 'Invalid request headers',
            error_chain: [{
                code: 6111, message: 'Invalid format for Authorization header',
            }],
        }]);
        assert.equal(body.result, null);

        const none = await fetch(`${sb.api}/user/tokens`);
        assert.equal(none.status, 403);
        assert.equal((await none.json()).errors[0].code, 10000);

        const key = await fetch(`${sb.api}/user/tokens`, {
            headers: { 'x-auth-email': 'a@example.com', 'x-auth-key': 'k' },
        });
        assert.equal(key.status, 400);
        assert.equal((await key.json()).errors[0].error_chain[0].code, 6103);
    });

    test('policies decide: read-only, deny, one zone', async () => {
        const reader = await cf.user.tokens.create({
            name: 'reader',
            policies: [policy([PG.apiTokensRead], RES.user)],
        });
        const rc = client(reader.value);
        assert.equal((await rc.user.tokens.list()).result.length, 2);
        await rejects(rc.user.tokens.create({
            name: 'nope', policies: [policy([PG.zoneRead], RES.z1)],
        }), Cloudflare.PermissionDeniedError, 403, 10000);
        await rejects(rc.accounts.list(), Cloudflare.PermissionDeniedError,
            403, 10000);

        const denied = await cf.user.tokens.create({
            name: 'denied',
            policies: [
                policy([PG.apiTokensWrite], RES.user),
                policy([PG.apiTokensWrite], RES.user, 'deny'),
            ],
        });
        await rejects(client(denied.value).user.tokens.list(),
            Cloudflare.PermissionDeniedError, 403, 10000);

        const oneZone = await cf.user.tokens.create({
            name: 'one zone', policies: [policy([PG.zoneRead], RES.z1)],
        });
        const zc = client(oneZone.value);
        const zones = (await zc.zones.list()).result;
        assert.deepEqual(zones.map((z) => z.id), [Z1]);
        const accounts = (await zc.accounts.list()).result;
        assert.deepEqual(accounts.map((a) => a.id), [A1]);
        await rejects(zc.zones.get({ zone_id: Z_SHARED_A2 }),
            Cloudflare.PermissionDeniedError, 403, 10000);
        await rejects(zc.accounts.tokens.list({ account_id: A1 }),
            Cloudflare.PermissionDeniedError, 403, 10000);
    });

    test('status, validity window and last_used_on', async () => {
        const t = await cf.user.tokens.create({
            name: 'used', policies: [policy([PG.zoneRead], RES.z1)],
        });
        assert.equal(t.last_used_on, undefined);
        await client(t.value).user.tokens.verify();
        const got = await cf.user.tokens.get(t.id);
        assert.match(got.last_used_on, /^\d{4}-\d\d-\d\dT/);

        const expired = await control('POST', 'tokens', {
            name: 'expired', expires_on: '2020-01-01T00:00:00Z',
            policies: [policy([PG.zoneRead], RES.z1)],
        });
        assert.equal(expired.status, 'expired');
        await rejects(client(expired.value).user.tokens.verify(),
            Cloudflare.PermissionDeniedError, 403, 10000);

        const listed = (await cf.user.tokens.list()).result.map((x) => x.id);
        assert.ok(!listed.includes(expired.id));
        const all = (await cf.user.tokens.list({ include_expired: true }))
            .result;
        assert.equal(all.find((x) => x.id === expired.id).status, 'expired');

        const early = await cf.user.tokens.create({
            name: 'later', not_before: '2099-01-01T00:00:00Z',
            policies: [policy([PG.zoneRead], RES.z1)],
        });
        await rejects(client(early.value).user.tokens.verify(),
            Cloudflare.PermissionDeniedError, 403, 10000);

        await cf.user.tokens.update(t.id, {
            name: 'used', status: 'disabled',
            policies: [policy([PG.zoneRead], RES.z1)],
        });
        await rejects(client(t.value).user.tokens.verify(),
            Cloudflare.PermissionDeniedError, 403, 10000);
    });

    test('the control endpoint seeds tokens', async () => {
        const value = 'cfat_' + 'A'.repeat(40);
        const t = await control('POST', 'tokens', {
            owner: A2, id: 'abcdefabcdefabcdefabcdefabcdef12', value,
            name: 'seeded', policies: [policy([PG.workersScriptsRead],
                RES.a2)],
        });
        assert.equal(t.id, 'abcdefabcdefabcdefabcdefabcdef12');
        assert.equal(t.value, value);
        const v = await client(value).accounts.tokens.verify(
            { account_id: A2 });
        assert.equal(v.id, t.id);

        const bad = await fetch(`${sb.base}/__sandbox/tokens`, {
            method: 'POST', body: JSON.stringify({ name: 'no policies' }),
        });
        assert.equal(bad.status, 400);

        await control('POST', 'reset');
        await rejects(client(value).accounts.tokens.verify(
            { account_id: A2 }), Cloudflare.PermissionDeniedError, 403);
    });

    test('rate-limit headers', async () => {
        const r = await raw('/user/tokens/verify');
        assert.equal(r.headers.get('x-ratelimit-limit'), '1200');
        assert.match(r.headers.get('x-ratelimit-remaining'), /^\d+$/);
        assert.match(r.headers.get('ratelimit'), /^"default";r=\d+;t=\d+$/);
    });

    test('answers match the 2024 OpenAPI fragment', async (t) => {
        if (!fs.existsSync(OPENAPI)) {
            t.skip(`no ${OPENAPI}`);
            return;
        }
        const spec = JSON.parse(fs.readFileSync(OPENAPI, 'utf8'));
        const check = (route, method, status, body) => {
            const op = spec.paths[route][method];
            const schema = status === 200
                ? op.responses['200'].content['application/json'].schema
                : { $ref: '#/components/schemas/' +
                    'iam_api-response-common-failure' };
            const e = schemaError(spec, schema, body);
            assert.equal(e, null, `${method} ${route}: ${e}\n` +
                JSON.stringify(body));
        };
        const token = (body) => {
            const e = schemaError(spec,
                { $ref: '#/components/schemas/iam_token' }, body);
            assert.equal(e, null, `${e}\n${JSON.stringify(body)}`);
        };

        const json = { 'content-type': 'application/json' };
        const created = await raw('/user/tokens', {
            method: 'POST', headers: json, body: JSON.stringify({
                name: 'schema', policies: [policy([PG.zoneRead], RES.z1)],
                expires_on: '2099-01-01T00:00:00Z',
                condition: { request_ip: { in: ['192.0.2.0/24'] } },
            }),
        });
        check('/user/tokens', 'post', created.status, created.json);
        token(created.json.result);
        const id = created.json.result.id;

        const list = await raw('/user/tokens?per_page=5');
        check('/user/tokens', 'get', list.status, list.json);
        list.json.result.forEach(token);

        const one = await raw(`/user/tokens/${id}`);
        check('/user/tokens/{token_id}', 'get', one.status, one.json);
        token(one.json.result);

        const put = await raw(`/user/tokens/${id}`, {
            method: 'PUT', headers: json, body: JSON.stringify({
                name: 'schema 2', policies: [policy([PG.zoneRead], RES.z1)],
            }),
        });
        check('/user/tokens/{token_id}', 'put', put.status, put.json);

        const roll = await raw(`/user/tokens/${id}/value`, {
            method: 'PUT', headers: json, body: '{}',
        });
        check('/user/tokens/{token_id}/value', 'put', roll.status, roll.json);

        const groups = await raw('/user/tokens/permission_groups');
        check('/user/tokens/permission_groups', 'get', groups.status,
            groups.json);

        const verify = await raw('/user/tokens/verify');
        check('/user/tokens/verify', 'get', verify.status, verify.json);

        const del = await raw(`/user/tokens/${id}`, { method: 'DELETE' });
        check('/user/tokens/{token_id}', 'delete', del.status, del.json);

        const gone = await raw(`/user/tokens/${id}`);
        assert.equal(gone.status, 404);
        check('/user/tokens/{token_id}', 'get', gone.status, gone.json);

        const bad = await raw('/user/tokens', {
            method: 'POST', headers: json, body: '{"name":"x"}',
        });
        assert.equal(bad.status, 400);
        check('/user/tokens', 'post', bad.status, bad.json);
    });

    test('fault: 5xx', async () => {
        await control('POST', 'faults',
            { route: 'GET /user/tokens', mode: 'status5xx', status: 503 });
        const err = await rejects(cf.user.tokens.list(),
            Cloudflare.InternalServerError, 503);
        assert.equal(err.error.success, false);

        // Other routes are untouched.
        assert.equal((await cf.user.tokens.verify()).id, SEED_ID);
    });

    test('fault: 429 with retry-after', async () => {
        await control('POST', 'faults', {
            route: 'GET /user/tokens/verify', mode: 'ratelimit',
            retry_after: 7,
        });
        const err = await rejects(cf.user.tokens.verify(),
            Cloudflare.RateLimitError, 429, 971);
        assert.equal(err.headers.get('retry-after'), '7');
    });

    test('fault: malformed and empty bodies', async () => {
        // The SDK fails to parse the cut body...
        await control('POST', 'faults',
            { route: 'GET /user/tokens/verify', mode: 'malformed' });
        await assert.rejects(cf.user.tokens.verify(), SyntaxError);

        // ...and finds no envelope to unwrap in an empty one.
        await control('POST', 'faults',
            { route: 'GET /user/tokens/verify', mode: 'empty' });
        const r = await fetch(`${sb.api}/user/tokens/verify`);
        assert.equal(r.status, 200);
        assert.equal(r.headers.get('content-length'), '0');
        assert.equal(await r.text(), '');
        await assert.rejects(cf.user.tokens.verify(), TypeError);
    });

    test('fault: connection reset', async () => {
        await control('POST', 'faults',
            { route: 'GET /accounts', mode: 'reset' });
        await rejects(cf.accounts.list(), Cloudflare.APIConnectionError);
        assert.equal((await cf.user.tokens.verify()).id, SEED_ID);
    });

    test('fault: latency, count and "*"', async () => {
        await control('POST', 'faults', {
            route: 'GET /zones/*', mode: 'latency', latency_ms: 300, count: 1,
        });
        let t0 = Date.now();
        const z = await cf.zones.get({ zone_id: Z1 });
        assert.equal(z.id, Z1);
        assert.ok(Date.now() - t0 >= 280, 'answered late');

        t0 = Date.now();
        await cf.zones.get({ zone_id: Z1 });
        assert.ok(Date.now() - t0 < 280, 'count 1 used up');

        const faults = await control('POST', 'faults', [
            { route: '*', mode: 'status5xx' },
            { route: 'GET /user/tokens/verify', mode: 'none' },
        ]);
        assert.equal(faults.length, 2);
        await rejects(cf.zones.list(), Cloudflare.InternalServerError, 500);
        assert.equal((await cf.user.tokens.verify()).id, SEED_ID);

        const listed = await control('GET', 'faults');
        assert.deepEqual(listed.map((f) => f.route),
            ['*', 'GET /user/tokens/verify']);
        const cleared = await control('DELETE', 'faults');
        assert.equal(cleared.cleared, 2);
        assert.equal((await cf.zones.list()).result.length, 5);
    });

    test('a fault request that is refused leaves faults alone', async () => {
        const r = await fetch(`${sb.base}/__sandbox/faults`, {
            method: 'POST',
            body: JSON.stringify({ route: 'GET /zones', mode: 'explode' }),
        });
        assert.equal(r.status, 400);
        assert.deepEqual(await control('GET', 'faults'), []);
    });
    test('no secret reaches the error log', async () => {
        const t = await cf.user.tokens.create({
            name: 'logged?', policies: [policy([PG.zoneRead], RES.z1)],
        });
        const rolled = await cf.user.tokens.value.update(t.id);
        await rejects(client(t.value).user.tokens.verify(),
            Cloudflare.PermissionDeniedError, 403);
        await fetch(`${sb.api}/user/tokens`,
            { headers: { authorization: `Bearer ${SEED} trailing` } });

        const log = sb.gw.errorLog();
        assert.match(log, new RegExp(`token ${t.id} rolled`));
        for (const secret of [SEED, t.value, rolled]) {
            assert.ok(!log.includes(secret), 'a secret is in the error log');
        }
        assert.doesNotMatch(log, /Bearer/);
    });
});

describe('cfsandbox configuration', () => {
    test('faults, accounts and zones from the configuration', async () => {
        const sb = await startSandbox(
            'accounts = ( { id = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"; ' +
            'name = "Configured"; } ); ' +
            'zones = ( { id = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"; ' +
            'name = "configured.example"; ' +
            'account = "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"; } ); ' +
            'faults = ( { route = "GET /user/tokens"; mode = "status5xx"; ' +
            'status = 502; } );');
        try {
            const cf = new Cloudflare({
                apiToken: SEED, baseURL: sb.api, maxRetries: 0,
            });
            await rejects(cf.user.tokens.list(),
                Cloudflare.InternalServerError, 502);

            const zones = (await cf.zones.list()).result;
            assert.deepEqual(zones.map((z) => [z.name, z.account.name]),
                [['configured.example', 'Configured']]);

            await fetch(`${sb.base}/__sandbox/faults`, { method: 'DELETE' });
            assert.equal((await cf.user.tokens.list()).result.length, 1);

            // A reset brings the configured fault back.
            await fetch(`${sb.base}/__sandbox/reset`, { method: 'POST' });
            await rejects(cf.user.tokens.list(),
                Cloudflare.InternalServerError, 502);
        } finally {
            await sb.gw.stop();
        }
    });

    test('bad settings are refused with file:line', async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mcpgw-sbconf-'));
        const cases = [
            ['colour = "blue";', /unknown setting "colour"/],
            ['accounts = ( { id = "nothex"; name = "x"; } );',
                /32 lower-case hex/],
            ['faults = ( { route = "GET /x"; mode = "explode"; } );',
                /mode must be one of/],
            ['zones = ( { id = "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"; ' +
                'name = "z.example"; account = "cccccccccccccccccccccccc' +
                'cccccccc"; } );', /needs an "account"/],
        ];
        try {
            for (const [extra, message] of cases) {
                const file = path.join(dir, 'mcpgw.conf');
                fs.writeFileSync(file, gatewayConf(1, 2, extra));
                const r = spawnSync(BIN, ['-t', '-p', dir, '-c', file],
                    { encoding: 'utf8' });
                assert.equal(r.status, 1, `${r.error}\n${r.stderr}`);
                assert.match(r.stderr, message);
                assert.match(r.stderr, /mcpgw\.conf:\d+: /);
                assert.doesNotMatch(r.stderr, /AddressSanitizer|LeakSanitizer/);
            }

            fs.writeFileSync(path.join(dir, 'mcpgw.conf'), gatewayConf(1, 2)
                .replace(`${ROOT}/conf/sandbox.token`, `${dir}/missing`));
            const r = spawnSync(BIN, ['-t', '-p', dir, '-c',
                path.join(dir, 'mcpgw.conf')], { encoding: 'utf8' });
            assert.equal(r.status, 1, `${r.error}\n${r.stderr}`);
            assert.match(r.stderr, /cannot read seed_token_file/);
            assert.doesNotMatch(r.stderr, new RegExp(SEED));
        } finally {
            fs.rmSync(dir, { recursive: true, force: true });
        }
    });
});
