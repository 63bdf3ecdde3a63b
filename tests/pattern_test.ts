/**
 * The pattern index against a plain reference: for random sets of exact, prefix
 * and wildcard patterns over a small alphabet (so they overlap a lot), added and
 * removed in random order, `collect` finds exactly the patterns a scan finds and
 * `best` the one the precedence rule picks. fast-check runs from a fixed seed
 * (`PATTERN_SEED` overrides it).
 *
 * @module
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { type MatchPolicy, PatternIndex } from "../src/protocol/pattern.ts";

const SEED = Number(Deno.env.get("PATTERN_SEED") ?? 20261201);

type Entry = { pattern: string; match: MatchPolicy };

/** Whether `pattern` under `match` matches the concrete `uri`: the spec's rule, spelled out. */
function matches({ pattern, match }: Entry, uri: string): boolean {
  if (match === "exact") return pattern === uri;
  if (match === "prefix") return uri.startsWith(pattern);
  const p = pattern.split(".");
  const u = uri.split(".");
  return p.length === u.length && p.every((c, i) => c === "" || c === u[i]);
}

/** The precedence rule: exact, then longest prefix, then literal-before-any at the first difference. */
function precedence(a: Entry, b: Entry): number {
  const rank = { exact: 0, prefix: 1, wildcard: 2 };
  if (a.match !== b.match) return rank[a.match] - rank[b.match];
  if (a.match === "prefix") return b.pattern.length - a.pattern.length;
  if (a.match === "wildcard") {
    const pa = a.pattern.split(".");
    const pb = b.pattern.split(".");
    for (let i = 0; i < pa.length; i++) {
      if ((pa[i] === "") !== (pb[i] === "")) return pa[i] === "" ? 1 : -1;
    }
  }
  return 0;
}

const key = (e: Entry) => `${e.match}:${e.pattern}`;
const component = fc.constantFrom("a", "b", "ab", "ba");
const uri = fc.array(component, { minLength: 1, maxLength: 4 }).map((c) => c.join("."));
const entry: fc.Arbitrary<Entry> = fc.oneof(
  uri.map((pattern) => ({ pattern, match: "exact" as const })),
  fc.tuple(uri, fc.constantFrom("", ".", "a")).map(([u, tail]) => ({
    pattern: (u + tail).slice(0, 1 + (u.length + tail.length) % 7),
    match: "prefix" as const,
  })),
  fc.array(fc.oneof(component, fc.constant("")), { minLength: 1, maxLength: 4 }).map((c) => ({
    pattern: c.join("."),
    match: "wildcard" as const,
  })),
);

Deno.test("pattern index: collect and best agree with a scan of every pattern, through adds and removes", () => {
  fc.assert(
    fc.property(
      fc.array(fc.tuple(fc.boolean(), entry), { maxLength: 60 }),
      fc.array(uri, { minLength: 1, maxLength: 12 }),
      (ops, uris) => {
        const index = new PatternIndex<string>();
        const live = new Map<string, Entry>();
        for (const [remove, e] of ops) {
          if (remove) {
            assert.equal(index.delete(e.pattern, e.match), live.delete(key(e)), `delete ${key(e)}`);
          } else {
            index.set(e.pattern, e.match, key(e));
            live.set(key(e), e);
          }
          assert.equal(index.size, live.size);
        }
        for (const e of live.values()) assert.equal(index.get(e.pattern, e.match), key(e));
        for (const u of uris) {
          const expected = [...live.values()].filter((e) => matches(e, u));
          const found: string[] = [];
          index.collect(u, found);
          assert.deepEqual(found.toSorted(), expected.map(key).toSorted(), `collect ${u}`);
          assert.equal(new Set(found).size, found.length, `no pattern twice for ${u}`);
          const best = index.best(u);
          if (expected.length === 0) assert.equal(best, undefined, `best ${u}`);
          else {
            const top = expected.toSorted(precedence);
            const tied = top.filter((e) => precedence(e, top[0]) === 0).map(key);
            assert.ok(tied.includes(best!), `best ${u}: ${best} is not among ${tied.join(", ")}`);
          }
        }
      },
    ),
    { seed: SEED, numRuns: 400 },
  );
});

Deno.test("pattern index: the empty prefix matches every URI, and a prefix matches inside a component", () => {
  const index = new PatternIndex<string>();
  index.set("", "prefix", "all");
  index.set("a.b", "prefix", "ab");
  const found: string[] = [];
  index.collect("a.bc", found);
  assert.deepEqual(found, ["all", "ab"]);
  assert.equal(index.best("a.bc"), "ab");
  assert.equal(index.best("zzz"), "all");
  assert.ok(index.delete("", "prefix"));
  assert.equal(index.best("zzz"), undefined);
});

Deno.test("pattern index: bestRemembered answers as best does, and forgets when the patterns change", () => {
  const index = new PatternIndex<string>();
  index.set("a.", "prefix", "a");
  assert.equal(index.bestRemembered("a.b"), "a");
  index.set("a.b", "exact", "ab");
  assert.equal(index.bestRemembered("a.b"), "ab", "a new exact pattern is seen");
  index.delete("a.b", "exact");
  assert.equal(index.bestRemembered("a.b"), "a");
  assert.equal(index.bestRemembered("z"), null);
});
