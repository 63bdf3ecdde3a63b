/**
 * The seam between a session's handshake and the authentication methods. A
 * method looks at what HELLO asked for and either admits the session at once
 * (anonymous) or sends a challenge and later verifies the answer (ticket,
 * wampcra, cryptosign). Methods never reveal whether an authid exists: an unknown
 * one is challenged like a known one and fails like a wrong secret.
 *
 * @module
 */

import type { Dict } from "../protocol/messages.ts";

/** Who a session turned out to be. */
export interface Identity {
  /** The authentication id (user name, principal). */
  authid: string;
  /** The role, which decides what the session may do. */
  authrole: string;
  /** The method that authenticated it: `anonymous`, `ticket`, `wampcra`, `cryptosign`. */
  authmethod: string;
  /** Where the identity came from; `static` for the configuration file. */
  authprovider: string;
  /** When set, the principal may only join this realm. */
  realm?: string;
}

/** What the handshake asked for. */
export interface AuthRequest {
  /** The realm named in HELLO. */
  realm: string;
  /** HELLO.Details.authid, when given. */
  authid?: string;
  /** HELLO.Details.authextra (cryptosign's `pubkey`), or an empty dict. */
  authextra: Dict;
  /** The session id the session will have once admitted. */
  session: number;
}

/** The next step of a handshake. */
export type AuthStep =
  | { kind: "welcome"; identity: Identity }
  | {
    kind: "challenge";
    /** CHALLENGE.Extra for the client. */
    extra: Dict;
    /** Checks AUTHENTICATE.Signature; the identity, or null for any failure. */
    verify(signature: string, extra: Dict): Promise<Identity | null>;
  };

/** One authentication method. */
export interface Authenticator {
  /** The method's name in HELLO.Details.authmethods and CHALLENGE.AuthMethod. */
  readonly method: string;
  /** Starts authenticating a session that asked for this method. */
  begin(request: AuthRequest): AuthStep;
}

/** Anonymous access and the role it gives. */
export interface AnonymousConfig {
  /** The role anonymous sessions get. */
  role: string;
}

/** What every configured principal has. */
export interface PrincipalBase {
  /** The role the principal gets. */
  role: string;
  /** When set, the only realm the principal may join. */
  realm?: string;
}

/** A ticket principal. */
export interface TicketPrincipal extends PrincipalBase {
  /** The ticket (password) the client presents. */
  ticket: string;
}

/** A WAMP-CRA user. */
export interface CraUser extends PrincipalBase {
  /**
   * The shared secret. For a salted user this is the derived key (the base64 text
   * of PBKDF2-SHA256 of the password), as in Crossbar.io, so the password itself
   * is never stored.
   */
  secret: string;
  /** PBKDF2 salt; the user is salted when set. */
  salt?: string;
  /** PBKDF2 iterations (salted users; default 1000, as autobahn's). */
  iterations?: number;
  /** PBKDF2 key length in bytes (salted users; default 32, as autobahn's). */
  keylen?: number;
}

/** A WAMP-Cryptosign principal. */
export interface CryptosignPrincipal extends PrincipalBase {
  /** Ed25519 public keys (64 hex digits each) the principal may sign with. */
  authorizedKeys: string[];
}

/** The configured authentication methods; a method that is absent is off. */
export interface AuthConfig {
  /** Anonymous access, when on. */
  anonymous?: AnonymousConfig;
  /** Ticket principals by authid. */
  ticket?: Map<string, TicketPrincipal>;
  /** WAMP-CRA users by authid. */
  wampcra?: Map<string, CraUser>;
  /** Cryptosign principals by authid. */
  cryptosign?: Map<string, CryptosignPrincipal>;
}

/** The authentication of a server without a configuration file: anonymous, as the `anonymous` role. */
export const DEFAULT_AUTH: AuthConfig = { anonymous: { role: "anonymous" } };

/** The identity every configured method gives: `static` provider, the principal's role and realm. */
export function staticIdentity(authid: string, method: string, principal: PrincipalBase): Identity {
  const identity: Identity = { authid, authrole: principal.role, authmethod: method, authprovider: "static" };
  if (principal.realm !== undefined) identity.realm = principal.realm;
  return identity;
}
