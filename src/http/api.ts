/**
 * The HTTP publish and call API, in the shapes of Crossbar.io's HTTP bridge:
 *
 * - `POST /publish` `{"topic", "args"?, "kwargs"?, "options"?}` → 200 `{"id": publication}`
 * - `POST /call` `{"procedure", "args"?, "kwargs"?, "options"?}` → 200 `{"args", "kwargs"}`
 *
 * Every failure answers `{"error": uri, "args": [reason], "kwargs": {…}}` with the
 * status {@link httpStatusOf} gives the URI: a WAMP error of the call as the
 * callee or the router raised it, or the request's own (401 without a valid key,
 * 400 naming the field that is wrong, 413 over the size limit, ...).
 *
 * A request is authenticated by `Authorization: Bearer <key>` with a key of the
 * configuration's `http-api.keys`, compared in constant time; wrong keys count
 * against the address in the authentication failure throttle, as wrong WAMP
 * secrets do. Each key acts through an in-process session of its own (authid
 * `http:<name>`, its role, its realm), so subscribers and callees see it as they
 * see any session, and it is authorized exactly like one: the role's permissions
 * decide, its forced disclosure applies, and the per-session rate and calls in
 * flight bound it.
 *
 * @module
 */

import { ConfigError } from "../config/node.ts";
import { LIST_OPTIONS } from "../realm/publish_filter.ts";
import { Hono } from "hono";
import type { Action, Permission, RolePermissions } from "../auth/authorizer.ts";
import { sameSecret } from "../auth/secrets.ts";
import type { HttpApiConfig } from "../config/http_api.ts";
import { ErrorUri, TuercaErrorUri } from "../protocol/constants.ts";
import { WampError } from "../protocol/errors.ts";
import type { Dict } from "../protocol/messages.ts";
import { checkUri } from "../protocol/uri.ts";
import type { Router } from "../router.ts";
import { quotaExceeded, RateLimiter } from "../session/limits.ts";
import { LocalSession } from "../session/local.ts";

/** The paths the API answers (everything else is the pages'). */
export const HTTP_API_PATHS: readonly string[] = ["/publish", "/call"];

/** Error URIs of the HTTP requests themselves, outside WAMP. */
export const HttpErrorUri = {
  /** Anything but POST. */
  METHOD_NOT_ALLOWED: "tuerca.error.method_not_allowed",
  /** A body that says it is not JSON, or not UTF-8. */
  UNSUPPORTED_MEDIA_TYPE: "tuerca.error.unsupported_media_type",
} as const;

/** The HTTP status of each error URI; any other (an application's own error) is 500. */
const STATUS = new Map<string, number>([
  [ErrorUri.INVALID_ARGUMENT, 400],
  [ErrorUri.INVALID_URI, 400],
  [ErrorUri.AUTHENTICATION_FAILED, 401],
  [ErrorUri.NOT_AUTHORIZED, 403],
  ["wamp.error.authorization_failed", 403],
  [ErrorUri.NO_SUCH_PROCEDURE, 404],
  [ErrorUri.NO_SUCH_REGISTRATION, 404],
  [ErrorUri.NO_SUCH_SUBSCRIPTION, 404],
  [ErrorUri.NO_SUCH_SESSION, 404],
  [ErrorUri.NO_SUCH_REALM, 404],
  [HttpErrorUri.METHOD_NOT_ALLOWED, 405],
  [ErrorUri.PAYLOAD_SIZE_EXCEEDED, 413],
  [HttpErrorUri.UNSUPPORTED_MEDIA_TYPE, 415],
  [TuercaErrorUri.QUOTA_EXCEEDED, 429],
  [TuercaErrorUri.RATE_LIMITED, 429],
  [ErrorUri.RUNTIME_ERROR, 500],
  [ErrorUri.CANCELED, 502],
  [ErrorUri.TIMEOUT, 504],
]);

/**
 * The HTTP status a WAMP error is answered with: 400 for invalid arguments and
 * URIs, 401 authentication, 403 not authorized, 404 no such procedure (or other
 * `no_such_*`), 413 too large, 429 quotas and rate, 500 runtime errors and any
 * error URI of an application's own, 502 canceled (the callee left), 504 timeout.
 *
 * @example
 * ```ts
 * httpStatusOf("wamp.error.no_such_procedure"); // 404
 * httpStatusOf("com.example.error.out_of_stock"); // 500
 * ```
 */
export function httpStatusOf(uri: string): number {
  return STATUS.get(uri) ?? 500;
}

/** The publish options the API passes on: WAMP's, less those about the publisher's own subscriptions. */
const PUBLISH_OPTIONS = ["acknowledge", "disclose_me", "retain", ...LIST_OPTIONS] as const;

/** The call options the API honours. */
const CALL_OPTIONS = ["timeout", "disclose_me"] as const;

/** One configured key and the session it acts through. */
interface KeyState {
  readonly key: string;
  readonly session: LocalSession;
  readonly permissions: RolePermissions;
  rate: RateLimiter | null;
}

/** The HTTP publish and call API of one server; built by {@link httpApi}. */
export class HttpApi {
  readonly #router: Router;
  readonly #keys: KeyState[];
  readonly #callTimeoutMs: number;
  readonly #app = new Hono<{ Bindings: { address: string } }>();
  #closed = false;

  /**
   * Opens one in-process session per key, in its realm and with its role.
   * @throws {Error} naming the key when its realm or role does not exist on the router
   *   (the configuration's realms were replaced by `--realm`)
   */
  constructor(router: Router, config: HttpApiConfig) {
    this.#router = router;
    this.#callTimeoutMs = config.callTimeout * 1000;
    const keys: KeyState[] = [];
    try {
      config.keys.forEach((k, i) => {
        const where = `http-api.keys[${i}]`;
        const realm = k.realm === undefined ? router.defaultRealm : router.realm(k.realm);
        // Only reachable when --realm replaced the file's realms, which the file's own checks cannot see.
        if (realm === undefined) {
          throw new ConfigError("the configuration", `${where}.realm`, `the server has no realm ${k.realm}`);
        }
        if (!realm.authorizer.has(k.role)) {
          throw new ConfigError(
            "the configuration",
            `${where}.role`,
            `role ${JSON.stringify(k.role)} is not defined on realm ${realm.name}`,
          );
        }
        const session = new LocalSession(router, realm.name, undefined, {
          authid: `http:${k.name}`,
          authrole: k.role,
        });
        keys.push({ key: k.key, session, permissions: realm.authorizer.role(k.role), rate: null });
      });
    } catch (e) {
      for (const k of keys) k.session.close();
      throw e;
    }
    this.#keys = keys;
    for (const [path, action] of [["/publish", "publish"], ["/call", "call"]] as const) {
      this.#app.post(path, (c) => this.#serve(c.req.raw, c.env.address, action));
      this.#app.all(path, () =>
        failure(
          new WampError(HttpErrorUri.METHOD_NOT_ALLOWED, [`${path} takes POST with a JSON body`]),
          { allow: "POST" },
        ));
    }
  }

  /** Whether `path` is one of the API's. */
  handles(path: string): boolean {
    return HTTP_API_PATHS.includes(path);
  }

  /**
   * Answers a request to one of the API's paths.
   * @param request the request
   * @param address the client's address, for the failure throttle
   */
  fetch(request: Request, address: string): Response | Promise<Response> {
    return this.#app.fetch(request, { address });
  }

  /** Closes the keys' sessions; calls still waiting are answered 503. Idempotent. */
  close(): void {
    this.#closed = true;
    for (const k of this.#keys) k.session.close();
  }

  async #serve(request: Request, address: string, action: "publish" | "call"): Promise<Response> {
    const token = bearerToken(request.headers.get("authorization"));
    if (token === null) {
      return unauthorized("send the key as Authorization: Bearer <key>", 'Bearer realm="tuerca"');
    }
    const throttle = this.#router.authentication.throttle;
    const delay = throttle.delayFor(address);
    // Every key is compared, so the time taken says nothing about which one came close.
    let key: KeyState | null = null;
    for (const k of this.#keys) if (sameSecret(token, k.key) && key === null) key = k;
    if (key === null) {
      throttle.failed(address);
      this.#router.counters.authenticationFailures++;
    }
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    if (key === null) {
      return unauthorized("the key is not valid", 'Bearer realm="tuerca", error="invalid_token"');
    }
    if (this.#closed) {
      return failure(new WampError(ErrorUri.CANCELED, ["the server is shutting down"]), {}, 503);
    }
    try {
      const body = await readJsonObject(request, this.#router.maxMessageSize);
      return action === "publish" ? this.#publish(key, body) : await this.#call(key, body);
    } catch (e) {
      if (!(e instanceof WampError)) throw e;
      // A call the closing server canceled: its local session says "closed"; the client learns why.
      if (this.#closed && e.uri === ErrorUri.CANCELED) {
        return failure(new WampError(ErrorUri.CANCELED, ["the server is shutting down"]), {}, 503);
      }
      const headers: Record<string, string> = e.uri === TuercaErrorUri.RATE_LIMITED
        ? { "retry-after": "1" }
        : {};
      return failure(e, headers);
    }
  }

  #publish(key: KeyState, body: Dict): Response {
    fields(body, ["topic", "args", "kwargs", "options"]);
    const topic = uriField(body, "topic");
    const args = listField(body, "args");
    const kwargs = dictField(body, "kwargs");
    const options = dictField(body, "options");
    fields(options, PUBLISH_OPTIONS, "options");
    for (const flag of ["acknowledge", "disclose_me", "retain"]) booleanField(options, flag, "options");
    this.#spend(key);
    checkUri(topic, "topic", false);
    const permission = this.#permit(key, "publish", topic);
    const wire: Dict = {};
    for (const name of PUBLISH_OPTIONS) if (options[name] !== undefined) wire[name] = options[name];
    const disclose = permission.disclose.publisher || options.disclose_me === true;
    const id = key.session.realm.broker.publish(
      key.session,
      { topic, args, kwargs, options: wire },
      disclose,
    );
    return options.acknowledge === false ? json({}, 202) : json({ id }, 200);
  }

  async #call(key: KeyState, body: Dict): Promise<Response> {
    fields(body, ["procedure", "args", "kwargs", "options"]);
    const procedure = uriField(body, "procedure");
    const args = listField(body, "args");
    const kwargs = dictField(body, "kwargs");
    const options = dictField(body, "options");
    fields(options, CALL_OPTIONS, "options");
    booleanField(options, "disclose_me", "options");
    const asked = options.timeout;
    if (asked !== undefined && (typeof asked !== "number" || !Number.isSafeInteger(asked) || asked < 0)) {
      throw invalid("options.timeout", "expected the call timeout in ms: a whole number, 0 or more");
    }
    const timeoutMs = asked === undefined || asked === 0
      ? this.#callTimeoutMs
      : Math.min(asked, this.#callTimeoutMs);
    this.#spend(key);
    checkUri(procedure, "procedure", true);
    const permission = this.#permit(key, "call", procedure);
    const dealer = key.session.realm.dealer;
    const limit = this.#router.limits.pendingCalls;
    if (limit > 0 && dealer.pendingCountOf(key.session) >= limit) {
      this.#router.counters.quotaExceeded++;
      throw quotaExceeded("pendingCalls", limit);
    }
    const disclose = permission.disclose.caller || options.disclose_me === true;
    // A client that hangs up does not cancel the call (Deno tells a handler of that only through
    // request.signal's legacy behaviour): the call ends with its answer or its timeout.
    const result = await key.session.call(procedure, args, kwargs, { timeoutMs, disclose });
    return json({ args: result.args, kwargs: result.kwargs }, 200);
  }

  /** Takes one publish-or-call token from the key's rate (the per-session rate). */
  #spend(key: KeyState): void {
    const limits = this.#router.limits;
    if (limits.rate <= 0) return;
    key.rate ??= new RateLimiter(limits.rate, limits.burst);
    if (key.rate.take()) return;
    this.#router.counters.rateLimited++;
    throw key.rate.error();
  }

  /** The permission that lets the key's role do `action` on `uri`; counted and refused otherwise. */
  #permit(key: KeyState, action: Action, uri: string): Permission {
    const p = key.permissions.lookup(uri);
    if (p !== null && p.allow[action]) return p;
    this.#router.counters.notAuthorized++;
    throw new WampError(ErrorUri.NOT_AUTHORIZED, [
      `role ${JSON.stringify(key.permissions.name)} may not ${action} ${uri}`,
    ]);
  }
}

/**
 * The HTTP API for `config`, or null when it has no keys (the API is off and its
 * paths are the pages', which answer 404).
 * @throws {Error} naming the key when its realm or role does not exist on the router
 */
export function httpApi(router: Router, config: HttpApiConfig | undefined): HttpApi | null {
  return config === undefined || config.keys.length === 0 ? null : new HttpApi(router, config);
}

/** The token of `Authorization: Bearer <token>`, or null. */
function bearerToken(header: string | null): string | null {
  const m = header === null ? null : /^Bearer +([^\s]+) *$/i.exec(header);
  return m === null ? null : m[1];
}

/**
 * Reads the body as one JSON object, never holding more than `limit` bytes of it.
 * @throws {WampError} 413 over the limit, 415 not JSON, 400 not a JSON object
 */
async function readJsonObject(request: Request, limit: number): Promise<Dict> {
  const type = request.headers.get("content-type");
  if (type !== null) {
    const [media, ...params] = type.split(";").map((p) => p.trim().toLowerCase());
    const charset = params.find((p) => p.startsWith("charset="))?.slice(8).replace(/"/g, "");
    if (
      media !== "application/json" || (charset !== undefined && charset !== "utf-8" && charset !== "utf8")
    ) {
      throw new WampError(HttpErrorUri.UNSUPPORTED_MEDIA_TYPE, [
        `the body must be JSON in UTF-8 (Content-Type: application/json), not ${type.slice(0, 100)}`,
      ]);
    }
  }
  const length = request.headers.get("content-length");
  if (length !== null) {
    if (!/^\d+$/.test(length.trim())) throw invalid("(body)", "the Content-Length header is not a number");
    if (Number(length) > limit) throw tooLarge(limit);
  }
  const bytes = await readAtMost(request, limit);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: false }).decode(bytes);
  } catch {
    throw invalid("(body)", "the body is not valid UTF-8");
  }
  if (text.trim() === "") throw invalid("(body)", "the body is empty; send a JSON object");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw invalid("(body)", `the body is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    throw invalid("(body)", `expected a JSON object, got ${describe(value)}`);
  }
  return value as Dict;
}

/** The body's bytes; stops reading, and fails, as soon as they pass `limit`. */
async function readAtMost(request: Request, limit: number): Promise<Uint8Array> {
  if (request.body === null) return new Uint8Array(0);
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await reader.cancel().catch(() => {});
      throw tooLarge(limit);
    }
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    bytes.set(c, at);
    at += c.byteLength;
  }
  return bytes;
}

function tooLarge(limit: number): WampError {
  return new WampError(ErrorUri.PAYLOAD_SIZE_EXCEEDED, [`the body is larger than ${limit} bytes`], { limit });
}

/** A request that is wrong at `field`. */
function invalid(field: string, problem: string): WampError {
  return new WampError(ErrorUri.INVALID_ARGUMENT, [field === "(body)" ? problem : `${field}: ${problem}`], {
    field,
  });
}

/** Checks that `object` holds only `known` keys. */
function fields(object: Dict, known: readonly string[], prefix?: string): void {
  for (const k of Object.keys(object)) {
    if (!known.includes(k)) {
      const field = prefix === undefined ? k : `${prefix}.${k}`;
      throw invalid(field, `unknown field; the fields here are ${known.join(", ")}`);
    }
  }
}

function uriField(body: Dict, name: string): string {
  const value = body[name];
  if (typeof value !== "string") throw invalid(name, `expected a URI string, got ${describe(value)}`);
  return value;
}

/** A list; absent or null is empty (as Crossbar reads it). */
function listField(body: Dict, name: string): unknown[] {
  const value = body[name];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) throw invalid(name, `expected a JSON array, got ${describe(value)}`);
  return value;
}

/** An object; absent or null is empty. */
function dictField(body: Dict, name: string): Dict {
  const value = body[name];
  if (value === undefined || value === null) return {};
  if (typeof value !== "object" || Array.isArray(value)) {
    throw invalid(name, `expected a JSON object, got ${describe(value)}`);
  }
  return value as Dict;
}

function booleanField(object: Dict, name: string, prefix: string): void {
  const value = object[name];
  if (value !== undefined && typeof value !== "boolean") {
    throw invalid(`${prefix}.${name}`, `expected true or false, got ${describe(value)}`);
  }
}

function describe(value: unknown): string {
  if (value === undefined) return "nothing (the field is missing)";
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  return typeof value === "object" ? "an object" : `${typeof value} ${JSON.stringify(value).slice(0, 60)}`;
}

function json(body: unknown, status: number, headers: Record<string, string> = {}): Response {
  let text: string;
  try {
    text = JSON.stringify(body);
  } catch {
    // A result nested too deep for JSON.stringify.
    return failure(new WampError(ErrorUri.RUNTIME_ERROR, ["the result cannot be written as JSON"]));
  }
  return new Response(text, {
    status,
    headers: { "content-type": "application/json; charset=utf-8", "cache-control": "no-store", ...headers },
  });
}

/** A WAMP error as the API answers it. */
function failure(e: WampError, headers: Record<string, string> = {}, status?: number): Response {
  return json({ error: e.uri, args: e.args, kwargs: e.kwargs ?? {} }, status ?? httpStatusOf(e.uri), headers);
}

function unauthorized(why: string, challenge: string): Response {
  return failure(new WampError(ErrorUri.AUTHENTICATION_FAILED, [why]), { "www-authenticate": challenge });
}
