/**
 * What WAMP v1 and v2 sessions share: being a participant of a realm over a
 * {@link Peer}, an identity and the role's permissions, the per-session quotas,
 * and releasing everything when the transport closes. The protocol state machines
 * live in `v1.ts` and `v2.ts`.
 *
 * @module
 */

import type { Identity } from "../auth/authenticator.ts";
import { type Action, NO_ROLE, type Permission, type RolePermissions } from "../auth/authorizer.ts";
import type { Codec } from "../codec/codec.ts";
import { ErrorUri, MessageType as T, WsClose } from "../protocol/constants.ts";
import { WampError } from "../protocol/errors.ts";
import type { MatchPolicy } from "../protocol/pattern.ts";
import type { Event, RequestId, RouterMessage } from "../protocol/messages.ts";
import type { Participant } from "../realm/participant.ts";
import type { Realm } from "../realm/realm.ts";
import type { Closable, Router } from "../router.ts";
import { type Quota, quotaExceeded, RateLimiter } from "./limits.ts";
import type { Peer, WireSession } from "./peer.ts";

/** How long shutdown waits for a peer to close before giving up on it. */
const SHUTDOWN_GRACE_MS = 2_000;

/** Base of the network sessions: one per WebSocket connection. */
export abstract class NetworkSession implements Participant, WireSession, Closable {
  #id: number;
  authid: string;
  authrole = "anonymous";
  /** How the session authenticated. */
  authmethod = "anonymous";
  /** Who authenticated it. */
  authprovider = "static";
  acceptsInterrupt = false;
  acceptsRevocation = false;
  /** What the session's role may do in its realm; nothing outside a realm. */
  #permissions: RolePermissions = NO_ROLE;
  /** Made at the first publish or call, so idle sessions carry none. */
  #rate: RateLimiter | null = null;
  /** The realm joined, or null before the handshake and after leaving. */
  protected realm: Realm | null = null;
  /** True once the transport is closed (or we closed it); nothing is sent after. */
  protected ended = false;
  #released = false;
  #closeReason: string | undefined;
  #rateLogged = false;
  readonly #openedAt = Date.now();
  /** Made only when someone waits (at shutdown): an idle session should cost little. */
  #done: PromiseWithResolvers<void> | null = null;

  /**
   * Takes a fresh session id and attaches to the router for shutdown; the realm is joined later.
   * @param router the router the session belongs to
   * @param peer the transport frames are sent on
   * @param codec the serializer for this connection's subprotocol
   */
  constructor(
    protected readonly router: Router,
    protected readonly peer: Peer,
    protected readonly codec: Codec,
  ) {
    this.#id = router.newSessionId();
    this.authid = String(this.#id);
    router.attach(this);
    router.counters.sessionsOpened.add(codec.subprotocol);
  }

  /** The subprotocol spoken: `wamp.2.json` or `wamp`. */
  get protocol(): string {
    return this.codec.subprotocol;
  }

  /** The session id; a new session on the same transport (after GOODBYE) gets a new one. */
  get id(): number {
    return this.#id;
  }

  /** Gives the next session on this transport a fresh id (call only outside any realm). */
  protected renewId(): void {
    this.router.releaseSessionId(this.#id);
    this.#id = this.router.newSessionId();
    this.authid = String(this.#id);
  }

  abstract open(): void;
  abstract receive(frame: string | Uint8Array): void;
  abstract shutdown(): Promise<void> | void;
  abstract kill(reason: string, message?: string): void;

  deliverEvent(event: Event): void {
    if (!this.ended) this.peer.send(this.codec.encodeEvent(event));
  }

  send(message: RouterMessage): void {
    if (this.ended) return;
    this.router.counters.messagesOut[message.type]++;
    const frame = this.codec.encode(message);
    if (frame !== null) this.peer.send(frame);
  }

  closed(why?: string): void {
    if (this.#released) return;
    if (why !== undefined) this.closingBecause(why);
    this.#released = true;
    this.ended = true;
    this.onClosed();
    this.leaveRealm();
    const reason = this.#closeReason ?? "client";
    this.router.counters.sessionsClosed.add(`${this.protocol} ${reason}`);
    this.router.log.info("session closed", {
      session: this.id,
      authid: this.authid,
      authrole: this.authrole,
      protocol: this.protocol,
      remote: this.peer.remoteAddress,
      duration_s: Math.round((Date.now() - this.#openedAt) / 100) / 10,
      reason,
    });
    this.router.releaseSessionId(this.id);
    this.router.detach(this);
    this.#done?.resolve();
  }

  /** Hook for subclasses to stop their timers when the transport closes. */
  protected onClosed(): void {}

  /** Closes the transport; {@link closed} follows when the transport reports it. */
  protected closeTransport(code: number, reason: string): void {
    if (this.ended) return;
    this.#closeReason ??= CLOSE_REASONS[code] ?? `close_${code}`;
    this.ended = true;
    this.leaveRealm();
    this.peer.close(code, truncateReason(reason));
  }

  /** Resolves once the transport has closed, or after a grace period. */
  protected waitClosed(): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const grace = new Promise<void>((resolve) => timer = setTimeout(resolve, SHUTDOWN_GRACE_MS));
    this.#done ??= Promise.withResolvers<void>();
    if (this.#released) this.#done.resolve();
    return Promise.race([this.#done.promise, grace]).finally(() => clearTimeout(timer));
  }

  /** Joins `realm` (v2 after HELLO, v1 as soon as the transport opens). */
  protected enterRealm(realm: Realm): void {
    this.realm = realm;
    this.#permissions = realm.authorizer.role(this.authrole);
    realm.join(this);
    this.router.log.info("session opened", {
      session: this.id,
      realm: realm.name,
      authid: this.authid,
      authrole: this.authrole,
      authmethod: this.authmethod,
      protocol: this.protocol,
      remote: this.peer.remoteAddress,
    });
  }

  /** Why the session is closing, for the metrics and the log; the first reason given stays. */
  protected closingBecause(reason: string): void {
    this.#closeReason ??= reason;
  }

  /** Counts (and logs) a failed authentication by `method`. */
  protected authFailed(method: string): void {
    this.router.counters.authenticationFailures++;
    this.router.counters.authFailures.add(method);
    this.router.log.info("authentication failed", {
      session: this.id,
      authmethod: method,
      remote: this.peer.remoteAddress,
    });
  }

  /**
   * Why `identity` may not be in `realm`, or null when it may: a principal bound
   * to another realm fails like a wrong secret; a role the realm lacks is named.
   */
  protected refusal(realm: Realm, identity: Identity): WampError | null {
    if (identity.realm !== undefined && identity.realm !== realm.name) {
      return new WampError(ErrorUri.AUTHENTICATION_FAILED, ["authentication failed"]);
    }
    if (!realm.authorizer.has(identity.authrole)) {
      return new WampError(ErrorUri.NO_SUCH_ROLE, [
        `role ${JSON.stringify(identity.authrole)} is not defined on realm ${realm.name}`,
      ]);
    }
    return null;
  }

  /** Takes on an authenticated identity (and its role's permissions, once in a realm). */
  protected adopt(identity: Identity): void {
    this.authid = identity.authid;
    this.authrole = identity.authrole;
    this.authmethod = identity.authmethod;
    this.authprovider = identity.authprovider;
    this.#permissions = this.realm?.authorizer.role(identity.authrole) ?? NO_ROLE;
  }

  /**
   * The permission that lets this session do `action` on `uri`.
   * @throws {WampError} `wamp.error.not_authorized` (counted)
   */
  protected permit(action: Action, uri: string): Permission {
    const p = this.#permissions.lookup(uri);
    if (p !== null && p.allow[action]) return p;
    this.router.counters.notAuthorized++;
    throw new WampError(ErrorUri.NOT_AUTHORIZED, [
      `role ${JSON.stringify(this.authrole)} may not ${action} ${uri}`,
    ]);
  }

  /**
   * The permission that lets this session do `action` on every URI `uri` matches
   * under `match` (see {@link RolePermissions.lookupPattern}).
   * @throws {WampError} `wamp.error.not_authorized` (counted)
   */
  protected permitPattern(action: Action, uri: string, match: MatchPolicy): Permission {
    if (match === "exact") return this.permit(action, uri);
    const p = this.#permissions.lookupPattern({ uri, match }, action);
    if (p !== null) return p;
    this.router.counters.notAuthorized++;
    throw new WampError(ErrorUri.NOT_AUTHORIZED, [
      `role ${JSON.stringify(this.authrole)} may not ${action} every URI the ${match} pattern ${uri} matches`,
    ]);
  }

  /** The call timeout, in ms, for a call whose options set none (0: none). */
  protected get defaultCallTimeoutMs(): number {
    return this.router.limits.callTimeout * 1000;
  }

  /**
   * Takes one publish-or-call token from the session's rate.
   * @throws {WampError} `tuerca.error.rate_limited` (counted)
   */
  protected spend(): void {
    const limits = this.router.limits;
    if (limits.rate <= 0) return;
    this.#rate ??= new RateLimiter(limits.rate, limits.burst);
    if (this.#rate.take()) return;
    this.router.counters.rateLimited++;
    if (!this.#rateLogged) {
      // Once per session: a flood of refused publishes must not become a flood of lines.
      this.#rateLogged = true;
      this.router.log.info("rate limited", {
        session: this.id,
        authid: this.authid,
        remote: this.peer.remoteAddress,
      });
    }
    throw this.#rate.error();
  }

  /**
   * Checks that one more `quota` item fits, given `held` of them now.
   * @throws {WampError} `tuerca.error.quota_exceeded` (counted)
   */
  protected fits(quota: Quota, held: number): void {
    const limit = this.router.limits[quota];
    if (limit <= 0 || held < limit) return;
    this.router.counters.quotaExceeded++;
    this.router.log.info("quota hit", { session: this.id, authid: this.authid, quota, limit });
    throw quotaExceeded(quota, limit);
  }

  /** Leaves the realm, if in one; the realm drops this session's subscriptions, registrations and calls. */
  protected leaveRealm(): void {
    const realm = this.realm;
    if (realm === null) return;
    this.realm = null;
    realm.leave(this);
  }

  /**
   * Answers a failed request with ERROR (CALLERROR in v1). Anything but a
   * {@link WampError} is a bug and propagates.
   */
  protected requestError(requestType: number, request: RequestId, e: unknown): void {
    if (!(e instanceof WampError)) throw e;
    this.router.counters.errors.add(e.uri);
    this.send({
      type: T.ERROR,
      requestType,
      request,
      details: {},
      error: e.uri,
      args: e.args,
      kwargs: e.kwargs,
    });
  }
}

/** The close reason the metrics and the log give for each close code the router sends. */
const CLOSE_REASONS: Record<number, string> = {
  [WsClose.NORMAL]: "normal",
  [WsClose.GOING_AWAY]: "shutdown",
  [WsClose.PROTOCOL_ERROR]: "protocol_violation",
  [WsClose.INVALID_PAYLOAD]: "invalid_payload",
  [WsClose.POLICY_VIOLATION]: "policy",
  [WsClose.MESSAGE_TOO_BIG]: "too_big",
};

/** WebSocket close reasons are limited to 123 bytes of UTF-8. */
export function truncateReason(reason: string): string {
  const bytes = new TextEncoder().encode(reason);
  if (bytes.length <= 123) return reason;
  let cut = 120;
  while (cut > 0 && (bytes[cut] & 0xc0) === 0x80) cut--;
  return new TextDecoder().decode(bytes.subarray(0, cut)) + "...";
}
