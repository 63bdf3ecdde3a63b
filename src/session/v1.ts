/**
 * A WAMP v1 session: the protocol of AutobahnJS 0.8 and Ratchet. It joins the
 * router's default realm as soon as the socket opens and shares its topics and
 * procedures with v2 sessions.
 *
 * v1 has no error message for PUBLISH, SUBSCRIBE or UNSUBSCRIBE, so, like
 * Ratchet, anything we cannot act on closes the connection with 1007 and a reason:
 * a frame that is not JSON or not an array, an unknown or server-only type id,
 * wrong field types, an invalid or reserved topic URI, a call id reused while its
 * call is in flight. CALL errors are answered with CALLERROR (an unknown procedure
 * too: Ratchet stayed silent, we do not).
 *
 * @module
 */

import type { Frame } from "../codec/codec.ts";
import { exceedsSize, frameBytes, ProtocolError } from "../codec/codec.ts";
import { wampV1Json } from "../codec/v1_json.ts";
import { MessageType as T, WsClose } from "../protocol/constants.ts";
import type { Call, ClientMessage } from "../protocol/messages.ts";
import { checkUri, isUsableUri } from "../protocol/uri.ts";
import type { Router } from "../router.ts";
import { NetworkSession } from "./network.ts";
import type { Peer } from "./peer.ts";

/** The most CURIE prefixes one connection may define. */
export const MAX_PREFIXES = 256;

/** One WAMP v1 connection. */
export class WampV1Session extends NetworkSession {
  #prefixes = new Map<string, string>();

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
    this.enterRealm(this.router.defaultRealm);
    this.send({ type: T.WELCOME, session: this.id, details: { agent: this.router.agent } });
  }

  /** Handles one frame; one that is too large closes with 1009, one v1 cannot act on with 1007. */
  receive(frame: Frame): void {
    if (this.ended) return;
    if (exceedsSize(frame, this.router.maxMessageSize)) {
      this.closeTransport(
        WsClose.MESSAGE_TOO_BIG,
        `message of ${frameBytes(frame)} bytes exceeds the limit of ${this.router.maxMessageSize}`,
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

  #dispatch(msg: ClientMessage): void {
    const realm = this.realm!;
    switch (msg.type) {
      case T.V1_PREFIX:
        if (!this.#prefixes.has(msg.prefix) && this.#prefixes.size >= MAX_PREFIXES) {
          throw new ProtocolError(`more than ${MAX_PREFIXES} prefixes`);
        }
        this.#prefixes.set(msg.prefix, msg.uri);
        return;
      case T.CALL:
        return this.#call(msg);
      case T.SUBSCRIBE:
        realm.broker.subscribe(this, this.#topic(msg.topic));
        return;
      case T.UNSUBSCRIBE:
        realm.broker.unsubscribeTopic(this, this.#topic(msg.topic!));
        return;
      case T.PUBLISH:
        realm.broker.publish(this, { ...msg, topic: this.#topic(msg.topic) });
        return;
      default:
        throw new ProtocolError(`unexpected message type ${msg.type}`);
    }
  }

  #call(msg: Call): void {
    const dealer = this.realm!.dealer;
    if (dealer.isPending(this, msg.request)) {
      throw new ProtocolError(`call id ${String(msg.request).slice(0, 40)} is already in flight`);
    }
    try {
      const procedure = this.resolve(msg.procedure);
      checkUri(procedure, "procedure", true);
      dealer.call(this, { ...msg, procedure });
    } catch (e) {
      this.requestError(T.CALL, msg.request, e);
    }
  }

  /** A topic URI, CURIE resolved and checked; an unusable one is a protocol error in v1. */
  #topic(uriOrCurie: string): string {
    const topic = this.resolve(uriOrCurie);
    if (!isUsableUri(topic, false)) {
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
