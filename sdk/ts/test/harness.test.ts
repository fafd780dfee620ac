import { afterAll, beforeAll, expect, test } from 'vitest';
import WebSocket from 'ws';
import { startServer, type HeraldServer } from './harness.js';

let srv: HeraldServer;
beforeAll(async () => {
  srv = await startServer();
});
afterAll(async () => {
  await srv?.dispose();
});

test('the harness starts a real server that logs a user in with a minted token', async () => {
  const ws = new WebSocket(`${srv.url}/v1/ws`);
  await new Promise((r, j) => ws.once('open', r).once('error', j));
  ws.send(
    JSON.stringify({
      type: 'login',
      id: '1',
      data: { appID: srv.app.appID, userID: 'alice', token: srv.token('alice'), platform: 'web', deviceID: 'h1' },
    }),
  );
  const reply = await new Promise<any>((r) => ws.once('message', (d) => r(JSON.parse(String(d)))));
  expect(reply.error).toBeUndefined();
  expect(reply.data.userID).toBe('alice');
  ws.close();
});
