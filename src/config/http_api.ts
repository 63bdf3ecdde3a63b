/**
 * The HTTP sections of the configuration file:
 *
 * - `http-api`: the keys that may publish and call over HTTP (`POST /publish`,
 *   `POST /call`, see `http/api.ts`), each with the role and realm it acts as. The
 *   key is the secret, so the keys are a list of objects, each key a secret
 *   (`"…"` or `{ "env": "NAME" }`); no keys, no API.
 * - `metrics`: who may read the operations endpoints besides loopback: addresses
 *   and CIDR networks, and a bearer key.
 *
 * @module
 */

import type { RealmDefinition } from "../auth/authorizer.ts";
import { parseNetwork } from "../net/address.ts";
import type { ConfigNode } from "./node.ts";

/** One key of the HTTP API and who it acts as. */
export interface HttpApiKey {
  /** A name for logs and the meta API: the session's authid is `http:<name>`. Default: the key's index. */
  name: string;
  /** The bearer key itself: the secret a client sends as `Authorization: Bearer <key>`. */
  key: string;
  /** The role whose permissions decide what the key may publish and call. */
  role: string;
  /** The realm it publishes and calls in; the default realm when absent. */
  realm?: string;
}

/** The `http-api` section. */
export interface HttpApiConfig {
  /** The keys; none turns the API off (its paths answer 404). */
  keys: HttpApiKey[];
  /**
   * How long a call waits for its result when the request sets no `options.timeout`,
   * and the longest one it may set, in seconds.
   */
  callTimeout: number;
}

/** The `metrics` section. */
export interface MetricsConfig {
  /** Addresses and CIDR networks allowed to read `/metrics` and `/healthz` besides loopback. */
  allow: string[];
  /** A bearer key that lets any address read them; none when absent. */
  key?: string;
}

/** An HTTP call's default (and longest) wait, in seconds. */
export const DEFAULT_HTTP_CALL_TIMEOUT = 30;

/** The longest call timeout a timer can wait, in seconds (2^31 - 1 ms). */
const MAX_CALL_TIMEOUT = 2_147_483;

/** The shortest key accepted: anything shorter is guessable. */
export const MIN_KEY_LENGTH = 16;

/** What RFC 6750 lets a bearer token hold (`b64token`), so every key can be sent in a header. */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;

/** A key's name: it becomes part of an authid. */
const KEY_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** The HTTP API of a server started without a file: off. */
export function defaultHttpApi(): HttpApiConfig {
  return { keys: [], callTimeout: DEFAULT_HTTP_CALL_TIMEOUT };
}

/** Reads `http-api`. Realms and roles are checked afterwards, by {@link checkHttpApiRealms}. */
export function parseHttpApi(node: ConfigNode): HttpApiConfig {
  if (node.absent) return defaultHttpApi();
  node.object(["keys", "call_timeout"], "the HTTP API");
  const callTimeout = node.key("call_timeout").integer(1, MAX_CALL_TIMEOUT, DEFAULT_HTTP_CALL_TIMEOUT);
  const keysNode = node.key("keys");
  if (keysNode.absent) return { keys: [], callTimeout };
  const items = keysNode.items('a list of keys, each { "key": …, "role": … }');
  const keys = items.map((item, i) => parseKey(item, i));
  const names = new Map<string, number>();
  const secrets: string[] = [];
  keys.forEach((k, i) => {
    const sameName = names.get(k.name);
    if (sameName !== undefined) {
      items[i].key(items[i].key("name").absent ? "key" : "name").fail(
        `the name ${
          JSON.stringify(k.name)
        } is taken by ${keysNode.path}[${sameName}]; give each key its own name`,
      );
    }
    names.set(k.name, i);
    const same = secrets.indexOf(k.key);
    if (same >= 0) {
      items[i].key("key").fail(
        `the same key as ${keysNode.path}[${same}]; a key names one role, so give each its own key`,
      );
    }
    secrets.push(k.key);
  });
  return { keys, callTimeout };
}

function parseKey(node: ConfigNode, index: number): HttpApiKey {
  node.object(["name", "key", "role", "realm"], "an HTTP API key");
  const key = bearerKey(node.key("key"));
  const nameNode = node.key("name");
  const name = nameNode.name(String(index));
  if (!KEY_NAME.test(name)) {
    nameNode.fail(
      "expected a name of 1 to 64 letters, digits, '_', '.' or '-' (it becomes the authid http:<name>)",
    );
  }
  const role = node.key("role").name();
  const realmNode = node.key("realm");
  return realmNode.absent ? { name, key, role } : { name, key, role, realm: realmNode.name() };
}

/**
 * Checks that each key's realm exists (the first realm when it names none) and
 * defines its role: a key acts exactly like a session of that role there.
 * @param node the `http-api` node, for the paths of the errors
 * @throws {ConfigError} at the key's `realm` or `role`
 */
export function checkHttpApiRealms(node: ConfigNode, config: HttpApiConfig, realms: RealmDefinition[]): void {
  config.keys.forEach((k, i) => {
    const item = node.key("keys").items("")[i];
    const realm = k.realm === undefined ? realms[0] : realms.find((r) => r.name === k.realm);
    if (realm === undefined) {
      return item.key("realm").fail(
        `no realm ${JSON.stringify(k.realm)}; the realms are ${
          realms.map((r) => JSON.stringify(r.name)).join(", ")
        }`,
      );
    }
    const roles = realm.roles.map((r) => r.name);
    if (!roles.includes(k.role)) {
      item.key("role").fail(
        `role ${JSON.stringify(k.role)} is not defined on realm ${
          JSON.stringify(realm.name)
        }; define it under ` +
          `that realm's roles or use one of ${roles.map((r) => JSON.stringify(r)).join(", ")}`,
      );
    }
  });
}

/** Reads `metrics`: `allow`, a list of addresses and CIDR networks, and `key`, a secret or null. */
export function parseMetrics(node: ConfigNode): MetricsConfig {
  if (node.absent) return { allow: [] };
  node.object(["allow", "key"], "the metrics access");
  const allowNode = node.key("allow");
  const allow = allowNode.absent ? [] : allowNode.items("a list of addresses and networks").map((item) => {
    const entry = item.name();
    if (parseNetwork(entry) === null || entry !== entry.trim()) {
      item.fail(
        `${JSON.stringify(entry)} is not an IP address or CIDR network; write one such as ` +
          `"10.0.0.5", "192.168.1.0/24" or "fd00::/8"`,
      );
    }
    return entry;
  });
  const keyNode = node.key("key");
  if (keyNode.absent || keyNode.value === null) return { allow };
  return { allow, key: bearerKey(keyNode) };
}

/** A bearer key: a secret long enough not to be guessed, in the characters a header can carry. */
function bearerKey(node: ConfigNode): string {
  const key = node.secret();
  if (key.length < MIN_KEY_LENGTH) {
    node.fail(
      `a key needs at least ${MIN_KEY_LENGTH} characters (this one has ${key.length}); ` +
        "make one with: openssl rand -hex 32",
    );
  }
  if (!B64TOKEN.test(key)) {
    node.fail(
      "a key may hold only letters, digits and - . _ ~ + / (then = at the end), so that it can be sent " +
        "as Authorization: Bearer <key>; make one with: openssl rand -hex 32",
    );
  }
  return key;
}
