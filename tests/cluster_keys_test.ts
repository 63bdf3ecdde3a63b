/**
 * The backbone's routing and binding keys against AMQP's topic-exchange rule: for
 * random topics and subscriptions (short ones over a small alphabet so they match
 * often, and long ones past AMQP's 255-byte limit), every topic a subscription
 * matches is routed to one of the subscription's bindings, and no key is longer
 * than AMQP allows. fast-check runs from a fixed seed (`KEYS_SEED` overrides it).
 *
 * @module
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { bindingKeys, clusterNames, isClusterName, MAX_KEY_BYTES, routingKey } from "../src/cluster/keys.ts";
import { type MatchPolicy, patternMatches } from "../src/protocol/pattern.ts";

const SEED = Number(Deno.env.get("KEYS_SEED") ?? 20261201);
const bytes = (s: string) => new TextEncoder().encode(s).length;

/** AMQP 0-9-1 topic matching: `*` is one word, `#` zero or more. */
function amqpMatches(binding: string, key: string): boolean {
  const b = binding.split(".");
  const k = key.split(".");
  const at = (i: number, j: number): boolean => {
    if (i === b.length) return j === k.length;
    if (b[i] === "#") return at(i + 1, j) || (j < k.length && at(i, j + 1));
    if (j === k.length) return false;
    return (b[i] === "*" || b[i] === k[j]) && at(i + 1, j + 1);
  };
  return at(0, 0);
}

const word = fc.constantFrom("a", "b", "ab", "ñ", "x".repeat(60), "é".repeat(40));
const topic = fc.array(word, { minLength: 1, maxLength: 9 }).map((w) => w.join("."));

/** A subscription derived from a topic, so that many of them match it or nearly do. */
const subscription = fc.record({
  base: topic,
  match: fc.constantFrom<MatchPolicy>("exact", "prefix", "wildcard"),
  cut: fc.nat(200),
  blanks: fc.array(fc.boolean(), { maxLength: 9 }),
}).map(({ base, match, cut, blanks }) => {
  if (match === "prefix") return { uri: base.slice(0, Math.max(1, base.length - cut)), match };
  if (match === "wildcard") {
    const parts = base.split(".").map((c, i) => blanks[i] ? "" : c);
    return { uri: parts.join("."), match };
  }
  return { uri: base, match };
});

Deno.test("cluster keys: every topic a subscription matches reaches one of its bindings", () => {
  fc.assert(
    fc.property(subscription, topic, ({ uri, match }, t) => {
      const keys = bindingKeys(uri, match);
      const routed = routingKey(t);
      assert.ok(bytes(routed) <= MAX_KEY_BYTES, `routing key too long: ${bytes(routed)} bytes`);
      for (const k of keys) assert.ok(bytes(k) <= MAX_KEY_BYTES, `binding key too long: ${bytes(k)} bytes`);
      if (patternMatches({ uri, match }, t)) {
        assert.ok(keys.some((k) => amqpMatches(k, routed)), `${match} ${uri} misses ${t} (${routed})`);
      }
    }),
    { seed: SEED, numRuns: 3000 },
  );
});

Deno.test("cluster keys: a subscription's own topic, and its matches, in their shortest forms", () => {
  assert.equal(routingKey("push.tutorial.messages"), "t.push.tutorial.messages");
  assert.deepEqual(bindingKeys("push.tutorial.messages", "exact"), ["t.push.tutorial.messages"]);
  assert.deepEqual(bindingKeys("push.tut", "prefix"), ["t.push.#", "l.push.#"]);
  assert.deepEqual(bindingKeys("push..messages", "wildcard"), ["t.push.*.messages", "l.#"]);
  // An exact subscription binds only its own topic: a node is not sent its neighbours'.
  assert.ok(!amqpMatches(bindingKeys("a.b", "exact")[0], routingKey("a.b.c")));
  assert.ok(!amqpMatches(bindingKeys("a.b", "exact")[0], routingKey("a.bc")));
});

Deno.test("cluster names: a cluster's exchanges and queues, and which names are allowed", () => {
  const n = clusterNames("demo");
  assert.equal(n.control, "tuerca.demo.control");
  assert.equal(n.events("realm1"), "tuerca.demo.realm.realm1");
  assert.equal(n.queue("ab12-7"), "tuerca.demo.node.ab12-7");
  for (const ok of ["demo", "a_b-1", "X".repeat(64)]) assert.ok(isClusterName(ok), ok);
  for (const bad of ["", "a.b", "a b", "x".repeat(65), "ñ"]) assert.ok(!isClusterName(bad), bad);
});
