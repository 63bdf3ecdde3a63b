/**
 * The HTTP publish and call API against a real server on an ephemeral port, with
 * real `fetch`: publishes reach WAMP subscribers (with the options honoured),
 * calls reach callees and come back as results or as errors with their status,
 * and every refusal (no key, wrong key, a URI the role may not use, bad JSON, a
 * wrong shape, too large, wrong method, the API off) has its own answer.
 */
import assert from "node:assert/strict";
import type { RunningServer, ServerOptions } from "../main.ts";
import type { Permission, RealmDefinition } from "../src/auth/authorizer.ts";
import { defaultRoles } from "../src/auth/default_roles.ts";
import { FailureThrottle } from "../src/auth/throttle.ts";
import type { HttpApiConfig } from "../src/config/http_api.ts";
import { httpStatusOf } from "../src/http/api.ts";
import {
  assertNothingQueued,
  rawRegister,
  rawSubscribe,
  rawV2,
  startTestServer,
  waitUntil,
  within,
  withServer,
} from "./helpers.ts";

const BACKEND_KEY = "backend-key-0123456789abcdef";
const LIMITED_KEY = "limited-key-0123456789abcdef";
/** The size limit of the test servers (the router's maxMessageSize). */
const LIMIT = 4096;

function permission(uri: string, allow: Partial<Permission["allow"]>, disclose = false): Permission {
  return {
    uri,
    match: "exact",
    allow: { call: false, register: false, publish: false, subscribe: false, ...allow },
    disclose: { caller: disclose, publisher: disclose },
  };
}

/** realm1 with the default roles (for the WAMP clients), `backend` (everything) and `limited`. */
const REALM: RealmDefinition = {
  name: "realm1",
  roles: [
    ...defaultRoles(),
    {
      name: "backend",
      permissions: [
        {
          ...permission("", { call: true, register: true, publish: true, subscribe: true }),
          match: "prefix",
        },
        permission("com.example.forced", { publish: true, call: true }, true),
      ],
    },
    {
      name: "limited",
      permissions: [
        permission("com.example.allowed", { publish: true }),
        permission("push.tutorial.areaCuadrado", { call: true }),
      ],
    },
  ],
};

const API: HttpApiConfig = {
  keys: [
    { name: "backend", key: BACKEND_KEY, role: "backend" },
    { name: "limited", key: LIMITED_KEY, role: "limited" },
  ],
  callTimeout: 30,
};

const OPTIONS: ServerOptions = {
  realms: [REALM],
  httpApi: API,
  maxMessageSize: LIMIT,
  // No delays for the few wrong keys these tests send (the throttle has a test of its own below).
  authThrottle: new FailureThrottle({ free: 1000 }),
};

/** An answer of the API: status, headers and the JSON body (read, so nothing leaks). */
interface Answer {
  status: number;
  headers: Headers;
  body: Record<string, unknown>;
}

/** POSTs `body` (JSON-encoded unless text, bytes or a stream) to `path` with `key` as the bearer key. */
async function post(
  server: RunningServer,
  path: string,
  body: unknown,
  key: string | null = BACKEND_KEY,
  init: { headers?: Record<string, string>; duplex?: "half" } = {},
): Promise<Answer> {
  const headers: Record<string, string> = { "content-type": "application/json", ...init.headers };
  if (key !== null) headers.authorization = `Bearer ${key}`;
  const res = await within(
    fetch(new URL(path, server.url), {
      method: "POST",
      body: typeof body === "string" || body instanceof Uint8Array || body instanceof ReadableStream
        ? body as BodyInit
        : JSON.stringify(body),
      ...init,
      headers,
    } as RequestInit),
    `the answer to ${path}`,
  );
  const text = await res.text();
  let parsed: Record<string, unknown>;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = { text };
  }
  return { status: res.status, headers: res.headers, body: parsed };
}

/** Checks an error answer: status, error URI, and the reason matching `reason`. */
function assertError(answer: Answer, status: number, uri: string, reason?: RegExp): void {
  assert.equal(answer.status, status, JSON.stringify(answer.body));
  assert.equal(answer.body.error, uri, JSON.stringify(answer.body));
  assert.ok(Array.isArray(answer.body.args), `args is a list: ${JSON.stringify(answer.body)}`);
  assert.equal(typeof answer.body.kwargs, "object", `kwargs is an object: ${JSON.stringify(answer.body)}`);
  if (reason !== undefined) assert.match(String((answer.body.args as unknown[])[0]), reason);
  assert.match(answer.headers.get("content-type") ?? "", /^application\/json/);
}

// ---------------------------------------------------------------------------
// Publish

Deno.test("http api: POST /publish reaches a WAMP subscriber with args and kwargs; the id is the publication", async () => {
  await withServer(
    async (server) => {
      const { client } = await rawV2(server.wsUrl);
      try {
        const sub = await rawSubscribe(client, "push.tutorial.messages");
        const answer = await post(server, "/publish", {
          topic: "push.tutorial.messages",
          args: ["hello", 1],
          kwargs: { from: "http" },
        });
        assert.equal(answer.status, 200, JSON.stringify(answer.body));
        assert.deepEqual(Object.keys(answer.body), ["id"]);
        const event = await client.next("the EVENT") as unknown[];
        assert.deepEqual(event, [36, sub, answer.body.id, {}, ["hello", 1], { from: "http" }]);
      } finally {
        await client.close();
      }
    },
    undefined,
    OPTIONS,
  );
});

Deno.test("http api: publish options exclude, eligible, disclose_me and acknowledge are honoured", async () => {
  await withServer(
    async (server) => {
      const a = await rawV2(server.wsUrl);
      const b = await rawV2(server.wsUrl);
      try {
        const subA = await rawSubscribe(a.client, "com.example.news");
        const subB = await rawSubscribe(b.client, "com.example.news");

        const only = await post(server, "/publish", {
          topic: "com.example.news",
          args: ["for a"],
          options: { eligible: [a.session] },
        });
        assert.equal(only.status, 200);
        assert.deepEqual(await a.client.next("the eligible EVENT"), [36, subA, only.body.id, {}, ["for a"]]);
        await assertNothingQueued(b.client, "b is not eligible");

        const notA = await post(server, "/publish", {
          topic: "com.example.news",
          args: ["not for a"],
          options: { exclude: [a.session] },
        });
        assert.deepEqual(await b.client.next("the EVENT b is not excluded from"), [
          36,
          subB,
          notA.body.id,
          {},
          ["not for a"],
        ]);
        await assertNothingQueued(a.client, "a is excluded");

        const disclosed = await post(server, "/publish", {
          topic: "com.example.news",
          options: { disclose_me: true, eligible: [a.session] },
        });
        const event = await a.client.next("the disclosed EVENT") as [
          number,
          number,
          number,
          Record<string, unknown>,
        ];
        assert.equal(event[2], disclosed.body.id);
        assert.equal(event[3].publisher_authid, "http:backend");
        assert.equal(event[3].publisher_authrole, "backend");
        assert.equal(typeof event[3].publisher, "number");

        // A role's forced disclosure applies to its key as to its sessions.
        await rawSubscribe(b.client, "com.example.forced");
        await post(server, "/publish", { topic: "com.example.forced" });
        const forced = await b.client.next("the EVENT of a forced disclosure") as unknown[];
        assert.equal((forced[3] as Record<string, unknown>).publisher_authid, "http:backend");

        // acknowledge: false answers 202 without the id; the event still goes out.
        const unacked = await post(server, "/publish", {
          topic: "com.example.news",
          args: ["quiet"],
          options: { acknowledge: false, eligible: [b.session] },
        });
        assert.equal(unacked.status, 202);
        assert.deepEqual(unacked.body, {});
        const quiet = await b.client.next("the unacknowledged EVENT") as unknown[];
        assert.deepEqual(quiet.slice(4), [["quiet"]]);

        const unknown = await post(server, "/publish", {
          topic: "com.example.news",
          options: { exclude_me: false },
        });
        assertError(unknown, 400, "wamp.error.invalid_argument", /^options\.exclude_me: unknown field/);
        assert.deepEqual(unknown.body.kwargs, { field: "options.exclude_me" });
        const badList = await post(server, "/publish", {
          topic: "com.example.news",
          options: { eligible: ["x"] },
        });
        assertError(badList, 400, "wamp.error.invalid_argument", /eligible must be a list of session ids/);
      } finally {
        await a.client.close();
        await b.client.close();
      }
    },
    undefined,
    OPTIONS,
  );
});

Deno.test("http api: a topic the key's role may not publish is 403; one it may, 200", async () => {
  await withServer(
    async (server) => {
      const before = server.router.counters.notAuthorized;
      const denied = await post(server, "/publish", { topic: "com.example.other" }, LIMITED_KEY);
      assertError(
        denied,
        403,
        "wamp.error.not_authorized",
        /role "limited" may not publish com\.example\.other/,
      );
      assert.equal(server.router.counters.notAuthorized, before + 1);
      const allowed = await post(server, "/publish", { topic: "com.example.allowed" }, LIMITED_KEY);
      assert.equal(allowed.status, 200, JSON.stringify(allowed.body));
      // The call side is checked the same way.
      const call = await post(server, "/call", { procedure: "com.example.anything" }, LIMITED_KEY);
      assertError(call, 403, "wamp.error.not_authorized", /may not call com\.example\.anything/);
      // A reserved or malformed topic is a 400.
      assertError(
        await post(server, "/publish", { topic: "wamp.session.on_join" }),
        400,
        "wamp.error.invalid_uri",
      );
      assertError(await post(server, "/publish", { topic: "com..x" }), 400, "wamp.error.invalid_uri");
    },
    undefined,
    OPTIONS,
  );
});

// ---------------------------------------------------------------------------
// Call

Deno.test("http api: POST /call push.tutorial.areaCuadrado answers its result, and its error as 400", async () => {
  await withServer(
    async (server) => {
      const ok = await post(
        server,
        "/call",
        { procedure: "push.tutorial.areaCuadrado", args: [3, 4] },
        LIMITED_KEY,
      );
      assert.equal(ok.status, 200, JSON.stringify(ok.body));
      assert.deepEqual(ok.body, { args: [12], kwargs: {} });

      const bad = await post(server, "/call", { procedure: "push.tutorial.areaCuadrado", args: ["x", 4] });
      assertError(bad, 400, "wamp.error.invalid_argument", /height/);

      const none = await post(server, "/call", { procedure: "com.example.nobody" });
      assertError(none, 404, "wamp.error.no_such_procedure");
      // The router's own procedures (the meta API) answer at once, within the dealer's call.
      const count = await post(server, "/call", { procedure: "wamp.session.count" });
      assert.equal(count.status, 200, JSON.stringify(count.body));
      assert.deepEqual(count.body.kwargs, {});
      assert.ok(
        (count.body.args as number[])[0] >= 2,
        `the keys' sessions count: ${JSON.stringify(count.body)}`,
      );
      assert.equal(server.router.defaultRealm.dealer.pendingCount, 0);
    },
    undefined,
    OPTIONS,
  );
});

Deno.test("http api: a WAMP callee gets args, kwargs and (with disclose_me) the key's identity; its error keeps URI, args and kwargs", async () => {
  await withServer(
    async (server) => {
      const { client } = await rawV2(server.wsUrl);
      try {
        const reg = await rawRegister(client, "com.example.echo");
        const pending = post(server, "/call", {
          procedure: "com.example.echo",
          args: [1, "two"],
          kwargs: { three: 3 },
          options: { disclose_me: true },
        });
        const inv = await client.next("the INVOCATION") as [
          number,
          number,
          number,
          Record<string, unknown>,
          ...unknown[],
        ];
        assert.deepEqual([inv[0], inv[2], inv[4], inv[5]], [68, reg, [1, "two"], { three: 3 }]);
        assert.equal(inv[3].caller_authid, "http:backend");
        assert.equal(inv[3].caller_authrole, "backend");
        client.send([70, inv[1], {}, ["a", "b"], { c: true }]);
        const answer = await pending;
        assert.equal(answer.status, 200);
        assert.deepEqual(answer.body, { args: ["a", "b"], kwargs: { c: true } });

        // Without disclose_me the callee does not learn who called.
        const quiet = post(server, "/call", { procedure: "com.example.echo" });
        const inv2 = await client.next("the second INVOCATION") as [
          number,
          number,
          number,
          Record<string, unknown>,
        ];
        assert.equal(inv2[3].caller_authid, undefined);
        client.send([8, 68, inv2[1], {}, "com.example.error.out_of_stock", ["none left"], { sku: 7 }]);
        const failed = await quiet;
        assertError(failed, 500, "com.example.error.out_of_stock", /none left/);
        assert.deepEqual(failed.body.kwargs, { sku: 7 });
      } finally {
        await client.close();
      }
    },
    undefined,
    OPTIONS,
  );
});

Deno.test("http api: a call whose callee does not answer in options.timeout is 504 wamp.error.timeout", async () => {
  await withServer(
    async (server) => {
      const { client } = await rawV2(server.wsUrl);
      try {
        await rawRegister(client, "com.example.slow");
        const started = performance.now();
        const answer = await post(server, "/call", {
          procedure: "com.example.slow",
          options: { timeout: 200 },
        });
        assertError(answer, 504, "wamp.error.timeout");
        assert.ok(performance.now() - started >= 150, "waited for the timeout");
        // The callee saw the INVOCATION, then the INTERRUPT (it announced call canceling).
        const inv = await client.next("the INVOCATION") as unknown[];
        assert.equal(inv[0], 68);
        const interrupt = await client.next("the INTERRUPT") as unknown[];
        assert.deepEqual(interrupt.slice(0, 2), [69, inv[1]]);
        assert.equal(server.router.defaultRealm.dealer.pendingCount, 0);
        const badTimeout = await post(server, "/call", {
          procedure: "com.example.slow",
          options: { timeout: -1 },
        });
        assertError(badTimeout, 400, "wamp.error.invalid_argument", /^options\.timeout:/);
      } finally {
        await client.close();
      }
    },
    undefined,
    OPTIONS,
  );
});

Deno.test("http api: without options.timeout a call waits the configured call_timeout, and no longer", async () => {
  await withServer(
    async (server) => {
      const { client } = await rawV2(server.wsUrl);
      try {
        await rawRegister(client, "com.example.slow");
        const started = performance.now();
        // A longer timeout than call_timeout is cut to it.
        const answer = await post(server, "/call", {
          procedure: "com.example.slow",
          options: { timeout: 60_000 },
        });
        assertError(answer, 504, "wamp.error.timeout");
        const waited = performance.now() - started;
        assert.ok(waited >= 900 && waited < 4000, `waited about call_timeout (1 s): ${waited} ms`);
      } finally {
        await client.close();
      }
    },
    undefined,
    { ...OPTIONS, httpApi: { ...API, callTimeout: 1 } },
  );
});

Deno.test("http api: a call still waiting when the server stops is answered 503", async () => {
  const server = await startTestServer(undefined, OPTIONS);
  const { client } = await rawV2(server.wsUrl);
  try {
    await rawRegister(client, "com.example.slow");
    const pending = post(server, "/call", { procedure: "com.example.slow" });
    await waitUntil(() => server.router.defaultRealm.dealer.pendingCount === 1, "the call to be routed");
    await server.close();
    assertError(await pending, 503, "wamp.error.canceled", /shutting down/);
  } finally {
    await client.closeEvent().catch(() => {});
    await server.close();
  }
});

// ---------------------------------------------------------------------------
// Refusals

Deno.test("http api: no key, a malformed header or a wrong key is 401 with WWW-Authenticate: Bearer", async () => {
  await withServer(
    async (server) => {
      const failures = server.router.counters.authenticationFailures;
      const none = await post(server, "/publish", { topic: "com.example.news" }, null);
      assertError(none, 401, "wamp.error.authentication_failed", /Authorization: Bearer <key>/);
      assert.match(none.headers.get("www-authenticate") ?? "", /^Bearer realm="tuerca"$/);

      const basic = await post(server, "/call", { procedure: "push.tutorial.areaCuadrado" }, null, {
        headers: { authorization: `Basic ${btoa(`x:${BACKEND_KEY}`)}` },
      });
      assertError(basic, 401, "wamp.error.authentication_failed");
      assert.match(basic.headers.get("www-authenticate") ?? "", /^Bearer/);

      const wrong = await post(server, "/publish", { topic: "com.example.news" }, BACKEND_KEY + "x");
      assertError(wrong, 401, "wamp.error.authentication_failed", /not valid/);
      assert.match(wrong.headers.get("www-authenticate") ?? "", /^Bearer .*error="invalid_token"/);
      // Only the wrong key counts as a failed authentication (the missing ones guessed nothing).
      assert.equal(server.router.counters.authenticationFailures, failures + 1);
    },
    undefined,
    OPTIONS,
  );
});

Deno.test("http api: after repeated wrong keys from an address its answers are held back, right key or not", async () => {
  await withServer(
    async (server) => {
      for (let i = 0; i < 2; i++) {
        assert.equal(
          (await post(server, "/publish", { topic: "com.example.news" }, `wrong-key-${i}-000000000`)).status,
          401,
        );
      }
      const started = performance.now();
      const answer = await post(server, "/publish", { topic: "com.example.news" });
      assert.equal(answer.status, 200);
      assert.ok(performance.now() - started >= 250, "the answer was held back");
    },
    undefined,
    { ...OPTIONS, authThrottle: new FailureThrottle({ free: 1, baseDelayMs: 300 }) },
  );
});

Deno.test("http api: malformed JSON is 400 with the parser's reason; wrong shapes are 400 naming the field", async () => {
  await withServer(
    async (server) => {
      const broken = await post(server, "/publish", '{"topic": "com.example.news",}');
      assertError(broken, 400, "wamp.error.invalid_argument", /^the body is not valid JSON: /);
      assertError(await post(server, "/publish", ""), 400, "wamp.error.invalid_argument", /empty/);
      assertError(
        await post(server, "/publish", "[1]"),
        400,
        "wamp.error.invalid_argument",
        /expected a JSON object, got an array/,
      );
      assertError(
        await post(server, "/publish", new Uint8Array([0x7b, 0xff, 0x7d])),
        400,
        "wamp.error.invalid_argument",
        /not valid UTF-8/,
      );

      const cases: [string, unknown, string, RegExp][] = [
        ["/publish", { args: [] }, "topic", /^topic: expected a URI string, got nothing/],
        ["/publish", { topic: 7 }, "topic", /^topic: expected a URI string, got number 7/],
        [
          "/publish",
          { topic: "com.example.news", args: { a: 1 } },
          "args",
          /^args: expected a JSON array, got an object/,
        ],
        [
          "/publish",
          { topic: "com.example.news", kwargs: [1] },
          "kwargs",
          /^kwargs: expected a JSON object, got an array/,
        ],
        [
          "/publish",
          { topic: "com.example.news", options: "x" },
          "options",
          /^options: expected a JSON object/,
        ],
        [
          "/publish",
          { topic: "com.example.news", kwarg: {} },
          "kwarg",
          /^kwarg: unknown field; the fields here are topic, args, kwargs, options/,
        ],
        [
          "/publish",
          { topic: "com.example.news", options: { acknowledge: "yes" } },
          "options.acknowledge",
          /^options\.acknowledge: expected true or false/,
        ],
        [
          "/call",
          { topic: "push.tutorial.areaCuadrado" },
          "topic",
          /^topic: unknown field; the fields here are procedure, args, kwargs, options/,
        ],
        [
          "/call",
          { procedure: "push.tutorial.areaCuadrado", options: { receive_progress: true } },
          "options.receive_progress",
          /unknown field; the fields here are timeout, disclose_me/,
        ],
      ];
      for (const [path, body, field, reason] of cases) {
        const answer = await post(server, path, body);
        assertError(answer, 400, "wamp.error.invalid_argument", reason);
        assert.deepEqual(answer.body.kwargs, { field }, `${path} ${JSON.stringify(body)}`);
      }
      // null args, kwargs and options are empty, as Crossbar reads them.
      const nulls = await post(server, "/publish", {
        topic: "com.example.news",
        args: null,
        kwargs: null,
        options: null,
      });
      assert.equal(nulls.status, 200);
    },
    undefined,
    OPTIONS,
  );
});

Deno.test("http api: a body over the size limit is 413, by Content-Length or by the bytes actually sent", async () => {
  await withServer(
    async (server) => {
      const big = JSON.stringify({ topic: "com.example.news", args: ["x".repeat(LIMIT)] });
      const declared = await post(server, "/publish", big);
      assertError(
        declared,
        413,
        "wamp.error.payload_size_exceeded",
        new RegExp(`larger than ${LIMIT} bytes`),
      );
      assert.deepEqual(declared.body.kwargs, { limit: LIMIT });

      // A streamed body has no Content-Length: reading stops once it passes the limit.
      let sent = 0;
      const chunk = new TextEncoder().encode("x".repeat(1024));
      const stream = new ReadableStream<Uint8Array>({
        start(controller) {
          controller.enqueue(new TextEncoder().encode('{"topic": "com.example.news", "args": ["'));
        },
        pull(controller) {
          // Far more than the limit, were it all read; the server stops after about LIMIT bytes.
          if (sent >= 64 * LIMIT) return controller.close();
          sent += chunk.length;
          controller.enqueue(chunk);
        },
      });
      const streamed = await post(server, "/publish", stream, BACKEND_KEY, {
        duplex: "half",
      });
      assertError(streamed, 413, "wamp.error.payload_size_exceeded");

      // Just under the limit is fine.
      const fits = JSON.stringify({ topic: "com.example.news", args: ["x".repeat(LIMIT - 100)] });
      assert.equal((await post(server, "/publish", fits)).status, 200);
    },
    undefined,
    OPTIONS,
  );
});

Deno.test("http api: a body that is not JSON by its Content-Type is 415", async () => {
  await withServer(
    async (server) => {
      const form = await post(server, "/publish", "topic=com.example.news", BACKEND_KEY, {
        headers: { "content-type": "application/x-www-form-urlencoded" },
      });
      assertError(form, 415, "tuerca.error.unsupported_media_type", /Content-Type: application\/json/);
      const latin1 = await post(server, "/publish", { topic: "com.example.news" }, BACKEND_KEY, {
        headers: { "content-type": "application/json; charset=iso-8859-1" },
      });
      assertError(latin1, 415, "tuerca.error.unsupported_media_type");
      const utf8 = await post(server, "/publish", { topic: "com.example.news" }, BACKEND_KEY, {
        headers: { "content-type": "application/json; charset=UTF-8" },
      });
      assert.equal(utf8.status, 200);
    },
    undefined,
    OPTIONS,
  );
});

Deno.test("http api: GET, PUT or DELETE on /publish and /call is 405 with Allow: POST", async () => {
  await withServer(
    async (server) => {
      for (const path of ["/publish", "/call"]) {
        for (const method of ["GET", "PUT", "DELETE"]) {
          const res = await fetch(new URL(path, server.url), {
            method,
            headers: { authorization: `Bearer ${BACKEND_KEY}` },
          });
          const body = await res.json();
          assert.equal(res.status, 405, `${method} ${path}`);
          assert.equal(res.headers.get("allow"), "POST");
          assert.equal(body.error, "tuerca.error.method_not_allowed");
        }
      }
    },
    undefined,
    OPTIONS,
  );
});

Deno.test("http api: more publishes and calls than the per-session rate is 429 with Retry-After", async () => {
  await withServer(
    async (server) => {
      const statuses: number[] = [];
      let limited: Answer | undefined;
      for (let i = 0; i < 4; i++) {
        const answer = await post(server, "/publish", { topic: "com.example.news" });
        statuses.push(answer.status);
        if (answer.status === 429) limited = answer;
      }
      assert.deepEqual(statuses.slice(0, 2), [200, 200]);
      assert.ok(limited !== undefined, `a 429 among ${statuses}`);
      assertError(limited, 429, "tuerca.error.rate_limited");
      assert.equal(limited.headers.get("retry-after"), "1");
      // Each key has a bucket of its own.
      assert.equal(
        (await post(server, "/publish", { topic: "com.example.allowed" }, LIMITED_KEY)).status,
        200,
      );
    },
    undefined,
    { ...OPTIONS, limits: { rate: 1, burst: 2 } },
  );
});

Deno.test("http api: off without keys: /publish and /call are 404", async () => {
  for (const httpApi of [undefined, { keys: [], callTimeout: 30 }]) {
    await withServer(
      async (server) => {
        for (const path of ["/publish", "/call"]) {
          const res = await fetch(new URL(path, server.url), {
            method: "POST",
            headers: { authorization: `Bearer ${BACKEND_KEY}`, "content-type": "application/json" },
            body: JSON.stringify({ topic: "com.example.news", procedure: "push.tutorial.areaCuadrado" }),
          });
          await res.body?.cancel();
          assert.equal(res.status, 404, `${path} with ${JSON.stringify(httpApi)}`);
        }
      },
      undefined,
      { ...OPTIONS, httpApi },
    );
  }
});

Deno.test("http api: a key whose role the server's realm lacks stops the start, naming the key", async () => {
  await assert.rejects(
    () => startTestServer(undefined, { ...OPTIONS, realms: ["realm1"] }),
    /http-api\.keys\[0\]\.role: role "backend" is not defined on realm realm1/,
  );
});

Deno.test("http api: the status of each WAMP error", () => {
  const table: [string, number][] = [
    ["wamp.error.invalid_argument", 400],
    ["wamp.error.invalid_uri", 400],
    ["wamp.error.authentication_failed", 401],
    ["wamp.error.not_authorized", 403],
    ["wamp.error.no_such_procedure", 404],
    ["wamp.error.no_such_session", 404],
    ["wamp.error.payload_size_exceeded", 413],
    ["tuerca.error.quota_exceeded", 429],
    ["tuerca.error.rate_limited", 429],
    ["wamp.error.runtime_error", 500],
    ["com.example.error.whatever", 500],
    ["constructor", 500],
    ["__proto__", 500],
    ["wamp.error.canceled", 502],
    ["wamp.error.timeout", 504],
  ];
  for (const [uri, status] of table) assert.equal(httpStatusOf(uri), status, uri);
});
