/**
 * The subscription meta procedures' view of several nodes (src/realm/subscription_table.ts):
 * one id per topic pattern, this node's own first; every node's id accepted.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Broker } from "../src/realm/broker.ts";
import type { Participant } from "../src/realm/participant.ts";
import { type RemoteSubscription, SubscriptionTable } from "../src/realm/subscription_table.ts";
import { WampError } from "../src/protocol/errors.ts";

function participant(id: number): Participant {
  return {
    id,
    authid: `u${id}`,
    authrole: "anonymous",
    send() {},
    deliverEvent() {},
  } as unknown as Participant;
}

function remote(id: number, uri: string, subscribers: number[], match: "exact" | "prefix" = "exact") {
  return {
    id,
    uri,
    match,
    created: 1_000,
    count: subscribers.length,
    subscribers,
  } satisfies RemoteSubscription;
}

Deno.test("subscription table: this node's id wins for a pattern it holds; else the lowest of the other nodes'", () => {
  const broker = new Broker();
  const own = broker.subscribe(participant(1), "t.a");
  const table = new SubscriptionTable(broker.subscriptions(), [
    remote(1, "t.a", [7]),
    remote(50, "t.b", [8]),
  ]);
  assert.equal(table.lookup("t.a", "exact"), own.id);
  const withoutLocal = new SubscriptionTable([], [remote(90, "t.b", [8]), remote(50, "t.b", [9])]);
  assert.equal(withoutLocal.lookup("t.b", "exact"), 50);
  assert.deepEqual(withoutLocal.list(), { exact: [50], prefix: [], wildcard: [] });
});

Deno.test("subscription table: any node's id names the pattern, with every node's subscribers and its own creation time", () => {
  const table = new SubscriptionTable([], [remote(90, "t.b", [8]), remote(50, "t.b", [9, 10])]);
  assert.deepEqual(table.subscribers(90).sort((x, y) => x - y), [8, 9, 10]);
  assert.deepEqual(table.subscribers(50).sort((x, y) => x - y), [8, 9, 10]);
  assert.equal(table.count(90), 3);
  assert.deepEqual(table.get(90), {
    id: 90,
    created: new Date(1_000).toISOString(),
    uri: "t.b",
    match: "exact",
  });
});

Deno.test("subscription table: match lists exact, then prefixes shortest first; list leaves out wamp. topics", () => {
  const table = new SubscriptionTable([], [
    remote(3, "t.a.b", [], "prefix"),
    remote(2, "t.", [], "prefix"),
    remote(1, "t.a.b.c", []),
    remote(4, "wamp.session.on_join", []),
  ]);
  assert.deepEqual(table.match("t.a.b.c"), [1, 2, 3]);
  assert.equal(table.match("x.y"), null);
  assert.deepEqual(table.list(), { exact: [1], prefix: [3, 2], wildcard: [] });
});

Deno.test("subscription table: an unknown or malformed id is wamp.error.no_such_subscription", () => {
  const table = new SubscriptionTable([], [remote(3, "t.a", [1])]);
  for (const id of [4, "3", null]) {
    assert.throws(
      () => table.get(id),
      (e) => e instanceof WampError && e.uri === "wamp.error.no_such_subscription",
    );
    assert.throws(() => table.subscribers(id), WampError);
  }
});

Deno.test("broker: spread ids start at a random point of the lower half of the ID space and stay unique", () => {
  const a = new Broker();
  const b = new Broker();
  const first = a.subscribe(participant(1), "t.first").id;
  a.spreadIds();
  b.spreadIds();
  const ids = [a.subscribe(participant(1), "t.x").id, b.subscribe(participant(1), "t.x").id];
  assert.equal(first, 1);
  for (const id of ids) assert.ok(id >= 1 && id <= 2 ** 52 + 1, String(id));
  assert.notEqual(ids[0], ids[1]);
});

Deno.test("subscription table: without the other nodes' ids the counts still add up (a session lives on one node)", () => {
  const broker = new Broker();
  broker.subscribe(participant(1), "t.a");
  broker.subscribe(participant(2), "t.a");
  const table = new SubscriptionTable(broker.subscriptions(), [
    { id: 70, uri: "t.a", match: "exact", created: 1_000, count: 3 },
    { id: 80, uri: "t.a", match: "exact", created: 1_000, count: 1 },
  ]);
  assert.equal(table.count(70), 6);
  assert.deepEqual(table.subscribers(80).sort((x, y) => x - y), [1, 2], "only the ids that were sent");
});
