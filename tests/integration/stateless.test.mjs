// MCP 2026-07-28, the stateless revision, on the same endpoint: no
// initialize and no session; server/discover; Mcp-Method and Mcp-Name
// mirrored from the body and checked; its own error codes.

import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';

import { startGateway, post } from './harness.mjs';

let gw;

before(async () => {
    gw = await startGateway();
});

after(async () => {
    await gw.stop();
});

const V = { 'mcp-protocol-version': '2026-07-28' };

test('server/discover lists the revisions and the server', async () => {
    const r = await post(gw, { jsonrpc: '2.0', id: 1,
        method: 'server/discover' }, { ...V, 'mcp-method': 'server/discover' });
    assert.equal(r.status, 200, r.text);
    assert.deepEqual(r.json.result.supportedVersions,
        ['2026-07-28', '2025-11-25', '2025-06-18', '2025-03-26']);
    assert.equal(r.json.result.serverInfo.name, 'mcpgw');
    assert.ok(r.json.result.capabilities.tools);
    assert.equal(r.headers.get('mcp-session-id'), null);
});

test('a tool call needs no session; headers mirror the body', async () => {
    const body = { jsonrpc: '2.0', id: 2, method: 'tools/call',
        params: { name: 'echo', arguments: { text: 'stateless' },
                  _meta: { 'io.modelcontextprotocol/protocolVersion':
                           '2026-07-28' } } };
    let r = await post(gw, body,
        { ...V, 'mcp-method': 'tools/call', 'mcp-name': 'echo' });
    assert.equal(r.status, 200, r.text);
    assert.equal(r.json.result.structuredContent.text, 'stateless');

    r = await post(gw, body,
        { ...V, 'mcp-method': 'tools/list', 'mcp-name': 'echo' });
    assert.equal(r.status, 400);
    assert.equal(r.json.error.code, -32020);

    r = await post(gw, body,
        { ...V, 'mcp-method': 'tools/call', 'mcp-name': 'other' });
    assert.equal(r.status, 400);
    assert.equal(r.json.error.code, -32020);

    const wrong = structuredClone(body);
    wrong.params._meta['io.modelcontextprotocol/protocolVersion'] =
        '2025-11-25';
    r = await post(gw, wrong, V);
    assert.equal(r.status, 400);
    assert.equal(r.json.error.code, -32022);
});

test('session-era methods and unknown ones are 404 with -32601', async () => {
    for (const method of ['initialize', 'ping', 'logging/setLevel',
                          'nope/never']) {
        const r = await post(gw, { jsonrpc: '2.0', id: 3, method,
            params: {} }, V);
        assert.equal(r.status, 404, `${method}: ${r.text}`);
        assert.equal(r.json.error.code, -32601);
    }
});

test('an unsupported revision is 400 with -32022', async () => {
    const r = await post(gw, { jsonrpc: '2.0', id: 4, method: 'tools/list' },
        { 'mcp-protocol-version': '2027-01-01' });
    assert.equal(r.status, 400);
    assert.equal(r.json.error.code, -32022);
    assert.match(r.json.error.message, /supported: 2025-03-26/);
});

test('initialize never negotiates the stateless revision', async () => {
    const r = await post(gw, { jsonrpc: '2.0', id: 5, method: 'initialize',
        params: { protocolVersion: '2026-07-28', capabilities: {},
                  clientInfo: { name: 'x', version: '1' } } });
    assert.equal(r.status, 200);
    assert.equal(r.json.result.protocolVersion, '2025-11-25');
});
