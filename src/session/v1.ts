/**
 * A WAMP v1 session: the protocol of AutobahnJS 0.8 and Ratchet. It joins the
 * router's default realm as soon as the socket opens and shares its topics and
 * procedures with v2 sessions.
 *
 * Identity: the session starts with the anonymous role when anonymous access is
 * on; it may authenticate with AutobahnJS 0.8's WAMP-CRA calls (see
 * `auth/v1_cra.ts`) and then has its user's role. With anonymous access off it may
 * do nothing but authenticate, and is closed with 1008 if it has not within the
 * HELLO timeout.
 *
 * v1 has no error message for PUBLISH, SUBSCRIBE or UNSUBSCRIBE, so, like
 * Ratchet, anything we cannot act on closes the connection with 1007 and a reason:
 * a frame that is not JSON or not an array, an unknown or server-only type id,
 * wrong field types, an invalid topic URI (or a reserved `wamp.` one to publish to), a call id reused while its
 * call is in flight, too many or too large CURIE prefixes. A SUBSCRIBE or PUBLISH
 * the role does not permit, or over a quota or the rate, is dropped and counted.
 * CALL errors are answered with CALLERROR (an unknown procedure too: Ratchet
 * stayed silent, we do not).
 *
 * @module
 */

import type { Frame } from "../codec/codec.ts";
import { describeSize, exceedsSize, ProtocolError } from "../codec/codec.ts";
import { wampV1Json } from "../codec/v1_json.ts";
import { V1_AUTH, V1_AUTHREQ, V1Handshake, v1Permissions } from "../auth/v1_cra.ts";
import { ErrorUri, MessageType as T, WsClose } from "../protocol/constants.ts";
import { WampError } from "../protocol/errors.ts";
import type { Call, ClientMessage, Publish } from "../protocol/messages.ts";
import { checkUri, isUsableUri, MAX_URI_LENGTH } from "../protocol/uri.ts";
import type { Router } from "../router.ts";
import { NetworkSession } from "./network.ts";
import type { Peer } from "./peer.ts";

/** The most CURIE prefixes one connection may define. */
export const MAX_PREFIXES = 256;
/** The longest CURIE prefix name. */
export const MAX_PREFIX_NAME = 64;
/** The most characters all of a connection's prefixes (names and URIs) may hold together. */
export const MAX_PREFIX_CHARS = 32 * 1024;

/** One WAMP v1 connection. */
export class WampV1Session extends NetworkSession {
  #prefixes = new Map<string, string>();
  #prefixChars = 0;
  #handshake: V1Handshake | null = null;
  /** Closes a session that must authenticate and has not (anonymous access off). */
  #authTimer: ReturnType<typeof setTimeout> | undefined;

  /** A v1 session on `peer`; it joins the default realm when the transport opens. */
  constructor(router: Router, peer: Peer) {
    super(router, peer, wampV1Json);
  }

  /** Joins the default realm and sends WELCOME; while the router shuts down, closes with 1001 instead. */
  open(): void {
    if (this.router.closing) {
      this.closeTransport(WsClose.GOING_AWAY, "router shutdown");
      return;
    }
    const realm = this.router.defaultRealm;
    const anonymous = this.router.authentication.methods.get("anonymous");
    const start = anonymous?.begin({ realm: realm.name, authextra: {}, session: this.id });
    if (start?.kind === "welcome") {
      this.adopt(start.identity);
    } else {
      this.authrole = "";
      this.authmethod = "none";
      this.authprovider = "none";
      this.#authTimer = setTimeout(() => {
        this.closeTransport(
          WsClose.POLICY_VIOLATION,
          `not authenticated within ${this.router.helloTimeoutMs} ms`,
        );
      }, this.router.helloTimeoutMs);
    }
    this.enterRealm(realm);
    this.send({ type: T.WELCOME, session: this.id, details: { agent: this.router.agent } });
  }

  /** Handles one frame; one that is too large closes with 1009, one v1 cannot act on with 1007. */
  receive(frame: Frame): void {
    if (this.ended) return;
    if (exceedsSize(frame, this.router.maxMessageSize)) {
      this.closeTransport(
        WsClose.MESSAGE_TOO_BIG,
        `message of ${
          describeSize(frame, this.router.maxMessageSize)
        } exceeds the limit of ${this.router.maxMessageSize}`,
      );
      return;
    }
    try {
      this.#dispatch(this.codec.decode(frame));
    } catch (e) {
      if (!(e instanceof ProtocolError)) throw e;
      this.closeTransport(WsClose.INVALID_PAYLOAD, e.message);
    }
  }

  /** Closes with 1001 (v1 has no GOODBYE) and waits, boundedly, for the transport to close. */
  shutdown(): Promise<void> {
    this.closeTransport(WsClose.GOING_AWAY, "router shutdown");
    return this.waitClosed();
  }

  /** Closes the socket (v1 has no GOODBYE): 1000 with the message, or the reason URI. */
  kill(reason: string, message?: string): void {
    this.closingBecause("killed");
    this.closeTransport(WsClose.NORMAL, message ?? reason);
  }

  /** Stops the authentication timer. */
  protected override onClosed(): void {
    clearTimeout(this.#authTimer);
  }

  #dispatch(msg: ClientMessage): void {
    this.router.counters.messagesIn[msg.type === T.V1_PREFIX ? 0 : msg.type]++;
    const realm = this.realm!;
    switch (msg.type) {
      case T.V1_PREFIX:
        return this.#prefix(msg.prefix, msg.uri);
      case T.CALL:
        return this.#call(msg);
      case T.SUBSCRIBE: {
        const topic = this.#topic(msg.topic, true);
        this.#orDrop(() => {
          this.permit("subscribe", topic);
          if (!realm.broker.isSubscribed(this, topic)) {
            this.fits("subscriptions", realm.broker.subscriptionCountOf(this));
          }
          realm.broker.subscribe(this, topic);
        });
        return;
      }
      case T.UNSUBSCRIBE:
        realm.broker.unsubscribeTopic(this, this.#topic(msg.topic!, true));
        return;
      case T.PUBLISH:
        return this.#publish(msg);
      default:
        throw new ProtocolError(`unexpected message type ${msg.type}`);
    }
  }

  #prefix(prefix: string, uri: string): void {
    if (prefix.length > MAX_PREFIX_NAME || uri.length > MAX_URI_LENGTH) {
      throw new ProtocolError(
        `a prefix name may have ${MAX_PREFIX_NAME} characters and its URI ${MAX_URI_LENGTH}`,
      );
    }
    const old = this.#prefixes.get(prefix);
    if (old === undefined && this.#prefixes.size >= MAX_PREFIXES) {
      throw new ProtocolError(`more than ${MAX_PREFIXES} prefixes`);
    }
    const chars = this.#prefixChars - (old === undefined ? 0 : prefix.length + old.length) + prefix.length +
      uri.length;
    if (chars > MAX_PREFIX_CHARS) throw new ProtocolError(`prefixes over ${MAX_PREFIX_CHARS} characters`);
    this.#prefixChars = chars;
    this.#prefixes.set(prefix, uri);
  }

  #publish(msg: Publish): void {
    const topic = this.#topic(msg.topic, false);
    this.#orDrop(() => {
      this.spend();
      const disclose = this.permit("publish", topic).disclose.publisher;
      this.realm!.broker.publish(this, { ...msg, topic }, disclose);
    });
  }

  /** Runs `act`; a refusal (not authorized, a quota, the rate) drops the message, counted. */
  #orDrop(act: () => void): void {
    try {
      act();
    } catch (e) {
      if (!(e instanceof WampError)) throw e;
      this.router.counters.v1Dropped++;
    }
  }

  #call(msg: Call): void {
    const dealer = this.realm!.dealer;
    if (dealer.isPending(this, msg.request)) {
      throw new ProtocolError(`call id ${String(msg.request).slice(0, 40)} is already in flight`);
    }
    try {
      this.spend();
      const procedure = this.resolve(msg.procedure);
      if (procedure === V1_AUTHREQ || procedure === V1_AUTH) return this.#authCall(msg, procedure);
      checkUri(procedure, "procedure", true);
      const disclose = this.permit("call", procedure).disclose.caller;
      this.fits("pendingCalls", dealer.pendingCountOf(this));
      dealer.call(this, { ...msg, procedure }, disclose, this.defaultCallTimeoutMs);
    } catch (e) {
      this.requestError(T.CALL, msg.request, e);
    }
  }

  /** AutobahnJS 0.8's WAMP-CRA calls, answered by the session itself. */
  #authCall(msg: Call, procedure: string): void {
    if (this.authmethod === "wampcra") {
      throw new WampError(ErrorUri.AUTHENTICATION_FAILED, ["this session is already authenticated"]);
    }
    this.#handshake ??= new V1Handshake(this.router.authentication, this.id, this.realm!.name);
    const args = msg.args ?? [];
    if (procedure === V1_AUTHREQ) {
      return this.#result(msg, this.#handshake.request(args));
    }
    this.#handshake.answer(args, this.peer.remoteAddress).then(
      (identity) => {
        if (this.ended) return;
        const realm = this.realm!;
        const refused = this.refusal(realm, identity);
        if (refused !== null) throw refused;
        clearTimeout(this.#authTimer);
        this.adopt(identity);
        this.#result(msg, v1Permissions(realm.authorizer.role(identity.authrole)));
      },
    ).catch((e) => {
      if (this.ended) return;
      if (e instanceof WampError && e.uri === ErrorUri.AUTHENTICATION_FAILED) {
        this.authFailed("wampcra");
      }
      this.requestError(T.CALL, msg.request, e instanceof WampError ? e : failedAuth());
    });
  }

  #result(msg: Call, value: unknown): void {
    this.send({ type: T.RESULT, request: msg.request, details: {}, args: [value] });
  }

  /**
   * A topic URI, CURIE resolved and checked; an unusable one is a protocol error in
   * v1. `wamp.` topics (the meta events) may be subscribed to, never published to.
   */
  #topic(uriOrCurie: string, mayBeReserved: boolean): string {
    const topic = this.resolve(uriOrCurie);
    if (!isUsableUri(topic, mayBeReserved)) {
      throw new ProtocolError(`invalid topic URI ${JSON.stringify(topic.slice(0, 80))}`);
    }
    return topic;
  }

  /**
   * Resolves a CURIE `prefix:rest` to `uri + rest` when `prefix` was defined by
   * PREFIX (plain concatenation, as the v1 spec and AutobahnJS 0.8 do); anything
   * else is taken as a full URI.
   */
  resolve(uriOrCurie: string): string {
    const colon = uriOrCurie.indexOf(":");
    if (colon <= 0) return uriOrCurie;
    const base = this.#prefixes.get(uriOrCurie.slice(0, colon));
    return base === undefined ? uriOrCurie : base + uriOrCurie.slice(colon + 1);
  }
}

function failedAuth(): WampError {
  return new WampError(ErrorUri.AUTHENTICATION_FAILED, ["authentication failed"]);
}
