/**
 * Authentication against a real server: every method (anonymous, ticket, WAMP-CRA
 * plain and salted, cryptosign) right and wrong, in WAMP v2 (autobahn-browser, and
 * raw frames where the exact frames matter) and in WAMP v1 (AutobahnJS 0.8's
 * WAMP-CRA calls, computed with crypto-js exactly as AutobahnJS 0.8 does).
 *
 * Every server has the same realms and principals (below); a test only switches
 * anonymous or ticket off, or sets a short HELLO timeout or a quick throttle.
 */

import assert from "node:assert/strict";
import CryptoJS from "crypto-js";
import { type RunningServer, startServer } from "../main.ts";
import { pushApp } from "../push.ts";
import type { AuthConfig } from "../src/auth/authenticator.ts";
import type { Permission, RealmDefinition } from "../src/auth/authorizer.ts";
import { FailureThrottle } from "../src/auth/throttle.ts";
import { autobahn, type AutobahnSession, RawClient, rawV1, type V2Client, within } from "./helpers.ts";

// ---------------------------------------------------------------------------
// The configuration every test runs with

type Dict = Record<string, unknown>;

const BACKEND_ONLY = "com.example.backend_only";
const AREA = "push.tutorial.areaCuadrado";

type Action = "call" | "register" | "publish" | "subscribe";
function perm(uri: string, match: "exact" | "prefix", allowed: Action[]): Permission {
  const allow = { call: false, register: false, publish: false, subscribe: false };
  for (const a of allowed) allow[a] = true;
  return { uri, match, allow, disclose: { caller: false, publisher: false } };
}
const EVERYTHING: Action[] = ["call", "register", "publish", "subscribe"];

const REALMS: RealmDefinition[] = [
  {
    name: "realm1",
    roles: [
      // Anonymous may call and subscribe to everything, except the backend's own procedure.
      {
        name: "anonymous",
        permissions: [perm("", "prefix", ["call", "subscribe"]), perm(BACKEND_ONLY, "exact", [])],
      },
      { name: "backend", permissions: [perm("", "prefix", EVERYTHING)] },
    ],
  },
  {
    name: "other",
    roles: [
      { name: "backend", permissions: [perm("", "prefix", EVERYTHING)] },
      { name: "auditor", permissions: [perm("", "prefix", ["subscribe"])] },
    ],
  },
];

const TICKET = "secret!!!";
const PETER_PASSWORD = "secret1";
const PETER_SECRET = "prq7+YkJ1/KlW1X0YczMHw=="; // PBKDF2-SHA256("secret1", "salt123", 100, 16 bytes)
const PAULA_SECRET = "plain-secret";

function hex(bytes: Uint8Array): string {
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}
const ALICE = autobahn.nacl.sign.keyPair();
const ALICE_PUB = hex(ALICE.publicKey);
const MALLORY = autobahn.nacl.sign.keyPair(); // a key nobody configured

interface Setup {
  anonymous?: boolean;
  ticket?: boolean;
  throttle?: FailureThrottle;
  helloTimeoutMs?: number;
}

function authConfig(setup: Setup): AuthConfig {
  return {
    anonymous: setup.anonymous === false ? undefined : { role: "anonymous" },
    ticket: setup.ticket === false ? undefined : new Map([
      ["joe", { ticket: TICKET, role: "backend" }],
      ["otto", { ticket: "otto-ticket", role: "backend", realm: "other" }],
      ["ghost", { ticket: "ghost-ticket", role: "auditor" }], // auditor exists on "other" only
    ]),
    wampcra: new Map([
      ["peter", { secret: PETER_SECRET, role: "backend", salt: "salt123", iterations: 100, keylen: 16 }],
      ["paula", { secret: PAULA_SECRET, role: "backend" }],
    ]),
    cryptosign: new Map([["alice", { authorizedKeys: [ALICE_PUB], role: "backend" }]]),
  };
}

// ---------------------------------------------------------------------------
// WAMP v2 clients

const HELLO = 1, WELCOME = 2, ABORT = 3, CHALLENGE = 4, AUTHENTICATE = 5, SUBSCRIBE = 32;
const NO_AUTH_METHOD = "wamp.error.no_auth_method";
const AUTHENTICATION_FAILED = "wamp.error.authentication_failed";
const NO_SUCH_ROLE = "wamp.error.no_such_role";
const PROTOCOL_VIOLATION = "wamp.error.protocol_violation";
const NOT_AUTHORIZED = "wamp.error.not_authorized";
const HELLO_ROLES = { caller: {}, callee: {}, publisher: {}, subscriber: {} };

type OnChallenge = (session: AutobahnSession, method: string, extra: Dict) => unknown;

interface LoginOptions {
  realm?: string;
  authmethods?: string[];
  authid?: string;
  authextra?: Dict;
  onchallenge?: OnChallenge;
}

/** An autobahn session and the WELCOME details it was admitted with. */
interface Login extends V2Client {
  details: Dict;
}

/** Why autobahn's connection closed before it opened: `details.reason` is the ABORT's reason. */
class Refused extends Error {
  constructor(readonly reason: string, readonly details: { reason?: string; message?: string }) {
    super(`connection closed: ${reason} ${JSON.stringify(details)}`);
  }
}

/** Logs in with autobahn-browser (no retries); rejects with {@link Refused} when the router refuses. */
function login(url: string, o: LoginOptions): Promise<Login> {
  const opened = Promise.withResolvers<Login>();
  const closed = Promise.withResolvers<void>();
  const connection = new autobahn.Connection({
    url,
    realm: o.realm ?? "realm1",
    max_retries: 0,
    protocols: ["wamp.2.json"],
    use_es6_promises: true,
    authmethods: o.authmethods,
    authid: o.authid,
    authextra: o.authextra,
    onchallenge: o.onchallenge,
  });
  connection.onopen = (session: AutobahnSession, details: Dict) =>
    opened.resolve({
      session,
      connection,
      details,
      async close() {
        if (connection.isOpen) connection.close();
        await within(closed.promise, "the autobahn connection to close");
      },
    });
  connection.onclose = (reason: string, details: Refused["details"]) => {
    opened.reject(new Refused(reason, details));
    closed.resolve();
    return true;
  };
  connection.open();
  return within(opened.promise, `a login to ${url}`);
}

/** Answers a ticket challenge. */
const ticket = (t: string): OnChallenge => () => t;
/** Answers a WAMP-CRA challenge as autobahn does: the key derived from the password when salted. */
const cra = (password: string): OnChallenge => (_s, _m, extra) => {
  const key = extra.salt === undefined
    ? password
    : autobahn.auth_cra.derive_key(password, extra.salt, extra.iterations, extra.keylen);
  return autobahn.auth_cra.sign(key, extra.challenge);
};
/** Answers a cryptosign challenge with `keyPair`. */
const cryptosign = (keyPair: unknown): OnChallenge => (_s, _m, extra) =>
  autobahn.auth_cryptosign.sign_challenge(keyPair, extra);

/** Login options per method. */
const byTicket = (authid: string, t: string): LoginOptions => ({
  authmethods: ["ticket"],
  authid,
  onchallenge: ticket(t),
});
const byCra = (authid: string, password: string): LoginOptions => ({
  authmethods: ["wampcra"],
  authid,
  onchallenge: cra(password),
});
const byKey = (pubkey: string, signer: unknown, authid?: string): LoginOptions => ({
  authmethods: ["cryptosign"],
  authid,
  authextra: { pubkey },
  onchallenge: cryptosign(signer),
});

/** The next raw frame, which must be of `type`. */
async function expectFrame(c: RawClient, type: number, what: string): Promise<unknown[]> {
  const f = await c.next(what) as unknown[];
  assert.equal(f[0], type, `expected ${what}, got ${JSON.stringify(f)}`);
  return f;
}

/** Expects ABORT with `reason`, then the close `code`; returns the ABORT frame's text. */
async function expectAbort(c: RawClient, reason: string, code: number): Promise<string> {
  const text = await c.nextText(`ABORT ${reason}`);
  const f = JSON.parse(text);
  assert.equal(f[0], ABORT, `expected ABORT, got ${text}`);
  assert.equal(f[2], reason, text);
  assert.equal((await c.closeEvent()).code, code);
  return text;
}

// ---------------------------------------------------------------------------
// WAMP v1 clients (AutobahnJS 0.8)

const V1_CALL = 2, V1_CALLRESULT = 3, V1_CALLERROR = 4, V1_SUBSCRIBE = 5, V1_EVENT = 8;
const AUTHREQ = "http://api.wamp.ws/procedure#authreq";
const AUTH = "http://api.wamp.ws/procedure#auth";

/** A v1 CALL; the next frame must answer it. */
async function v1Call(c: RawClient, id: string, uri: string, ...args: unknown[]): Promise<unknown[]> {
  c.send([V1_CALL, id, uri, ...args]);
  const f = await c.next(`the answer to call ${id}`) as unknown[];
  assert.equal(f[1], id, `expected the answer to ${id}, got ${JSON.stringify(f)}`);
  return f;
}

/** A CALLRESULT's result (fails on anything else). */
async function v1Result(c: RawClient, id: string, uri: string, ...args: unknown[]): Promise<unknown> {
  const f = await v1Call(c, id, uri, ...args);
  assert.equal(f[0], V1_CALLRESULT, `expected CALLRESULT, got ${JSON.stringify(f)}`);
  return f[2];
}

/** A CALLERROR frame (fails on anything else). */
async function v1Error(c: RawClient, id: string, uri: string, ...args: unknown[]): Promise<unknown[]> {
  const f = await v1Call(c, id, uri, ...args);
  assert.equal(f[0], V1_CALLERROR, `expected CALLERROR, got ${JSON.stringify(f)}`);
  return f;
}

/** The signature AutobahnJS 0.8 computes: `ab.deriveKey` (salted only), then `authsign`. */
function v1Sign(challenge: string, password: string): string {
  const extra = JSON.parse(challenge).authextra;
  const key = extra?.salt
    ? CryptoJS.PBKDF2(password, extra.salt, {
      keySize: extra.keylen / 4,
      iterations: extra.iterations,
      hasher: CryptoJS.algo.SHA256,
    }).toString(CryptoJS.enc.Base64)
    : password;
  return CryptoJS.HmacSHA256(challenge, key).toString(CryptoJS.enc.Base64);
}

/** authreq then auth, as `ab.launch` does; returns the permissions the auth call answers. */
async function v1Login(c: RawClient, authkey: string, password: string): Promise<unknown> {
  const challenge = await v1Result(c, "authreq", AUTHREQ, authkey, {}) as string;
  return v1Result(c, "auth", AUTH, v1Sign(challenge, password));
}

const BACKEND_V1 = {
  pubsub: [{ uri: "", prefix: true, match: "prefix", pub: true, sub: true }],
  rpc: [{ uri: "", prefix: true, match: "prefix", call: true }],
};
const ANONYMOUS_V1 = {
  pubsub: [
    { uri: "", prefix: true, match: "prefix", pub: false, sub: true },
    { uri: BACKEND_ONLY, prefix: false, match: "exact", pub: false, sub: false },
  ],
  rpc: [
    { uri: "", prefix: true, match: "prefix", call: true },
    { uri: BACKEND_ONLY, prefix: false, match: "exact", call: false },
  ],
};

// ---------------------------------------------------------------------------
// One server per test; every client opened through the context is closed at the end

interface Ctx {
  server: RunningServer;
  login(o: LoginOptions): Promise<Login>;
  /** The ABORT details autobahn reports for a login the router refuses. */
  refused(o: LoginOptions): Promise<{ reason?: string; message?: string }>;
  /** A raw v2 socket, HELLO not yet sent. */
  raw(): Promise<RawClient>;
  /** A raw v2 socket that has sent HELLO with `details`. */
  hello(details?: Dict, realm?: string): Promise<RawClient>;
  /** A raw v1 socket after its WELCOME. */
  v1(): Promise<RawClient>;
  /** joe (backend) over v2, with BACKEND_ONLY registered. */
  backend(): Promise<Login>;
}

function scenario(setup: Setup, fn: (s: Ctx) => Promise<void>): () => Promise<void> {
  return async () => {
    const server = await startServer(pushApp, {
      port: 0,
      host: "127.0.0.1",
      realms: REALMS,
      auth: authConfig(setup),
      // Generous unless a test sets its own: failures of one test must not slow the next step.
      authThrottle: setup.throttle ?? new FailureThrottle({ free: 1000 }),
      helloTimeoutMs: setup.helloTimeoutMs,
    });
    const closers: (() => Promise<void>)[] = [];
    const track = <T>(c: T, close: (c: T) => Promise<void>): T => (closers.push(() => close(c)), c);
    const url = server.wsUrl;
    const s: Ctx = {
      server,
      login: async (o) => track(await login(url, o), (c) => c.close()),
      async refused(o) {
        let welcomed: Login;
        try {
          welcomed = await s.login(o);
        } catch (e) {
          if (e instanceof Refused) return e.details;
          throw e;
        }
        throw new Error(`expected a refusal, got WELCOME ${JSON.stringify(welcomed.details)}`);
      },
      raw: async () => track(await RawClient.open(url, "wamp.2.json"), (c) => c.close()),
      async hello(details = {}, realm = "realm1") {
        const c = await s.raw();
        c.send([HELLO, realm, { roles: HELLO_ROLES, ...details }]);
        return c;
      },
      v1: async () => track((await rawV1(url)).client, (c) => c.close()),
      async backend() {
        const joe = await s.login(byTicket("joe", TICKET));
        await joe.session.register(BACKEND_ONLY, () => "for the backend");
        return joe;
      },
    };
    try {
      await fn(s);
    } finally {
      for (const close of closers.reverse()) await close();
      await server.close();
    }
  };
}

// ---------------------------------------------------------------------------
// v2: anonymous

Deno.test(
  "v2 anonymous: WELCOME details carry authid = session id, authrole and authmethod anonymous, provider static",
  scenario({}, async (s) => {
    const c = await s.hello();
    const [, session, details] = await expectFrame(c, WELCOME, "WELCOME") as [number, number, Dict];
    assert.equal(details.realm, "realm1");
    assert.equal(details.authid, String(session));
    assert.equal(details.authrole, "anonymous");
    assert.equal(details.authmethod, "anonymous");
    assert.equal(details.authprovider, "static");
    // autobahn's default HELLO gets the same.
    const a = await s.login({});
    assert.equal(a.details.authmethod, "anonymous");
    assert.equal(a.details.authid, String(a.session.id));
  }),
);

Deno.test(
  "v2 anonymous off: a HELLO offering no method (anonymous by default) gets ABORT wamp.error.no_auth_method",
  scenario({ anonymous: false }, async (s) => {
    await expectAbort(await s.hello(), NO_AUTH_METHOD, 1000);
    assert.equal((await s.refused({})).reason, NO_AUTH_METHOD);
  }),
);

// ---------------------------------------------------------------------------
// v2: ticket

Deno.test(
  "v2 ticket: the right ticket is welcomed as joe, role backend, method ticket",
  scenario({}, async (s) => {
    const c = await s.hello({ authmethods: ["ticket"], authid: "joe" });
    assert.deepEqual(await c.next("CHALLENGE"), [CHALLENGE, "ticket", {}]);
    c.send([AUTHENTICATE, TICKET, {}]);
    const [, , details] = await expectFrame(c, WELCOME, "WELCOME") as [number, number, Dict];
    assert.deepEqual(
      [details.authid, details.authrole, details.authmethod, details.authprovider],
      ["joe", "backend", "ticket", "static"],
    );
    const joe = await s.login(byTicket("joe", TICKET));
    assert.deepEqual([joe.details.authid, joe.details.authrole], ["joe", "backend"]);
  }),
);

Deno.test(
  "v2 ticket: a wrong ticket gets ABORT wamp.error.authentication_failed",
  scenario({}, async (s) => {
    const d = await s.refused(byTicket("joe", "not-the-ticket"));
    assert.equal(d.reason, AUTHENTICATION_FAILED);
    assert.equal(d.message, "authentication failed");
  }),
);

Deno.test(
  "v2 ticket: an unknown authid gets exactly the ABORT frame a wrong ticket gets",
  scenario({}, async (s) => {
    const known = await s.hello({ authmethods: ["ticket"], authid: "joe" });
    const unknown = await s.hello({ authmethods: ["ticket"], authid: "nobody" });
    assert.deepEqual(await known.next("CHALLENGE"), await unknown.next("CHALLENGE"));
    known.send([AUTHENTICATE, "wrong", {}]);
    unknown.send([AUTHENTICATE, "wrong", {}]);
    const a = await expectAbort(known, AUTHENTICATION_FAILED, 1000);
    const b = await expectAbort(unknown, AUTHENTICATION_FAILED, 1000);
    assert.equal(b, a);
  }),
);

Deno.test(
  "v2 ticket off: a client offering only ticket gets ABORT wamp.error.no_auth_method",
  scenario({ ticket: false }, async (s) => {
    await expectAbort(await s.hello({ authmethods: ["ticket"], authid: "joe" }), NO_AUTH_METHOD, 1000);
    const d = await s.refused(byTicket("joe", TICKET));
    assert.equal(d.reason, NO_AUTH_METHOD);
  }),
);

// ---------------------------------------------------------------------------
// v2: WAMP-CRA

Deno.test(
  "v2 wampcra: a salted user signing with autobahn's derive_key of the password is welcomed",
  scenario({}, async (s) => {
    const peter = await s.login(byCra("peter", PETER_PASSWORD));
    assert.deepEqual(
      [peter.details.authid, peter.details.authrole, peter.details.authmethod, peter.details.authprovider],
      ["peter", "backend", "wampcra", "static"],
    );
  }),
);

Deno.test(
  "v2 wampcra: a wrong password gets ABORT wamp.error.authentication_failed",
  scenario({}, async (s) => {
    const d = await s.refused(byCra("peter", "secret2"));
    assert.equal(d.reason, AUTHENTICATION_FAILED);
  }),
);

Deno.test(
  "v2 wampcra: a plain (unsalted) user signing with the secret is welcomed",
  scenario({}, async (s) => {
    const paula = await s.login(byCra("paula", PAULA_SECRET));
    assert.deepEqual([paula.details.authid, paula.details.authmethod], ["paula", "wampcra"]);
  }),
);

Deno.test(
  "v2 wampcra: the challenge names the user and the session id WELCOME then carries",
  scenario({}, async (s) => {
    const c = await s.hello({ authmethods: ["wampcra"], authid: "peter" });
    const [, method, extra] = await expectFrame(c, CHALLENGE, "CHALLENGE") as [number, string, Dict];
    assert.equal(method, "wampcra");
    assert.deepEqual([extra.salt, extra.keylen, extra.iterations], ["salt123", 16, 100]);
    const challenge = JSON.parse(extra.challenge as string);
    assert.deepEqual(
      [challenge.authid, challenge.authrole, challenge.authmethod, challenge.authprovider],
      ["peter", "backend", "wampcra", "static"],
    );
    assert.deepEqual(challenge.authextra, { salt: "salt123", keylen: 16, iterations: 100 });
    c.send([AUTHENTICATE, cra(PETER_PASSWORD)(null, method, extra), {}]);
    const [, session] = await expectFrame(c, WELCOME, "WELCOME");
    assert.equal(challenge.session, session);
  }),
);

Deno.test(
  "v2 wampcra: an unknown user gets a challenge shaped like a salted user's and the same ABORT",
  scenario({}, async (s) => {
    const known = await s.hello({ authmethods: ["wampcra"], authid: "peter" });
    const unknown = await s.hello({ authmethods: ["wampcra"], authid: "nobody" });
    const [, , k] = await expectFrame(known, CHALLENGE, "peter's CHALLENGE") as [number, string, Dict];
    const [, , u] = await expectFrame(unknown, CHALLENGE, "nobody's CHALLENGE") as [number, string, Dict];
    assert.deepEqual(Object.keys(u).sort(), ["challenge", "iterations", "keylen", "salt"]);
    assert.deepEqual(Object.keys(u).sort(), Object.keys(k).sort());
    const kc = JSON.parse(k.challenge as string), uc = JSON.parse(u.challenge as string);
    assert.deepEqual(Object.keys(uc).sort(), Object.keys(kc).sort());
    assert.deepEqual(Object.keys(uc.authextra).sort(), ["iterations", "keylen", "salt"]);
    known.send([AUTHENTICATE, cra("wrong password")(null, "wampcra", k), {}]);
    unknown.send([AUTHENTICATE, cra(PETER_PASSWORD)(null, "wampcra", u), {}]);
    const a = await expectAbort(known, AUTHENTICATION_FAILED, 1000);
    assert.equal(await expectAbort(unknown, AUTHENTICATION_FAILED, 1000), a);
  }),
);

// ---------------------------------------------------------------------------
// v2: cryptosign

Deno.test(
  "v2 cryptosign: alice's key is welcomed, found by public key when HELLO gives no authid",
  scenario({}, async (s) => {
    const found = await s.login(byKey(ALICE_PUB, ALICE));
    assert.deepEqual(
      [found.details.authid, found.details.authrole, found.details.authmethod],
      ["alice", "backend", "cryptosign"],
    );
    const named = await s.login(byKey(ALICE_PUB, ALICE, "alice"));
    assert.equal(named.details.authid, "alice");
  }),
);

Deno.test(
  "v2 cryptosign: a signature by another key than the offered one gets authentication_failed",
  scenario({}, async (s) => {
    const d = await s.refused(byKey(ALICE_PUB, MALLORY, "alice"));
    assert.equal(d.reason, AUTHENTICATION_FAILED);
  }),
);

Deno.test(
  "v2 cryptosign: an unknown public key, correctly signed, gets authentication_failed",
  scenario({}, async (s) => {
    const d = await s.refused(byKey(hex(MALLORY.publicKey), MALLORY));
    assert.equal(d.reason, AUTHENTICATION_FAILED);
  }),
);

Deno.test(
  "v2 cryptosign: a valid AUTHENTICATE replayed in a later session gets authentication_failed",
  scenario({}, async (s) => {
    const hello = { authmethods: ["cryptosign"], authextra: { pubkey: ALICE_PUB } };
    const first = await s.hello(hello);
    const [, , extra1] = await expectFrame(first, CHALLENGE, "the first CHALLENGE") as [number, string, Dict];
    const captured = [AUTHENTICATE, autobahn.auth_cryptosign.sign_challenge(ALICE, extra1), {}];
    first.send(captured);
    await expectFrame(first, WELCOME, "WELCOME for the genuine AUTHENTICATE");

    const second = await s.hello(hello);
    const [, , extra2] = await expectFrame(second, CHALLENGE, "the second CHALLENGE") as [
      number,
      string,
      Dict,
    ];
    assert.notEqual(extra2.challenge, extra1.challenge);
    second.send(captured);
    await expectAbort(second, AUTHENTICATION_FAILED, 1000);
  }),
);

// ---------------------------------------------------------------------------
// v2: realms and roles

Deno.test(
  "v2 realm restriction: a principal restricted to realm other gets authentication_failed on realm1",
  scenario({}, async (s) => {
    const otto = byTicket("otto", "otto-ticket");
    assert.equal((await s.refused(otto)).reason, AUTHENTICATION_FAILED);
    // The same principal on its own realm is welcomed: the realm alone refused it.
    assert.equal((await s.login({ ...otto, realm: "other" })).details.authid, "otto");
  }),
);

Deno.test(
  "v2 roles: a principal whose role realm1 does not define gets ABORT wamp.error.no_such_role",
  scenario({}, async (s) => {
    const c = await s.hello({ authmethods: ["ticket"], authid: "ghost" });
    await expectFrame(c, CHALLENGE, "CHALLENGE");
    c.send([AUTHENTICATE, "ghost-ticket", {}]);
    await expectAbort(c, NO_SUCH_ROLE, 1000);
    // On realm other, which defines "auditor", the same login is welcomed.
    const ghost = byTicket("ghost", "ghost-ticket");
    assert.equal((await s.login({ ...ghost, realm: "other" })).details.authrole, "auditor");
  }),
);

// ---------------------------------------------------------------------------
// v2: the handshake's state machine

Deno.test(
  "v2 protocol: AUTHENTICATE before HELLO gets ABORT protocol_violation and close 1002",
  scenario({}, async (s) => {
    const c = await s.raw();
    c.send([AUTHENTICATE, TICKET, {}]);
    await expectAbort(c, PROTOCOL_VIOLATION, 1002);
  }),
);

Deno.test(
  "v2 protocol: a SUBSCRIBE while a CHALLENGE awaits AUTHENTICATE gets ABORT protocol_violation, close 1002",
  scenario({}, async (s) => {
    const c = await s.hello({ authmethods: ["ticket"], authid: "joe" });
    await expectFrame(c, CHALLENGE, "CHALLENGE");
    c.send([SUBSCRIBE, 1, {}, "com.example.topic"]);
    await expectAbort(c, PROTOCOL_VIOLATION, 1002);
  }),
);

Deno.test(
  "v2 protocol: a second AUTHENTICATE gets ABORT protocol_violation and close 1002",
  scenario({}, async (s) => {
    // After WELCOME.
    const c = await s.hello({ authmethods: ["ticket"], authid: "joe" });
    await expectFrame(c, CHALLENGE, "CHALLENGE");
    c.send([AUTHENTICATE, TICKET, {}]);
    await expectFrame(c, WELCOME, "WELCOME");
    c.send([AUTHENTICATE, TICKET, {}]);
    await expectAbort(c, PROTOCOL_VIOLATION, 1002);

    // Back to back, the second possibly while the first is still being verified.
    const d = await s.hello({ authmethods: ["ticket"], authid: "joe" });
    await expectFrame(d, CHALLENGE, "CHALLENGE");
    d.send([AUTHENTICATE, TICKET, {}]);
    d.send([AUTHENTICATE, TICKET, {}]);
    const close = await d.closeEvent();
    assert.equal(close.code, 1002);
    const last = JSON.parse(d.frames.at(-1)!);
    assert.deepEqual([last[0], last[2]], [ABORT, PROTOCOL_VIOLATION]);
  }),
);

Deno.test(
  "v2 protocol: no AUTHENTICATE within helloTimeoutMs (300 ms) closes the socket with 1008",
  scenario({ helloTimeoutMs: 300 }, async (s) => {
    const started = Date.now();
    const c = await s.hello({ authmethods: ["ticket"], authid: "joe" });
    await expectFrame(c, CHALLENGE, "CHALLENGE");
    assert.equal((await c.closeEvent()).code, 1008);
    assert.ok(Date.now() - started >= 250, `closed after ${Date.now() - started} ms`);
    assert.equal(c.frames.length, 0, `no frame after the CHALLENGE: ${c.frames}`);
  }),
);

// ---------------------------------------------------------------------------
// v2: throttle and counters

Deno.test(
  "v2 throttle: after 2 free failures, answers from the same address are held back, successes too",
  scenario(
    { throttle: new FailureThrottle({ free: 2, baseDelayMs: 300, windowMs: 60_000, maxDelayMs: 5_000 }) },
    async (s) => {
      /** Sends AUTHENTICATE with `t` as joe; the answer frame and how long it took. */
      const attempt = async (t: string) => {
        const c = await s.hello({ authmethods: ["ticket"], authid: "joe" });
        await expectFrame(c, CHALLENGE, "CHALLENGE");
        const started = Date.now();
        c.send([AUTHENTICATE, t, {}]);
        const answer = await c.next("the answer to AUTHENTICATE") as unknown[]; // bounded: 5 s
        return { answer, ms: Date.now() - started };
      };
      for (let i = 1; i <= 3; i++) {
        const { answer, ms } = await attempt("wrong");
        assert.equal(answer[0], ABORT);
        assert.ok(ms < 250, `free failure ${i} answered after ${ms} ms`);
      }
      const fourth = await attempt("wrong");
      assert.equal(fourth.answer[0], ABORT);
      assert.ok(fourth.ms >= 250, `4th failure answered after ${fourth.ms} ms`);
      const success = await attempt(TICKET);
      assert.equal(success.answer[0], WELCOME);
      assert.ok(success.ms >= 500, `success after 4 failures answered after ${success.ms} ms (600 expected)`);
    },
  ),
);

Deno.test(
  "v2 and v1 counters: authenticationFailures grows by one per failure and not on success",
  scenario({}, async (s) => {
    const counters = s.server.router.counters;
    const expectOneMore = async (what: string, fail: () => Promise<unknown>) => {
      const before = counters.authenticationFailures;
      await fail();
      assert.equal(counters.authenticationFailures, before + 1, what);
    };
    await expectOneMore("wrong ticket", () => s.refused(byTicket("joe", "x")));
    await expectOneMore("unknown ticket authid", () => s.refused(byTicket("nobody", "x")));
    await expectOneMore("wrong wampcra password", () => s.refused(byCra("peter", "x")));
    await expectOneMore("cryptosign by the wrong key", () => s.refused(byKey(ALICE_PUB, MALLORY)));
    await expectOneMore("no method", () => s.refused({ authmethods: ["nonsense"] }));
    const v1 = await s.v1();
    const challenge = await v1Result(v1, "authreq", AUTHREQ, "peter", {}) as string;
    await expectOneMore("v1 wrong signature", () => v1Error(v1, "auth", AUTH, v1Sign(challenge, "x")));

    const before = counters.authenticationFailures;
    await s.login(byTicket("joe", TICKET));
    await s.login(byCra("peter", PETER_PASSWORD));
    assert.deepEqual(await v1Login(await s.v1(), "paula", PAULA_SECRET), BACKEND_V1);
    assert.equal(counters.authenticationFailures, before, "successes are not failures");
  }),
);

Deno.test(
  "v2 and v1 logging: no console output during failing and succeeding logins contains a ticket or secret",
  scenario({}, async (s) => {
    const output: string[] = [];
    const saved = {
      log: console.log,
      error: console.error,
      warn: console.warn,
      info: console.info,
      debug: console.debug,
    };
    const capture = (...args: unknown[]) => output.push(args.map((a) => String(a)).join(" "));
    Object.assign(console, { log: capture, error: capture, warn: capture, info: capture, debug: capture });
    try {
      console.log("capture works");
      await s.refused(byTicket("joe", "guess!!!"));
      await s.login(byTicket("joe", TICKET));
      await s.refused(byCra("peter", "guess1"));
      await s.login(byCra("peter", PETER_PASSWORD));
      await s.login(byCra("paula", PAULA_SECRET));
      const v1 = await s.v1();
      await v1Error(v1, "bad", AUTH, "no challenge yet");
      await v1Login(v1, "peter", PETER_PASSWORD);
    } finally {
      Object.assign(console, saved);
    }
    assert.deepEqual(output.slice(0, 1), ["capture works"]);
    const text = output.join("\n");
    for (const secret of [TICKET, "guess!!!", PETER_PASSWORD, PETER_SECRET, "guess1", PAULA_SECRET]) {
      assert.ok(!text.includes(secret), `the output contains ${secret}: ${text}`);
    }
  }),
);

// ---------------------------------------------------------------------------
// v1: AutobahnJS 0.8's WAMP-CRA

Deno.test(
  "v1 wampcra salted: authreq gives a challenge with authextra, auth gives backend's permissions and powers",
  scenario({}, async (s) => {
    await s.backend();
    const c = await s.v1();
    const denied = await v1Error(c, "before", BACKEND_ONLY);
    assert.equal(denied[2], NOT_AUTHORIZED, "anonymous may not call it");

    const challenge = await v1Result(c, "authreq", AUTHREQ, "peter", {}) as string;
    const parsed = JSON.parse(challenge);
    assert.deepEqual(parsed.authextra, { salt: "salt123", keylen: 16, iterations: 100 });
    assert.deepEqual([parsed.authid, parsed.authmethod], ["peter", "wampcra"]);
    assert.deepEqual(await v1Result(c, "auth", AUTH, v1Sign(challenge, PETER_PASSWORD)), BACKEND_V1);
    assert.equal(await v1Result(c, "after", BACKEND_ONLY), "for the backend");
  }),
);

Deno.test(
  "v1 wampcra plain: a challenge without authextra, signed with the secret, gives backend's permissions",
  scenario({}, async (s) => {
    await s.backend();
    const c = await s.v1();
    const challenge = await v1Result(c, "authreq", AUTHREQ, "paula", null) as string;
    assert.equal("authextra" in JSON.parse(challenge), false);
    assert.deepEqual(await v1Result(c, "auth", AUTH, v1Sign(challenge, PAULA_SECRET)), BACKEND_V1);
    assert.equal(await v1Result(c, "after", BACKEND_ONLY), "for the backend");
  }),
);

Deno.test(
  "v1 wampcra: a wrong signature and an unknown authkey get the same CALLERROR authentication_failed",
  scenario({}, async (s) => {
    const known = await s.v1(), unknown = await s.v1();
    const kc = await v1Result(known, "authreq", AUTHREQ, "peter", {}) as string;
    const uc = await v1Result(unknown, "authreq", AUTHREQ, "nobody", {}) as string;
    assert.deepEqual(Object.keys(JSON.parse(uc)).sort(), Object.keys(JSON.parse(kc)).sort());
    const a = await v1Error(known, "auth", AUTH, v1Sign(kc, "wrong password"));
    const b = await v1Error(unknown, "auth", AUTH, v1Sign(uc, PETER_PASSWORD));
    assert.equal(a[2], AUTHENTICATION_FAILED);
    assert.deepEqual(b, a);
  }),
);

Deno.test(
  "v1 wampcra: auth without authreq gets CALLERROR authentication_failed",
  scenario({}, async (s) => {
    const c = await s.v1();
    assert.equal((await v1Error(c, "auth", AUTH, "c2lnbmF0dXJl"))[2], AUTHENTICATION_FAILED);
  }),
);

Deno.test(
  "v1 wampcra: a failed auth consumes the challenge; its right signature no longer works",
  scenario({}, async (s) => {
    const c = await s.v1();
    const challenge = await v1Result(c, "authreq", AUTHREQ, "peter", {}) as string;
    assert.equal((await v1Error(c, "wrong", AUTH, v1Sign(challenge, "wrong")))[2], AUTHENTICATION_FAILED);
    const late = await v1Error(c, "late", AUTH, v1Sign(challenge, PETER_PASSWORD));
    assert.equal(late[2], AUTHENTICATION_FAILED);
    // A fresh challenge, rightly signed, still succeeds.
    assert.deepEqual(await v1Login(c, "peter", PETER_PASSWORD), BACKEND_V1);
  }),
);

Deno.test(
  "v1 anonymous: authreq(null) answers null, auth(null) answers the anonymous role's permissions",
  scenario({}, async (s) => {
    const c = await s.v1();
    assert.equal(await v1Result(c, "authreq", AUTHREQ, null, null), null);
    assert.deepEqual(await v1Result(c, "auth", AUTH, null), ANONYMOUS_V1);
  }),
);

Deno.test(
  "v1 anonymous off: before authenticating, CALLs are not_authorized and SUBSCRIBE is dropped",
  scenario({ anonymous: false }, async (s) => {
    const joe = await s.backend();
    const c = await s.v1();
    assert.equal((await v1Error(c, "area", AREA, 2, 3))[2], NOT_AUTHORIZED);
    assert.equal((await v1Error(c, "anon", AUTHREQ, null, null))[2], NO_AUTH_METHOD);

    const topic = "com.example.news";
    const dropped = s.server.router.counters.v1Dropped;
    c.send([V1_SUBSCRIBE, topic]);
    await v1Error(c, "barrier1", AREA, 1, 1); // the SUBSCRIBE has been handled
    assert.equal(s.server.router.counters.v1Dropped, dropped + 1);
    await joe.session.publish(topic, ["unseen"], {}, { acknowledge: true });
    // Any EVENT would now precede the answer to a later CALL.
    assert.equal((await v1Error(c, "barrier2", AREA, 1, 1))[2], NOT_AUTHORIZED);

    // Once authenticated, the same SUBSCRIBE gets the event.
    assert.deepEqual(await v1Login(c, "peter", PETER_PASSWORD), BACKEND_V1);
    c.send([V1_SUBSCRIBE, topic]);
    assert.equal(await v1Result(c, "area", AREA, 2, 3), 6);
    await joe.session.publish(topic, ["seen"], {}, { acknowledge: true });
    assert.deepEqual(await c.next("EVENT"), [V1_EVENT, topic, "seen"]);
  }),
);

Deno.test(
  "v1 anonymous off: closed with 1008 after helloTimeoutMs unless authenticated; authenticated stays open",
  scenario({ anonymous: false, helloTimeoutMs: 300 }, async (s) => {
    const authenticated = await s.v1();
    assert.deepEqual(await v1Login(authenticated, "peter", PETER_PASSWORD), BACKEND_V1);
    const started = Date.now();
    const idle = await s.v1(); // opened after `authenticated`: its deadline comes later
    assert.equal((await idle.closeEvent()).code, 1008);
    assert.ok(Date.now() - started >= 250, `closed after ${Date.now() - started} ms`);
    assert.equal(authenticated.ws.readyState, WebSocket.OPEN);
    assert.equal(await v1Result(authenticated, "area", AREA, 2, 3), 6);
  }),
);

Deno.test(
  "v1 and v2 share users: peter logs in with WAMP-CRA on both",
  scenario({}, async (s) => {
    const v2 = await s.login(byCra("peter", PETER_PASSWORD));
    assert.equal(v2.details.authid, "peter");
    assert.deepEqual(await v1Login(await s.v1(), "peter", PETER_PASSWORD), BACKEND_V1);
  }),
);
