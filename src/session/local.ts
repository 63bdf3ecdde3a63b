/**
 * An in-process session: how apps and bridges living in the server publish,
 * subscribe, register procedures and call them, through the same broker and dealer
 * as the network sessions (so exclusion, black/whitelists and everything else apply
 * alike).
 *
 * @module
 */

import { ErrorUri, MessageType as T } from "../protocol/constants.ts";
import { WampError } from "../protocol/errors.ts";
import { IdSequence } from "../protocol/ids.ts";
import type { Dict, Event, RouterMessage } from "../protocol/messages.ts";
import type { MatchPolicy } from "../protocol/pattern.ts";
import { checkPattern, checkUri } from "../protocol/uri.ts";
import type { RegisterOptions } from "../realm/dealer.ts";
import type { Participant } from "../realm/participant.ts";
import type { Realm } from "../realm/realm.ts";
import type { Router } from "../router.ts";

/** Called for each event on a local subscription. */
export type EventHandler = (args: unknown[], kwargs: Dict, details: EventDetails) => void;

/** What a local event handler learns about an event besides its payload. */
export interface EventDetails {
  /** The topic URI the event was published to. */
  topic: string;
  /** The publication id, 1..2^53. */
  publication: number;
  /** The publisher's session id, when it disclosed itself. */
  publisher?: number;
}

/**
 * A procedure run in the server. Its return value becomes the single result
 * argument, unless it returns a {@link CallResult}. To fail with a WAMP error, throw
 * a {@link WampError}; any other exception reaches the caller as
 * `wamp.error.runtime_error` with a generic description (and is logged).
 */
export type Procedure = (args: unknown[], kwargs: Dict, details: Dict) => unknown;

/** A result with several positional and/or keyword arguments. */
export class CallResult {
  /**
   * A result of `args` and `kwargs`; both default to empty.
   * @param args positional result arguments
   * @param kwargs keyword result arguments
   */
  constructor(readonly args: unknown[] = [], readonly kwargs: Dict = {}) {}
}

/** Options for {@link LocalSession.publish}. */
export interface LocalPublishOptions {
  /** Deliver to this session's own subscriptions too (default false). */
  excludeMe?: boolean;
  /** Session ids to leave out. */
  exclude?: number[];
  /** Only these session ids may receive it. */
  eligible?: number[];
  /** Name this session in the EVENT details (`publisher`, `publisher_authid`, `publisher_authrole`). */
  disclose?: boolean;
}

/** Who a local session is, as other sessions see it when it discloses itself. */
export interface LocalIdentity {
  /** Default `local-<session id>`. */
  authid?: string;
  /** Default `trusted`. */
  authrole?: string;
}

/** A handle to end a local subscription. */
export interface LocalSubscription {
  /** The subscription id; all subscribers of a topic share it. */
  readonly id: number;
  /** The topic URI subscribed to. */
  readonly topic: string;
  /** Removes this handler; the subscription ends once the session has no handler left on it. */
  unsubscribe(): void;
}

/** A handle to withdraw a local registration. */
export interface LocalRegistration {
  /** The registration id, 1..2^53. */
  readonly id: number;
  /** The procedure URI registered. */
  readonly procedure: string;
  /** Withdraws the procedure; calling it again does nothing. */
  unregister(): void;
}

interface PendingLocalCall {
  resolve(result: CallResult): void;
  reject(error: WampError): void;
}

/**
 * A session that lives in the server process.
 *
 * @example
 * ```ts
 * const app = new LocalSession(router);
 * app.register("com.example.add", ([a, b]) => Number(a) + Number(b));
 * app.subscribe("com.example.news", ([text]) => console.log(text));
 * app.publish("com.example.news", ["hello"]);
 * ```
 */
export class LocalSession implements Participant {
  readonly id: number;
  readonly authid: string;
  readonly authrole: string;
  readonly authmethod = "local";
  readonly authprovider = "local";
  readonly protocol = "local";
  readonly acceptsInterrupt = false;
  /** Called when the meta API kills this session, before it closes (a relay closes its client's socket). */
  onKill: ((reason: string, message?: string) => void) | null = null;
  /** The realm this session joined. */
  readonly realm: Realm;
  #handlers = new Map<number, EventHandler[]>();
  #procedures = new Map<number, Procedure>();
  #calls = new Map<number, PendingLocalCall>();
  #requests = new IdSequence();
  #closed = false;

  /**
   * Joins the realm at once, as a session with a fresh id. A local session is the
   * server itself: no role's permissions or quotas apply to it.
   * @param router the router to join
   * @param realm the realm name; the router's default realm when omitted
   * @param onError where exceptions thrown by local event handlers and procedures go
   * @param identity the authid and authrole others see (default `local-<id>`, `trusted`)
   * @throws {WampError} `wamp.error.no_such_realm` when the router has no such realm
   */
  constructor(
    private readonly router: Router,
    realm?: string,
    private readonly onError: (e: unknown) => void = (e) => console.error("local session handler failed:", e),
    identity: LocalIdentity = {},
  ) {
    const r = realm === undefined ? router.defaultRealm : router.realm(realm);
    if (r === undefined) throw new WampError(ErrorUri.NO_SUCH_REALM, [`no realm ${realm}`]);
    this.realm = r;
    this.id = router.newSessionId();
    this.authid = identity.authid ?? `local-${this.id}`;
    this.authrole = identity.authrole ?? "trusted";
    r.join(this);
  }

  /**
   * Publishes an event; returns the publication id.
   * @throws {WampError} `wamp.error.invalid_uri` for a bad or reserved topic
   */
  publish(topic: string, args: unknown[] = [], kwargs?: Dict, options: LocalPublishOptions = {}): number {
    this.#open();
    checkUri(topic, "topic", false);
    return this.realm.broker.publish(
      this,
      { topic, args, kwargs, options: wireOptions(options) },
      options.disclose,
    );
  }

  /**
   * Subscribes `handler` to `topic` (a pattern under `match`). Handlers run
   * synchronously during the publish.
   */
  subscribe(topic: string, handler: EventHandler, match: MatchPolicy = "exact"): LocalSubscription {
    this.#open();
    checkPattern(topic, match, "topic", true);
    const sub = this.realm.broker.subscribe(this, topic, match);
    const list = this.#handlers.get(sub.id) ?? [];
    list.push(handler);
    this.#handlers.set(sub.id, list);
    return {
      id: sub.id,
      topic,
      unsubscribe: () => {
        const left = (this.#handlers.get(sub.id) ?? []).filter((h) => h !== handler);
        if (left.length > 0) return void this.#handlers.set(sub.id, left);
        this.#handlers.delete(sub.id);
        this.realm.broker.unsubscribe(this, sub.id);
      },
    };
  }

  /**
   * Registers a procedure run in this process (a pattern under `options.match`,
   * shared under `options.invoke`).
   * @throws {WampError} `wamp.error.invalid_uri` or `wamp.error.procedure_already_exists`
   */
  register(procedure: string, fn: Procedure, options: RegisterOptions = {}): LocalRegistration {
    this.#open();
    checkPattern(procedure, options.match ?? "exact", "procedure", false);
    const reg = this.realm.dealer.register(this, procedure, options);
    this.#procedures.set(reg.id, fn);
    return {
      id: reg.id,
      procedure,
      unregister: () => {
        if (!this.#procedures.delete(reg.id)) return;
        this.realm.dealer.unregister(this, reg.id);
      },
    };
  }

  /**
   * Calls a procedure, wherever its callee is. Rejects with a {@link WampError}
   * (`wamp.error.timeout` after `options.timeoutMs`, when given). With
   * `options.disclose`, the INVOCATION names this session as the caller.
   */
  call(
    procedure: string,
    args: unknown[] = [],
    kwargs?: Dict,
    options: { timeoutMs?: number; disclose?: boolean } = {},
  ): Promise<CallResult> {
    try {
      this.#open();
      checkUri(procedure, "procedure", true);
      const request = this.#requests.next();
      const { promise, resolve, reject } = Promise.withResolvers<CallResult>();
      this.#calls.set(request, { resolve, reject });
      try {
        const wire: Dict = options.timeoutMs === undefined ? {} : { timeout: options.timeoutMs };
        this.realm.dealer.call(this, { request, procedure, args, kwargs, options: wire }, options.disclose);
      } catch (e) {
        this.#calls.delete(request);
        throw e;
      }
      return promise;
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /**
   * Leaves something to be published on this session's behalf when it closes (the
   * testament meta API, scope `destroyed`).
   */
  addTestament(topic: string, args: unknown[] = [], kwargs?: Dict, options: LocalPublishOptions = {}): void {
    this.#open();
    checkUri(topic, "topic", false);
    this.realm.testaments.add(this, "destroyed", { topic, args, kwargs, options: wireOptions(options) });
  }

  /**
   * The meta API kills this session: `onKill` hears why, then the session closes.
   * Only a session with an `onKill` may be killed: the apps' and the bridge's own
   * sessions would leave their procedures and subscriptions gone until a restart.
   * @throws {WampError} `wamp.error.not_authorized` when this session has no `onKill`
   */
  kill(reason: string, message?: string): void {
    if (this.#closed) return;
    if (this.onKill === null) {
      throw new WampError(ErrorUri.NOT_AUTHORIZED, ["the server's own sessions cannot be killed"]);
    }
    try {
      this.onKill?.(reason, message);
    } catch (e) {
      this.onError(e);
    }
    this.close();
  }

  /** Leaves the realm: subscriptions and registrations end, local calls are rejected. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.realm.leave(this);
    this.router.releaseSessionId(this.id);
    const canceled = new WampError(ErrorUri.CANCELED, ["the local session closed"]);
    for (const call of this.#calls.values()) call.reject(canceled);
    this.#calls.clear();
    this.#handlers.clear();
    this.#procedures.clear();
  }

  /** Runs this session's handlers for the event's subscription; their exceptions go to `onError`. */
  deliverEvent(event: Event): void {
    const handlers = this.#handlers.get(event.subscription);
    if (handlers === undefined) return;
    const details: EventDetails = { topic: event.topic, publication: event.publication };
    if (typeof event.details.publisher === "number") details.publisher = event.details.publisher;
    for (const handler of handlers) {
      try {
        handler(event.args ?? [], event.kwargs ?? {}, details);
      } catch (e) {
        this.onError(e);
      }
    }
  }

  /** Runs INVOCATIONs of local procedures and settles local calls on RESULT or ERROR; ignores the rest. */
  send(message: RouterMessage): void {
    switch (message.type) {
      case T.INVOCATION: {
        const fn = this.#procedures.get(message.registration);
        const dealer = this.realm.dealer;
        const request = message.request;
        if (fn === undefined) {
          dealer.error(this, request, ErrorUri.NO_SUCH_PROCEDURE, ["the procedure was withdrawn"]);
          return;
        }
        // Run after the caller's frame is handled, so a procedure never runs inside it.
        Promise.resolve()
          .then(() => fn(message.args ?? [], message.kwargs ?? {}, message.details))
          .then(
            (value) => {
              if (value instanceof CallResult) dealer.yield(this, request, {}, value.args, value.kwargs);
              else dealer.yield(this, request, {}, [value]);
            },
            (e) => {
              if (e instanceof WampError) return dealer.error(this, request, e.uri, e.args, e.kwargs);
              this.onError(e);
              dealer.error(this, request, ErrorUri.RUNTIME_ERROR, ["the procedure failed"]);
            },
          );
        return;
      }
      case T.RESULT:
      case T.ERROR: {
        const call = this.#calls.get(message.request as number);
        if (call === undefined) return;
        this.#calls.delete(message.request as number);
        if (message.type === T.RESULT) call.resolve(new CallResult(message.args, message.kwargs));
        else call.reject(new WampError(message.error, message.args, message.kwargs));
        return;
      }
    }
  }

  #open(): void {
    if (this.#closed) throw new WampError(ErrorUri.CANCELED, ["the local session is closed"]);
  }
}

/** PUBLISH options from a local publish's. */
function wireOptions(options: LocalPublishOptions): Dict {
  const wire: Dict = { exclude_me: options.excludeMe ?? true };
  if (options.exclude) wire.exclude = options.exclude;
  if (options.eligible) wire.eligible = options.eligible;
  if (options.disclose) wire.disclose_me = true;
  return wire;
}
