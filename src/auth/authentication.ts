/**
 * The authentication methods a router offers, chosen per handshake: the first
 * method in the client's `authmethods` (default `["anonymous"]`) that is
 * configured. Verification goes through the failure throttle.
 *
 * @module
 */

import { Anonymous } from "./anonymous.ts";
import type { AuthConfig, Authenticator, AuthStep, Identity } from "./authenticator.ts";
import { Cryptosign } from "./cryptosign.ts";
import { FailureThrottle } from "./throttle.ts";
import { TicketAuth } from "./ticket.ts";
import { WampCra } from "./wampcra.ts";
import type { Dict } from "../protocol/messages.ts";

/** The router's configured methods. */
export class Authentication {
  /** The configured methods by name. */
  readonly methods: ReadonlyMap<string, Authenticator>;
  /** Delays answers to addresses that keep failing. */
  readonly throttle: FailureThrottle;

  /**
   * Builds the configured methods; a method without principals is off.
   * @param config the methods and their principals
   * @param throttle the failure throttle (tests pass a faster one)
   */
  constructor(config: AuthConfig, throttle: FailureThrottle = new FailureThrottle()) {
    const methods = new Map<string, Authenticator>();
    if (config.anonymous) methods.set("anonymous", new Anonymous(config.anonymous));
    if (config.ticket?.size) methods.set("ticket", new TicketAuth(config.ticket));
    if (config.wampcra?.size) methods.set("wampcra", new WampCra(config.wampcra));
    if (config.cryptosign?.size) methods.set("cryptosign", new Cryptosign(config.cryptosign));
    this.methods = methods;
    this.throttle = throttle;
  }

  /** The first method of `offered` that is configured. */
  choose(offered: readonly string[]): Authenticator | undefined {
    for (const name of offered) {
      const m = this.methods.get(name);
      if (m !== undefined) return m;
    }
    return undefined;
  }

  /**
   * Verifies an answer to a challenge, holding the outcome back as long as the
   * throttle says for `address`; a failure counts against that address.
   */
  async verify(
    step: Extract<AuthStep, { kind: "challenge" }>,
    signature: string,
    extra: Dict,
    address: string,
  ): Promise<Identity | null> {
    const delay = this.throttle.delayFor(address);
    const identity = await step.verify(signature, extra);
    if (identity === null) this.throttle.failed(address);
    if (delay > 0) await new Promise((resolve) => setTimeout(resolve, delay));
    return identity;
  }
}
