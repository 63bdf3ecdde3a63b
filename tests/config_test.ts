/**
 * The configuration file and the command line: every error names the file, the
 * JSON path and what is expected; Crossbar's starred URIs; tuerca.example.json
 * equals starting without a file; flags win over the environment, the
 * environment over the file; and the real CLI with a bad and a good file.
 */
import assert from "node:assert/strict";
import {
  type App,
  ConfigError,
  LocalSession,
  type ParsedServerArgs,
  parseServerArgs,
  UsageError,
} from "../main.ts";
import { parseConfig } from "../src/config/load.ts";
import type { RealmDefinition } from "../src/auth/authorizer.ts";
import { pushApp } from "../push.ts";
import { chatApp } from "../chat.ts";
import { RawClient, rawV2, waitUntil, within, withServer } from "./helpers.ts";

// deno-lint-ignore no-explicit-any
type Json = any;

const ROOT = new URL("..", import.meta.url);
const EXAMPLE = new URL("../tuerca.example.json", import.meta.url).pathname;
/** Bound for a child to start, or to exit on a configuration error (it compiles on first run). */
const START_MS = 15_000;
/** Bound for a child to stop after SIGINT. */
const EXIT_MS = 10_000;
/** A STOMP address where nothing listens. */
const NO_BROKER = "stomp://guest:guest@127.0.0.1:1";

/** An environment reader over a fixed map (never the real environment). */
function envOf(vars: Record<string, string> = {}): (name: string) => string | undefined {
  return (name) => Object.hasOwn(vars, name) ? vars[name] : undefined;
}

/** A valid configuration using every section; each error case breaks one thing in it. */
function baseConfig(): Json {
  return {
    realms: [{
      name: "realm1",
      roles: [
        {
          name: "member",
          permissions: [
            { uri: "com.example.ping", match: "exact", allow: { call: true } },
            { uri: "com.example.", match: "prefix", allow: { call: true } },
            { uri: "com..create", match: "wildcard", allow: { call: true } },
          ],
        },
        { name: "guest", permissions: [] },
      ],
      store: { type: "memory", "event-history": [{ uri: "chat.messages", match: "exact", limit: 100 }] },
    }],
    auth: {
      anonymous: { type: "static", role: "guest" },
      ticket: { type: "static", principals: { alice: { ticket: "t1", role: "member" } } },
      wampcra: { type: "static", users: { peter: { secret: "s1", role: "member" } } },
      cryptosign: {
        type: "static",
        principals: { carol: { authorized_keys: ["ab".repeat(32)], role: "member" } },
      },
    },
    origins: ["https://app.example.com"],
    endpoint: { type: "tcp", port: 8080, interface: "127.0.0.1", tls: null },
    limits: { rate: 10 },
    "http-api": { keys: [{ name: "deploy", key: HTTP_KEY, role: "member" }], call_timeout: 30 },
    metrics: { allow: ["10.0.0.5", "192.168.1.0/24"], key: METRICS_KEY },
  };
}

/** The base configuration's HTTP API key and metrics key (16 characters or more, as keys must be). */
const HTTP_KEY = "http-key-0123456789abcdef";
const METRICS_KEY = "metrics-key-0123456789";

/** Parses `text` as t.json and returns the ConfigError, checking its file, path and message form. */
function configError(
  text: string,
  path: string,
  expected: RegExp,
  env: Record<string, string> = {},
): ConfigError {
  let caught: unknown;
  try {
    parseConfig(text, "t.json", envOf(env));
  } catch (e) {
    caught = e;
  }
  assert.ok(caught instanceof ConfigError, `expected a ConfigError at ${path}, got ${caught}`);
  assert.equal(caught.file, "t.json");
  assert.equal(caught.path, path, caught.message);
  assert.ok(caught.message.startsWith(`t.json: ${path}: `), `message form: ${caught.message}`);
  assert.match(caught.message, expected);
  return caught;
}

/** The keys the loader accepts at an object: read from the error for an unknown key added there. */
function knownKeys(mutateTo: (c: Json) => Json, path: string): string[] {
  const c = JSON.parse(Deno.readTextFileSync(EXAMPLE));
  mutateTo(c).zz_unknown = 1;
  const e = configError(JSON.stringify(c), `${path === "" ? "" : path + "."}zz_unknown`, /unknown key/);
  const list = e.message.match(/the keys here are (.*)$/);
  assert.ok(list !== null, `the error lists the keys: ${e.message}`);
  return JSON.parse(`[${list[1]}]`).sort();
}

/** What a server would actually do with parsed arguments, defaults filled in. */
function effective(p: ParsedServerArgs): unknown {
  const auth: Record<string, unknown> = {};
  if (p.auth?.anonymous) auth.anonymous = p.auth.anonymous;
  for (const method of ["ticket", "wampcra", "cryptosign"] as const) {
    const principals = p.auth?.[method];
    if (principals !== undefined && principals.size > 0) auth[method] = [...principals];
  }
  return {
    port: p.port,
    host: p.host,
    // The example's store spells out what the apps keep without one (checked apart).
    realms: p.realms?.map((r) => typeof r === "string" ? r : { name: r.name, roles: r.roles }),
    auth,
    origins: p.origins,
    tls: p.tls,
    limits: {
      subscriptions: 1000,
      registrations: 100,
      pendingCalls: 1000,
      rate: 1000,
      burst: 2000,
      callTimeout: 0,
      ...p.limits,
    },
    maxSessions: p.maxSessions ?? 100000,
    maxMessageSize: p.maxMessageSize ?? 1048576,
  };
}

/** Runs `fn` with a fresh temporary directory, removed afterwards. */
async function withTempDir(fn: (dir: string) => Promise<void> | void): Promise<void> {
  const dir = await Deno.makeTempDir({ prefix: "tuerca_config_test_" });
  try {
    await fn(dir);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

// ---------------------------------------------------------------------------
// 1. Errors: file, JSON path, what is expected

Deno.test("config: the base configuration of the error cases is valid", () => {
  const config = parseConfig(JSON.stringify(baseConfig()), "t.json", envOf());
  assert.deepEqual(config.realms.map((r) => r.name), ["realm1"]);
  assert.equal(config.auth.ticket?.get("alice")?.ticket, "t1");
});

Deno.test("config error: not JSON names (top level) and the parse position", () => {
  const text = '{\n  "realms": [\n    {"name": "x",}\n  ]\n}';
  configError(text, "(top level)", /not valid JSON: .*position 33 \(line 3 column 18\)/);
});

// For an unexpected token V8's message has no position ('Unexpected token '}', "..." is not valid JSON');
// the loader finds the line and column itself, so the reader of a long file can find the mistake.
Deno.test("config error: not JSON with an unexpected token still names the line and column", () => {
  const text = '{\n  "origins": [],\n  "realms": [\n  }\n}';
  configError(text, "(top level)", /not valid JSON: .*line 4 column 3/);
  configError('{"auth": {"anonymous": tru}}', "(top level)", /not valid JSON: .*line 1 column 27/);
});

/** Sets (or, for undefined, deletes) the value at a JSON path such as `realms[0].roles[1].name`. */
function setAt(root: Json, path: string, value: unknown): void {
  const keys = path.match(/[^.[\]]+/g)!;
  const parent = keys.slice(0, -1).reduce((o, k) => o[k], root);
  if (value === undefined) delete parent[keys.at(-1)!];
  else parent[keys.at(-1)!] = value;
}

/** [what, the exact path of the error, the value put there (undefined: removed), what the message says,
 * and where the value goes when that is not the error's path]; one line each, as a table */
// deno-fmt-ignore
const CASES: [string, string, unknown, RegExp, string?][] = [
  ["top-level unknown key", "realm", "x", /unknown key in a Tuerca configuration.*"realms", "auth", "origins"/],
  ["realms not a list", "realms", {}, /expected a list of realms \(a JSON array\), got an object/],
  ["realms empty", "realms", [], /expected at least one realm/],
  ["duplicate realm name", "realms[1].name", { name: "realm1", roles: [{ name: "x" }] }, /"realm1" is defined twice/, "realms[1]"],
  ["realm without roles", "realms[0].roles", undefined, /expected a list of roles \(a JSON array\), got nothing/],
  ["realm with empty roles", "realms[0].roles", [], /expected at least one role/],
  ["unknown key in a realm", "realms[0].rolez", [], /unknown key in a realm; the keys here are "name", "roles", "store"/],
  ["unknown store type", "realms[0].store.type", "redis", /expected one of "memory", "rabbitmq", got (the string )?"redis"/],
  ["unknown key in a store", "realms[0].store.history", [], /unknown key in a store; the keys here are "type", "event-history", "max-total-bytes"/],
  ["history entry without limit", "realms[0].store.event-history[0].limit", undefined, /expected a whole number from 1 to 1000000, got nothing/],
  ["history limit 0", "realms[0].store.event-history[0].limit", 0, /expected a whole number from 1 to 1000000, got number 0/],
  ["history bad uri", "realms[0].store.event-history[0].uri", "chat..x", /"chat\.\.x" is not a URI: dot-separated words/],
  ["history negative max-age", "realms[0].store.event-history[0].max-age", -1, /expected a whole number from 0 to/],
  ["store max-total-bytes too small", "realms[0].store.max-total-bytes", 10, /expected a whole number from 1024 to/],
  ['role name "trusted" reserved', "realms[0].roles[1].name", "trusted", /"trusted" is the router's own; pick another/],
  ['role name "bridge" reserved', "realms[0].roles[0].name", "bridge", /"bridge" is the router's own; pick another/],
  ["duplicate role", "realms[0].roles[1].name", "member", /role "member" is defined twice/],
  ["permission bad match", "realms[0].roles[0].permissions[1].match", "prefixx", /expected one of "exact", "prefix", "wildcard", got (the string )?"prefixx"/],
  ["bad exact uri", "realms[0].roles[0].permissions[0].uri", "com.a b", /"com\.a b" is not a URI: dot-separated words/],
  ["bad prefix uri", "realms[0].roles[0].permissions[1].uri", "com..x", /"com\.\.x" is not a URI prefix/],
  ["bad wildcard uri", "realms[0].roles[0].permissions[2].uri", "com.#.x", /"com\.#\.x" is not a wildcard pattern/],
  ["unknown key in allow", "realms[0].roles[0].permissions[0].allow.execute", true, /unknown key in the allowed actions; the keys here are "call", "register", "publish", "subscribe"/],
  ["non-boolean allow value", "realms[0].roles[0].permissions[0].allow.call", "yes", /expected true or false, got the string "yes"/],
  ["auth unknown method key", "auth.oauth", {}, /unknown key in the authentication methods.*"anonymous", "ticket", "wampcra", "cryptosign"/],
  ['auth type other than "static"', "auth.ticket.type", "dynamic", /expected one of "static", got (the string )?"dynamic"/],
  ["ticket principal without ticket", "auth.ticket.principals.alice.ticket", undefined, /expected a secret: a string, or \{ "env": "NAME" \}, got nothing/],
  ["wampcra iterations without salt", "auth.wampcra.users.peter.salt", 100, /"iterations" and "keylen" need a "salt"/, "auth.wampcra.users.peter.iterations"],
  ["cryptosign key not 64 hex", "auth.cryptosign.principals.carol.authorized_keys[0]", "ab".repeat(31) + "zz", /expected an Ed25519 public key: 64 hex digits/],
  ["cryptosign empty authorized_keys", "auth.cryptosign.principals.carol.authorized_keys", [], /expected at least one public key/],
  ["auth role not defined in any realm", "auth.ticket.principals.alice.role", "ghost", /role "ghost" is not defined in any realm.*"member", "guest"/],
  ["anonymous role not defined", "auth.anonymous.role", "visitor", /role "visitor" is not defined in any realm/],
  ["principal realm that does not exist", "auth.wampcra.users.peter.realm", "nowhere", /no realm "nowhere"; the realms are "realm1"/],
  ["secret from an unset env variable", "auth.ticket.principals.alice.ticket", { env: "TUERCA_UNSET_TICKET" }, /environment variable TUERCA_UNSET_TICKET is not set/],
  ["origins bad entry", "origins[1]", "ftp//nope", /"ftp\/\/nope" is not an origin: write scheme:\/\/host\[:port\]/],
  ["origins not a list", "origins", "*", /expected a list of origins \(a JSON array\)/],
  ["trusted proxy not an address", "endpoint.trusted_proxies[0]", ["proxy.example"], /"proxy\.example" is not an IP address or CIDR network/, "endpoint.trusted_proxies"],
  ["endpoint bad port", "endpoint.port", 70000, /expected a whole number from 0 to 65535, got number 70000/],
  ["limits negative", "limits.subscriptions", -1, /expected a whole number from 0 to 1000000000, got number -1/],
  ["limits not integer", "limits.rate", 1.5, /expected a whole number from 0 to 1000000000, got number 1\.5/],
  ["limits unknown key", "limits.connections", 5, /unknown key in the limits; the keys here are "sessions"/],
  ["http-api unknown key", "http-api.port", 8081, /unknown key in the HTTP API; the keys here are "keys", "call_timeout"/],
  ["http-api keys by key (the secret as a name)", "http-api.keys", { [HTTP_KEY]: { role: "member" } }, /expected a list of keys, each \{ "key": …, "role": … \} \(a JSON array\), got an object/],
  ["http-api unknown key in a key", "http-api.keys[0].secret", "x", /unknown key in an HTTP API key; the keys here are "name", "key", "role", "realm"/],
  ["http-api key missing", "http-api.keys[0].key", undefined, /expected a secret: a string, or \{ "env": "NAME" \}, got nothing/],
  ["http-api key too short", "http-api.keys[0].key", "short", /a key needs at least 16 characters \(this one has 5\); make one with: openssl rand -hex 32/],
  ["http-api key with a space", "http-api.keys[0].key", "two words, many characters", /a key may hold only letters, digits and - \. _ ~ \+ \/.*Authorization: Bearer <key>/],
  ["http-api key from an unset env variable", "http-api.keys[0].key", { env: "TUERCA_UNSET_HTTP_KEY" }, /environment variable TUERCA_UNSET_HTTP_KEY is not set/],
  ["http-api the same key twice", "http-api.keys[1].key", { key: HTTP_KEY, role: "guest" }, /the same key as http-api\.keys\[0\]; a key names one role/, "http-api.keys[1]"],
  ["http-api the same name twice", "http-api.keys[1].name", { name: "deploy", key: HTTP_KEY + "x", role: "guest" }, /the name "deploy" is taken by http-api\.keys\[0\]/, "http-api.keys[1]"],
  ["http-api a name that is no authid", "http-api.keys[0].name", "the deployer", /expected a name of 1 to 64 letters, digits/],
  ["http-api role the realm lacks", "http-api.keys[0].role", "ghost", /role "ghost" is not defined on realm "realm1"; define it under that realm's roles or use one of "member", "guest"/],
  ["http-api realm that does not exist", "http-api.keys[0].realm", "nowhere", /no realm "nowhere"; the realms are "realm1"/],
  ["http-api call_timeout 0", "http-api.call_timeout", 0, /expected a whole number from 1 to 2147483, got number 0/],
  ["metrics unknown key", "metrics.deny", [], /unknown key in the metrics access; the keys here are "allow", "key"/],
  ["metrics allow not a list", "metrics.allow", "10.0.0.5", /expected a list of addresses and networks \(a JSON array\)/],
  ["metrics allow not an address", "metrics.allow[1]", "300.1.1.1", /"300\.1\.1\.1" is not an IP address or CIDR network; write one such as "10\.0\.0\.5"/],
  ["metrics allow prefix too long", "metrics.allow[0]", "10.0.0.0/33", /"10\.0\.0\.0\/33" is not an IP address or CIDR network/],
  ["metrics allow a host name", "metrics.allow[0]", "localhost", /"localhost" is not an IP address or CIDR network/],
  ["metrics key too short", "metrics.key", "secret", /a key needs at least 16 characters \(this one has 6\)/],
  ["metrics key from an unset env variable", "metrics.key", { env: "TUERCA_UNSET_METRICS_KEY" }, /TUERCA_UNSET_METRICS_KEY is not set/],
];

for (const [name, path, value, expected, at] of CASES) {
  Deno.test(`config error: ${name} → t.json: ${path}`, () => {
    const c = baseConfig();
    setAt(c, at ?? path, value);
    configError(JSON.stringify(c), path, expected);
  });
}

Deno.test('config: a secret { "env": "NAME" } is read through the env reader', () => {
  const c = baseConfig();
  c.auth.ticket.principals.alice.ticket = { env: "ALICE_TICKET" };
  c.auth.wampcra.users.peter.secret = { env: "PETER_SECRET" };
  const env = { ALICE_TICKET: "from-env-1", PETER_SECRET: "from-env-2" };
  const config = parseConfig(JSON.stringify(c), "t.json", envOf(env));
  assert.equal(config.auth.ticket?.get("alice")?.ticket, "from-env-1");
  assert.equal(config.auth.wampcra?.get("peter")?.secret, "from-env-2");
  // Empty counts as unset.
  configError(JSON.stringify(c), "auth.ticket.principals.alice.ticket", /ALICE_TICKET is not set/, {
    ALICE_TICKET: "",
    PETER_SECRET: "x",
  });
});

Deno.test("config: http-api keys and metrics are read, secrets from the environment too", () => {
  const c = baseConfig();
  c["http-api"].keys.push({ key: { env: "DEPLOY_KEY" }, role: "guest", realm: "realm1" });
  c["http-api"].call_timeout = 5;
  c.metrics = { allow: ["fd00::/8", "::1", "10.1.2.3"], key: { env: "METRICS_KEY" } };
  const env = { DEPLOY_KEY: "from-env-0123456789abcdef", METRICS_KEY: "metrics-from-env-0123" };
  const config = parseConfig(JSON.stringify(c), "t.json", envOf(env));
  assert.deepEqual(config.httpApi, {
    keys: [
      { name: "deploy", key: HTTP_KEY, role: "member" },
      { name: "1", key: "from-env-0123456789abcdef", role: "guest", realm: "realm1" },
    ],
    callTimeout: 5,
  });
  assert.deepEqual(config.metrics, { allow: ["fd00::/8", "::1", "10.1.2.3"], key: "metrics-from-env-0123" });
  // A null key, or none, is no key; an absent section is no access beyond loopback and no API.
  c.metrics = { allow: [], key: null };
  delete c["http-api"];
  const off = parseConfig(JSON.stringify(c), "t.json", envOf());
  assert.deepEqual(off.metrics, { allow: [] });
  assert.deepEqual(off.httpApi, { keys: [], callTimeout: 30 });
});

Deno.test("config error: an http-api key's role is checked against the default realm's roles", () => {
  // Without a realms section the realm is realm1 with the default role only.
  const text = JSON.stringify({ "http-api": { keys: [{ key: HTTP_KEY, role: "backend" }] } });
  configError(
    text,
    "http-api.keys[0].role",
    /role "backend" is not defined on realm "realm1".*use one of "anonymous"/,
  );
  // A role of another realm is not enough: a key acts in one realm.
  const c = baseConfig();
  c.realms.push({ name: "realm2", roles: [{ name: "backend", permissions: [] }] });
  c["http-api"].keys[0].role = "backend";
  configError(JSON.stringify(c), "http-api.keys[0].role", /role "backend" is not defined on realm "realm1"/);
  c["http-api"].keys[0].realm = "realm2";
  assert.equal(parseConfig(JSON.stringify(c), "t.json", envOf()).httpApi.keys[0].realm, "realm2");
});

Deno.test("config error: an http-api or metrics key never appears in an error message", () => {
  const c = baseConfig();
  c["http-api"].keys.push({ key: HTTP_KEY, role: "guest" });
  const e = configError(JSON.stringify(c), "http-api.keys[1].key", /the same key/);
  assert.ok(!e.message.includes(HTTP_KEY), e.message);
  const short = baseConfig();
  short.metrics.key = "tiny-secret";
  const f = configError(JSON.stringify(short), "metrics.key", /at least 16 characters/);
  assert.ok(!f.message.includes("tiny-secret"), f.message);
});

// ---------------------------------------------------------------------------
// 2. Crossbar's starred URIs

/** A realm1 config whose only role, anonymous, has `permissions`. */
function anonymousOnly(permissions: Json[]): string {
  return JSON.stringify({ realms: [{ name: "realm1", roles: [{ name: "anonymous", permissions }] }] });
}

Deno.test("config: starred URIs without match convert as Crossbar does", () => {
  const allow = { call: true, register: false, publish: true, subscribe: false };
  const config = parseConfig(
    anonymousOnly([
      { uri: "com.example.*", allow },
      { uri: "com.*.create", allow },
      { uri: "*", allow: { subscribe: true } },
      { uri: "com.example.exact", allow },
    ]),
    "t.json",
    envOf(),
  );
  const none = { caller: false, publisher: false };
  assert.deepEqual(config.realms[0].roles[0].permissions, [
    { uri: "com.example.", match: "prefix", allow, disclose: none },
    { uri: "com..create", match: "wildcard", allow, disclose: none },
    {
      uri: "",
      match: "prefix",
      allow: { call: false, register: false, publish: false, subscribe: true },
      disclose: none,
    },
    { uri: "com.example.exact", match: "exact", allow, disclose: none },
  ]);
});

Deno.test("config: a role with com.*.create allowing call may call com.x.create but not com.x.delete", async () => {
  const config = parseConfig(
    anonymousOnly([{ uri: "com.*.create", allow: { call: true } }]),
    "t.json",
    envOf(),
  );
  const app: App = {
    name: "config-test",
    index: "index.html",
    start(router) {
      const local = new LocalSession(router);
      local.register("com.x.create", () => "created");
      local.register("com.x.delete", () => "deleted");
      return { close: () => local.close() };
    },
  };
  await withServer(
    async (server) => {
      const { client } = await rawV2(server.wsUrl);
      try {
        client.send([48, 1, {}, "com.x.create", []]);
        const result = await client.next("RESULT of com.x.create") as unknown[];
        assert.deepEqual([result[0], result[1], result[3]], [50, 1, ["created"]], JSON.stringify(result));
        client.send([48, 2, {}, "com.x.delete", []]);
        const error = await client.next("ERROR for com.x.delete") as unknown[];
        assert.deepEqual([error[0], error[1], error[2], error[4]], [8, 48, 2, "wamp.error.not_authorized"]);
      } finally {
        await client.close();
      }
    },
    app,
    { realms: config.realms, auth: config.auth },
  );
});

// ---------------------------------------------------------------------------
// 3. tuerca.example.json

Deno.test("tuerca.example.json parses and its effective settings equal starting without a file", () => {
  const env = envOf();
  const withFile = parseServerArgs(["--config", EXAMPLE], env);
  assert.equal(withFile.config.file, EXAMPLE);
  assert.deepEqual(effective(withFile), effective(parseServerArgs([], env)));
  // The HTTP API is off (no keys) and the metrics are for loopback only, as without a file.
  assert.deepEqual(withFile.httpApi, parseServerArgs([], env).httpApi);
  assert.deepEqual(withFile.httpApi?.keys, []);
  assert.deepEqual(withFile.config.metrics, parseServerArgs([], env).config.metrics);
  assert.deepEqual(withFile.config.metrics, { allow: [] });
});

Deno.test("tuerca.example.json holds every key the loader knows", () => {
  const example = JSON.parse(Deno.readTextFileSync(EXAMPLE));
  const keys = (o: Json) => Object.keys(o).sort();
  const permission = (c: Json) => c.realms[0].roles[0].permissions[0];
  const objects: [string, (c: Json) => Json, string][] = [
    ["top level", (c) => c, ""],
    ["realm", (c) => c.realms[0], "realms[0]"],
    ["role", (c) => c.realms[0].roles[0], "realms[0].roles[0]"],
    ["permission", permission, "realms[0].roles[0].permissions[0]"],
    ["allow", (c) => permission(c).allow, "realms[0].roles[0].permissions[0].allow"],
    ["disclose", (c) => permission(c).disclose, "realms[0].roles[0].permissions[0].disclose"],
    ["auth", (c) => c.auth, "auth"],
    ["auth.anonymous", (c) => c.auth.anonymous, "auth.anonymous"],
    ["auth.ticket", (c) => c.auth.ticket, "auth.ticket"],
    ["auth.wampcra", (c) => c.auth.wampcra, "auth.wampcra"],
    ["auth.cryptosign", (c) => c.auth.cryptosign, "auth.cryptosign"],
    ["endpoint", (c) => c.endpoint, "endpoint"],
    ["limits", (c) => c.limits, "limits"],
    ["http-api", (c) => c["http-api"], "http-api"],
    ["metrics", (c) => c.metrics, "metrics"],
    ["store", (c) => c.realms[0].store, "realms[0].store"],
    ["event-history entry", (c) => c.realms[0].store["event-history"][0], "realms[0].store.event-history[0]"],
  ];
  for (const [what, at, path] of objects) {
    assert.deepEqual(keys(at(example)), knownKeys(at, path), `the example's ${what} has every known key`);
  }
  // endpoint.tls is null in the example (no TLS); its keys are the two files.
  assert.equal(example.endpoint.tls, null);
  assert.deepEqual(
    knownKeys((c) => c.endpoint.tls = { certificate: "c.pem", key: "k.pem" }, "endpoint.tls"),
    ["certificate", "key"],
  );
  // http-api.keys is empty in the example (the API is off); an entry's keys are these.
  assert.deepEqual(example["http-api"].keys, []);
  assert.deepEqual(
    knownKeys(
      (c) => (c["http-api"].keys = [{ key: "k".repeat(16), role: "anonymous" }])[0],
      "http-api.keys[0]",
    ),
    ["key", "name", "realm", "role"],
  );
  assert.deepEqual(keys(example), ["auth", "endpoint", "http-api", "limits", "metrics", "origins", "realms"]);
  assert.equal(Object.keys(example.limits).length, 8, "the example's limits has exactly 8 keys");
});

Deno.test("tuerca.example.json: each limits key is checked at its own path", () => {
  const example = JSON.parse(Deno.readTextFileSync(EXAMPLE));
  for (const key of Object.keys(example.limits)) {
    for (const bad of [-1, 2.5, "10"]) {
      const c = JSON.parse(JSON.stringify(example));
      c.limits[key] = bad;
      configError(JSON.stringify(c), `limits.${key}`, /expected a whole number from \d+ to \d+/);
    }
  }
});

// ---------------------------------------------------------------------------
// 4. Flags over the environment over the file

/** A configuration file setting the endpoint, origins, limits and two realms. */
const FILE_CONFIG = {
  realms: [
    { name: "filerealm", roles: [{ name: "anonymous", permissions: [{ uri: "*", allow: { call: true } }] }] },
    {
      name: "other",
      roles: [{ name: "anonymous", permissions: [{ uri: "x.*", allow: { publish: true } }] }],
    },
  ],
  origins: ["https://file.example.com"],
  endpoint: { type: "tcp", port: 9001, interface: "127.0.0.2" },
  limits: { subscriptions: 5, rate: 7 },
};

Deno.test("config: the file's settings apply when no flag or env variable overrides them", async () => {
  await withTempDir(async (dir) => {
    const file = `${dir}/tuerca.json`;
    await Deno.writeTextFile(file, JSON.stringify(FILE_CONFIG));
    const p = parseServerArgs(["--config", file], envOf());
    assert.equal(p.port, 9001);
    assert.equal(p.host, "127.0.0.2");
    assert.deepEqual(p.origins, ["https://file.example.com"]);
    assert.deepEqual(p.limits, { subscriptions: 5, rate: 7 });
    assert.deepEqual((p.realms ?? []).map((r) => typeof r === "string" ? r : r.name), ["filerealm", "other"]);
  });
});

Deno.test("config: --port --host --allow-origin --max-subscriptions --rate --realm win over the file", async () => {
  await withTempDir(async (dir) => {
    const file = `${dir}/tuerca.json`;
    await Deno.writeTextFile(file, JSON.stringify(FILE_CONFIG));
    const p = parseServerArgs([
      "--config",
      file,
      ...["--port", "9100", "--host", "127.0.0.3"],
      ...["--allow-origin", "https://flag.example.com", "--allow-origin", "https://*.other.example"],
      ...["--max-subscriptions", "9", "--rate", "11"],
      ...["--realm", "other", "--realm", "extra"],
    ], envOf({ PORT: "9200", HOST: "127.0.0.4" }));
    assert.equal(p.port, 9100);
    assert.equal(p.host, "127.0.0.3");
    assert.deepEqual(p.origins, ["https://flag.example.com", "https://*.other.example"]);
    assert.deepEqual(p.limits, { subscriptions: 9, rate: 11 });
    // A realm named by flag keeps the roles the file gives it; an unknown one is a bare name.
    assert.deepEqual(p.realms, [
      {
        name: "other",
        roles: [{
          name: "anonymous",
          permissions: [{
            uri: "x.",
            match: "prefix",
            allow: { call: false, register: false, publish: true, subscribe: false },
            disclose: { caller: false, publisher: false },
          }],
        }],
      },
      "extra",
    ]);
  });
});

Deno.test("config: PORT and HOST override the file but not the flags", async () => {
  await withTempDir(async (dir) => {
    const file = `${dir}/tuerca.json`;
    await Deno.writeTextFile(file, JSON.stringify(FILE_CONFIG));
    const env = envOf({ PORT: "9200", HOST: "127.0.0.4" });
    const fromEnv = parseServerArgs(["--config", file], env);
    assert.deepEqual([fromEnv.port, fromEnv.host], [9200, "127.0.0.4"]);
    const fromFlags = parseServerArgs(["--config", file, "--port", "9300", "--host", "127.0.0.5"], env);
    assert.deepEqual([fromFlags.port, fromFlags.host], [9300, "127.0.0.5"]);
  });
});

Deno.test("config: TUERCA_CONFIG names the file when --config is absent; --config wins over it", async () => {
  await withTempDir(async (dir) => {
    const file = await Deno.makeTempFile({ dir, suffix: ".json" });
    await Deno.writeTextFile(file, JSON.stringify(FILE_CONFIG));
    const p = parseServerArgs([], envOf({ TUERCA_CONFIG: file }));
    assert.equal(p.config.file, file);
    assert.equal(p.port, 9001);
    const missing = `${dir}/missing.json`;
    const q = parseServerArgs(["--config", file], envOf({ TUERCA_CONFIG: missing }));
    assert.equal(q.port, 9001);
    assert.throws(
      () => parseServerArgs([], envOf({ TUERCA_CONFIG: missing })),
      (e: unknown) => e instanceof ConfigError && e.file === missing && /no such file/.test(e.message),
    );
  });
});

Deno.test("config: --cert without --key is a UsageError", () => {
  assert.throws(() => parseServerArgs(["--cert", "cert.pem"], envOf()), UsageError);
  assert.throws(() => parseServerArgs(["--key", "key.pem"], envOf()), UsageError);
});

Deno.test("config: TLS files from the config are read relative to the config file's directory", async () => {
  await withTempDir(async (dir) => {
    await Deno.mkdir(`${dir}/tls`);
    await Deno.writeTextFile(`${dir}/tls/cert.pem`, "CERT TEXT\n");
    await Deno.writeTextFile(`${dir}/tls/key.pem`, "KEY TEXT\n");
    const file = `${dir}/tuerca.json`;
    const tls = { certificate: "tls/cert.pem", key: "tls/key.pem" };
    await Deno.writeTextFile(file, JSON.stringify({ endpoint: { type: "tcp", tls } }));
    const p = parseServerArgs(["--config", file], envOf());
    assert.deepEqual(p.tls, { cert: "CERT TEXT\n", key: "KEY TEXT\n" });

    await Deno.writeTextFile(
      file,
      JSON.stringify({ endpoint: { tls: { ...tls, certificate: "nope.pem" } } }),
    );
    let caught: unknown;
    try {
      parseServerArgs(["--config", file], envOf());
    } catch (e) {
      caught = e;
    }
    assert.ok(caught instanceof ConfigError, `a ConfigError, got ${caught}`);
    assert.equal(caught.path, "endpoint.tls.certificate");
    assert.ok(caught.message.startsWith(`${file}: endpoint.tls.certificate: `), caught.message);
    assert.ok(caught.message.includes(`${dir}/nope.pem`), `names the resolved file: ${caught.message}`);
  });
});

// ---------------------------------------------------------------------------
// 5. The real CLI

/** push.ts as a child process; stdout is read line by line. */
class Child {
  readonly process: Deno.ChildProcess;
  readonly lines: string[] = [];
  readonly stdoutDone: Promise<void>;
  readonly stderr: Promise<string>;
  #ended = false;

  constructor(args: string[], env: Record<string, string>) {
    this.process = new Deno.Command(Deno.execPath(), {
      args: ["run", "--allow-net", "--allow-read", "--allow-env", "push.ts", ...args],
      cwd: ROOT,
      env: { STOMP_URL: NO_BROKER, ...env },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.stdoutDone = this.#read();
    this.stderr = new Response(this.process.stderr).text();
  }

  async #read(): Promise<void> {
    let buffer = "";
    for await (const chunk of this.process.stdout.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      const parts = buffer.split("\n");
      buffer = parts.pop()!;
      this.lines.push(...parts);
    }
    if (buffer.length > 0) this.lines.push(buffer);
    this.#ended = true;
  }

  /** The first stdout line matching `re`, within START_MS. */
  async line(re: RegExp): Promise<RegExpMatchArray> {
    const find = () => this.lines.map((l) => l.match(re)).find((m) => m !== null) ?? null;
    await waitUntil(() => find() !== null || this.#ended, `a stdout line matching ${re}`, START_MS);
    const m = find();
    if (m === null) {
      throw new Error(`stdout ended without ${re}: ${this.lines}; stderr: ${await this.stderr}`);
    }
    return m;
  }

  /** Kills the process if it still runs and drains its pipes. */
  async dispose(): Promise<void> {
    try {
      this.process.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    await this.process.status;
    await this.stdoutDone;
    await this.stderr;
  }
}

Deno.test("CLI: push.ts --config <bad file> exits 2 with 'Configuration error: <file>: <path>: ...'", async () => {
  await withTempDir(async (dir) => {
    const file = `${dir}/bad.json`;
    await Deno.writeTextFile(file, JSON.stringify({ limits: { rate: -1 } }));
    const child = new Child(["--config", file, "--no-bridge"], {});
    try {
      const status = await within(child.process.status, "push.ts to exit", START_MS);
      assert.equal(status.code, 2);
      const stderr = await child.stderr;
      assert.ok(
        stderr.includes(`Configuration error: ${file}: limits.rate: expected a whole number from 0 to`),
        `stderr: ${stderr}`,
      );
      await child.stdoutDone;
      assert.deepEqual(child.lines, [], "nothing on stdout");
    } finally {
      await child.dispose();
    }
  });
});

Deno.test("CLI: --realm replacing the realm an http-api key's role lives on exits 2 with 'Configuration error', no stack trace", async () => {
  await withTempDir(async (dir) => {
    const file = `${dir}/api.json`;
    await Deno.writeTextFile(
      file,
      JSON.stringify({
        realms: [{ name: "realm1", roles: [{ name: "backend", permissions: [] }] }],
        auth: { ticket: { type: "static", principals: { p: { ticket: "t", role: "backend" } } } },
        "http-api": { keys: [{ key: "k".repeat(32), role: "backend" }] },
      }),
    );
    const child = new Child(["--config", file, "--realm", "other", "--no-bridge"], {});
    try {
      const status = await within(child.process.status, "push.ts to exit", START_MS);
      assert.equal(status.code, 2);
      const stderr = await child.stderr;
      assert.match(
        stderr,
        /Configuration error: .*http-api\.keys\[0\]\.role: role "backend" is not defined on realm other/,
      );
      assert.ok(!/\n\s+at /.test(stderr), `no stack trace: ${stderr}`);
    } finally {
      await child.dispose();
    }
  });
});

Deno.test("CLI: a good config file starts; its ticket principal (secret from env) gets WELCOME with its role", async () => {
  await withTempDir(async (dir) => {
    const file = `${dir}/good.json`;
    await Deno.writeTextFile(
      file,
      JSON.stringify({
        realms: [{
          name: "realm1",
          roles: [{ name: "operator", permissions: [{ uri: "push.tutorial.*", allow: { call: true } }] }],
        }],
        auth: {
          ticket: {
            type: "static",
            principals: { opsbot: { ticket: { env: "TUERCA_TEST_TICKET" }, role: "operator" } },
          },
        },
        endpoint: { type: "tcp", port: 0, interface: "127.0.0.1" },
      }),
    );
    const child = new Child(["--config", file, "--no-bridge"], { TUERCA_TEST_TICKET: "s3cret-from-env" });
    try {
      const m = await child.line(/^Tuerca push server: open http:\/\/127\.0\.0\.1:(\d+)\//);
      const client = await RawClient.open(`ws://127.0.0.1:${m[1]}/ws`, "wamp.2.json");
      try {
        client.send([1, "realm1", { roles: { caller: {} }, authmethods: ["ticket"], authid: "opsbot" }]);
        const challenge = await client.next("CHALLENGE") as unknown[];
        assert.deepEqual(challenge.slice(0, 2), [4, "ticket"], JSON.stringify(challenge));
        client.send([5, "s3cret-from-env", {}]);
        const welcome = await client.next("WELCOME") as [number, number, Record<string, unknown>];
        assert.equal(welcome[0], 2, JSON.stringify(welcome));
        assert.equal(welcome[2].authid, "opsbot");
        assert.equal(welcome[2].authrole, "operator");
        assert.equal(welcome[2].authmethod, "ticket");
        client.send([48, 1, {}, "push.tutorial.areaCuadrado", [3, 4]]);
        assert.deepEqual(await client.next("RESULT"), [50, 1, {}, [12]]);
      } finally {
        await client.close();
      }
      child.process.kill("SIGINT");
      const status = await within(child.process.status, "push.ts to exit after SIGINT", EXIT_MS);
      assert.equal(status.code, 0);
    } finally {
      await child.dispose();
    }
  });
});

Deno.test("tuerca.example.json's store keeps what each app keeps without a file", () => {
  const withFile = parseServerArgs(["--config", EXAMPLE], envOf());
  const realm = withFile.realms![0] as RealmDefinition;
  for (const app of [pushApp, chatApp]) {
    for (const rule of app.history ?? []) {
      assert.ok(
        realm.store?.eventHistory.some((r) => JSON.stringify(r) === JSON.stringify(rule)),
        `the example keeps ${app.name}'s ${rule.uri}: ${JSON.stringify(realm.store)}`,
      );
    }
  }
  assert.equal(realm.store?.maxTotalBytes, 64 * 1024 * 1024);
});
