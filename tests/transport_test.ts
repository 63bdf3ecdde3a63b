import assert from "node:assert/strict";
import { pushApp } from "../push.ts";
import { connectV2, RawClient, waitUntil, within, withServer } from "./helpers.ts";

/** A client-to-server text frame (masked, as RFC 6455 requires), for payloads under 126 bytes. */
function maskedTextFrame(text: string): Uint8Array {
  const payload = new TextEncoder().encode(text);
  assert.ok(payload.length < 126);
  const mask = crypto.getRandomValues(new Uint8Array(4));
  const frame = new Uint8Array(6 + payload.length);
  frame.set([0x81, 0x80 | payload.length, ...mask]);
  payload.forEach((b, i) => frame[6 + i] = b ^ mask[i % 4]);
  return frame;
}

/** Opens a TCP connection and completes a WebSocket handshake by hand; it then never reads. */
async function stalledWebSocket(port: number, protocol: string): Promise<Deno.TcpConn> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const request = [
    "GET / HTTP/1.1",
    `Host: 127.0.0.1:${port}`,
    "Upgrade: websocket",
    "Connection: Upgrade",
    "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
    "Sec-WebSocket-Version: 13",
    `Sec-WebSocket-Protocol: ${protocol}`,
    "",
    "",
  ].join("\r\n");
  await conn.write(new TextEncoder().encode(request));
  // Read just the handshake response, then stop reading for good.
  const buf = new Uint8Array(1024);
  const n = await within(conn.read(buf), "the handshake response");
  assert.match(new TextDecoder().decode(buf.subarray(0, n ?? 0)), /^HTTP\/1.1 101/);
  return conn;
}

Deno.test("a subscriber that stops reading is closed as a slow consumer; the others keep receiving", async () => {
  await withServer(
    async (server) => {
      const realm = server.router.defaultRealm;
      const conn = await stalledWebSocket(server.port, "wamp");
      try {
        await conn.write(maskedTextFrame(JSON.stringify([5, "push.tutorial.messages"])));
        const healthy = await connectV2(server.wsUrl);
        const publisher = await connectV2(server.wsUrl);
        let received = 0;
        await healthy.session.subscribe("push.tutorial.messages", () => received++);
        await waitUntil(() => realm.broker.subscriberCount === 2, "both subscriptions");
        const big = "x".repeat(256 * 1024);
        let sent = 0;
        // Bounded: at most 400 × 256 KiB, far more than the socket buffers and the 1 MiB limit.
        while (realm.broker.subscriberCount === 2 && sent < 400) {
          await publisher.session.publish("push.tutorial.messages", [big], {}, { acknowledge: true });
          sent++;
        }
        assert.equal(
          realm.broker.subscriberCount,
          1,
          `the stalled subscriber is still there after ${sent} publishes`,
        );
        await waitUntil(() => received === sent, "the healthy subscriber to get every event");
        assert.equal(await publisher.session.call("push.tutorial.areaCuadrado", [2, 3]), 6);
        await healthy.close();
        await publisher.close();
      } finally {
        conn.close();
      }
    },
    pushApp,
    { maxBufferedAmount: 1024 * 1024 },
  );
});

Deno.test("a v2 connection that sends no HELLO is closed with 1008 after the HELLO timeout", async () => {
  await withServer(
    async (server) => {
      const client = await RawClient.open(server.wsUrl, "wamp.2.json");
      const close = await client.closeEvent();
      assert.equal(close.code, 1008);
      assert.match(close.reason, /HELLO/);
      await waitUntil(() => server.router.sessionCount === 0, "the session to be released");
    },
    pushApp,
    { helloTimeoutMs: 100 },
  );
});

Deno.test("a WebSocket handshake that never completes leaves no session behind", async () => {
  await withServer(async (server) => {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    await conn.write(new TextEncoder().encode(
      `GET /ws HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: wamp\r\n\r\n`,
    ));
    conn.close();
    // A v2 client arriving afterwards is served and is the only session.
    const c = await connectV2(server.wsUrl);
    await waitUntil(() => server.router.sessionCount === 1, "only the real session to remain");
    await c.close();
    await waitUntil(() => server.router.sessionCount === 0, "no session to remain");
  });
});
