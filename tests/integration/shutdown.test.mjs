// A graceful stop: SIGTERM stops new connections, lets calls in flight
// finish and answers them, then exits cleanly.

import { test } from 'node:test';
import assert from 'node:assert/strict';
import net from 'node:net';

import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from
    '@modelcontextprotocol/sdk/client/streamableHttp.js';

import { startGateway } from './harness.mjs';

async function connect(gw) {
    const client = new Client({ name: 'stop-test', version: '1' });
    await client.connect(new StreamableHTTPClientTransport(new URL(gw.url)));
    return client;
}

function canConnect(port) {
    return new Promise((resolve) => {
        const s = net.connect(port, '127.0.0.1');
        s.on('connect', () => { s.destroy(); resolve(true); });
        s.on('error', () => resolve(false));
    });
}

test('SIGTERM lets a call in flight finish and answers it', async () => {
    const gw = await startGateway();
    const client = await connect(gw);

    const pending = client.callTool({
        name: 'echo', arguments: { text: 'last words', delay_ms: 400 } });
    await new Promise((r) => setTimeout(r, 100));
    gw.proc.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 100));

    assert.equal(await canConnect(gw.port), false,
        'no new connections while stopping');
    const res = await pending;
    assert.equal(res.structuredContent.text, 'last words');

    await gw.stop();
    assert.match(gw.errorLog(), /exiting after 1 calls in flight/);
});
