/**
 * WAMP-CRA, challenge-response with a shared secret. The router sends a JSON
 * challenge; the client answers with the base64 HMAC-SHA256 of it, keyed with the
 * secret. For a salted user the key is the base64 text of PBKDF2-SHA256(password,
 * salt, iterations, keylen), exactly as autobahn's `auth_cra.derive_key` computes
 * it; the configuration holds that derived key, never the password (as
 * Crossbar.io does).
 *
 * The same users serve WAMP v1 (AutobahnJS 0.8's RPC handshake, see `v1_cra.ts`):
 * the challenge text carries `authextra` with the salt parameters, where
 * AutobahnJS 0.8 looks for them.
 *
 * @module
 */

import type { Dict } from "../protocol/messages.ts";
import {
  type Authenticator,
  type AuthRequest,
  type AuthStep,
  type CraUser,
  staticIdentity,
} from "./authenticator.ts";
import { hmacBase64, randomHex, sameSecret, standIn } from "./secrets.ts";

/** autobahn's PBKDF2 defaults, used when a salted user leaves them out. */
const DEFAULT_ITERATIONS = 1000;
const DEFAULT_KEYLEN = 32;

/** The `wampcra` method with static users. */
export class WampCra implements Authenticator {
  /** The method name: `wampcra`. */
  readonly method = "wampcra";
  /** What an unknown authid is challenged like: the first user's role and salting. */
  readonly #template: CraUser | undefined;

  /** Authenticates against `users` (by authid). */
  constructor(private readonly users: ReadonlyMap<string, CraUser>) {
    this.#template = [...users.values()].find((u) => u.salt !== undefined) ?? users.values().next().value;
  }

  /**
   * Challenges the session. An unknown authid gets a challenge of the same shape
   * (a stand-in salt that stays the same for that authid) and then fails like a
   * wrong signature.
   */
  begin(request: AuthRequest): AuthStep {
    const authid = request.authid ?? "";
    const user = this.users.get(authid);
    const like = user ?? this.#standInUser(authid);
    const salting = like.salt === undefined ? undefined : {
      salt: like.salt,
      keylen: like.keylen ?? DEFAULT_KEYLEN,
      iterations: like.iterations ?? DEFAULT_ITERATIONS,
    };
    const challengeObject: Dict = {
      authid,
      authrole: like.role,
      authmethod: this.method,
      authprovider: "static",
      nonce: randomHex(16),
      timestamp: new Date().toISOString(),
      session: request.session,
    };
    if (salting !== undefined) challengeObject.authextra = salting;
    const challenge = JSON.stringify(challengeObject);
    const expected = hmacBase64(like.secret, challenge);
    return {
      kind: "challenge",
      extra: { challenge, ...salting },
      verify: (signature) => {
        const match = sameSecret(signature, expected);
        return Promise.resolve(
          match && user !== undefined ? staticIdentity(authid, this.method, user) : null,
        );
      },
    };
  }

  #standInUser(authid: string): CraUser {
    const t = this.#template;
    return {
      role: t?.role ?? "anonymous",
      secret: standIn(`wampcra-secret:${authid}`, 32),
      salt: t?.salt === undefined ? undefined : standIn(`wampcra-salt:${authid}`, 9),
      iterations: t?.iterations,
      keylen: t?.keylen,
    };
  }
}
