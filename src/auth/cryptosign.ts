/**
 * WAMP-Cryptosign: the client proves it holds an Ed25519 private key. HELLO
 * carries the public key (`authextra.pubkey`, 64 hex digits) and, optionally, the
 * authid; the router sends 32 random bytes (`challenge`, hex); the client answers
 * with the hex of the 64-byte signature followed by the 32 bytes it signed, as
 * autobahn's `auth_cryptosign.sign_challenge` does. Verified with WebCrypto.
 *
 * A principal is found by authid, or, when HELLO gives none, by its public key.
 * TLS channel binding is not supported: `channel_binding` is always null.
 *
 * @module
 */

import {
  type Authenticator,
  type AuthRequest,
  type AuthStep,
  type CryptosignPrincipal,
  staticIdentity,
} from "./authenticator.ts";
import { randomHex } from "./secrets.ts";

const HEX_KEY = /^[0-9a-f]{64}$/;
const HEX_SIGNED = /^[0-9a-f]{192}$/;

/** A public key that belongs to nobody, verified against when the client's is unusable. */
const NOBODY_KEY = "3d4017c3e843895a92b70aa74d1b7ebc9c982ccf2ec4968cc0cd55f12af4660c";

/** The `cryptosign` method with static principals. */
export class Cryptosign implements Authenticator {
  /** The method name: `cryptosign`. */
  readonly method = "cryptosign";
  readonly #byKey = new Map<string, string>();

  /** Authenticates against `principals` (by authid, each with its authorized keys). */
  constructor(private readonly principals: ReadonlyMap<string, CryptosignPrincipal>) {
    for (const [authid, p] of principals) {
      for (const key of p.authorizedKeys) this.#byKey.set(key.toLowerCase(), authid);
    }
  }

  /** Sends 32 random bytes to sign; an unknown key or authid is challenged too and fails at verification. */
  begin(request: AuthRequest): AuthStep {
    const offered = typeof request.authextra.pubkey === "string"
      ? request.authextra.pubkey.toLowerCase()
      : "";
    const pubkey = HEX_KEY.test(offered) ? offered : null;
    const authid = request.authid ?? (pubkey === null ? undefined : this.#byKey.get(pubkey));
    const principal = authid === undefined ? undefined : this.principals.get(authid);
    const known = principal !== undefined && pubkey !== null &&
      principal.authorizedKeys.some((k) => k.toLowerCase() === pubkey);
    const challenge = randomHex(32);
    return {
      kind: "challenge",
      extra: { challenge, channel_binding: null },
      verify: async (signature) => {
        const valid = await verifySigned(pubkey ?? NOBODY_KEY, challenge, signature.toLowerCase());
        return valid && known ? staticIdentity(authid!, this.method, principal!) : null;
      },
    };
  }
}

/** Whether `signed` is hex of a valid Ed25519 signature by `pubkey` over `challenge`, followed by `challenge`. */
async function verifySigned(pubkey: string, challenge: string, signed: string): Promise<boolean> {
  const wellFormed = HEX_SIGNED.test(signed) && signed.slice(128) === challenge;
  const bytes = wellFormed ? fromHex(signed) : new Uint8Array(96);
  try {
    const key = await crypto.subtle.importKey("raw", fromHex(pubkey), { name: "Ed25519" }, false, ["verify"]);
    const ok = await crypto.subtle.verify(
      { name: "Ed25519" },
      key,
      bytes.subarray(0, 64),
      fromHex(challenge),
    );
    return ok && wellFormed;
  } catch {
    // Not a point on the curve, for instance: no key, no match.
    return false;
  }
}

function fromHex(hex: string): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}
