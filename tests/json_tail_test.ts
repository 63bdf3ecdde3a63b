/**
 * The JSON passthrough of call payloads: `jsonArrayTail` finds where an array's
 * first elements end, for any JSON a client may send (whitespace anywhere,
 * strings with escaped quotes and brackets, nested values), so that an INVOCATION
 * or RESULT built around the caller's or callee's own payload text is the same
 * JSON as one encoded from the parsed payload. fast-check runs from a fixed seed
 * (`TAIL_SEED` overrides it).
 *
 * @module
 */

import assert from "node:assert/strict";
import fc from "fast-check";
import { jsonArrayTail } from "../src/codec/codec.ts";
import { wampV2Json } from "../src/codec/v2_json.ts";
import type { Invocation, Result } from "../src/protocol/messages.ts";

const SEED = Number(Deno.env.get("TAIL_SEED") ?? 20261201);

/** JSON text of `value` with random whitespace between tokens. */
function spaced(value: unknown, space: () => string): string {
  if (Array.isArray(value)) {
    return `[${space()}${value.map((v) => spaced(v, space)).join(`${space()},${space()}`)}${space()}]`;
  }
  if (typeof value === "object" && value !== null) {
    const entries = Object.entries(value).map(([k, v]) =>
      `${JSON.stringify(k)}${space()}:${space()}${spaced(v, space)}`
    );
    return `{${space()}${entries.join(`${space()},${space()}`)}${space()}}`;
  }
  return JSON.stringify(value);
}

/** `value` as JSON.parse returns it (fast-check's dictionaries have no prototype). */
function plain<T>(value: T): T {
  return JSON.parse(JSON.stringify(value));
}

const tricky = fc.constantFrom('"', "\\", "]", "[", "}", "{", ",", "\u0000", "\n", "é", '\\"]');
const text = fc.array(fc.oneof(fc.string(), tricky), { maxLength: 4 }).map((parts) => parts.join(""));
const json = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: "small" },
    fc.integer(),
    fc.double({ noNaN: true, noDefaultInfinity: true }),
    fc.boolean(),
    fc.constant(null),
    text,
    fc.array(tie("value"), { maxLength: 4 }),
    fc.dictionary(text, tie("value"), { maxKeys: 3 }),
  ),
})).value;
const whitespace = fc.array(fc.constantFrom("", "", " ", "\n", "\t ", "\r\n"), {
  minLength: 64,
  maxLength: 64,
});

Deno.test("jsonArrayTail: for any array and any whitespace, the text after the first n elements holds exactly the rest", () => {
  fc.assert(
    fc.property(fc.array(json, { minLength: 1, maxLength: 6 }), whitespace, fc.nat(), (elements, ws, k) => {
      let at = 0;
      const frame = ws[63] + spaced(elements, () => ws[at++ % 63]) + ws[62];
      const count = 1 + (k % elements.length);
      const tail = jsonArrayTail(frame, count);
      assert.deepEqual(
        JSON.parse(`[0${tail}`),
        [0, ...plain(elements.slice(count))],
        `${frame} after ${count}: ${tail}`,
      );
    }),
    { seed: SEED, numRuns: 2000 },
  );
});

Deno.test("wamp.2.json: INVOCATION and RESULT around a client's own payload text are the frames encoding would give", () => {
  fc.assert(
    fc.property(
      fc.array(json, { maxLength: 3 }),
      fc.dictionary(text, json, { maxKeys: 2 }),
      (args, kwargs) => {
        const payload = Object.keys(kwargs).length > 0 ? [args, kwargs] : args.length > 0 ? [args] : [];
        const call = wampV2Json.decode(JSON.stringify([48, 7, {}, "a.b", ...payload]));
        const yielded = wampV2Json.decode(
          ` [ 70 , 9 , { } ${payload.map((p) => `, ${JSON.stringify(p)}`).join("")} ] `,
        );
        assert.ok(call.type === 48 && yielded.type === 70);
        const invocation: Invocation = {
          type: 68,
          request: 5,
          registration: 6,
          details: { caller: 3 },
          args: call.args,
          kwargs: call.kwargs,
          tail: call.tail,
        };
        const result: Result = {
          type: 50,
          request: 7,
          details: {},
          args: yielded.args,
          kwargs: yielded.kwargs,
          tail: yielded.tail,
        };
        assert.deepEqual(JSON.parse(wampV2Json.encode(invocation) as string), [
          68,
          5,
          6,
          { caller: 3 },
          ...plain(payload),
        ]);
        assert.deepEqual(JSON.parse(wampV2Json.encode(result) as string), [50, 7, {}, ...plain(payload)]);
        assert.equal(
          JSON.stringify(JSON.parse(wampV2Json.encode(result) as string)),
          wampV2Json.encode({ ...result, tail: undefined }),
          "the same frame as the encoder's own",
        );
      },
    ),
    { seed: SEED, numRuns: 1000 },
  );
});

Deno.test("wamp.2.json: a payload the encoder would write otherwise (an empty list or dict) is encoded, not passed on", () => {
  for (
    const [frame, expected] of [
      ["[70,9,{},[]]", "[50,7,{}]"],
      ["[70,9,{},[],{}]", "[50,7,{}]"],
      ['[70,9,{},["x"],{}]', '[50,7,{},["x"]]'],
      ['[70,9,{},[],{"k":1}]', '[50,7,{},[],{"k":1}]'],
    ]
  ) {
    const y = wampV2Json.decode(frame);
    assert.ok(y.type === 70);
    const result: Result = {
      type: 50,
      request: 7,
      details: {},
      args: y.args,
      kwargs: y.kwargs,
      tail: y.tail,
    };
    assert.equal(wampV2Json.encode(result), expected, frame);
  }
});
