/**
 * Per-session quotas and the connection cap, against a real server with small
 * limits: subscriptions, registrations and calls in flight (ERROR
 * `tuerca.error.quota_exceeded` in v2; CALLERROR or a dropped SUBSCRIBE in v1), the
 * publish-and-call rate (ERROR `tuerca.error.rate_limited`, unacknowledged
 * publishes dropped), 0 turning a quota off, and `maxSessions` (HTTP 503 on the
 * upgrade). Every test ends by checking that the realm holds nothing of the
 * sessions it closed.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type ServerOptions } from "../main.ts";
import {
  ask,
  RawClient,
  rawRegister,
  rawSubscribe,
  rid,
  type TestClients,
  waitUntil,
  withCleanServer,
  within,
} from "./helpers.ts";

// ---------------------------------------------------------------------------
// Servers, and what the realm holds.

/** The small quotas most tests use. */
const QUOTAS: ServerOptions = { limits: { subscriptions: 3, registrations: 2, pendingCalls: 2 } };

/**
 * The rate tests' limits. The refill is slow (one token per 500 ms) so that a burst
 * sent at once cannot be topped up while it is handled, even on a slow machine.
 */
const RATE = 2;
const BURST = 5;
const RATED: ServerOptions = { limits: { rate: RATE, burst: BURST } };

const PROCEDURE = "push.tutorial.areaCuadrado";

/** Runs `fn` against a push server with `options`; see {@link withCleanServer}. */
function withQuotaServer(options: ServerOptions, fn: (ctx: TestClients) => Promise<void>): Promise<void> {
  return withCleanServer(options, fn);
}

// ---------------------------------------------------------------------------
// Raw frames.

/** Asserts `reply` is `[8, requestType, request, {}, uri, [description], kwargs]`. */
function assertErrorWithKwargs(
  reply: unknown[],
  requestType: number,
  request: number,
  uri: string,
  kwargs: Record<string, unknown>,
): void {
  assert.equal(reply.length, 7, `ERROR with a description and kwargs, got ${JSON.stringify(reply)}`);
  assert.deepEqual(reply.slice(0, 5), [8, requestType, request, {}, uri], JSON.stringify(reply));
  const args = reply[5] as unknown[];
  assert.ok(Array.isArray(args) && args.length === 1, `one argument: ${JSON.stringify(reply)}`);
  assert.equal(typeof args[0], "string", "the description is text");
  assert.ok((args[0] as string).length > 0, "the description is not empty");
  assert.deepEqual(reply[6], kwargs);
}

function assertQuota(
  reply: unknown[],
  requestType: number,
  request: number,
  quota: string,
  limit: number,
): void {
  assertErrorWithKwargs(reply, requestType, request, "tuerca.error.quota_exceeded", { quota, limit });
}

function assertRateLimited(reply: unknown[], requestType: number, request: number): void {
  assertErrorWithKwargs(reply, requestType, request, "tuerca.error.rate_limited", {
    rate: RATE,
    burst: BURST,
  });
}

/** The next frame, which must be an INVOCATION; returns its request id. */
async function nextInvocation(client: RawClient, what: string): Promise<number> {
  const frame = await client.next(what) as unknown[];
  assert.equal(frame[0], 68, `expected INVOCATION (${what}), got ${JSON.stringify(frame)}`);
  return frame[1] as number;
}

/** The next frame, which must be an EVENT; returns its args. */
async function nextEventArgs(client: RawClient, what: string): Promise<unknown[]> {
  const frame = await client.next(what) as unknown[];
  assert.equal(frame[0], 36, `expected EVENT (${what}), got ${JSON.stringify(frame)}`);
  return (frame[4] ?? []) as unknown[];
}

/**
 * Barrier: a session with a bucket of its own publishes a marker; `subscriber` must
 * have received exactly the first BURST events (0..BURST-1) and then the marker.
 */
async function expectBurstThenMarker(
  v2: () => Promise<{ client: RawClient }>,
  subscriber: RawClient,
): Promise<void> {
  const marker = (await v2()).client;
  const m = rid();
  const reply = await ask(marker, [16, m, { acknowledge: true }, "com.example.news", ["marker"]]);
  assert.deepEqual(reply.slice(0, 2), [17, m]);
  const got: unknown[] = [];
  for (let i = 0; i < BURST + 1; i++) got.push((await nextEventArgs(subscriber, `event ${i + 1}`))[0]);
  assert.deepEqual(got, [0, 1, 2, 3, 4, "marker"]);
}

/** Sends `n` acknowledged publishes at once, then reads the `n` answers in order. */
async function publishBurst(
  client: RawClient,
  topic: string,
  n: number,
): Promise<{ requests: number[]; replies: unknown[][] }> {
  const requests: number[] = [];
  for (let i = 0; i < n; i++) {
    const request = rid();
    requests.push(request);
    client.send([16, request, { acknowledge: true }, topic, [i]]);
  }
  const replies: unknown[][] = [];
  for (let i = 0; i < n; i++) replies.push(await client.next(`answer ${i + 1} of ${n}`) as unknown[]);
  return { requests, replies };
}

/** Publishes acknowledged until one passes (the bucket refilled), bounded; returns how many were refused. */
async function publishOnceRefilled(client: RawClient, topic: string, ms = 5_000): Promise<number> {
  const deadline = Date.now() + ms;
  let refused = 0;
  while (true) {
    const request = rid();
    const reply = await ask(client, [16, request, { acknowledge: true }, topic, ["again"]]);
    if (reply[0] === 17) {
      assert.equal(reply[1], request);
      return refused;
    }
    assertRateLimited(reply, 16, request);
    refused++;
    if (Date.now() > deadline) throw new Error(`still rate limited after ${ms} ms`);
    // Bounded poll: the bucket refills with time, there is nothing to await.
    await new Promise((r) => setTimeout(r, 50));
  }
}

// ---------------------------------------------------------------------------
// v2 quotas.

Deno.test("v2 quota: the 4th distinct SUBSCRIBE gets ERROR tuerca.error.quota_exceeded {quota: subscriptions, limit: 3}", async () => {
  await withQuotaServer(QUOTAS, async ({ server, v2 }) => {
    const { client } = await v2();
    const counters = server.router.counters;
    const before = counters.quotaExceeded;
    const s1 = await rawSubscribe(client, "com.example.t1");
    const s2 = await rawSubscribe(client, "com.example.t2");
    await rawSubscribe(client, "com.example.t3");

    let request = rid();
    assertQuota(await ask(client, [32, request, {}, "com.example.t4"]), 32, request, "subscriptions", 3);
    assert.equal(counters.quotaExceeded - before, 1, "counted");

    // Subscribing again to a topic held does not count: the same subscription.
    request = rid();
    assert.deepEqual(await ask(client, [32, request, {}, "com.example.t1"]), [33, request, s1]);

    // After an UNSUBSCRIBE, one more fits, and then no more.
    request = rid();
    assert.deepEqual(await ask(client, [34, request, s2]), [35, request]);
    await rawSubscribe(client, "com.example.t4");
    request = rid();
    assertQuota(await ask(client, [32, request, {}, "com.example.t5"]), 32, request, "subscriptions", 3);
    assert.equal(counters.quotaExceeded - before, 2);

    // The quota is per session.
    const other = (await v2()).client;
    for (const t of ["com.example.t5", "com.example.t6", "com.example.t7"]) await rawSubscribe(other, t);
  });
});

Deno.test("v2 quota: the 3rd REGISTER gets ERROR tuerca.error.quota_exceeded {quota: registrations, limit: 2}; after UNREGISTER one more fits", async () => {
  await withQuotaServer(QUOTAS, async ({ server, v2 }) => {
    const { client } = await v2();
    const before = server.router.counters.quotaExceeded;
    const p1 = await rawRegister(client, "com.example.p1");
    await rawRegister(client, "com.example.p2");

    let request = rid();
    assertQuota(await ask(client, [64, request, {}, "com.example.p3"]), 64, request, "registrations", 2);

    request = rid();
    assert.deepEqual(await ask(client, [66, request, p1]), [67, request]);
    await rawRegister(client, "com.example.p3");
    request = rid();
    assertQuota(await ask(client, [64, request, {}, "com.example.p4"]), 64, request, "registrations", 2);
    assert.equal(server.router.counters.quotaExceeded - before, 2, "both refusals counted");
  });
});

Deno.test("v2 quota: a 3rd CALL while 2 are pending gets ERROR {quota: pending_calls, limit: 2}; once the callee answers, calls fit again", async () => {
  await withQuotaServer(QUOTAS, async ({ server, v2 }) => {
    const callee = (await v2()).client;
    await rawRegister(callee, "com.example.slow");
    const caller = (await v2()).client;
    const before = server.router.counters.quotaExceeded;

    const r1 = rid();
    const r2 = rid();
    caller.send([48, r1, {}, "com.example.slow", [1]]);
    caller.send([48, r2, {}, "com.example.slow", [2]]);
    const i1 = await nextInvocation(callee, "the first invocation");
    const i2 = await nextInvocation(callee, "the second invocation");

    const r3 = rid();
    assertQuota(await ask(caller, [48, r3, {}, "com.example.slow", [3]]), 48, r3, "pending_calls", 2);
    assert.equal(server.router.counters.quotaExceeded - before, 1, "counted");

    // The callee answers one; the caller gets its result, and a new call fits.
    callee.send([70, i1, {}, ["one"]]);
    assert.deepEqual(await caller.next("RESULT 1"), [50, r1, {}, ["one"]]);
    const r4 = rid();
    caller.send([48, r4, {}, "com.example.slow", [4]]);
    const i4 = await nextInvocation(callee, "the fourth call's invocation");
    assert.deepEqual(callee.frames, [], "the refused call never reached the callee");

    callee.send([70, i2, {}, ["two"]]);
    callee.send([70, i4, {}, ["four"]]);
    assert.deepEqual(await caller.next("RESULT 2"), [50, r2, {}, ["two"]]);
    assert.deepEqual(await caller.next("RESULT 4"), [50, r4, {}, ["four"]]);
    assert.equal(server.router.defaultRealm.dealer.pendingCount, 0);
  });
});

// ---------------------------------------------------------------------------
// v1 quotas.

Deno.test("v1 quota: an over-quota SUBSCRIBE is dropped and counted (quotaExceeded, v1Dropped); no EVENT for it", async () => {
  await withQuotaServer(QUOTAS, async ({ server, v1, local }) => {
    const { client } = await v1();
    const counters = server.router.counters;
    const before = { ...counters };
    const topicsBefore = server.router.defaultRealm.broker.topicCount;
    for (const t of ["com.example.t1", "com.example.t2", "com.example.t3", "com.example.t4"]) {
      client.send([5, t]);
    }
    // v1 does not acknowledge SUBSCRIBE; a call answered after them proves all four were handled.
    assert.deepEqual(await ask(client, [2, "sync", PROCEDURE, 1, 1]), [3, "sync", 1]);
    assert.equal(counters.quotaExceeded - before.quotaExceeded, 1, "counted in quotaExceeded");
    assert.equal(counters.v1Dropped - before.v1Dropped, 1, "counted in v1Dropped");
    assert.equal(
      server.router.defaultRealm.broker.topicCount - topicsBefore,
      3,
      "three subscriptions held",
    );

    const app = local();
    app.publish("com.example.t4", ["dropped topic"]);
    app.publish("com.example.t3", ["held topic"]);
    // Barrier: delivered in order, so the first EVENT is for t3; nothing came for t4.
    assert.deepEqual(await client.next("the EVENT on t3"), [8, "com.example.t3", "held topic"]);
    assert.deepEqual(client.frames, []);
  });
});

Deno.test("v1 quota: an over-quota CALL gets CALLERROR tuerca.error.quota_exceeded", async () => {
  await withQuotaServer(QUOTAS, async ({ server, v1, v2 }) => {
    const callee = (await v2()).client;
    await rawRegister(callee, "com.example.slow");
    const { client } = await v1();
    const before = server.router.counters.quotaExceeded;

    client.send([2, "a", "com.example.slow", 1]);
    client.send([2, "b", "com.example.slow", 2]);
    const ia = await nextInvocation(callee, "invocation a");
    const ib = await nextInvocation(callee, "invocation b");
    const reply = await ask(client, [2, "c", "com.example.slow", 3]);
    assert.equal(reply.length, 5, `CALLERROR [4, id, uri, desc, details]: ${JSON.stringify(reply)}`);
    assert.deepEqual(reply.slice(0, 3), [4, "c", "tuerca.error.quota_exceeded"]);
    assert.equal(typeof reply[3], "string");
    assert.deepEqual(reply[4], { quota: "pending_calls", limit: 2 });
    assert.equal(server.router.counters.quotaExceeded - before, 1, "counted");

    callee.send([70, ia, {}, ["A"]]);
    assert.deepEqual(await client.next("CALLRESULT a"), [3, "a", "A"]);
    assert.deepEqual(await ask(client, [2, "d", PROCEDURE, 2, 2]), [3, "d", 4], "a call fits again");
    callee.send([70, ib, {}, ["B"]]);
    assert.deepEqual(await client.next("CALLRESULT b"), [3, "b", "B"]);
  });
});

// ---------------------------------------------------------------------------
// Rate.

Deno.test("rate: a burst of 5 acknowledged PUBLISHes passes, the 6th gets ERROR tuerca.error.rate_limited {rate, burst}; the session works again after the refill", async () => {
  await withQuotaServer(RATED, async ({ server, v2 }) => {
    const { client } = await v2();
    const before = server.router.counters.rateLimited;
    const { requests, replies } = await publishBurst(client, "com.example.news", BURST + 1);
    for (let i = 0; i < BURST; i++) {
      assert.deepEqual(
        replies[i].slice(0, 2),
        [17, requests[i]],
        `publish ${i + 1}: ${JSON.stringify(replies[i])}`,
      );
    }
    assertRateLimited(replies[BURST], 16, requests[BURST]);
    assert.equal(server.router.counters.rateLimited - before, 1, "counted");

    const refusedWhileWaiting = await publishOnceRefilled(client, "com.example.news");
    assert.equal(client.ws.readyState, WebSocket.OPEN, "the session stays open");
    assert.equal(
      server.router.counters.rateLimited - before,
      1 + refusedWhileWaiting,
      "each refusal counted",
    );
  });
});

Deno.test("rate: unacknowledged PUBLISHes over the rate are dropped and counted", async () => {
  await withQuotaServer(RATED, async ({ server, v2 }) => {
    const subscriber = (await v2()).client;
    await rawSubscribe(subscriber, "com.example.news");
    const publisher = (await v2()).client;
    const before = server.router.counters.rateLimited;

    for (let i = 0; i < BURST + 3; i++) publisher.send([16, rid(), {}, "com.example.news", [i]]);
    // Barrier: an acknowledged publish after them is refused too, so all were handled and the bucket is empty.
    const request = rid();
    assertRateLimited(
      await ask(publisher, [16, request, { acknowledge: true }, "com.example.news", ["ack"]]),
      16,
      request,
    );
    assert.deepEqual(publisher.frames, [], "the unacknowledged publishes got no answer");
    assert.equal(server.router.counters.rateLimited - before, 4, "3 dropped + 1 refused, counted");

    // The subscriber got the first five, then (barrier, from a session with its own bucket) the marker.
    await expectBurstThenMarker(v2, subscriber);
  });
});

Deno.test("rate: CALL over the rate gets ERROR tuerca.error.rate_limited; publishes and calls share one bucket", async () => {
  await withQuotaServer(RATED, async ({ server, v2 }) => {
    const { client } = await v2();
    const before = server.router.counters.rateLimited;
    const { requests, replies } = await publishBurst(client, "com.example.news", 3);
    replies.forEach((r, i) => assert.deepEqual(r.slice(0, 2), [17, requests[i]], JSON.stringify(r)));
    for (let i = 0; i < 2; i++) {
      const request = rid();
      assert.deepEqual(await ask(client, [48, request, {}, PROCEDURE, [2, 3]]), [50, request, {}, [6]]);
    }
    const request = rid();
    assertRateLimited(await ask(client, [48, request, {}, PROCEDURE, [2, 3]]), 48, request);
    assert.equal(server.router.counters.rateLimited - before, 1, "counted");
  });
});

Deno.test("rate: the limit is per session; another session is unaffected", async () => {
  await withQuotaServer(RATED, async ({ v2 }) => {
    const a = (await v2()).client;
    const b = (await v2()).client;
    const first = await publishBurst(a, "com.example.news", BURST + 1);
    assertRateLimited(first.replies[BURST], 16, first.requests[BURST]);
    const second = await publishBurst(b, "com.example.news", BURST);
    second.replies.forEach((r, i) =>
      assert.deepEqual(r.slice(0, 2), [17, second.requests[i]], `b's publish ${i + 1}: ${JSON.stringify(r)}`)
    );
  });
});

Deno.test("rate: v1 PUBLISHes over the rate are dropped and counted; a v1 CALL over it gets CALLERROR", async () => {
  await withQuotaServer(RATED, async ({ server, v1, v2 }) => {
    const subscriber = (await v2()).client;
    await rawSubscribe(subscriber, "com.example.news");
    const { client } = await v1();
    const counters = server.router.counters;
    const before = { ...counters };

    for (let i = 0; i < BURST + 2; i++) client.send([7, "com.example.news", i]);
    // Barrier: a CALL after them is over the rate too, and answered.
    const reply = await ask(client, [2, "c1", PROCEDURE, 1, 1]);
    assert.equal(reply.length, 5, `CALLERROR [4, id, uri, desc, details]: ${JSON.stringify(reply)}`);
    assert.deepEqual(reply.slice(0, 3), [4, "c1", "tuerca.error.rate_limited"]);
    assert.equal(typeof reply[3], "string");
    assert.deepEqual(reply[4], { rate: RATE, burst: BURST });
    assert.equal(counters.rateLimited - before.rateLimited, 3, "2 publishes and the call");
    assert.equal(counters.v1Dropped - before.v1Dropped, 2, "the 2 publishes dropped");

    await expectBurstThenMarker(v2, subscriber);
  });
});

// ---------------------------------------------------------------------------
// 0 turns a quota off.

Deno.test("limits 0 turn quotas off: 20 subscriptions, 10 registrations, 10 pending calls, 50 quick publishes all pass", async () => {
  const off: ServerOptions = { limits: { subscriptions: 0, registrations: 0, pendingCalls: 0, rate: 0 } };
  await withQuotaServer(off, async ({ server, v2 }) => {
    const { client } = await v2();
    const counters = server.router.counters;
    const before = { ...counters };
    for (let i = 0; i < 20; i++) await rawSubscribe(client, `com.example.s${i}`);
    for (let i = 0; i < 10; i++) await rawRegister(client, `com.example.r${i}`);

    const callee = (await v2()).client;
    await rawRegister(callee, "com.example.slow");
    const calls: number[] = [];
    for (let i = 0; i < 10; i++) {
      const request = rid();
      calls.push(request);
      client.send([48, request, {}, "com.example.slow", [i]]);
    }
    const invocations: number[] = [];
    for (let i = 0; i < 10; i++) invocations.push(await nextInvocation(callee, `invocation ${i + 1}`));
    for (const inv of invocations) callee.send([70, inv, {}, ["ok"]]);
    for (const request of calls) assert.deepEqual(await client.next("RESULT"), [50, request, {}, ["ok"]]);

    const { requests, replies } = await publishBurst(client, "com.example.news", 50);
    replies.forEach((r, i) =>
      assert.deepEqual(r.slice(0, 2), [17, requests[i]], `publish ${i + 1}: ${JSON.stringify(r)}`)
    );
    assert.equal(counters.quotaExceeded, before.quotaExceeded, "no quota hit");
    assert.equal(counters.rateLimited, before.rateLimited, "no rate hit");
  });
});

// ---------------------------------------------------------------------------
// maxSessions.

/** A WebSocket handshake sent with fetch(), so a refusal's status, headers and body can be read. */
async function upgradeRequest(
  url: string,
): Promise<{ status: number; retryAfter: string | null; body: string }> {
  const res = await within(
    fetch(url, {
      headers: {
        connection: "Upgrade",
        upgrade: "websocket",
        "sec-websocket-version": "13",
        "sec-websocket-key": "dGhlIHNhbXBsZSBub25jZQ==",
        "sec-websocket-protocol": "wamp.2.json",
      },
    }),
    `upgrade request to ${url}`,
  );
  return { status: res.status, retryAfter: res.headers.get("retry-after"), body: await res.text() };
}

Deno.test("maxSessions 2: the 3rd upgrade gets HTTP 503 with retry-after and a one-line body; after one closes a new one is accepted", async () => {
  await withQuotaServer({ maxSessions: 2 }, async ({ server, v1, v2 }) => {
    const counters = server.endpoint.counters;
    const first = (await v2()).client;
    const second = (await v1()).client;
    assert.equal(counters.open, 2);
    const refusedBefore = counters.fullRefused;

    const refused = await upgradeRequest(server.wsUrl.replace(/^ws/, "http"));
    assert.equal(refused.status, 503);
    assert.ok(
      refused.retryAfter !== null && /^[0-9]+$/.test(refused.retryAfter),
      `retry-after: ${refused.retryAfter}`,
    );
    assert.ok(refused.body.endsWith("\n"), `a line: ${JSON.stringify(refused.body)}`);
    assert.equal(refused.body.trimEnd().split("\n").length, 1, `one line: ${JSON.stringify(refused.body)}`);
    assert.ok(refused.body.trim().length > 0, "the line says something");
    assert.equal(counters.fullRefused - refusedBefore, 1, "counted in fullRefused");
    assert.equal(counters.open, 2, "the refused upgrade holds nothing");

    // The sessions already open still work.
    const request = rid();
    assert.deepEqual(await ask(first, [48, request, {}, PROCEDURE, [2, 2]]), [50, request, {}, [4]]);

    await second.close();
    await waitUntil(() => counters.open === 1, "the endpoint to count the closed connection");
    const third = (await v2()).client;
    assert.equal(counters.open, 2);
    const r = rid();
    assert.deepEqual(await ask(third, [48, r, {}, PROCEDURE, [3, 3]]), [50, r, {}, [9]]);
    assert.equal(counters.fullRefused - refusedBefore, 1, "the new one was not refused");
  });
});
