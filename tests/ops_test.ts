/**
 * Running it for real: `/healthz`, `/readyz` and `/metrics` with a real HTTP
 * client against the real server, the metrics text parsed by an npm
 * exposition-format parser and checked against a known sequence of actions, who
 * may read them, and the structured logs parsed line by line.
 *
 * @module
 */

import assert from "node:assert/strict";
import parsePrometheus from "parse-prometheus-text-format";
import { createPushApp, pushApp } from "../push.ts";
import { OpsAccess, TrustedProxies } from "../src/http/access.ts";
import { parseAddress } from "../src/net/address.ts";
import { createLogger } from "../src/log.ts";
import { DURATION_SAMPLE } from "../src/realm/dealer.ts";
import { ask, RawClient, rawSubscribe, rawV2, rid, startTestServer, waitUntil, within } from "./helpers.ts";

interface Sample {
  labels?: Record<string, string>;
  value?: string;
  buckets?: Record<string, string>;
  count?: string;
  sum?: string;
}
interface Family {
  name: string;
  type: string;
  metrics: Sample[];
}

async function scrape(url: string): Promise<Map<string, Family>> {
  const res = await within(fetch(`${url}metrics`), "GET /metrics");
  assert.equal(res.status, 200);
  assert.match(res.headers.get("content-type") ?? "", /^text\/plain; version=0\.0\.4/);
  const families = parsePrometheus(await res.text()) as Family[];
  return new Map(families.map((f) => [f.name, f]));
}

/** The value of `name` whose labels include `labels`; 0 when there is no such sample. */
function value(families: Map<string, Family>, name: string, labels: Record<string, string> = {}): number {
  const family = families.get(name);
  const sample = family?.metrics.find((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  return sample === undefined ? 0 : Number(sample.value ?? sample.count);
}

Deno.test("/metrics: every family is tuerca_-prefixed, counters end in _total, and a known sequence of actions is counted", async () => {
  const server = await startTestServer(pushApp);
  try {
    const before = await scrape(server.url);
    for (const [name, f] of before) {
      assert.ok(name.startsWith("tuerca_"), name);
      if (f.type === "COUNTER") assert.ok(name.endsWith("_total"), `${name} is a counter`);
    }
    const pub = await rawV2(server.wsUrl);
    const subs = [await rawV2(server.wsUrl), await rawV2(server.wsUrl)];
    for (const s of subs) await rawSubscribe(s.client, "ops.topic");
    for (let i = 0; i < 3; i++) {
      const f = await ask(pub.client, [16, rid(), { acknowledge: true }, "ops.topic", [i]]);
      assert.equal(f[0], 17);
    }
    for (const s of subs) for (let i = 0; i < 3; i++) await s.client.next("event");
    assert.equal((await ask(pub.client, [48, rid(), {}, "push.tutorial.areaCuadrado", [2, 3]]))[0], 50);
    assert.equal((await ask(pub.client, [48, rid(), {}, "push.tutorial.areaCuadrado", ["x", 3]]))[0], 8);
    assert.equal((await ask(pub.client, [48, rid(), {}, "ops.nothing", []]))[0], 8);
    // 14 more routed calls make 16: the duration histogram times one in DURATION_SAMPLE (8).
    for (let i = 0; i < 14; i++) {
      assert.equal((await ask(pub.client, [48, rid(), {}, "push.tutorial.areaCuadrado", [1, i]]))[0], 50);
    }
    const idle = await rawV2(server.wsUrl);
    // A HELLO offering only a method that is not enabled: ABORT no_auth_method.
    const bad = await RawClient.open(server.wsUrl, "wamp.2.json");
    bad.send([1, "realm1", { roles: { caller: {} }, authmethods: ["ticket"], authid: "x" }]);
    assert.equal((await bad.next("ABORT") as unknown[])[0], 3);
    await bad.closeEvent();

    const after = await scrape(server.url);
    const delta = (name: string, labels: Record<string, string> = {}) =>
      value(after, name, labels) - value(before, name, labels);
    assert.equal(delta("tuerca_publishes_total"), 3);
    assert.equal(delta("tuerca_events_delivered_total"), 6, "3 publishes to 2 subscribers");
    assert.equal(delta("tuerca_messages_sent_total", { type: "EVENT" }), 6);
    assert.equal(delta("tuerca_messages_received_total", { type: "PUBLISH" }), 3);
    assert.equal(delta("tuerca_messages_sent_total", { type: "PUBLISHED" }), 3);
    assert.equal(delta("tuerca_calls_total", { outcome: "result" }), 15);
    assert.equal(delta("tuerca_calls_total", { outcome: "error" }), 1, "areaCuadrado refused 'x'");
    assert.equal(delta("tuerca_errors_total", { uri: "wamp.error.no_such_procedure" }), 1);
    assert.equal(delta("tuerca_errors_total", { uri: "wamp.error.no_auth_method" }), 1);
    assert.equal(delta("tuerca_authentication_failures_total", { method: "none" }), 1);
    assert.equal(delta("tuerca_sessions_opened_total", { protocol: "wamp.2.json" }), 5);
    assert.equal(value(after, "tuerca_sessions", { protocol: "wamp.2.json" }), 4);
    assert.equal(value(after, "tuerca_sessions", { protocol: "local" }), 1, "the push app's own session");
    const duration = after.get("tuerca_call_duration_seconds")!;
    assert.equal(duration.type, "HISTOGRAM");
    assert.equal(
      Number(duration.metrics[0].count) -
        Number(before.get("tuerca_call_duration_seconds")!.metrics[0].count),
      16 / DURATION_SAMPLE,
      "one routed call in 8 is timed",
    );
    assert.ok(value(after, "tuerca_process_resident_memory_bytes") > 1_000_000);

    for (const c of [pub, idle, ...subs]) await c.client.close();
    await waitUntil(() => server.router.sessionCount === 0, "the sessions to close");
    const closed = await scrape(server.url);
    assert.equal(
      value(closed, "tuerca_sessions_closed_total", { protocol: "wamp.2.json", reason: "client" }) -
        value(before, "tuerca_sessions_closed_total", { protocol: "wamp.2.json", reason: "client" }),
      4,
    );
    assert.equal(
      value(closed, "tuerca_sessions_closed_total", { protocol: "wamp.2.json", reason: "normal" }),
      1,
      "the ABORTed one",
    );
  } finally {
    await server.close();
  }
});

Deno.test("/healthz: 200 with sessions by protocol and the bridge off; 503 with draining while the server shuts down", async () => {
  const server = await startTestServer(pushApp);
  const { client } = await rawV2(server.wsUrl);
  let closing: Promise<void> | undefined;
  try {
    const res = await within(fetch(`${server.url}healthz`), "GET /healthz");
    assert.equal(res.status, 200);
    const body = await res.json();
    assert.equal(body.status, "ok");
    assert.equal(body.draining, false);
    assert.equal(body.sessions["wamp.2.json"], 1);
    assert.deepEqual(body.bridge, { state: "off" });
    assert.equal(typeof body.uptime_s, "number");
    assert.equal((await within(fetch(`${server.url}readyz`), "GET /readyz")).status, 200);

    // The raw client never answers GOODBYE, so the drain lasts its grace period.
    closing = server.close();
    await waitUntil(() => server.router.closing, "the router to start closing");
    const draining = await within(fetch(`${server.url}healthz`), "GET /healthz while draining");
    assert.equal(draining.status, 503);
    assert.equal((await draining.json()).draining, true);
    const notReady = await within(fetch(`${server.url}readyz`), "GET /readyz while draining");
    assert.equal(notReady.status, 503);
    await notReady.body?.cancel();
  } finally {
    await client.close().catch(() => {});
    await (closing ?? server.close());
  }
});

Deno.test("/readyz is 503 while the bridge waits for its broker, and /healthz says waiting, naming the broker without credentials", async () => {
  // Nothing listens on port 9: the bridge keeps waiting.
  const app = createPushApp({
    bridge: {
      url: "stomp://guest:secret@127.0.0.1:9",
      queue: "ops_never",
      initialBackoffMs: 50,
      log: () => {},
    },
  });
  const server = await startTestServer(app);
  try {
    const ready = await within(fetch(`${server.url}readyz`), "GET /readyz");
    assert.equal(ready.status, 503);
    assert.match((await ready.json()).status, /waiting for the queue bridge/);
    const health = await (await within(fetch(`${server.url}healthz`), "GET /healthz")).json();
    assert.equal(health.bridge.state, "waiting");
    assert.ok(!JSON.stringify(health).includes("secret"), `no credentials: ${JSON.stringify(health.bridge)}`);
    assert.match(health.bridge.broker, /127\.0\.0\.1:9/);
  } finally {
    await server.close();
  }
});

Deno.test("who may read /metrics: loopback always; others from an allowed address or network, or with the bearer key", () => {
  const open = new OpsAccess();
  assert.ok(open.permits("127.0.0.1", null));
  assert.ok(open.permits("127.8.9.10", null));
  assert.ok(open.permits("::1", null));
  assert.ok(open.permits("::ffff:127.0.0.1", null));
  assert.ok(!open.permits("10.0.0.5", null));
  assert.ok(!open.permits("10.0.0.5", "Bearer anything"), "no key configured: no key works");

  const allowed = new OpsAccess(["10.0.0.5", "192.168.1.0/24", "fd00::/8"], "s3cret");
  assert.ok(allowed.permits("10.0.0.5", null));
  assert.ok(!allowed.permits("10.0.0.6", null));
  assert.ok(allowed.permits("192.168.1.200", null));
  assert.ok(!allowed.permits("192.168.2.1", null));
  assert.ok(allowed.permits("fd12:3456::1", null));
  assert.ok(!allowed.permits("fe80::1", null));
  assert.ok(allowed.permits("203.0.113.9", "Bearer s3cret"));
  assert.ok(!allowed.permits("203.0.113.9", "Bearer s3cre"));
  assert.ok(!allowed.permits("203.0.113.9", "Basic s3cret"));
  assert.throws(() => new OpsAccess(["10.0.0.0/33"]), /not an IP address or CIDR network/);
  assert.throws(() => new OpsAccess(["example.com"]), /not an IP address or CIDR network/);
  assert.deepEqual([...parseAddress("2001:db8::1")!].slice(0, 4), [0x20, 0x01, 0x0d, 0xb8]);
});

Deno.test("JSON logs: one object per line with ts, level, msg; a session's open and close at info, nothing per message", async () => {
  const lines: string[] = [];
  const log = createLogger({ format: "json", level: "info", write: (l) => lines.push(l) });
  const server = await startTestServer(pushApp, { log });
  try {
    const { client, session } = await rawV2(server.wsUrl);
    for (let i = 0; i < 20; i++) client.send([16, rid(), {}, "ops.chatty", [i]]);
    await ask(client, [48, rid(), {}, "push.tutorial.areaCuadrado", [1, 1]]);
    await client.close();
    await waitUntil(() => lines.some((l) => l.includes("session closed")), "the close line");
    const parsed = lines.map((l) => JSON.parse(l));
    for (const p of parsed) {
      assert.ok(!Number.isNaN(Date.parse(p.ts)), `ts: ${p.ts}`);
      assert.ok(["error", "warn", "info", "debug"].includes(p.level));
      assert.equal(typeof p.msg, "string");
    }
    const mine = parsed.filter((p) => p.session === session);
    assert.deepEqual(mine.map((p) => p.msg), ["session opened", "session closed"], "nothing per message");
    const closedLine = mine[1];
    assert.equal(closedLine.protocol, "wamp.2.json");
    assert.equal(closedLine.authrole, "anonymous");
    assert.equal(closedLine.remote, "127.0.0.1");
    assert.equal(closedLine.reason, "client");
    assert.equal(typeof closedLine.duration_s, "number");
  } finally {
    await server.close();
  }
  assert.ok(lines.some((l) => JSON.parse(l).msg === "stopped" && typeof JSON.parse(l).drain_ms === "number"));
});

Deno.test("text logs: a timestamp, the level, the message, then key=value fields (quoted when needed)", () => {
  const lines: string[] = [];
  const log = createLogger({
    format: "text",
    level: "warn",
    write: (l) => lines.push(l),
    now: () => new Date("2026-12-01T10:41:00Z"),
  });
  log.info("not shown at warn");
  log.warn("bridge waiting", { broker: "stomp://127.0.0.1:61613", note: "two words" });
  assert.deepEqual(lines, [
    '2026-12-01T10:41:00.000Z WARN  bridge waiting broker=stomp://127.0.0.1:61613 note="two words"',
  ]);
});

Deno.test("X-Forwarded-For is believed only from a trusted proxy, right-most untrusted hop first", () => {
  const none = new TrustedProxies();
  assert.equal(
    none.client("127.0.0.1", "203.0.113.9"),
    "127.0.0.1",
    "no proxy configured: the header is ignored",
  );
  const proxies = new TrustedProxies(["127.0.0.1", "10.0.0.0/8"]);
  assert.equal(proxies.client("127.0.0.1", "203.0.113.9"), "203.0.113.9");
  assert.equal(
    proxies.client("127.0.0.1", "198.51.100.1, 203.0.113.9, 10.1.2.3"),
    "203.0.113.9",
    "skips inner proxies",
  );
  assert.equal(proxies.client("192.0.2.7", "203.0.113.9"), "192.0.2.7", "a client cannot forge the header");
  assert.equal(proxies.client("127.0.0.1", "not-an-address"), "127.0.0.1");
  assert.equal(proxies.client("127.0.0.1", null), "127.0.0.1");
  assert.throws(() => new TrustedProxies(["proxy.example"]), /not an IP address/);
});

Deno.test("behind a trusted proxy, /metrics goes by the forwarded client address, not the proxy's loopback", async () => {
  const server = await startTestServer(pushApp, { trustedProxies: ["127.0.0.1"] });
  try {
    const outside = await fetch(`${server.url}metrics`, { headers: { "x-forwarded-for": "203.0.113.9" } });
    assert.equal(outside.status, 403);
    await outside.body?.cancel();
    const inside = await fetch(`${server.url}metrics`, { headers: { "x-forwarded-for": "127.0.0.1" } });
    assert.equal(inside.status, 200);
    await inside.body?.cancel();
  } finally {
    await server.close();
  }
  const direct = await startTestServer(pushApp);
  try {
    const res = await fetch(`${direct.url}metrics`, { headers: { "x-forwarded-for": "203.0.113.9" } });
    assert.equal(res.status, 200, "without a trusted proxy the header means nothing");
    await res.body?.cancel();
  } finally {
    await direct.close();
  }
});
