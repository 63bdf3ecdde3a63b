/**
 * The backbone's messages (src/cluster/wire.ts): what round-trips through MessagePack,
 * and what a node drops unread because it does not have the documented shape.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type ClusterMessage, decodeMessage, encodeMessage } from "../src/cluster/wire.ts";
import { msgpackFormat } from "../src/codec/v2_msgpack.ts";

const sub = { i: 7, u: "t.a", m: "prefix", c: 1_700_000_000_000, n: 2, s: [11, 12] };

Deno.test("cluster wire: the subscription question and answer round-trip", () => {
  const messages: ClusterMessage[] = [
    { k: "subq", n: "node-1", r: "realm1", q: 3 },
    { k: "subq", n: "node-1", r: "realm1", q: 3, w: true },
    { k: "subq", n: "node-1", r: "realm1", q: 3, u: "t.", m: "prefix" },
    { k: "subq", n: "node-1", r: "realm1", q: 3, t: "t.a.b" },
    { k: "suba", n: "node-2", r: "realm1", q: 3, s: [sub as never] },
    { k: "suba", n: "node-2", r: "realm1", q: 3, s: [{ i: 7, u: "t.a", m: "exact", c: 1, n: 4 }] },
    { k: "suba", n: "node-2", r: "realm1", q: 4, s: [] },
  ];
  for (const m of messages) assert.deepEqual(decodeMessage(encodeMessage(m)), m);
});

Deno.test("cluster wire: a malformed subscription question or answer is dropped (null)", () => {
  const bad: Record<string, unknown>[] = [
    { k: "subq", n: "node-1", q: 3 }, // no realm
    { k: "subq", n: "node-1", r: "realm1", q: 0 }, // not an id
    { k: "subq", n: "node-1", r: "realm1", q: 3, w: "yes" },
    { k: "subq", n: "node-1", r: "realm1", q: 3, u: "t." }, // a pattern without its policy
    { k: "subq", n: "node-1", r: "realm1", q: 3, u: "t.", m: "regex" },
    { k: "subq", n: "node-1", r: "realm1", q: 3, m: "exact" },
    { k: "subq", n: "node-1", r: "realm1", q: 3, t: 5 },
    { k: "suba", n: "node-2", r: "realm1", q: 3, s: [{ ...sub, n: 0 }] },
    { k: "suba", n: "node-2", r: "realm1", q: 3 }, // no list
    { k: "suba", n: "node-2", r: "realm1", q: 3, s: [{ ...sub, m: "regex" }] },
    { k: "suba", n: "node-2", r: "realm1", q: 3, s: [{ ...sub, s: ["11"] }] },
    { k: "suba", n: "node-2", r: "realm1", q: 3, s: [{ ...sub, u: 5 }] },
    { k: "suba", n: "node-2", r: "realm1", q: 3, s: [{ ...sub, i: -1 }] },
    { k: "suba", n: "node-2", r: "realm1", q: 3, s: [{ ...sub, c: "yesterday" }] },
  ];
  for (const m of bad) assert.equal(decodeMessage(msgpackFormat.encode(m)), null, JSON.stringify(m));
  assert.equal(decodeMessage(new Uint8Array([0xc1])), null, "not MessagePack");
});

Deno.test("cluster wire: ids up to 2^53 (the largest WAMP ID, which session and invocation ids can be) pass", () => {
  const m: ClusterMessage = { k: "leave", n: "node-1", r: "realm1", i: 2 ** 53 };
  assert.deepEqual(decodeMessage(encodeMessage(m)), m);
  assert.equal(decodeMessage(msgpackFormat.encode({ ...m, i: 2 ** 53 + 2 })), null, "beyond the ID space");
});
