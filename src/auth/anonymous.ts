/**
 * Anonymous access: no proof asked; the session gets the configured role and its
 * session id as authid.
 *
 * @module
 */

import type { AnonymousConfig, Authenticator, AuthRequest, AuthStep } from "./authenticator.ts";

/** The `anonymous` method. */
export class Anonymous implements Authenticator {
  /** The method name: `anonymous`. */
  readonly method = "anonymous";

  /** Admits sessions under `config.role`. */
  constructor(private readonly config: AnonymousConfig) {}

  /** Admits the session at once. */
  begin(request: AuthRequest): AuthStep {
    return {
      kind: "welcome",
      identity: {
        authid: String(request.session),
        authrole: this.config.role,
        authmethod: this.method,
        authprovider: "static",
      },
    };
  }
}
