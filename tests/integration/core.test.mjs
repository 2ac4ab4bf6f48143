// The gateway core through the official MCP SDK client: initialize, list,
// call the test module's echo tool through every phase, ping, end the
// session; and the module loader's order, deny, resume and unload.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from
    '@modelcontextprotocol/sdk/client/streamableHttp.js';

import { startGateway, post, rawSession } from './harness.mjs';

let gw;

before(async () => {
    gw = await startGateway({
        extra: 'test = { greeting = "hi from conf"; };',
    });
});

after(async () => {
    await gw.stop();
    assert.match(gw.errorLog(), /mod_test: unloaded after \d+ calls/);
});

async function connect() {
    const client = new Client({ name: 'core-test', version: '1.0.0' });
    const transport = new StreamableHTTPClientTransport(new URL(gw.url));
    await client.connect(transport);
    return { client, transport };
}

test('initialize negotiates 2025-11-25 and names the server', async () => {
    const { client, transport } = await connect();
    assert.equal(client.getServerVersion().name, 'mcpgw');
    assert.ok(client.getServerCapabilities().tools);
    assert.match(transport.sessionId, /^s1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    await client.close();
});

test('tools/list shows the module tools with schemas and annotations',
    async () => {
        const { client } = await connect();
        const { tools } = await client.listTools();
        const echo = tools.find((t) => t.name === 'echo');
        assert.ok(echo, 'echo is listed');
        assert.equal(echo.title, 'Echo');
        assert.equal(echo.inputSchema.type, 'object');
        assert.equal(echo.outputSchema.type, 'object');
        assert.equal(echo.annotations.readOnlyHint, true);
        assert.equal(echo.annotations.destructiveHint, false);
        await client.close();
    });

test('tools/call of echo runs every phase in order', async () => {
    const { client } = await connect();
    const res = await client.callTool({
        name: 'echo', arguments: { text: 'héllo ✓' },
    });
    assert.equal(res.isError, false);
    assert.equal(res.structuredContent.text, 'héllo ✓');
    assert.equal(res.structuredContent.phases,
        'authn,access,check,log_pre,tool');
    assert.equal(res.structuredContent.client, 'anonymous');
    assert.equal(res.structuredContent.greeting, 'hi from conf');
    assert.deepEqual(JSON.parse(res.content[0].text), res.structuredContent);
    await client.close();
});

for (const phase of ['authn', 'access', 'check', 'log_pre', 'tool']) {
    test(`a deny in ${phase} stops the call and says why`, async () => {
        const { client } = await connect();
        const res = await client.callTool({
            name: 'echo', arguments: { text: 'x', deny_in: phase },
        });
        assert.equal(res.isError, true);
        assert.equal(res.structuredContent.error.code, 'test_denied');
        assert.match(res.structuredContent.error.message,
            new RegExp(`denied by mod_test in ${phase}`));
        await client.close();
    });
}

for (const phase of ['authn', 'access', 'check', 'log_pre', 'tool', 'log']) {
    test(`a hook in ${phase} may finish later from a timer`, async () => {
        const { client } = await connect();
        const t0 = Date.now();
        const res = await client.callTool({
            name: 'echo', arguments: { text: 'later', async_in: phase },
        });
        assert.ok(Date.now() - t0 >= 40, 'the call waited for the hook');
        assert.equal(res.isError, false);
        assert.equal(res.structuredContent.text, 'later');
        await client.close();
    });
}

test('a tool that answers later, with a deny before it not run', async () => {
    const { client } = await connect();
    const res = await client.callTool({
        name: 'echo', arguments: { text: 'slow', delay_ms: 100 },
    });
    assert.equal(res.structuredContent.text, 'slow');
    await client.close();
});

test('concurrent slow calls on one session all finish', async () => {
    const { client } = await connect();
    const all = await Promise.all([1, 2, 3, 4, 5].map((i) =>
        client.callTool({
            name: 'echo', arguments: { text: `n${i}`, delay_ms: 30 * i },
        })));
    assert.deepEqual(all.map((r) => r.structuredContent.text),
        ['n1', 'n2', 'n3', 'n4', 'n5']);
    await client.close();
});

test('a missing argument is a tool error a model can act on', async () => {
    const { client } = await connect();
    const res = await client.callTool({ name: 'echo', arguments: {} });
    assert.equal(res.isError, true);
    assert.equal(res.structuredContent.error.code, 'invalid_arguments');
    assert.ok(res.content.some((c) => c.text === '"text" is required: ' +
        'the string to echo'), 'a plain text block says what to change');
    await client.close();
});

test('an unknown tool is a JSON-RPC invalid-params error', async () => {
    const { client } = await connect();
    await assert.rejects(
        client.callTool({ name: 'nope', arguments: {} }),
        (e) => e.code === -32602 && /unknown tool "nope"/.test(e.message) &&
            !/did you mean/.test(e.message));
    await client.close();
});

test('a misspelt tool name gets the tool it most likely meant', async () => {
    const { client } = await connect();
    await assert.rejects(
        client.callTool({ name: 'ecoh', arguments: { text: 'x' } }),
        (e) => e.code === -32602 &&
            /unknown tool "ecoh"; did you mean "echo"\? call tools\/list/
                .test(e.message));
    await client.close();
});

test('ping answers', async () => {
    const { client } = await connect();
    assert.deepEqual(await client.ping(), {});
    await client.close();
});

test('progress notifications reach a client that asked for them',
    async () => {
        const { client } = await connect();
        const seen = [];
        const res = await client.callTool(
            { name: 'echo', arguments: { text: 'p', progress: 3,
                                         delay_ms: 20 } },
            undefined,
            { onprogress: (p) => seen.push(p.progress) });
        assert.equal(res.structuredContent.text, 'p');
        assert.deepEqual(seen, [1, 2, 3]);
        await client.close();
    });

test('ending the session: DELETE, then the id is refused with 404',
    async () => {
        const { client, transport } = await connect();
        const sid = transport.sessionId;
        await transport.terminateSession();
        const r = await post(gw, { jsonrpc: '2.0', id: 1, method: 'ping' },
            { 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' });
        assert.equal(r.status, 404);
        assert.equal(r.json.error.code, -32000);
        assert.match(r.json.error.message, /session not found \(ended\)/);
        await client.close();
    });

test('a notification is accepted with 202 and an empty body', async () => {
    const sid = await rawSession(gw);
    const r = await post(gw,
        { jsonrpc: '2.0', method: 'notifications/initialized' },
        { 'mcp-session-id': sid, 'mcp-protocol-version': '2025-11-25' });
    assert.equal(r.status, 202);
    assert.equal(r.text, '');
});

test('GET answers 405 with a JSON-RPC body', async () => {
    const res = await fetch(gw.url, {
        headers: { accept: 'text/event-stream' },
    });
    assert.equal(res.status, 405);
    assert.match(res.headers.get('content-type'), /application\/json/);
    const body = await res.json();
    assert.equal(body.jsonrpc, '2.0');
});

test('a client that accepts only SSE gets SSE', async () => {
    const sid = await rawSession(gw);
    const res = await fetch(gw.url, {
        method: 'POST',
        headers: {
            'content-type': 'application/json',
            accept: 'text/event-stream',
            'mcp-session-id': sid,
            'mcp-protocol-version': '2025-11-25',
        },
        body: JSON.stringify({ jsonrpc: '2.0', id: 7, method: 'ping' }),
    });
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type'), /^text\/event-stream/);
    const text = await res.text();
    assert.match(text, /^event: message\ndata: \{"jsonrpc":"2.0","id":7,"result":\{\}\}\n\n$/m);
});

test('a client that accepts only JSON never gets SSE', async () => {
    const sid = await rawSession(gw);
    const r = await post(gw, {
        jsonrpc: '2.0', id: 8, method: 'tools/call',
        params: { name: 'echo', arguments: { text: 'j', progress: 2 },
                  _meta: { progressToken: 'tok' } },
    }, { accept: 'application/json', 'mcp-session-id': sid,
         'mcp-protocol-version': '2025-11-25' });
    assert.equal(r.status, 200);
    assert.match(r.headers.get('content-type'), /^application\/json/);
    assert.equal(r.json.result.structuredContent.text, 'j');
});

test('notifications/cancelled stops a call of the same session only',
    async () => {
        const a = await connect();
        const b = await connect();
        const before = (await a.client.callTool({
            name: 'echo', arguments: { text: 'count' } }))
            .structuredContent.calls;

        // The check hook holds the call for 50 ms; the cancel lands there,
        // so the tool itself never runs.
        const ctl = new AbortController();
        const cancelled = a.client.callTool(
            { name: 'echo', arguments: { text: 'x', async_in: 'check' } },
            undefined, { signal: ctl.signal });
        setTimeout(() => ctl.abort('changed my mind'), 10);
        await assert.rejects(cancelled);
        await new Promise((r) => setTimeout(r, 150));

        // Another session's cancel of the "same" request id does nothing.
        const other = await post(gw, {
            jsonrpc: '2.0', method: 'notifications/cancelled',
            params: { requestId: 99 } }, {
            'mcp-session-id': b.transport.sessionId,
            'mcp-protocol-version': '2025-11-25' });
        assert.equal(other.status, 202);

        const after = (await a.client.callTool({
            name: 'echo', arguments: { text: 'count' } }))
            .structuredContent.calls;
        assert.equal(after, before + 1, 'the cancelled call never ran');
        assert.match(gw.errorLog(), /cancelled/);
        await a.client.close();
        await b.client.close();
    });
