// Field reports 1-6 (shared/reference/field-reports.md) as tests against
// the real binary, each over several variants, plus the Origin/Host, JSON
// and request-id checks around them.  Every test talks to 127.0.0.1 only
// and every wait is bounded.

import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';

import { startGateway, testConfig, post, rawSession } from './harness.mjs';

const V03 = '2025-03-26';
const V06 = '2025-06-18';
const V11 = '2025-11-25';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------
// Helpers

// A request through node's http module: header arrays are sent as
// repeated header lines, bodies may be chunked, and Expect:
// 100-continue waits for the interim answer before the body goes out.
function rawHttp(gw, { method = 'POST', headers = {}, body = null,
                       chunks = null, expectContinue = false,
                       setHost = true, timeout = 10000 } = {}) {
    return new Promise((resolve, reject) => {
        let continued = false;
        let settled = false;
        const req = http.request({
            host: '127.0.0.1', port: gw.port, path: '/mcp', method,
            headers, agent: false, setHost,
        }, (res) => {
            const parts = [];
            res.on('data', (d) => parts.push(d));
            res.on('end', () => {
                settled = true;
                const text = Buffer.concat(parts).toString('utf8');
                let json = null;
                try {
                    json = text ? JSON.parse(text) : null;
                } catch {
                    json = null;
                }
                if (!req.writableEnded) {
                    req.destroy();
                }
                resolve({ status: res.statusCode, headers: res.headers,
                          text, json, continued });
            });
            res.on('error', (e) => { if (!settled) reject(e); });
        });
        req.setTimeout(timeout, () => {
            req.destroy(new Error(`no answer within ${timeout} ms`));
        });
        req.on('error', (e) => { if (!settled) reject(e); });
        const send = () => {
            if (chunks) {
                for (const c of chunks) {
                    req.write(c);
                }
                req.end();
            } else {
                req.end(body ?? undefined);
            }
        };
        if (expectContinue) {
            req.on('continue', () => { continued = true; send(); });
        } else {
            send();
        }
    });
}

function sessionHeaders(sid, version = V11, extra = {}) {
    const h = { 'mcp-session-id': sid, ...extra };
    if (version) {
        h['mcp-protocol-version'] = version;
    }
    return h;
}

function ctype(r) {
    return typeof r.headers.get === 'function'
        ? r.headers.get('content-type') || ''
        : r.headers['content-type'] || '';
}

// A refusal: the status, and a JSON-RPC error body in application/json.
function assertRpcRefusal(r, status, code, label = '') {
    assert.equal(r.status, status, `${label}: status; body: ${r.text}`);
    assert.match(ctype(r), /^application\/json/i,
        `${label}: a refusal is JSON, got ${ctype(r)}: ${r.text}`);
    assert.doesNotMatch(r.text, /<html|<!doctype/i, `${label}: no HTML`);
    assert.ok(r.json, `${label}: body is JSON: ${r.text}`);
    assert.equal(r.json.jsonrpc, '2.0', `${label}: ${r.text}`);
    assert.ok(r.json.error, `${label}: has an error: ${r.text}`);
    assert.equal(typeof r.json.error.message, 'string');
    if (code !== undefined) {
        assert.equal(r.json.error.code, code, `${label}: ${r.text}`);
    }
}

const ping = (id = 1) => ({ jsonrpc: '2.0', id, method: 'ping' });

function echoCall(id, args) {
    return { jsonrpc: '2.0', id, method: 'tools/call',
             params: { name: 'echo', arguments: args } };
}

// The test module's counter of echo calls that ran, read by one more call.
async function echoCount(gw, sid) {
    const r = await post(gw, echoCall('count', { text: 'count' }),
        sessionHeaders(sid));
    assert.equal(r.status, 200, r.text);
    return r.json.result.structuredContent.calls;
}

function echoLogLines(gw) {
    return (gw.errorLog().match(/tool "echo" for "[^"]*": /g) || []).length;
}

async function assertAlive(gw) {
    const sid = await rawSession(gw);
    const r = await post(gw, ping(99), sessionHeaders(sid));
    assert.equal(r.status, 200, `the gateway still serves: ${r.text}`);
    assert.deepEqual(r.json, { jsonrpc: '2.0', id: 99, result: {} });
}

// A body of exactly n bytes of valid JSON: a ping padded in a parameter.
function paddedPing(n) {
    const base = JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'ping',
                                  params: { pad: '' } });
    assert.ok(n >= base.length);
    const body = base.replace('"pad":""',
        `"pad":"${'x'.repeat(n - base.length)}"`);
    assert.equal(Buffer.byteLength(body), n);
    return body;
}

// Run fn with a gateway of its own; a failure inside fn is reported
// first, and what stop() found (an alert, a sanitizer report, a crash)
// is added to it.
async function withGateway(opts, fn) {
    const g = await startGateway(opts);
    let err;
    try {
        await fn(g);
    } catch (e) {
        err = e;
    }
    try {
        await g.stop();
    } catch (e) {
        if (err) {
            err.message += `\n--- and when the gateway stopped:\n${
                e.message.slice(0, 3000)}`;
        } else {
            err = e;
        }
    }
    if (err) {
        throw err;
    }
}

const sha256 = (s) => crypto.createHash('sha256').update(s).digest('hex');

// ------------------------------------------------------------------

let gw;

before(async () => {
    gw = await startGateway();
});

after(async () => {
    await gw.stop();
});

// ------------------------------------------------------------------
// FR1: batches

describe('FR1 batches on 2025-06-18 and later', () => {
    const batchBodies = {
        'tools/call + ping': () => JSON.stringify([
            echoCall(1, { text: 'batched', delay_ms: 300, progress: 2 }),
            ping(2),
        ]),
        '[]': () => '[]',
        '[{}]': () => '[{}]',
        'only a notification': () => JSON.stringify([
            { jsonrpc: '2.0', method: 'notifications/initialized' }]),
        'initialize in a batch': () => JSON.stringify([{
            jsonrpc: '2.0', id: 1, method: 'initialize',
            params: { protocolVersion: V11, capabilities: {},
                      clientInfo: { name: 'b', version: '1' } } }]),
    };

    for (const version of [V06, V11]) {
        for (const [label, body] of Object.entries(batchBodies)) {
            test(`${version}: batch ${label} is 400 -32600 id null, ` +
                 'nothing runs', async () => {
                const sid = await rawSession(gw, version);
                const callsBefore = await echoCount(gw, sid);
                const logBefore = echoLogLines(gw);

                const t0 = Date.now();
                const r = await post(gw, body(), sessionHeaders(sid, version));
                assertRpcRefusal(r, 400, -32600, label);
                assert.equal(r.json.id, null);
                assert.equal('result' in r.json, false);
                assert.ok(!Array.isArray(r.json), 'one error, not a batch');
                assert.ok(Date.now() - t0 < 280,
                    'refused before the delayed tool could answer');
                assert.equal(r.headers.get('mcp-session-id'), null,
                    'no session was started from inside a batch');

                // A call that ran would finish after 300 ms and log.
                await sleep(400);
                assert.equal(echoLogLines(gw), logBefore,
                    'no tool "echo" line was logged for the batch');
                assert.equal(await echoCount(gw, sid), callsBefore + 1,
                    'the echo counter moved only for the probe call');
                assert.match(gw.errorLog(),
                    /refused with 400: JSON-RPC batches are not allowed/,
                    'the rejection is logged');
            });
        }

        test(`${version}: a batch without a session is 400 -32600 too`,
            async () => {
                const r = await post(gw, JSON.stringify([ping(1), ping(2)]),
                    { 'mcp-protocol-version': version });
                assertRpcRefusal(r, 400, -32600);
                assert.equal(r.json.id, null);
            });
    }

    // The field report lists 42, "x" and null with the batches: on
    // 2025-06-18 and later the answer is 400, -32600, id null.
    for (const version of [V06, V11]) {
        for (const body of ['42', '"x"', 'null']) {
            test(`${version}: body ${body} is 400 -32600 id null`,
                async () => {
                    const sid = await rawSession(gw, version);
                    const r = await post(gw, body,
                        sessionHeaders(sid, version));
                    assertRpcRefusal(r, 400, -32600, body);
                    assert.equal(r.json.id, null);
                });
        }
    }

    test('the process survived every variant', async () => {
        await assertAlive(gw);
    });
});

describe('FR1 batches on 2025-03-26', () => {
    for (const [label, header] of [['no header', null],
                                   ['header 2025-03-26', V03]]) {
        test(`${label}: each item is answered as if sent alone`,
            async () => {
                const sid = await rawSession(gw, V03);
                const callsBefore = await echoCount(gw, sid);
                const r = await post(gw, JSON.stringify([
                    echoCall(1, { text: 'one' }),
                    ping('two'),
                    { jsonrpc: '2.0', method: 'notifications/initialized' },
                    { jsonrpc: '2.0', id: 4, method: 'nope/nope' },
                    echoCall(5, { text: 'denied', deny_in: 'check' }),
                    echoCall(6, { text: 'slow', delay_ms: 30 }),
                ]), sessionHeaders(sid, header));
                assert.equal(r.status, 200, r.text);
                assert.match(ctype(r), /^application\/json/);
                assert.ok(Array.isArray(r.json), r.text);
                assert.equal(r.json.length, 5,
                    `one entry per request, none for the notification: ${
                        r.text}`);
                const byId = new Map(r.json.map((m) => [m.id, m]));
                assert.equal(byId.size, 5, `ids are distinct: ${r.text}`);
                assert.equal(byId.get(1).result.structuredContent.text,
                    'one');
                assert.equal(byId.get(1).result.structuredContent.phases,
                    'authn,access,check,log_pre,tool');
                assert.deepEqual(byId.get('two').result, {});
                assert.equal(byId.get(4).error.code, -32601);
                assert.equal(byId.get(5).result.isError, true,
                    'a deny in one item refuses that item only');
                assert.equal(byId.get(5).result.structuredContent.error.code,
                    'test_denied');
                assert.equal(byId.get(6).result.structuredContent.text,
                    'slow');
                for (const m of r.json) {
                    assert.equal(m.jsonrpc, '2.0');
                }
                assert.equal(await echoCount(gw, sid), callsBefore + 3);
            });
    }

    test('an invalid item gets its own -32600; the others still succeed',
        async () => {
            const sid = await rawSession(gw, V03);
            const r = await post(gw, JSON.stringify([
                ping(1), {}, 42, { jsonrpc: '2.0', id: 3, method: 7 },
                echoCall(2, { text: 'ok' }),
            ]), sessionHeaders(sid, V03));
            assert.equal(r.status, 200, r.text);
            assert.ok(Array.isArray(r.json), r.text);
            assert.equal(r.json.length, 5, r.text);
            const ok = r.json.filter((m) => m.result);
            const bad = r.json.filter((m) => m.error);
            assert.deepEqual(ok.map((m) => m.id).sort(), [1, 2]);
            assert.equal(bad.length, 3);
            for (const m of bad) {
                assert.equal(m.error.code, -32600, JSON.stringify(m));
            }
            assert.deepEqual(bad.map((m) => m.id).sort(),
                [3, null, null].sort());
        });

    test('[{}] is one -32600 entry', async () => {
        const sid = await rawSession(gw, V03);
        const r = await post(gw, '[{}]', sessionHeaders(sid, V03));
        assert.ok(Array.isArray(r.json), r.text);
        assert.equal(r.json.length, 1);
        assert.equal(r.json[0].id, null);
        assert.equal(r.json[0].error.code, -32600);
    });

    test('an empty batch is -32600', async () => {
        const sid = await rawSession(gw, V03);
        for (const h of [null, V03]) {
            const r = await post(gw, '[]', sessionHeaders(sid, h));
            assertRpcRefusal(r, 400, -32600, `header ${h}`);
            assert.equal(r.json.id, null);
        }
    });

    test('a batch of only notifications and responses is 202, empty',
        async () => {
            const sid = await rawSession(gw, V03);
            for (const h of [null, V03]) {
                const r = await post(gw, JSON.stringify([
                    { jsonrpc: '2.0', method: 'notifications/initialized' },
                    { jsonrpc: '2.0', method: 'notifications/whatever' },
                    { jsonrpc: '2.0', id: 9, result: {} },
                ]), sessionHeaders(sid, h));
                assert.equal(r.status, 202, r.text);
                assert.equal(r.text, '');
            }
        });

    test('initialize inside a batch is refused for that item', async () => {
        const sid = await rawSession(gw, V03);
        const r = await post(gw, JSON.stringify([
            { jsonrpc: '2.0', id: 1, method: 'initialize',
              params: { protocolVersion: V03, capabilities: {},
                        clientInfo: { name: 'b', version: '1' } } },
            ping(2),
        ]), sessionHeaders(sid, V03));
        assert.equal(r.status, 200, r.text);
        const byId = new Map(r.json.map((m) => [m.id, m]));
        assert.equal(byId.get(1).error.code, -32600);
        assert.deepEqual(byId.get(2).result, {});
        assert.equal(r.headers.get('mcp-session-id'), null);
    });

    test('a batch still needs a session', async () => {
        const r = await post(gw, JSON.stringify([ping(1)]));
        assertRpcRefusal(r, 400, -32600);
    });

    // Not a batch: the single non-object bodies on 2025-03-26 must still
    // be a JSON-RPC -32600 with id null (status 400 or 200 both tolerated
    // on this revision).
    for (const body of ['42', '"x"', 'null']) {
        test(`body ${body} on 2025-03-26 is a -32600 with id null`,
            async () => {
                const sid = await rawSession(gw, V03);
                const r = await post(gw, body, sessionHeaders(sid, V03));
                assert.ok([200, 400].includes(r.status), r.text);
                assert.equal(r.json.error.code, -32600, r.text);
                assert.equal(r.json.id, null);
            });
    }

    test('the process survived every variant', async () => {
        await assertAlive(gw);
    });
});

// ------------------------------------------------------------------
// FR2: notifications and client responses

describe('FR2 notifications get 202 with an empty body', () => {
    const messages = {
        'notifications/initialized':
            { jsonrpc: '2.0', method: 'notifications/initialized' },
        'notifications/cancelled':
            { jsonrpc: '2.0', method: 'notifications/cancelled',
              params: { requestId: 12345, reason: 'test' } },
        'notifications/cancelled without params':
            { jsonrpc: '2.0', method: 'notifications/cancelled' },
        'an unknown notification':
            { jsonrpc: '2.0', method: 'notifications/no-such-thing',
              params: { a: 1 } },
        'a response sent by the client':
            { jsonrpc: '2.0', id: 5, result: {} },
        'an error response sent by the client':
            { jsonrpc: '2.0', id: 'x', error: { code: -1, message: 'no' } },
    };

    for (const version of [V03, V06, V11]) {
        for (const [label, msg] of Object.entries(messages)) {
            for (const accept of ['application/json, text/event-stream',
                                  'text/event-stream', 'application/json']) {
                test(`${version}, Accept ${accept}: ${label}`, async () => {
                    const sid = await rawSession(gw, version);
                    const r = await post(gw, msg,
                        sessionHeaders(sid, version, { accept }));
                    assert.equal(r.status, 202, r.text);
                    assert.equal(r.text, '', 'no body: not null, not {}');
                    assert.notEqual(r.headers.get('content-length'), '4');
                });
            }
        }
    }

    // A notification the gateway cannot accept may be refused with 4xx
    // and a JSON-RPC error, but never answered 200 with a body.
    for (const [label, msg] of Object.entries({
        'params not an object':
            { jsonrpc: '2.0', method: 'notifications/x', params: 5 },
        'no jsonrpc member':
            { method: 'notifications/initialized' },
    })) {
        test(`an unacceptable notification (${label}) is 202 or 4xx, ` +
             'never 200 with a body', async () => {
            const sid = await rawSession(gw);
            const r = await post(gw, msg, sessionHeaders(sid));
            if (r.status === 202) {
                assert.equal(r.text, '');
            } else {
                assert.ok(r.status >= 400 && r.status < 500,
                    `expected 202 or 4xx, got ${r.status}: ${r.text}`);
                assert.ok(r.json && r.json.error, r.text);
            }
        });
    }
});

// ------------------------------------------------------------------
// FR3: Accept

describe('FR3 Accept is lenient', () => {
    const cases = [
        // [Accept (undefined: none), SSE expected?]
        ['application/json', false],
        ['text/event-stream', true],
        ['*/*', false],
        ['Application/JSON', false],
        ['TEXT/EVENT-STREAM', true],
        ['application/json;q=0.9, text/event-stream;q=0.1', false],
        ['text/event-stream;q=0.1, application/json;q=0.9', false],
        ['text/event-stream, application/json', false],
        ['application/json; charset=utf-8', false],
        [undefined, false],
        ['text/html', false],
        ['text/html, application/xhtml+xml, */*;q=0.8', false],
        ['', false],
    ];

    for (const [accept, sse] of cases) {
        test(`Accept ${JSON.stringify(accept)}: ${sse ? 'SSE' : 'JSON'}`,
            async () => {
                const sid = await rawSession(gw);
                const headers = {
                    'content-type': 'application/json',
                    'mcp-session-id': sid,
                    'mcp-protocol-version': V11,
                };
                if (accept !== undefined) {
                    headers.accept = accept;
                }
                const r = await rawHttp(gw, {
                    headers, body: JSON.stringify(ping(7)),
                });
                assert.notEqual(r.status, 406);
                assert.equal(r.status, 200, r.text);
                assert.doesNotMatch(r.text, /<html/i);
                if (sse) {
                    assert.match(ctype(r), /^text\/event-stream/);
                    const data = r.text.split('\n')
                        .filter((l) => l.startsWith('data: '))
                        .map((l) => JSON.parse(l.slice(6)));
                    assert.deepEqual(data.at(-1),
                        { jsonrpc: '2.0', id: 7, result: {} });
                } else {
                    assert.match(ctype(r), /^application\/json/,
                        `no SSE for Accept ${accept}`);
                    assert.deepEqual(r.json,
                        { jsonrpc: '2.0', id: 7, result: {} });
                }
            });
    }

    test('a tools/call with progress never streams to a JSON-only client',
        async () => {
            const sid = await rawSession(gw);
            for (const accept of ['application/json', '*/*', 'text/html',
                                  undefined]) {
                const headers = {
                    'content-type': 'application/json',
                    'mcp-session-id': sid, 'mcp-protocol-version': V11,
                };
                if (accept !== undefined) {
                    headers.accept = accept;
                }
                const r = await rawHttp(gw, {
                    headers, body: JSON.stringify({
                        jsonrpc: '2.0', id: 3, method: 'tools/call',
                        params: { name: 'echo',
                                  arguments: { text: 'p', progress: 2 },
                                  _meta: { progressToken: 't' } },
                    }),
                });
                assert.equal(r.status, 200, r.text);
                assert.match(ctype(r), /^application\/json/, `${accept}`);
                assert.equal(r.json.result.structuredContent.text, 'p');
            }
        });

    for (const accept of ['text/event-stream', 'text/html',
                          'application/json']) {
        test(`refusals are JSON-RPC bodies (Accept ${accept})`, async () => {
            const base = { 'content-type': 'application/json', accept };
            const cases = [
                [{ ...base, 'mcp-session-id': 'nope',
                   'mcp-protocol-version': V11 }, 404],
                [{ ...base, 'mcp-protocol-version': V11 }, 400],
                [{ ...base, 'mcp-protocol-version': '1999-01-01' }, 400],
                [{ ...base, origin: 'http://evil.example' }, 403],
            ];
            for (const [headers, status] of cases) {
                const r = await rawHttp(gw, {
                    headers, body: JSON.stringify(ping(1)),
                });
                assertRpcRefusal(r, status, undefined,
                    JSON.stringify(headers));
            }
            const g = await rawHttp(gw, { method: 'GET',
                headers: { accept } });
            assertRpcRefusal(g, 405, undefined, 'GET');
        });
    }

    // RFC 9110 12.5.1: q=0 means "not acceptable".  A client that refuses
    // JSON and lists SSE must not get JSON.
    test('application/json;q=0 with text/event-stream means SSE',
        async () => {
            const sid = await rawSession(gw);
            const r = await rawHttp(gw, {
                headers: {
                    'content-type': 'application/json',
                    accept: 'text/event-stream, application/json;q=0',
                    'mcp-session-id': sid, 'mcp-protocol-version': V11,
                },
                body: JSON.stringify(ping(7)),
            });
            assert.equal(r.status, 200, r.text);
            assert.match(ctype(r), /^text\/event-stream/,
                `got ${ctype(r)}: ${r.text}`);
        });
});

// ------------------------------------------------------------------
// FR4: sessions

describe('FR4 lost sessions are 404', () => {
    function flip(s, i) {
        const alphabet =
            'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
        const c = s[i];
        const n = alphabet[(alphabet.indexOf(c) + 1) % 64];
        return s.slice(0, i) + n + s.slice(i + 1);
    }

    async function assert404(sid, label, extra = {}) {
        for (const body of [ping(1), echoCall(2, { text: 'x' })]) {
            const r = await post(gw, body, sessionHeaders(sid, V11, extra));
            assertRpcRefusal(r, 404, undefined, label);
            assert.match(r.json.error.message, /session/i, label);
        }
    }

    test('unknown, well-formed but unsigned ids are 404', async () => {
        const payload = Buffer.from(
            `${Math.floor(Date.now() / 1000)}|${
                Math.floor(Date.now() / 1000) + 3600}|${V11}|0123456789abcdef|` +
            'anonymous').toString('base64url');
        const mac = crypto.randomBytes(32).toString('base64url');
        await assert404(`s1.${payload}.${mac}`, 'forged');
        await assert404(crypto.randomUUID(), 'uuid');
    });

    test('an id with a flipped character is 404', async () => {
        const sid = await rawSession(gw);
        const dot = sid.lastIndexOf('.');
        const positions = [3, 10, Math.floor(dot / 2), dot - 1, dot + 1,
                           dot + 20, sid.length - 2, sid.length - 1];
        for (const i of positions) {
            const bad = flip(sid, i);
            assert.notEqual(bad, sid);
            await assert404(bad, `flipped at ${i}`);
        }
        // the original still works
        const r = await post(gw, ping(1), sessionHeaders(sid));
        assert.equal(r.status, 200, r.text);
    });

    test('an ended (DELETE) id is 404, also for DELETE again', async () => {
        const sid = await rawSession(gw);
        const d = await rawHttp(gw, { method: 'DELETE',
            headers: sessionHeaders(sid) });
        assert.ok([200, 204].includes(d.status), d.text);
        await assert404(sid, 'ended');
        const d2 = await rawHttp(gw, { method: 'DELETE',
            headers: sessionHeaders(sid) });
        assertRpcRefusal(d2, 404, undefined, 'DELETE again');
    });

    test('a missing session id on a non-initialize request is 400',
        async () => {
            for (const body of [ping(1), echoCall(2, { text: 'x' }),
                                { jsonrpc: '2.0', id: 3,
                                  method: 'tools/list' }]) {
                for (const v of [V03, V06, V11, null]) {
                    const r = await post(gw, body,
                        v ? { 'mcp-protocol-version': v } : {});
                    assertRpcRefusal(r, 400, undefined, `${body.method} ${v}`);
                }
            }
            const d = await rawHttp(gw, { method: 'DELETE', headers: {} });
            assertRpcRefusal(d, 400, undefined, 'DELETE without an id');
        });

    test('an id from a gateway with another key is 404', async () => {
        await withGateway({}, async (other) => {
            const foreign = await rawSession(other);
            const r0 = await post(other, ping(1), sessionHeaders(foreign));
            assert.equal(r0.status, 200, 'valid where it was issued');
            await assert404(foreign, 'foreign key');
        });
    });

    async function assertMalformed404(g, cases, { del = false } = {}) {
        for (const bad of cases) {
            const label = `id ${bad.slice(0, 40)}... (${bad.length} chars)`;
            let r;
            try {
                r = del
                    ? await rawHttp(g, { method: 'DELETE',
                        headers: sessionHeaders(bad, V11) })
                    : await post(g, ping(1), sessionHeaders(bad, V11));
            } catch (e) {
                assert.fail(`no answer for ${label}: ${e.cause?.code || e}`);
            }
            assertRpcRefusal(r, 404, undefined, label);
        }
        await assertAlive(g);
    }

    test('malformed ids are 404', async () => {
        // A gateway of its own: a crash here must not take the others.
        await withGateway({}, async (g) => {
            const sid = await rawSession(g);
            const [, payload, mac] = sid.split('.');
            await assertMalformed404(g, [
                'x', 's1.', 's1..', 's1.a.b', 's2.' + sid.slice(3),
                'S1.' + sid.slice(3), `s1.${payload}`,
                `s1.${payload}.${mac}.`, `s1.${payload}.${mac}A`,
                `s1.${payload}.${mac.slice(0, -1)}`,
                `s1.${'A'.repeat(440)}.${mac}`,
                `s1.${payload}.${mac}`.replace(/./g, '%'),
                'A'.repeat(600),
                `s1.${payload}!.${mac}`,
            ]);
        });
    });

    // The MAC part is decoded into a fixed buffer: a long one must be
    // refused, not written past its end.
    for (const del of [false, true]) {
        test(`an id with an over-long signature part is 404 (${
            del ? 'DELETE' : 'POST'}), the process unharmed`, async () => {
            await withGateway({}, async (g) => {
                const sid = await rawSession(g);
                const [, payload, mac] = sid.split('.');
                await assertMalformed404(g, [
                    `s1.${payload}.${mac}${mac.slice(0, 1)}`,
                    `s1.${payload}.${mac}AAAA`,
                    `s1.${payload}.${mac}${mac}`,
                    `s1.AAAA.${'A'.repeat(400)}`,
                ], { del });
            });
        });
    }

    test('an id issued to another client is 404', async () => {
        const keyA = `mcpgw-test-a-${crypto.randomBytes(16).toString('hex')}`;
        const keyB = `mcpgw-test-b-${crypto.randomBytes(16).toString('hex')}`;
        await withGateway({
            over: {
                clients: 'clients = { anonymous = { enabled = true; ' +
                    'role = "admin"; }; keys = ( ' +
                    `{ name = "a"; sha256 = "${sha256(keyA)}"; ` +
                    'role = "user"; }, ' +
                    `{ name = "b"; sha256 = "${sha256(keyB)}"; ` +
                    'role = "user"; } ); };',
            },
        }, async (g) => {
            const A = { authorization: `Bearer ${keyA}` };
            const B = { authorization: `Bearer ${keyB}` };
            const init = await post(g, {
                jsonrpc: '2.0', id: 0, method: 'initialize',
                params: { protocolVersion: V11, capabilities: {},
                          clientInfo: { name: 'a', version: '1' } },
            }, A);
            assert.equal(init.status, 200, init.text);
            const sidA = init.headers.get('mcp-session-id');
            const sidAnon = await rawSession(g);

            // the owner may use it
            const ok = await post(g, echoCall(1, { text: 'mine' }),
                sessionHeaders(sidA, V11, A));
            assert.equal(ok.status, 200, ok.text);
            assert.equal(ok.json.result.structuredContent.client, 'a');

            for (const [sid, who, label] of [[sidA, B, 'A used by B'],
                                             [sidA, {}, 'A used anonymously'],
                                             [sidAnon, A, 'anon used by A']]) {
                for (const body of [ping(1), echoCall(2, { text: 'x' })]) {
                    const r = await post(g, body,
                        sessionHeaders(sid, V11, who));
                    assertRpcRefusal(r, 404, undefined, label);
                }
                const d = await rawHttp(g, { method: 'DELETE',
                    headers: sessionHeaders(sid, V11, who) });
                assertRpcRefusal(d, 404, undefined, `DELETE ${label}`);
            }
            // the others' attempts did not end A's session
            const still = await post(g, ping(3), sessionHeaders(sidA, V11, A));
            assert.equal(still.status, 200, still.text);
        });
    });

    test('after a restart with the same key file the session validates',
        async () => {
            let sid;
            let key;
            await withGateway({}, async (first) => {
                sid = await rawSession(first);
                const r = await post(first, ping(1), sessionHeaders(sid));
                assert.equal(r.status, 200, r.text);
                key = fs.readFileSync(
                    path.join(first.prefix, 'keys/session.key'));
            });

            // The harness calls conf(port, prefix) before it starts the
            // binary: put the same key file in the new prefix first.
            await withGateway({
                conf: (port, prefix) => {
                    fs.mkdirSync(path.join(prefix, 'keys'), { mode: 0o700 });
                    fs.writeFileSync(path.join(prefix, 'keys/session.key'),
                        key, { mode: 0o600 });
                    return testConfig(port);
                },
            }, async (second) => {
                const r = await post(second, echoCall(1, { text: 'again' }),
                    sessionHeaders(sid));
                assert.equal(r.status, 200, r.text);
                assert.equal(r.json.result.structuredContent.text, 'again');
                const p = await post(second, ping(2), sessionHeaders(sid));
                assert.equal(p.status, 200, p.text);
            });
        });
});

// ------------------------------------------------------------------
// FR5: MCP-Protocol-Version

describe('FR5 protocol-version header', () => {
    test('missing: treated as 2025-03-26, so a batch is allowed',
        async () => {
            const sid = await rawSession(gw, V03);
            const r = await post(gw, JSON.stringify([ping(1), ping(2)]),
                { 'mcp-session-id': sid });
            assert.equal(r.status, 200, r.text);
            assert.equal(r.json.length, 2);
            const single = await post(gw, ping(3), { 'mcp-session-id': sid });
            assert.equal(single.status, 200, single.text);
        });

    for (const value of ['1999-01-01', '', '2025-11-25x', '2025-11-26',
                         '2024-11-05', '2025-11-25, 2025-06-18']) {
        test(`unknown value ${JSON.stringify(value)} is 400`, async () => {
            const sid = await rawSession(gw);
            const r = await rawHttp(gw, {
                headers: { 'content-type': 'application/json',
                           accept: 'application/json',
                           'mcp-session-id': sid,
                           'mcp-protocol-version': value },
                body: JSON.stringify(ping(1)),
            });
            assertRpcRefusal(r, 400, undefined, value);
        });
    }

    test('a supported value other than the negotiated one is 200',
        async () => {
            const sid = await rawSession(gw, V11);
            for (const v of [V03, V06, V11]) {
                const r = await post(gw, ping(1), sessionHeaders(sid, v));
                assert.equal(r.status, 200, `${v}: ${r.text}`);
                assert.deepEqual(r.json.result, {});
                const c = await post(gw, echoCall(2, { text: v }),
                    sessionHeaders(sid, v));
                assert.equal(c.status, 200, `${v}: ${c.text}`);
                assert.equal(c.json.result.structuredContent.text, v);
            }
        });

    test('two different values are 400', async () => {
        const sid = await rawSession(gw);
        for (const pair of [[V11, V06], [V03, V11], [V11, '1999-01-01']]) {
            const r = await rawHttp(gw, {
                headers: { 'content-type': 'application/json',
                           accept: 'application/json',
                           'mcp-session-id': sid,
                           'mcp-protocol-version': pair },
                body: JSON.stringify(ping(1)),
            });
            assertRpcRefusal(r, 400, undefined, pair.join(' + '));
        }
    });

    test('two identical values are fine', async () => {
        const sid = await rawSession(gw);
        const r = await rawHttp(gw, {
            headers: { 'content-type': 'application/json',
                       accept: 'application/json',
                       'mcp-session-id': sid,
                       'mcp-protocol-version': [V11, V11] },
            body: JSON.stringify(ping(1)),
        });
        assert.equal(r.status, 200, r.text);
        assert.deepEqual(r.json, { jsonrpc: '2.0', id: 1, result: {} });
    });

    test('the header name is case-insensitive', async () => {
        const sid = await rawSession(gw);
        const r = await rawHttp(gw, {
            headers: { 'content-type': 'application/json',
                       accept: 'application/json',
                       'Mcp-Session-Id': sid,
                       'MCP-PROTOCOL-VERSION': '1999-01-01' },
            body: JSON.stringify(ping(1)),
        });
        assertRpcRefusal(r, 400);
    });
});

// ------------------------------------------------------------------
// FR6: size limits

describe('FR6 size limits answer in JSON', () => {
    let sid;
    const jsonHeaders = () => ({
        'content-type': 'application/json', accept: 'application/json',
        'mcp-session-id': sid, 'mcp-protocol-version': V11,
    });

    before(async () => {
        sid = await rawSession(gw);
    });

    function assert413(r, label) {
        assertRpcRefusal(r, 413, undefined, label);
        assert.equal(r.json.id, null);
        assert.match(r.json.error.message, /65536/, label);
    }

    test('65536 bytes pass the size check', async () => {
        const r = await post(gw, paddedPing(65536), sessionHeaders(sid));
        assert.equal(r.status, 200, r.text.slice(0, 200));
        assert.deepEqual(r.json, { jsonrpc: '2.0', id: 1, result: {} });
    });

    test('65537 bytes with Content-Length: 413 JSON-RPC', async () => {
        assert413(await post(gw, paddedPing(65537), sessionHeaders(sid)),
            'fetch');
        assert413(await rawHttp(gw, { headers: jsonHeaders(),
            body: paddedPing(65537) }), 'http');
        await assertAlive(gw);
    });

    test('chunked: 65536 passes, 65537 is 413', async () => {
        const ok = paddedPing(65536);
        const r1 = await rawHttp(gw, {
            headers: { ...jsonHeaders(), 'transfer-encoding': 'chunked' },
            chunks: [ok.slice(0, 1000), ok.slice(1000, 40000),
                     ok.slice(40000)],
        });
        assert.equal(r1.status, 200, r1.text.slice(0, 200));
        const big = paddedPing(65537);
        const r2 = await rawHttp(gw, {
            headers: { ...jsonHeaders(), 'transfer-encoding': 'chunked' },
            chunks: [big.slice(0, 30000), big.slice(30000)],
        });
        assert413(r2, 'chunked');
        await assertAlive(gw);
    });

    test('Expect: 100-continue, under and over the limit', async () => {
        const small = paddedPing(65536);
        const r0 = await rawHttp(gw, {
            headers: { ...jsonHeaders(), expect: '100-continue',
                       'content-length': String(small.length) },
            body: small, expectContinue: true,
        });
        assert.equal(r0.status, 200, r0.text.slice(0, 200));
        assert.equal(r0.continued, true, '100 Continue came first');

        const big = paddedPing(65537);
        const r1 = await rawHttp(gw, {
            headers: { ...jsonHeaders(), expect: '100-continue',
                       'content-length': String(big.length) },
            body: big, expectContinue: true,
        });
        assert413(r1, 'expect + content-length');
        assert.equal(r1.continued, false,
            'a declared length over the limit is refused without 100');

        const r2 = await rawHttp(gw, {
            headers: { ...jsonHeaders(), expect: '100-continue',
                       'transfer-encoding': 'chunked' },
            chunks: [big.slice(0, 30000), big.slice(30000)],
            expectContinue: true,
        });
        assert413(r2, 'expect + chunked');
        await assertAlive(gw);
    });

    test('a 5 MB body: the client receives the 413, no reset', async () => {
        const big = paddedPing(5 * 1024 * 1024);
        let r;
        try {
            r = await post(gw, big, sessionHeaders(sid));
        } catch (e) {
            assert.fail(`fetch failed: ${e.cause?.code || e.message}`);
        }
        assert413(r, '5 MB fetch');
        const chunks = [];
        for (let i = 0; i < big.length; i += 64 * 1024) {
            chunks.push(big.slice(i, i + 64 * 1024));
        }
        let c;
        try {
            c = await rawHttp(gw, {
                headers: { ...jsonHeaders(), 'transfer-encoding': 'chunked' },
                chunks,
            });
        } catch (e) {
            assert.fail(`chunked 5 MB failed: ${e.code || e.message}`);
        }
        assert413(c, '5 MB chunked');
        await assertAlive(gw);
    });
});

// ------------------------------------------------------------------
// Origin and Host

describe('Origin and Host checks', () => {
    async function withHeaders(extra) {
        const sid = await rawSession(gw);
        return rawHttp(gw, {
            headers: { 'content-type': 'application/json',
                       accept: 'application/json',
                       'mcp-session-id': sid, 'mcp-protocol-version': V11,
                       ...extra },
            body: JSON.stringify(ping(1)),
            setHost: !('host' in extra),
        });
    }

    for (const origin of [undefined, 'http://localhost:1234',
                          'http://127.0.0.1:8080', 'http://[::1]:3000',
                          'https://localhost', 'http://LOCALHOST']) {
        test(`Origin ${origin ?? '(none)'} is allowed`, async () => {
            const r = await withHeaders(origin ? { origin } : {});
            assert.equal(r.status, 200, r.text);
        });
    }

    for (const origin of ['http://evil.example', 'null',
                          'http://localhost.evil.example',
                          'http://evil.example:1234', 'file://',
                          'http://localhost@evil.example']) {
        test(`Origin ${origin} is 403 with a JSON-RPC body`, async () => {
            const r = await withHeaders({ origin });
            assertRpcRefusal(r, 403, undefined, origin);
        });
    }

    // DNS rebinding: a name under the attacker's control that merely
    // starts with "127." resolves wherever the attacker wants.
    for (const origin of ['http://127.0.0.1.evil.example',
                          'http://127.evil.example:8787',
                          'http://127.0.0.1:1@evil.example']) {
        test(`Origin ${origin} (a look-alike of loopback) is 403`,
            async () => {
                const r = await withHeaders({ origin });
                assertRpcRefusal(r, 403, undefined, origin);
            });
    }

    for (const host of ['evil.example', `evil.example:${8787}`]) {
        test(`Host ${host} is 403`, async () => {
            const r = await withHeaders({ host });
            assertRpcRefusal(r, 403, undefined, host);
        });
    }

    for (const host of ['127.0.0.1.evil.example:8787',
                        '127.attacker.example']) {
        test(`Host ${host} (a look-alike of loopback) is 403`, async () => {
            const r = await withHeaders({ host });
            assertRpcRefusal(r, 403, undefined, host);
        });
    }

    for (const host of ['localhost', 'LOCALHOST:1', '127.0.0.1',
                        '[::1]:8787']) {
        test(`Host ${host} is allowed`, async () => {
            const r = await withHeaders({ host });
            assert.equal(r.status, 200, r.text);
        });
    }
});

// ------------------------------------------------------------------
// JSON checks

describe('JSON bodies are checked strictly', () => {
    let sid;

    before(async () => {
        sid = await rawSession(gw);
    });

    function nested(depth) {
        // the envelope is level 1; params is the first of depth-1 objects
        let v = '1';
        for (let i = 0; i < depth - 1; i++) {
            v = `{"a":${v}}`;
        }
        return `{"jsonrpc":"2.0","id":1,"method":"ping","params":${v}}`;
    }

    const cases = {
        'a duplicate key': ['{"jsonrpc":"2.0","id":1,"id":2,"method":"ping"}',
                            /duplicate key/],
        'a duplicate key spelled with an escape':
            ['{"jsonrpc":"2.0","id":1,"method":"ping",' +
             '"params":{"a":1,"\\u0061":2}}', /duplicate key/],
        '\\u0000 in a string':
            ['{"jsonrpc":"2.0","id":1,"method":"ping",' +
             '"params":{"a":"x\\u0000y"}}', /\\u0000/],
        'a raw NUL byte':
            ['{"jsonrpc":"2.0","id":1,"method":"ping",' +
             '"params":{"a":"x\u0000y"}}', /NUL/],
        'invalid UTF-8':
            [Buffer.concat([Buffer.from('{"jsonrpc":"2.0","id":1,' +
                '"method":"ping","params":{"a":"'),
                Buffer.from([0xc3, 0x28]), Buffer.from('"}}')]),
             /UTF-8/],
        'a UTF-8 encoded surrogate':
            [Buffer.concat([Buffer.from('{"jsonrpc":"2.0","id":1,' +
                '"method":"ping","params":{"a":"'),
                Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('"}}')]),
             /surrogate|UTF-8/],
        'an overlong UTF-8 encoding':
            [Buffer.concat([Buffer.from('{"jsonrpc":"2.0","id":1,' +
                '"method":"ping","params":{"a":"'),
                Buffer.from([0xc0, 0xaf]), Buffer.from('"}}')]),
             /UTF-8|overlong/],
        'depth 65 (objects)': [nested(65), /nesting deeper than 64/],
        'depth 65 (arrays)': ['['.repeat(65) + ']'.repeat(65),
                              /nesting deeper than 64/],
        'trailing garbage': ['{"jsonrpc":"2.0","id":1,"method":"ping"}x',
                             /./],
        'an empty body': ['', /empty/],
    };

    for (const [label, [body, re]] of Object.entries(cases)) {
        test(`${label} is 400 -32700 with a clear message`, async () => {
            const r = await rawHttp(gw, {
                headers: { 'content-type': 'application/json',
                           accept: 'application/json',
                           'mcp-session-id': sid,
                           'mcp-protocol-version': V11 },
                body,
            });
            assertRpcRefusal(r, 400, -32700, label);
            assert.equal(r.json.id, null);
            assert.match(r.json.error.message, re, label);
        });
    }

    test('depth 64 is still accepted', async () => {
        const r = await post(gw, nested(64), sessionHeaders(sid));
        assert.equal(r.status, 200, r.text);
        assert.deepEqual(r.json, { jsonrpc: '2.0', id: 1, result: {} });
    });

    test('the process survived the bad bodies', async () => {
        await assertAlive(gw);
    });
});

// ------------------------------------------------------------------
// Request ids

describe('request ids', () => {
    let sid;

    before(async () => {
        sid = await rawSession(gw);
    });

    const sendRaw = (text) => post(gw, text, sessionHeaders(sid));

    for (const id of ['123456789012345678901234567890', '9007199254740993',
                      '-123456789012345678901234567890',
                      '12345678901234567']) {
        test(`an integer id ${id} is echoed exactly as written`,
            async () => {
                const r = await sendRaw(
                    `{"jsonrpc":"2.0","id":${id},"method":"ping"}`);
                assert.equal(r.status, 200, r.text);
                assert.match(r.text, new RegExp(`"id":${id}[,}]`),
                    `raw answer: ${r.text}`);
                assert.match(r.text, /"result":\{\}/, r.text);
            });
    }

    for (const id of ['0', '-7', '"abc"', '"a\\u00e9\\"b"', '""']) {
        test(`id ${id} is echoed`, async () => {
            const r = await sendRaw(
                `{"jsonrpc":"2.0","id":${id},"method":"ping"}`);
            assert.equal(r.status, 200, r.text);
            assert.deepEqual(r.json.result, {});
            assert.deepEqual(r.json.id, JSON.parse(id));
        });
    }

    for (const id of ['null', '1.5', '-0.25', 'true', '{}', '[1]']) {
        test(`id ${id} is an error`, async () => {
            const r = await sendRaw(
                `{"jsonrpc":"2.0","id":${id},"method":"ping"}`);
            assert.ok([200, 400].includes(r.status), r.text);
            assert.ok(r.json && r.json.error, `an error: ${r.text}`);
            assert.equal(r.json.error.code, -32600, r.text);
            assert.equal('result' in r.json, false);
        });
    }

    test('a float id never runs a tool', async () => {
        const before = echoLogLines(gw);
        const r = await sendRaw(JSON.stringify(
            { ...echoCall(1, { text: 'f' }), id: 1.5 }));
        assert.ok(r.json.error, r.text);
        await sleep(50);
        assert.equal(echoLogLines(gw), before);
    });
});
