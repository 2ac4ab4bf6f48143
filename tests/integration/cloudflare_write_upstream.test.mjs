// Writes against a Cloudflare that loses answers or refuses (field
// reports 7 and 8).  The gateway runs the shipped conf/mcpgw.conf with its
// cloudflare.api pointed at a small node proxy in front of its own
// sandbox, and the cloudflare timeout lowered to 2000 ms.
//
// The sandbox's own faults (reset, status5xx, empty, malformed) all
// strike BEFORE the sandbox acts, so they make writes that did not take
// effect.  A write that took effect and whose answer was lost is made by
// the proxy: it forwards the request, lets the sandbox act, then destroys
// the gateway's connection (or answers something else).  Every test
// counts the writes that went out: a create, update, roll or delete is
// sent exactly once, never retried blindly.

import { after, before, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';

import {
    A1, SEED, accessLog, assertError, assertOk, call, clearFaults, connect,
    fault,
    iso, resetSandbox, sandboxTokens, seen, sleep, startProxied,
} from './cloudflare_lib.mjs';

const TIMEOUT = 2000;

let gw;
let sb;
let proxy;
let client;

const POLICY = [{ permission_groups: ['D1 Write'],
    resources: { accounts: [A1] } }];

const CREATE = /^\/(user|accounts\/[0-9a-f]{32})\/tokens$/;

async function create(name, extra = {}) {
    const res = await call(client, 'tokens_create',
        { name, policies: POLICY, ...extra });
    return assertOk(res).token;
}

async function sandboxHas(name, account) {
    return (await sandboxTokens(sb, account)).find((t) => t.name === name);
}

async function listed(name, account) {
    const res = await call(client, 'tokens_list',
        account ? { account_id: account } : {});
    return assertOk(res).tokens.find((t) => t.name === name);
}

// Only the writes of this test, not the set-up's.
function mark() {
    proxy.requests.length = 0;
}

before(async () => {
    ({ gw, proxy } = await startProxied({ timeout: TIMEOUT }));
    sb = gw.sandbox;
    ({ client } = await connect(gw));
});

after(async () => {
    await client?.close();
    const access = accessLog(gw);
    await gw.stop();
    await proxy.close();
    const log = gw.errorLog();
    for (const { text } of seen) {
        assert.ok(!text.includes(SEED), 'a result holds the gateway token');
    }
    assert.ok(!log.includes(SEED), 'the log holds the token');
    // The secrets handed out here are in no log either.
    const values = seen.map((s) => JSON.parse(s.text).structuredContent)
        .map((s) => (s.token && s.token.value) || s.value).filter(Boolean);
    assert.ok(values.length > 10);
    for (const v of values) {
        assert.ok(!log.includes(v) && !access.includes(v),
            'a secret is in a log');
    }
});

beforeEach(async () => {
    proxy.hook = () => undefined;
    proxy.onAnswer = null;
    await resetSandbox(sb);
    await clearFaults(sb);
    mark();
});

// ------------------------------------------------------------------

describe('field report 7: a create whose answer is lost', () => {
    // (a) The create did not take effect: the sandbox failed before it
    // acted.  The gateway looks the name up and finds nothing.  When
    // Cloudflare answered at all (5xx, empty, malformed) it is done with
    // the request, so trying again is safe; after a reset nothing proves
    // the request will not still arrive, so the gateway says to look
    // again first.  Either way, trying again after looking works.
    for (const mode of ['reset', 'status5xx', 'empty', 'malformed']) {
        const code = mode === 'reset' ? 'outcome_unknown'
            : 'create_not_applied';
        test(`not applied (sandbox fault "${mode}"): ${code}`,
            async () => {
                await fault(sb, { route: 'POST /user/tokens', mode,
                    count: 1 });
                const res = await call(client, 'tokens_create',
                    { name: `lost-${mode}`, policies: POLICY });
                assertError(res, code, new RegExp(`lost-${mode}.*` +
                    (mode === 'reset' ? 'may still arrive'
                        : 'safe to try again')));
                assert.deepEqual(proxy.writes(), ['POST /user/tokens'],
                    'sent once, not retried');
                assert.ok(!await listed(`lost-${mode}`));
                assert.ok(!await sandboxHas(`lost-${mode}`));

                // Safe to try again, indeed.
                const t = await create(`lost-${mode}`);
                assert.ok(t.value);
            });
    }

    test('not applied, account-owned: create_not_applied', async () => {
        await fault(sb, { route: `POST /accounts/${A1}/tokens`,
            mode: 'status5xx', count: 1 });
        const res = await call(client, 'tokens_create',
            { name: 'lost-acct', policies: POLICY, account_id: A1 });
        assertError(res, 'create_not_applied', /safe to try again/);
        assert.deepEqual(proxy.writes(), [`POST /accounts/${A1}/tokens`]);
        assert.ok(!await listed('lost-acct', A1));
    });

    // (b) The create took effect and the answer was lost on the way back:
    // the token exists, its secret is gone, and the gateway says so,
    // naming the token's id.
    const lost = {
        'connection dropped': { forwardThenDrop: true },
        'an empty 200': { forwardThenReply: { status: 200, body: '' } },
        'a truncated 200': { forwardThenReply: { status: 200,
            body: '{"success":true,"result":{"id":' } },
        'a 502 from a proxy': { forwardThenReply: { status: 502,
            headers: { 'content-type': 'text/html' },
            body: '<html>Bad Gateway</html>' } },
    };
    for (const [what, action] of Object.entries(lost)) {
        test(`applied, answer lost (${what}): created_secret_lost`,
            async () => {
                const name = `applied-${what.replace(/\W+/g, '-')}`;
                proxy.once('POST', CREATE, action);
                const res = await call(client, 'tokens_create',
                    { name, policies: POLICY });
                const t = await sandboxHas(name);
                assert.ok(t, 'the token was created');
                const err = assertError(res, 'created_secret_lost',
                    new RegExp(`${name}.*${t.id}`));
                assert.equal(err.details.token.id, t.id);
                assert.equal(err.details.token.name, name);
                assert.ok(!('value' in err.details.token));
                assert.match(err.message, /tokens_roll/);
                assert.deepEqual(proxy.writes(), ['POST /user/tokens'],
                    'sent once, not retried');
                assert.equal((await listed(name)).id, t.id);

                // As the message says: a roll gets a working secret.
                const r = await call(client, 'tokens_roll',
                    { token_id: t.id });
                const v = await call(client, 'tokens_verify',
                    { token: assertOk(r).value });
                assert.equal(assertOk(v).id, t.id);
            });
    }

    test('applied, answer lost, account-owned: looked up in that account',
        async () => {
            proxy.once('POST', CREATE, { forwardThenDrop: true });
            const res = await call(client, 'tokens_create',
                { name: 'applied-acct', policies: POLICY, account_id: A1 });
            const t = await sandboxHas('applied-acct', A1);
            assert.ok(t);
            const err = assertError(res, 'created_secret_lost',
                new RegExp(t.id));
            assert.equal(err.details.token.id, t.id);
            assert.deepEqual(proxy.writes(), [`POST /accounts/${A1}/tokens`]);
            assert.ok(proxy.requests.some((r) => r.method === 'GET' &&
                r.path === `/accounts/${A1}/tokens`), 'the lookup');

            // Deleted in that account, with its answer lost too.
            mark();
            proxy.once('DELETE', `/accounts/${A1}/tokens/${t.id}`,
                { forwardThenDrop: true });
            const del = await call(client, 'tokens_delete',
                { token_id: t.id, account_id: A1 });
            assert.equal(assertOk(del).deleted, true);
            assert.deepEqual(proxy.writes(),
                [`DELETE /accounts/${A1}/tokens/${t.id}`]);
            assert.ok(!await sandboxHas('applied-acct', A1));
        });

    test('a success without the secret names the created token', async () => {
        // Cloudflare said success, the token exists, the answer had no
        // value: the gateway must say which token it was.
        proxy.once('POST', CREATE, { forwardThenReply: (rec) => {
            const answer = JSON.parse(rec.answer);
            delete answer.result.value;
            return { status: 200, body: answer };
        } });
        const res = await call(client, 'tokens_create',
            { name: 'novalue', policies: POLICY });
        const t = await sandboxHas('novalue');
        assert.ok(t);
        const err = assertError(res, 'created_secret_lost', /tokens_roll/);
        assert.deepEqual(proxy.writes(), ['POST /user/tokens']);
        // The id the gateway can know is the one it was told, or the one
        // a lookup by name finds: either way the result must name it.
        assert.ok(err.message.includes(t.id) ||
            JSON.stringify(err.details || {}).includes(t.id),
        `created_secret_lost names the token id ${t.id}: ` +
            JSON.stringify(err));
    });

    test('a create that times out is not declared "not applied"',
        async () => {
            // The sandbox holds the POST for 5 s and then creates the
            // token; the gateway gives up after 2 s.  Its lookup by
            // name finds nothing YET: the create is still in flight, so
            // "it did not take effect, it is safe to try again" would be
            // wrong.
            await fault(sb, { route: 'POST /user/tokens', mode: 'latency',
                latency_ms: 5000, count: 1 });
            const t0 = Date.now();
            const res = await call(client, 'tokens_create',
                { name: 'slow-create', policies: POLICY });
            const took = Date.now() - t0;
            let t;
            for (let i = 0; i < 80 && !t; i++) {
                await sleep(100);
                t = await sandboxHas('slow-create');
            }
            assert.ok(t, 'the held create landed in the end');
            assert.ok(took < 5000, `the gateway gave up after ${took} ms`);
            assert.deepEqual(proxy.writes(), ['POST /user/tokens']);
            assert.equal(res.isError, true);
            const err = res.structuredContent.error;
            assert.notEqual(err.code, 'create_not_applied',
                'after a timeout the create may still take effect: ' +
                err.message);
            assert.doesNotMatch(err.message, /safe to try again/);
        });
});

describe('field report 7: updates, deletes and rolls whose answer is lost',
    () => {
        test('update applied, answer lost: success, with a note',
            async () => {
                const t = await create('upd-applied');
                const until = iso(Date.now() + 3600 * 1000);
                mark();
                proxy.once('PUT', `/user/tokens/${t.id}`,
                    { forwardThenDrop: true });
                const res = await call(client, 'tokens_update',
                    { token_id: t.id, expires_on: until });
                const s = assertOk(res);
                assert.equal(s.token.expires_on, until);
                assert.match(s.note, /lost.*took effect/);
                assert.deepEqual(proxy.writes(),
                    [`PUT /user/tokens/${t.id}`]);
            });

        test('update not applied: update_not_applied', async () => {
            const t = await create('upd-not');
            mark();
            await fault(sb, { route: `PUT /user/tokens/${t.id}`,
                mode: 'status5xx', status: 503, count: 1 });
            const res = await call(client, 'tokens_update',
                { token_id: t.id, ttl: '1h', name: 'upd-not-renamed' });
            assertError(res, 'update_not_applied', /safe to try again/);
            assert.deepEqual(proxy.writes(), [`PUT /user/tokens/${t.id}`]);
            const now = (await sandboxTokens(sb)).find((x) => x.id === t.id);
            assert.equal(now.name, 'upd-not');
            assert.ok(!now.expires_on);
        });

        // Only what the read-back compares counts as "applied": a change
        // of the condition or of not_before alone must be compared too.
        const only = {
            'condition only': { condition:
                { request_ip: { in: ['192.0.2.1'] } } },
            'not_before only': { not_before: '2031-01-01T00:00:00Z' },
        };
        for (const [what, change] of Object.entries(only)) {
            test(`update not applied, ${what}: not reported as done`,
                async () => {
                    const t = await create(`upd-${what.split(' ')[0]}`);
                    mark();
                    await fault(sb, { route: `PUT /user/tokens/${t.id}`,
                        mode: 'empty', count: 1 });
                    const res = await call(client, 'tokens_update',
                        { token_id: t.id, ...change });
                    assert.deepEqual(proxy.writes(),
                        [`PUT /user/tokens/${t.id}`]);
                    const now = (await sandboxTokens(sb))
                        .find((x) => x.id === t.id);
                    assert.deepEqual(now.condition || {}, {},
                        'the sandbox did not apply it');
                    assert.ok(!now.not_before);
                    assert.equal(res.isError, true,
                        'the update did not take effect, but the gateway ' +
                        `said: ${JSON.stringify(res.structuredContent)}`);
                    assertError(res, 'update_not_applied');
                });
        }

        test('delete applied, answer lost: deleted, with a note', async () => {
            const t = await create('del-applied');
            mark();
            proxy.once('DELETE', `/user/tokens/${t.id}`,
                { forwardThenDrop: true });
            const res = await call(client, 'tokens_delete',
                { token_id: t.id });
            const s = assertOk(res);
            assert.equal(s.deleted, true);
            assert.equal(s.token_id, t.id);
            assert.match(s.note, /lost.*no longer exists/);
            assert.deepEqual(proxy.writes(), [`DELETE /user/tokens/${t.id}`]);
            assert.ok(!await sandboxHas('del-applied'));
        });

        test('delete not applied: delete_not_applied', async () => {
            const t = await create('del-not');
            mark();
            await fault(sb, { route: `DELETE /user/tokens/${t.id}`,
                mode: 'status5xx', count: 1 });
            const res = await call(client, 'tokens_delete',
                { token_id: t.id });
            assertError(res, 'delete_not_applied', /safe to try again/);
            assert.deepEqual(proxy.writes(), [`DELETE /user/tokens/${t.id}`]);
            assert.ok(await sandboxHas('del-not'));
        });

        test('roll applied, answer lost: roll_outcome_lost', async () => {
            const t = await create('roll-applied');
            mark();
            proxy.once('PUT', `/user/tokens/${t.id}/value`,
                { forwardThenDrop: true });
            const res = await call(client, 'tokens_roll', { token_id: t.id });
            assertError(res, 'roll_outcome_lost', /roll again/i);
            assert.deepEqual(proxy.writes(),
                [`PUT /user/tokens/${t.id}/value`]);
            assert.ok(!JSON.stringify(res).includes(t.value));
            // It did roll: the old secret is dead; rolling again works.
            const old = await call(client, 'tokens_verify',
                { token: t.value });
            assert.equal(old.isError, true);
            const again = await call(client, 'tokens_roll',
                { token_id: t.id });
            const v = await call(client, 'tokens_verify',
                { token: assertOk(again).value });
            assert.equal(assertOk(v).id, t.id);
        });

        test('roll not applied: roll_outcome_lost, the old secret works',
            async () => {
                const t = await create('roll-not');
                mark();
                await fault(sb, { route: `PUT /user/tokens/${t.id}/value`,
                    mode: 'empty', count: 1 });
                const res = await call(client, 'tokens_roll',
                    { token_id: t.id });
                assertError(res, 'roll_outcome_lost', /roll again/i);
                assert.deepEqual(proxy.writes(),
                    [`PUT /user/tokens/${t.id}/value`]);
                const old = await call(client, 'tokens_verify',
                    { token: t.value });
                assert.equal(assertOk(old).id, t.id);
            });
    });

// ------------------------------------------------------------------

describe('field report 8: Cloudflare refusals of writes', () => {
    const refusals = {
        '403 10000': {
            reply: { status: 403, body: { success: false,
                errors: [{ code: 10000, message: 'Authentication error' }],
                messages: [], result: null } },
            code: 'cloudflare_error', re: /10000.*Authentication error/,
        },
        'success:false with HTTP 200': {
            reply: { status: 200, body: { success: false,
                errors: [{ code: 1001, message: 'Failed common permission ' +
                    `check (token Bearer ${SEED})` }],
                messages: [], result: null } },
            code: 'cloudflare_error', re: /1001.*Failed common permission/,
        },
        '429 with retry-after': {
            reply: { status: 429, headers: { 'retry-after': '30' },
                body: { success: false, errors: [{ code: 971,
                    message: 'Please wait and consider throttling your ' +
                        'request speed' }], messages: [], result: null } },
            code: 'rate_limited', re: /retry after 30 s/,
        },
    };

    const writes = {
        create: async () => ({
            method: 'POST', path: CREATE,
            call: () => call(client, 'tokens_create',
                { name: 'refused', policies: POLICY }),
        }),
        update: async () => {
            const t = await create('to-update');
            return { method: 'PUT', path: `/user/tokens/${t.id}`, t,
                call: () => call(client, 'tokens_update',
                    { token_id: t.id, ttl: '2h' }) };
        },
        roll: async () => {
            const t = await create('to-roll');
            return { method: 'PUT', path: `/user/tokens/${t.id}/value`, t,
                call: () => call(client, 'tokens_roll', { token_id: t.id }) };
        },
        delete: async () => {
            const t = await create('to-delete');
            return { method: 'DELETE', path: `/user/tokens/${t.id}`, t,
                call: () => call(client, 'tokens_delete', { token_id: t.id }) };
        },
    };

    for (const [op, setup] of Object.entries(writes)) {
        for (const [what, r] of Object.entries(refusals)) {
            test(`${op}: ${what} is an isError naming code and message`,
                async () => {
                    const w = await setup();
                    mark();
                    proxy.once(w.method, w.path, { reply: r.reply });
                    const res = await w.call();
                    const err = assertError(res, r.code, r.re);
                    assert.ok(res.content.some((c) => c.type === 'text' &&
                        r.re.test(c.text)), 'a text block says it');
                    if (r.code === 'rate_limited') {
                        assert.equal(err.details.retry_after, 30);
                        assert.equal(err.details.status, 429);
                    } else {
                        assert.equal(err.details.cloudflare_code,
                            r.reply.body.errors[0].code);
                    }
                    // A refusal is an answer: nothing is repeated and no
                    // read-back is needed.
                    assert.equal(proxy.writes().length, 1,
                        proxy.writes().join());
                    const after = proxy.requests.map(
                        (q) => `${q.method} ${q.path}`);
                    assert.equal(after[after.length - 1],
                        proxy.writes()[0], 'no read-back after a refusal');
                    assert.ok(!JSON.stringify(res).includes(SEED),
                        'the gateway\'s own token is not in the error');
                    if (w.t) {
                        assert.ok((await sandboxTokens(sb)).some(
                            (x) => x.id === w.t.id &&
                                x.modified_on === w.t.modified_on),
                        'the token is as it was');
                    } else {
                        assert.ok(!await sandboxHas('refused'));
                    }
                });
        }
    }

    test('429 from the sandbox itself on a create', async () => {
        await fault(sb, { route: 'POST /user/tokens', mode: 'ratelimit',
            retry_after: 7, count: 1 });
        const res = await call(client, 'tokens_create',
            { name: 'limited', policies: POLICY });
        const err = assertError(res, 'rate_limited', /retry after 7 s/);
        assert.equal(err.details.retry_after, 7);
        assert.deepEqual(proxy.writes(), ['POST /user/tokens']);
        assert.ok(!await sandboxHas('limited'));
    });
});
