/**
 * Ticket authentication: the client sends a pre-agreed secret in AUTHENTICATE
 * (`[4, "ticket", {}]` → `[5, ticket, {}]`). The ticket travels in clear text, so
 * use it over TLS.
 *
 * @module
 */

import {
  type Authenticator,
  type AuthRequest,
  type AuthStep,
  staticIdentity,
  type TicketPrincipal,
} from "./authenticator.ts";
import { sameSecret, standIn } from "./secrets.ts";

/** The `ticket` method with static principals. */
export class TicketAuth implements Authenticator {
  /** The method name: `ticket`. */
  readonly method = "ticket";

  /** Authenticates against `principals` (by authid). */
  constructor(private readonly principals: ReadonlyMap<string, TicketPrincipal>) {}

  /** Asks for the ticket; an unknown authid is asked too, and fails like a wrong ticket. */
  begin(request: AuthRequest): AuthStep {
    const authid = request.authid ?? "";
    const principal = this.principals.get(authid);
    const expected = principal?.ticket ?? standIn(`ticket:${authid}`);
    return {
      kind: "challenge",
      extra: {},
      verify: (signature) => {
        const match = sameSecret(signature, expected);
        return Promise.resolve(
          match && principal !== undefined ? staticIdentity(authid, this.method, principal) : null,
        );
      },
    };
  }
}
