/**
 * WAMP v1 authentication, as AutobahnJS 0.8 does it (`ab.launch` with `appkey`
 * and `appsecret`): two calls the router answers itself.
 *
 * 1. `http://api.wamp.ws/procedure#authreq` `(authkey, extra)` → the challenge, a
 *    JSON text (the same one WAMP-CRA sends in v2; for a salted user it carries
 *    `authextra: {salt, keylen, iterations}`, where AutobahnJS 0.8 derives the key
 *    from). `authkey` null asks for anonymous access; the challenge is then null.
 * 2. `http://api.wamp.ws/procedure#auth` `(signature)` → the session's permissions,
 *    `{pubsub: [{uri, prefix, pub, sub}], rpc: [{uri, prefix, call}]}` (plus
 *    `match` for each rule, since v1 knows no wildcards). The signature is the
 *    base64 HMAC-SHA256 of the challenge text, keyed with the secret.
 *
 * The `wampcra` users of the configuration serve v1 and v2 alike. Failures are
 * CALLERRORs: `wamp.error.authentication_failed` (wrong signature, unknown authkey:
 * the same answer), `wamp.error.no_auth_method`, `wamp.error.invalid_argument`.
 *
 * @module
 */

import type { Dict } from "../protocol/messages.ts";
import { ErrorUri } from "../protocol/constants.ts";
import { WampError } from "../protocol/errors.ts";
import type { Authentication } from "./authentication.ts";
import type { AuthStep, Identity } from "./authenticator.ts";
import type { RolePermissions } from "./authorizer.ts";

/** The v1 procedure that starts authentication. */
export const V1_AUTHREQ = "http://api.wamp.ws/procedure#authreq";
/** The v1 procedure that answers the challenge. */
export const V1_AUTH = "http://api.wamp.ws/procedure#auth";

/** The longest authkey accepted. */
const MAX_AUTHKEY_LENGTH = 256;

/** One v1 session's authentication in progress. */
export class V1Handshake {
  #pending: AuthStep | null = null;

  /**
   * Starts nothing yet; {@link request} does.
   * @param auth the router's methods
   * @param session the session id (bound into the challenge)
   * @param realm the realm the session is in
   */
  constructor(
    private readonly auth: Authentication,
    private readonly session: number,
    private readonly realm: string,
  ) {}

  /**
   * `authreq(authkey, extra)`: the challenge text, or null for anonymous.
   * @throws {WampError} for bad arguments or a method that is off
   */
  request(args: readonly unknown[]): string | null {
    const [authkey, extra] = args;
    if (args.length > 2) throw invalid("authreq takes (authkey, extra)");
    if (extra !== undefined && extra !== null && (typeof extra !== "object" || Array.isArray(extra))) {
      throw invalid("authreq's extra must be an object or null");
    }
    if (authkey === undefined || authkey === null) {
      const anonymous = this.auth.methods.get("anonymous");
      if (anonymous === undefined) throw noMethod("anonymous access is off");
      this.#pending = anonymous.begin({ realm: this.realm, authextra: {}, session: this.session });
      return null;
    }
    if (typeof authkey !== "string" || authkey.length > MAX_AUTHKEY_LENGTH) {
      throw invalid(
        `authreq's authkey must be a string of at most ${MAX_AUTHKEY_LENGTH} characters, or null`,
      );
    }
    const cra = this.auth.methods.get("wampcra");
    if (cra === undefined) throw noMethod("WAMP-CRA is off");
    this.#pending = cra.begin({ realm: this.realm, authid: authkey, authextra: {}, session: this.session });
    return this.#pending.kind === "challenge" ? this.#pending.extra.challenge as string : null;
  }

  /**
   * `auth(signature)`: the identity, once the signature (null for anonymous) is right.
   * Every attempt consumes the challenge: a new one needs a new `authreq`.
   * @throws {WampError} `wamp.error.authentication_failed`, or `invalid_argument` for bad arguments
   */
  async answer(args: readonly unknown[], address: string): Promise<Identity> {
    const step = this.#pending;
    this.#pending = null;
    const [signature] = args;
    if (args.length > 1) throw invalid("auth takes (signature)");
    if (step === null) throw failed("call authreq first");
    if (step.kind === "welcome") {
      if (signature !== undefined && signature !== null) throw failed("anonymous access takes no signature");
      return step.identity;
    }
    if (typeof signature !== "string") throw failed("authentication failed");
    const identity = await this.auth.verify(step, signature, {}, address);
    if (identity === null) throw failed("authentication failed");
    return identity;
  }
}

/** The permissions of a role as the v1 `auth` call answers them. */
export function v1Permissions(role: RolePermissions): Dict {
  const pubsub: Dict[] = [];
  const rpc: Dict[] = [];
  for (const p of role.permissions) {
    const prefix = p.match === "prefix";
    pubsub.push({ uri: p.uri, prefix, match: p.match, pub: p.allow.publish, sub: p.allow.subscribe });
    rpc.push({ uri: p.uri, prefix, match: p.match, call: p.allow.call });
  }
  return { pubsub, rpc };
}

function invalid(why: string): WampError {
  return new WampError(ErrorUri.INVALID_ARGUMENT, [why]);
}

function noMethod(why: string): WampError {
  return new WampError(ErrorUri.NO_AUTH_METHOD, [why]);
}

function failed(why: string): WampError {
  return new WampError(ErrorUri.AUTHENTICATION_FAILED, [why]);
}
