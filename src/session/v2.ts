/**
 * A WAMP v2 session (Basic Profile plus the advanced features the WELCOME lists),
 * over any v2 codec.
 *
 * States: `establishing` (waiting for HELLO) → `challenging` (CHALLENGE sent,
 * waiting for AUTHENTICATE; methods other than anonymous) → `verifying` (checking
 * the answer) → `established` → after GOODBYE back to `establishing`, since the
 * transport may carry a new session. The HELLO timeout runs until WELCOME, so a
 * client that never answers its CHALLENGE is closed like one that never says HELLO.
 *
 * Authentication fails with ABORT `wamp.error.authentication_failed` (wrong ticket
 * or signature, unknown authid: the same answer), `wamp.error.no_auth_method` or
 * `wamp.error.no_such_role`. Requests the session's role does not permit get ERROR
 * `wamp.error.not_authorized` (a PUBLISH only when acknowledged).
 *
 * Protocol violations (a frame the codec rejects, a message that is wrong for the
 * state, a request id reused while its call is in flight) are answered with ABORT
 * `wamp.error.protocol_violation` and WebSocket close 1002; the session's
 * subscriptions, registrations and calls in flight go with it.
 *
 * @module
 */

import type { AuthStep, Identity } from "../auth/authenticator.ts";
import type { Codec, Frame } from "../codec/codec.ts";
import { describeSize, exceedsSize, isDict, ProtocolError } from "../codec/codec.ts";
import { CloseReason, ErrorUri, MessageType as T, WsClose } from "../protocol/constants.ts";
import { WampError } from "../protocol/errors.ts";
import { isMatchPolicy, type MatchPolicy } from "../protocol/pattern.ts";
import { checkPattern, checkUri } from "../protocol/uri.ts";
import type {
  Authenticate,
  Call,
  ClientMessage,
  Dict,
  Hello,
  Publish,
  Register,
  Subscribe,
  Unregister,
  Unsubscribe,
} from "../protocol/messages.ts";
import type { Realm } from "../realm/realm.ts";
import { type CancelMode, INVOCATION_POLICIES, type InvocationPolicy } from "../realm/dealer.ts";
import type { Router } from "../router.ts";
import { NetworkSession } from "./network.ts";
import type { Peer } from "./peer.ts";

/** The advanced features this router implements, as WELCOME announces them. */
export const ROUTER_ROLES: Dict = {
  broker: {
    features: {
      publisher_exclusion: true,
      subscriber_blackwhite_listing: true,
      publisher_identification: true,
      pattern_based_subscription: true,
      event_retention: true,
      event_history: true,
      session_meta_api: true,
      subscription_meta_api: true,
    },
  },
  dealer: {
    features: {
      caller_identification: true,
      call_canceling: true,
      call_timeout: true,
      progressive_call_results: true,
      pattern_based_registration: true,
      shared_registration: true,
      session_meta_api: true,
      registration_meta_api: true,
      testament_meta_api: true,
      registration_revocation: true,
    },
  },
};

type State = "establishing" | "challenging" | "verifying" | "established" | "closing";

/** The longest authid HELLO may carry. */
export const MAX_AUTHID_LENGTH = 256;

/** A handshake waiting for the client's AUTHENTICATE. */
interface PendingAuth {
  realm: Realm;
  /** The method the CHALLENGE is for. */
  method: string;
  step: Extract<AuthStep, { kind: "challenge" }>;
}

/** One WAMP v2 connection. */
export class WampV2Session extends NetworkSession {
  #state: State = "establishing";
  #pendingAuth: PendingAuth | null = null;
  /** Sessions completed on this transport; each after the first gets a new id. */
  #sessions = 0;
  #helloTimer: ReturnType<typeof setTimeout> | undefined;

  /** A v2 session on `peer`, speaking `codec`; it waits for HELLO once the transport opens. */
  constructor(router: Router, peer: Peer, codec: Codec) {
    super(router, peer, codec);
  }

  /** Starts the HELLO timer: no HELLO within the router's `helloTimeoutMs` closes with 1008. */
  open(): void {
    this.#armHelloTimer();
  }

  /**
   * Handles one frame; protocol violations are answered with ABORT and close 1002 (too large: 1009).
   * A frame of a batching serializer may carry several messages: all are decoded
   * and checked first, then handled in order until one ends the session.
   */
  receive(frame: Frame): void {
    if (this.ended) return;
    if (exceedsSize(frame, this.router.maxMessageSize)) {
      this.#abort(
        ErrorUri.PAYLOAD_SIZE_EXCEEDED,
        `message of ${
          describeSize(frame, this.router.maxMessageSize)
        } exceeds the limit of ${this.router.maxMessageSize}`,
        WsClose.MESSAGE_TOO_BIG,
      );
      return;
    }
    const codec = this.codec;
    let msg: ClientMessage | undefined;
    let batch: ClientMessage[] | undefined;
    try {
      if (codec.decodeBatch === undefined) msg = codec.decode(frame);
      else batch = codec.decodeBatch(frame);
    } catch (e) {
      this.#violation(e instanceof ProtocolError ? e.message : "undecodable message");
      return;
    }
    try {
      if (msg !== undefined) this.#dispatch(msg);
      else {
        for (const m of batch!) {
          if (this.ended) return;
          this.#dispatch(m);
        }
      }
    } catch (e) {
      if (e instanceof ProtocolError) this.#violation(e.message);
      else throw e;
    }
  }

  /**
   * Says GOODBYE to an established session and waits, boundedly, for the peer to answer, then closes
   * with 1001; a session not established is closed with 1001 at once.
   */
  shutdown(): Promise<void> {
    if (this.ended) return Promise.resolve();
    if (this.#state === "established") {
      this.#state = "closing";
      this.send({
        type: T.GOODBYE,
        details: { message: "the router is shutting down" },
        reason: CloseReason.SYSTEM_SHUTDOWN,
      });
      this.leaveRealm();
      // The peer answers GOODBYE and closes; the grace period covers those that don't.
      return this.waitClosed().then(() => this.closeTransport(WsClose.GOING_AWAY, "router shutdown"));
    }
    this.closeTransport(WsClose.GOING_AWAY, "router shutdown");
    return this.waitClosed();
  }

  /**
   * Ends an established session from the router's side: GOODBYE with `reason`,
   * the realm left at once, the transport closed when the peer answers (or after
   * the grace period). A session not established is just closed.
   */
  kill(reason: string, message?: string): void {
    if (this.ended) return;
    if (this.#state !== "established") {
      this.closeTransport(WsClose.NORMAL, message ?? reason);
      return;
    }
    this.#state = "closing";
    this.closingBecause("killed");
    this.send({ type: T.GOODBYE, details: message === undefined ? {} : { message }, reason });
    this.leaveRealm();
    this.waitClosed().then(() => this.closeTransport(WsClose.NORMAL, "killed"));
  }

  /** Stops the HELLO timer. */
  protected override onClosed(): void {
    clearTimeout(this.#helloTimer);
  }

  #dispatch(msg: ClientMessage): void {
    this.router.counters.messagesIn[msg.type === T.V1_PREFIX ? 0 : msg.type]++;
    if (this.#state === "establishing") {
      if (msg.type === T.HELLO) return this.#hello(msg);
      if (msg.type === T.ABORT) return this.closeTransport(WsClose.NORMAL, "aborted by client");
      if (msg.type === T.AUTHENTICATE) throw new ProtocolError("AUTHENTICATE without a CHALLENGE");
      throw new ProtocolError(`message type ${msg.type} before HELLO`);
    }
    if (this.#state === "challenging" || this.#state === "verifying") {
      if (msg.type === T.ABORT) return this.closeTransport(WsClose.NORMAL, "aborted by client");
      if (msg.type === T.AUTHENTICATE && this.#state === "challenging") return this.#authenticate(msg);
      throw new ProtocolError(
        this.#state === "challenging"
          ? `message type ${msg.type} while a CHALLENGE awaits AUTHENTICATE`
          : `message type ${msg.type} before WELCOME`,
      );
    }
    if (this.#state === "closing") {
      // Only the peer's GOODBYE matters now; anything else crossed ours on the wire.
      if (msg.type === T.GOODBYE || msg.type === T.ABORT) this.closeTransport(WsClose.NORMAL, "goodbye");
      return;
    }
    switch (msg.type) {
      case T.HELLO:
        throw new ProtocolError("HELLO on an established session");
      case T.GOODBYE:
        this.closingBecause("goodbye");
        this.send({ type: T.GOODBYE, details: {}, reason: CloseReason.GOODBYE_AND_OUT });
        this.leaveRealm();
        this.#state = "establishing";
        this.#armHelloTimer();
        return;
      case T.ABORT:
        return this.closeTransport(WsClose.NORMAL, "aborted by client");
      case T.PUBLISH:
        return this.#publish(msg);
      case T.SUBSCRIBE:
        return this.#subscribe(msg);
      case T.UNSUBSCRIBE:
        return this.#unsubscribe(msg);
      case T.CALL:
        return this.#call(msg);
      case T.CANCEL:
        return this.realm!.dealer.cancel(this, msg.request, cancelMode(msg.options.mode));
      case T.REGISTER:
        return this.#register(msg);
      case T.UNREGISTER:
        return this.#unregister(msg);
      case T.YIELD:
        return this.realm!.dealer.yield(this, msg.request, msg.options, msg.args, msg.kwargs, msg.tail);
      case T.ERROR:
        return this.realm!.dealer.error(this, msg.request as number, msg.error, msg.args, msg.kwargs);
      case T.AUTHENTICATE:
        throw new ProtocolError("AUTHENTICATE on an established session");
      case T.V1_PREFIX:
        throw new ProtocolError("PREFIX is not a WAMP v2 message");
    }
  }

  #hello(msg: Hello): void {
    const { roles, authid, authmethods, authextra } = msg.details;
    if (!isDict(roles) || Object.keys(roles).length === 0) {
      throw new ProtocolError("HELLO.Details.roles must announce at least one role");
    }
    if (authid !== undefined && (typeof authid !== "string" || authid.length > MAX_AUTHID_LENGTH)) {
      throw new ProtocolError(
        `HELLO.Details.authid must be a string of at most ${MAX_AUTHID_LENGTH} characters`,
      );
    }
    if (authmethods !== undefined && (!Array.isArray(authmethods) || !authmethods.every(isString))) {
      throw new ProtocolError("HELLO.Details.authmethods must be a list of strings");
    }
    if (authextra !== undefined && !isDict(authextra)) {
      throw new ProtocolError("HELLO.Details.authextra must be an object");
    }
    const realm = this.router.closing ? undefined : this.router.realm(msg.realm);
    if (realm === undefined) {
      const why = this.router.closing
        ? "the router is shutting down"
        : `no realm ${JSON.stringify(msg.realm.slice(0, 100))}`;
      this.#abort(
        this.router.closing ? CloseReason.SYSTEM_SHUTDOWN : ErrorUri.NO_SUCH_REALM,
        why,
        WsClose.NORMAL,
      );
      return;
    }
    if (this.#sessions++ > 0) this.renewId();
    this.acceptsInterrupt = feature(roles, "callee", "call_canceling");
    this.acceptsRevocation = feature(roles, "callee", "registration_revocation");
    const offered = (authmethods as string[] | undefined) ?? ["anonymous"];
    const method = this.router.authentication.choose(offered);
    if (method === undefined) {
      this.authFailed("none");
      this.#abort(
        ErrorUri.NO_AUTH_METHOD,
        `none of the authentication methods offered (${offered.join(", ").slice(0, 200)}) is enabled here`,
        WsClose.NORMAL,
      );
      return;
    }
    const step = method.begin({
      realm: realm.name,
      authid: authid as string | undefined,
      authextra: (authextra as Dict | undefined) ?? {},
      session: this.id,
    });
    if (step.kind === "welcome") return this.#welcome(realm, step.identity);
    this.#state = "challenging";
    this.#pendingAuth = { realm, method: method.method, step };
    this.send({ type: T.CHALLENGE, authmethod: method.method, extra: step.extra });
  }

  #authenticate(msg: Authenticate): void {
    const pending = this.#pendingAuth!;
    this.#pendingAuth = null;
    this.#state = "verifying";
    this.router.authentication.verify(pending.step, msg.signature, msg.extra, this.peer.remoteAddress).then(
      (identity) => {
        if (this.ended || this.#state !== "verifying") return;
        if (identity === null) {
          this.authFailed(pending.method);
          return this.#abort(ErrorUri.AUTHENTICATION_FAILED, "authentication failed", WsClose.NORMAL);
        }
        this.#welcome(pending.realm, identity);
      },
      () => {
        // A verifier that throws is a bug, never a reason to let the client in.
        if (!this.ended) this.#abort(ErrorUri.AUTHENTICATION_FAILED, "authentication failed", WsClose.NORMAL);
      },
    );
  }

  /** Admits the session into `realm` as `identity`, or refuses it when the identity does not fit the realm. */
  #welcome(realm: Realm, identity: Identity): void {
    if (this.router.closing) {
      return this.#abort(CloseReason.SYSTEM_SHUTDOWN, "the router is shutting down", WsClose.NORMAL);
    }
    const refused = this.refusal(realm, identity);
    if (refused !== null) {
      if (refused.uri === ErrorUri.AUTHENTICATION_FAILED) this.authFailed(identity.authmethod);
      return this.#abort(refused.uri, refused.args[0] as string, WsClose.NORMAL);
    }
    clearTimeout(this.#helloTimer);
    this.adopt(identity);
    this.#state = "established";
    this.enterRealm(realm);
    this.send({
      type: T.WELCOME,
      session: this.id,
      details: {
        realm: realm.name,
        authid: this.authid,
        authrole: this.authrole,
        authmethod: identity.authmethod,
        authprovider: identity.authprovider,
        agent: this.router.agent,
        roles: ROUTER_ROLES,
      },
    });
  }

  #publish(msg: Publish): void {
    const ack = msg.options.acknowledge === true;
    try {
      this.spend();
      checkUri(msg.topic, "topic", false);
      const disclose = this.permit("publish", msg.topic).disclose.publisher ||
        msg.options.disclose_me === true;
      const publication = this.realm!.broker.publish(this, msg, disclose);
      if (ack) this.send({ type: T.PUBLISHED, request: msg.request, publication });
    } catch (e) {
      // Without `acknowledge` the publisher expects no answer at all, not even an error.
      if (ack) this.requestError(T.PUBLISH, msg.request, e);
      else if (!(e instanceof WampError)) throw e;
    }
  }

  #subscribe(msg: Subscribe): void {
    try {
      const match = matchPolicy(msg.options);
      checkPattern(msg.topic, match, "topic", true);
      this.permitPattern("subscribe", msg.topic, match);
      const broker = this.realm!.broker;
      if (!broker.isSubscribed(this, msg.topic, match)) {
        this.fits("subscriptions", broker.subscriptionCountOf(this));
      }
      const sub = broker.subscribe(this, msg.topic, match);
      this.send({ type: T.SUBSCRIBED, request: msg.request, subscription: sub.id });
      if (msg.options.get_retained === true) broker.deliverRetained(this, sub);
    } catch (e) {
      this.requestError(T.SUBSCRIBE, msg.request, e);
    }
  }

  #unsubscribe(msg: Unsubscribe): void {
    if (this.realm!.broker.unsubscribe(this, msg.subscription)) {
      this.send({ type: T.UNSUBSCRIBED, request: msg.request });
    } else {
      this.requestError(
        T.UNSUBSCRIBE,
        msg.request,
        new WampError(ErrorUri.NO_SUCH_SUBSCRIPTION, [`no subscription ${msg.subscription} of this session`]),
      );
    }
  }

  #call(msg: Call): void {
    const dealer = this.realm!.dealer;
    if (dealer.isPending(this, msg.request)) {
      throw new ProtocolError(`CALL request id ${msg.request} is already in flight`);
    }
    try {
      this.spend();
      checkUri(msg.procedure, "procedure", true);
      const disclose = this.permit("call", msg.procedure).disclose.caller || msg.options.disclose_me === true;
      this.fits("pendingCalls", dealer.pendingCountOf(this));
      dealer.call(this, msg, disclose, this.defaultCallTimeoutMs);
    } catch (e) {
      this.requestError(T.CALL, msg.request, e);
    }
  }

  #register(msg: Register): void {
    try {
      const match = matchPolicy(msg.options);
      checkPattern(msg.procedure, match, "procedure", false);
      const invoke = invocationPolicy(msg.options);
      this.permitPattern("register", msg.procedure, match);
      const dealer = this.realm!.dealer;
      this.fits("registrations", dealer.registrationCountOf(this));
      const reg = dealer.register(this, msg.procedure, { match, invoke });
      this.send({ type: T.REGISTERED, request: msg.request, registration: reg.id });
    } catch (e) {
      this.requestError(T.REGISTER, msg.request, e);
    }
  }

  #unregister(msg: Unregister): void {
    try {
      this.realm!.dealer.unregister(this, msg.registration);
      this.send({ type: T.UNREGISTERED, request: msg.request });
    } catch (e) {
      this.requestError(T.UNREGISTER, msg.request, e);
    }
  }

  #violation(message: string): void {
    this.#abort(ErrorUri.PROTOCOL_VIOLATION, message, WsClose.PROTOCOL_ERROR);
  }

  #abort(reason: string, message: string, code: number): void {
    this.router.counters.errors.add(reason);
    this.send({ type: T.ABORT, details: { message }, reason });
    this.closeTransport(code, message);
  }

  #armHelloTimer(): void {
    clearTimeout(this.#helloTimer);
    this.#helloTimer = setTimeout(() => {
      if (this.#state === "establishing") {
        this.closeTransport(WsClose.POLICY_VIOLATION, `no HELLO within ${this.router.helloTimeoutMs} ms`);
      } else if (this.#state === "challenging" || this.#state === "verifying") {
        this.closeTransport(
          WsClose.POLICY_VIOLATION,
          `not authenticated within ${this.router.helloTimeoutMs} ms`,
        );
      }
    }, this.router.helloTimeoutMs);
  }
}

/** SUBSCRIBE's or REGISTER's `match` option; an unknown policy is `invalid_argument`, not a silent exact match. */
function matchPolicy(options: Dict): MatchPolicy {
  const match = options.match ?? "exact";
  if (!isMatchPolicy(match)) {
    throw new WampError(ErrorUri.INVALID_ARGUMENT, [
      `match policy ${JSON.stringify(match)} is not supported`,
    ]);
  }
  return match;
}

/** REGISTER's `invoke` option. */
function invocationPolicy(options: Dict): InvocationPolicy {
  const invoke = options.invoke ?? "single";
  if (!INVOCATION_POLICIES.includes(invoke as InvocationPolicy)) {
    throw new WampError(ErrorUri.INVALID_ARGUMENT, [
      `invocation policy ${JSON.stringify(invoke)} is not supported`,
    ]);
  }
  return invoke as InvocationPolicy;
}

function isString(value: unknown): value is string {
  return typeof value === "string";
}

function cancelMode(mode: unknown): CancelMode {
  return mode === "skip" || mode === "kill" ? mode : "killnowait";
}

/** Whether HELLO.Details.roles[role].features[name] is true. */
function feature(roles: Dict, role: string, name: string): boolean {
  const r = roles[role];
  if (!isDict(r) || !isDict(r.features)) return false;
  return r.features[name] === true;
}
