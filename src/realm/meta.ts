/**
 * The WAMP meta API of one realm: the session, subscription, registration and
 * testament meta procedures, and the meta events, served by the router itself as
 * an in-process participant of the realm.
 *
 * Events (each published with the session it is about excluded, so a session never
 * hears about itself):
 * - `wamp.session.on_join` `[{session, authid, authrole, authmethod, authprovider,
 *   transport: {protocol}}]`; `wamp.session.on_leave` `[session, authid, authrole]`
 *   (the spec's three arguments; Crossbar sends only the id).
 * - `wamp.subscription.on_create` `[session, {id, created, uri, match}]`,
 *   `on_subscribe`, `on_unsubscribe`, `on_delete` `[session, subscription]`.
 * - `wamp.registration.on_create` `[session, {id, created, uri, match, invoke}]`,
 *   `on_register`, `on_unregister`, `on_delete` `[session, registration]`.
 *
 * Subscriptions and registrations on the router's own `wamp.` URIs (the meta
 * topics and procedures themselves) raise no meta events and are left out of
 * `list`, as Crossbar does; `lookup`, `match` and `get` still find them.
 *
 * A meta event is only built when someone could receive it (a subscriber of the
 * meta topic, or any pattern subscription), so a realm nobody watches pays a map
 * lookup per lifecycle change.
 *
 * @module
 */

import type { Authorizer } from "../auth/authorizer.ts";
import { CloseReason, ErrorUri, MessageType as T, TuercaErrorUri } from "../protocol/constants.ts";
import { WampError } from "../protocol/errors.ts";
import { isId } from "../protocol/ids.ts";
import type { Dict, RouterMessage } from "../protocol/messages.ts";
import { isMatchPolicy, type MatchPolicy } from "../protocol/pattern.ts";
import { checkUri, isReservedUri, isValidUri } from "../protocol/uri.ts";
import type { Broker, Subscription } from "./broker.ts";
import type { Dealer, Registration } from "./dealer.ts";
import type { MembershipListener, Participant } from "./participant.ts";
import { PublishFilter } from "./publish_filter.ts";
import {
  byPolicy,
  type SubscriptionQuestion,
  type SubscriptionSource,
  SubscriptionTable,
} from "./subscription_table.ts";
import type { HistoryQuery } from "../store/store.ts";
import { MAX_TESTAMENTS, type Testament, type Testaments, type TestamentScope } from "./testament.ts";

/** What the meta API reads and acts on: the realm, seen from below. */
export interface MetaScope {
  /** The realm's broker; meta events are published through it. */
  readonly broker: Broker;
  /** The realm's dealer; the meta procedures are registered on it. */
  readonly dealer: Dealer;
  /** The realm's roles: testaments may only go where the session may publish. */
  readonly authorizer: Authorizer;
  /** The realm's testaments. */
  readonly testaments: Testaments;
  /** The session with this id, if it is in the realm. */
  session(id: number): Participant | undefined;
  /** Every session in the realm. */
  sessions(): Iterable<Participant>;
}

/** One call of a meta procedure. */
interface MetaCall {
  args: unknown[];
  kwargs: Dict;
  /** The calling session (the dealer always names it to the meta API). */
  caller: Participant | undefined;
}

type MetaProcedure = (call: MetaCall) => unknown;

/** A meta procedure's answer with keyword results too. */
class MetaResult {
  constructor(readonly args: unknown[], readonly kwargs: Dict) {}
}

/** The meta topics. */
export const MetaTopic = {
  SESSION_ON_JOIN: "wamp.session.on_join",
  SESSION_ON_LEAVE: "wamp.session.on_leave",
  SUBSCRIPTION_ON_CREATE: "wamp.subscription.on_create",
  SUBSCRIPTION_ON_SUBSCRIBE: "wamp.subscription.on_subscribe",
  SUBSCRIPTION_ON_UNSUBSCRIBE: "wamp.subscription.on_unsubscribe",
  SUBSCRIPTION_ON_DELETE: "wamp.subscription.on_delete",
  REGISTRATION_ON_CREATE: "wamp.registration.on_create",
  REGISTRATION_ON_REGISTER: "wamp.registration.on_register",
  REGISTRATION_ON_UNREGISTER: "wamp.registration.on_unregister",
  REGISTRATION_ON_DELETE: "wamp.registration.on_delete",
} as const;

/** The meta procedures every realm offers. */
export const META_PROCEDURES = [
  "wamp.session.count",
  "wamp.session.list",
  "wamp.session.get",
  "wamp.session.kill",
  "wamp.session.kill_by_authid",
  "wamp.session.kill_by_authrole",
  "wamp.session.kill_all",
  "wamp.session.add_testament",
  "wamp.session.flush_testaments",
  "wamp.subscription.list",
  "wamp.subscription.lookup",
  "wamp.subscription.match",
  "wamp.subscription.get",
  "wamp.subscription.list_subscribers",
  "wamp.subscription.count_subscribers",
  "wamp.subscription.get_events",
  "wamp.registration.list",
  "wamp.registration.lookup",
  "wamp.registration.match",
  "wamp.registration.get",
  "wamp.registration.list_callees",
  "wamp.registration.count_callees",
] as const;

/** The realm's meta API: a participant that serves the meta procedures and publishes the meta events. */
export class MetaApi implements Participant {
  readonly authid = "router";
  readonly authrole = "trusted";
  readonly authmethod = "local";
  readonly authprovider = "local";
  readonly protocol = "local";
  readonly acceptsInterrupt = false;
  readonly seesCallers = true;
  /** The other nodes of a cluster, asked by the subscription procedures; none outside a cluster. */
  elsewhere: SubscriptionSource | null = null;
  #procedures = new Map<number, MetaProcedure>();

  /** The subscription meta events, for the broker. */
  readonly subscriptionEvents: MembershipListener<Subscription> = {
    created: (s, sub) =>
      this.#emitCreated(MetaTopic.SUBSCRIPTION_ON_CREATE, s, sub.topic, subscriptionDetails(sub)),
    added: (s, sub) => this.#emitMember(MetaTopic.SUBSCRIPTION_ON_SUBSCRIBE, s, sub.topic, sub.id),
    removed: (s, sub) => this.#emitMember(MetaTopic.SUBSCRIPTION_ON_UNSUBSCRIBE, s, sub.topic, sub.id),
    deleted: (s, sub) => this.#emitMember(MetaTopic.SUBSCRIPTION_ON_DELETE, s, sub.topic, sub.id),
  };

  /** The registration meta events, for the dealer. */
  readonly registrationEvents: MembershipListener<Registration> = {
    created: (s, reg) =>
      this.#emitCreated(MetaTopic.REGISTRATION_ON_CREATE, s, reg.procedure, registrationDetails(reg)),
    added: (s, reg) => this.#emitMember(MetaTopic.REGISTRATION_ON_REGISTER, s, reg.procedure, reg.id),
    removed: (s, reg) => this.#emitMember(MetaTopic.REGISTRATION_ON_UNREGISTER, s, reg.procedure, reg.id),
    deleted: (s, reg) => this.#emitMember(MetaTopic.REGISTRATION_ON_DELETE, s, reg.procedure, reg.id),
  };

  /**
   * Registers the meta procedures on the realm's dealer.
   * @param id this participant's session id (it publishes the meta events)
   * @param realm the realm served
   */
  constructor(readonly id: number, private readonly realm: MetaScope) {
    const table = this.#table();
    for (const uri of META_PROCEDURES) this.#procedures.set(realm.dealer.register(this, uri).id, table[uri]);
  }

  /**
   * Publishes `wamp.session.on_join` for a session that joined (to this node's
   * subscribers only when the session lives on another cluster node).
   */
  joined(s: Participant): void {
    if (!this.#watched(MetaTopic.SESSION_ON_JOIN)) return;
    this.#publish(MetaTopic.SESSION_ON_JOIN, [sessionDetails(s)], s);
  }

  /**
   * Publishes `wamp.session.on_leave` for a session that left (to this node's
   * subscribers only when the session lived on another cluster node).
   */
  left(s: Participant): void {
    if (!this.#watched(MetaTopic.SESSION_ON_LEAVE)) return;
    this.#publish(MetaTopic.SESSION_ON_LEAVE, [s.id, s.authid, s.authrole], s);
  }

  /** Meta events need no delivery: the meta API subscribes to nothing. */
  deliverEvent(): void {}

  /** Runs a meta procedure's INVOCATION and answers it at once. */
  send(message: RouterMessage): void {
    if (message.type !== T.INVOCATION) return;
    const dealer = this.realm.dealer;
    const fn = this.#procedures.get(message.registration);
    if (fn === undefined) return;
    const callerId = message.details.caller;
    const request = message.request;
    const fail = (e: unknown) => {
      if (e instanceof WampError) return dealer.error(this, request, e.uri, e.args, e.kwargs);
      console.error("meta procedure failed:", e);
      dealer.error(this, request, ErrorUri.RUNTIME_ERROR, ["the meta procedure failed"]);
    };
    const answer = (value: unknown) => {
      if (value instanceof MetaResult) dealer.yield(this, request, {}, value.args, value.kwargs);
      else dealer.yield(this, request, {}, value === undefined ? [] : [value]);
    };
    let value: unknown;
    try {
      value = fn({
        args: message.args ?? [],
        kwargs: message.kwargs ?? {},
        caller: typeof callerId === "number" ? this.realm.session(callerId) : undefined,
      });
    } catch (e) {
      return fail(e);
    }
    // The history (a store elsewhere) and, in a cluster, the subscription procedures answer later.
    if (value instanceof Promise) value.then(answer, fail);
    else answer(value);
  }

  /** The meta API lives as long as its realm. */
  kill(): void {}

  #table(): Record<typeof META_PROCEDURES[number], MetaProcedure> {
    const { broker, dealer } = this.realm;
    return {
      "wamp.session.count": ({ args }) => this.#sessionsWith(optionalRoles(args[0])).length,
      "wamp.session.list": ({ args }) => this.#sessionsWith(optionalRoles(args[0])).map((s) => s.id),
      "wamp.session.get": ({ args }) => sessionDetails(this.#session(args[0], undefined)),
      "wamp.session.kill": ({ args, kwargs, caller }) => {
        const target = this.#session(args[0], caller);
        const { reason, message } = killReason(kwargs);
        target.kill(reason, message);
        return null;
      },
      "wamp.session.kill_by_authid": ({ args, kwargs, caller }) =>
        this.#killAll((s) => s.authid === text(args[0], "authid"), kwargs, caller),
      "wamp.session.kill_by_authrole": ({ args, kwargs, caller }) =>
        this.#killAll((s) => s.authrole === text(args[0], "authrole"), kwargs, caller),
      "wamp.session.kill_all": ({ kwargs, caller }) => this.#killAll(() => true, kwargs, caller),
      "wamp.session.add_testament": (call) => this.#addTestament(call),
      "wamp.session.flush_testaments": ({ args, kwargs, caller }) => {
        if (caller !== undefined) this.realm.testaments.flush(caller, scope(kwargs.scope ?? args[0]));
        return null;
      },

      // Each answers from this node at once, or, in a cluster, from every node's subscriptions.
      "wamp.subscription.list": () =>
        this.#everywhere((t) => t.list()) ?? byPolicy(broker.subscriptions(), (sub) => sub.topic),
      // This node's own id of a pattern wins, so a pattern held here needs no other node.
      "wamp.subscription.lookup": ({ args }) => {
        const [uri, match] = [text(args[0], "topic"), lookupMatch(args[1])];
        const here = broker.subscription(uri, match);
        if (here !== undefined) return here.id;
        return this.#everywhere((t) => t.lookup(uri, match), { pattern: { uri, match } }) ?? null;
      },
      "wamp.subscription.match": ({ args }) => {
        const topic = text(args[0], "topic");
        const everywhere = this.#everywhere((t) => t.match(topic), { topic });
        if (everywhere !== null) return everywhere;
        const ids = broker.matching(topic).map((sub) => sub.id);
        return ids.length === 0 ? null : ids;
      },
      "wamp.subscription.get": ({ args }) => {
        const here = isId(args[0]) ? broker.subscriptionById(args[0]) : undefined;
        if (here !== undefined) return subscriptionDetails(here);
        return this.#everywhere((t) => t.get(args[0])) ?? subscriptionDetails(this.#subscription(args[0]));
      },
      "wamp.subscription.list_subscribers": ({ args }) =>
        this.#everywhere((t) => t.subscribers(args[0]), { withSubscribers: true }) ??
          [...this.#subscription(args[0]).subscribers].map((s) => s.id),
      "wamp.subscription.count_subscribers": ({ args }) =>
        this.#everywhere((t) => t.count(args[0])) ?? this.#subscription(args[0]).subscribers.size,
      "wamp.subscription.get_events": (call) => this.#getEvents(call),

      "wamp.registration.list": () => byPolicy(dealer.registrations(), (reg) => reg.procedure),
      "wamp.registration.lookup": ({ args }) =>
        dealer.registration(text(args[0], "procedure"), lookupMatch(args[1]))?.id ?? null,
      "wamp.registration.match": ({ args }) => dealer.matching(text(args[0], "procedure"))?.id ?? null,
      "wamp.registration.get": ({ args }) => registrationDetails(this.#registration(args[0])),
      "wamp.registration.list_callees": ({ args }) => this.#registration(args[0]).callees.map((s) => s.id),
      "wamp.registration.count_callees": ({ args }) => this.#registration(args[0]).callees.length,
    };
  }

  #sessionsWith(roles: Set<string> | null): Participant[] {
    const out: Participant[] = [];
    for (const s of this.realm.sessions()) if (roles === null || roles.has(s.authrole)) out.push(s);
    return out;
  }

  /** The session `id` names; the caller's own counts as none (the spec's rule for kill). */
  #session(id: unknown, caller: Participant | undefined): Participant {
    const s = isId(id) ? this.realm.session(id) : undefined;
    if (s === undefined || s === caller) {
      throw new WampError(ErrorUri.NO_SUCH_SESSION, [`no session ${JSON.stringify(id)}`]);
    }
    return s;
  }

  #killAll(which: (s: Participant) => boolean, kwargs: Dict, caller: Participant | undefined): number {
    const { reason, message } = killReason(kwargs);
    const victims = [...this.realm.sessions()].filter((s) => s !== caller && which(s));
    let killed = 0;
    for (const s of victims) {
      try {
        s.kill(reason, message);
        killed++;
      } catch (e) {
        // The server's own sessions refuse; the others still go.
        if (!(e instanceof WampError)) throw e;
      }
    }
    return killed;
  }

  #addTestament({ args, kwargs, caller }: MetaCall): null {
    if (caller === undefined) throw new WampError(ErrorUri.NO_SUCH_SESSION, ["the caller left"]);
    const topic = text(args[0], "topic");
    checkUri(topic, "topic", false);
    const payload = args[1] ?? [];
    const keywords = args[2] ?? {};
    const options = kwargs.publish_options ?? args[3] ?? {};
    if (!Array.isArray(payload)) throw invalid("args must be a list");
    if (!isObject(keywords)) throw invalid("kwargs must be a dictionary");
    if (!isObject(options)) throw invalid("publish_options must be a dictionary");
    PublishFilter.fromOptions(options);
    const bucket = scope(kwargs.scope ?? args[4]);
    const permission = this.realm.authorizer.role(caller.authrole).lookup(topic);
    if (permission === null || !permission.allow.publish) {
      throw new WampError(ErrorUri.NOT_AUTHORIZED, [
        `role ${JSON.stringify(caller.authrole)} may not publish ${topic}`,
      ]);
    }
    if (this.realm.testaments.countOf(caller) >= MAX_TESTAMENTS) {
      throw new WampError(TuercaErrorUri.QUOTA_EXCEEDED, [
        `at most ${MAX_TESTAMENTS} testaments per session`,
      ]);
    }
    const testament: Testament = { topic, args: payload, kwargs: keywords, options: { ...options } };
    if (permission.disclose.publisher) testament.options.disclose_me = true;
    this.realm.testaments.add(caller, bucket, testament);
    return null;
  }

  /**
   * The history of a subscription the caller holds, as the spec's event objects;
   * kwargs `complete` is false when a publication the query names is no longer kept,
   * `since` says since when the store has kept history (a restart moves it).
   */
  async #getEvents({ args, kwargs, caller }: MetaCall): Promise<MetaResult> {
    const sub = isId(args[0]) ? this.realm.broker.subscriptionById(args[0]) : undefined;
    if (sub === undefined || caller === undefined || !sub.subscribers.has(caller)) {
      throw new WampError(ErrorUri.NO_SUCH_SUBSCRIPTION, [
        `no subscription ${JSON.stringify(args[0])} of this session`,
      ]);
    }
    const store = this.realm.broker.store;
    if (store === null) return new MetaResult([[]], { complete: true, since: new Date(0).toISOString() });
    // v1 CALL has no keyword arguments: its options come as the second positional one.
    const options = Object.keys(kwargs).length === 0 && isObject(args[1]) ? args[1] : kwargs;
    const page = await store.events({ uri: sub.topic, match: sub.match }, historyQuery(options));
    const events = page.events.map((e) => ({
      timestamp: new Date(e.timestamp).toISOString(),
      subscription: sub.id,
      publication: e.publication,
      details: sub.match === "exact" ? e.details : { ...e.details, topic: e.topic },
      args: e.args ?? [],
      kwargs: e.kwargs ?? {},
    }));
    return new MetaResult([events], { complete: page.complete, since: new Date(store.since).toISOString() });
  }

  /**
   * `answer` over every node's subscriptions, later; null outside a cluster (or alone in one).
   * @param question what the other nodes must send (default: every subscription, without ids)
   */
  #everywhere<R>(
    answer: (table: SubscriptionTable) => R,
    question: SubscriptionQuestion = {},
  ): Promise<R> | null {
    const remote = this.elsewhere?.elsewhere(question) ?? null;
    if (remote === null) return null;
    return remote.then((subs) => answer(new SubscriptionTable(this.realm.broker.subscriptions(), subs)));
  }

  #subscription(id: unknown): Subscription {
    const sub = isId(id) ? this.realm.broker.subscriptionById(id) : undefined;
    if (sub === undefined) {
      throw new WampError(ErrorUri.NO_SUCH_SUBSCRIPTION, [`no subscription ${JSON.stringify(id)}`]);
    }
    return sub;
  }

  #registration(id: unknown): Registration {
    const reg = isId(id) ? this.realm.dealer.registrationById(id) : undefined;
    if (reg === undefined) {
      throw new WampError(ErrorUri.NO_SUCH_REGISTRATION, [`no registration ${JSON.stringify(id)}`]);
    }
    return reg;
  }

  /** Whether a publish on `topic` could reach anyone. */
  #watched(topic: string): boolean {
    return this.realm.broker.mayDeliver(topic);
  }

  // A session of another cluster node has its membership events published by its own node.
  #emitCreated(topic: string, s: Participant, uri: string, details: Dict): void {
    if (s.node !== undefined || isReservedUri(uri) || !this.#watched(topic)) return;
    this.#publish(topic, [s.id, details], s);
  }

  #emitMember(topic: string, s: Participant, uri: string, id: number): void {
    if (s.node !== undefined || isReservedUri(uri) || !this.#watched(topic)) return;
    this.#publish(topic, [s.id, id], s);
  }

  #publish(topic: string, args: unknown[], about: Participant): void {
    const relay = about.node === undefined;
    this.realm.broker.publish(this, { topic, args, options: { exclude: [about.id] } }, false, relay);
  }
}

function sessionDetails(s: Participant): Dict {
  return {
    session: s.id,
    authid: s.authid,
    authrole: s.authrole,
    authmethod: s.authmethod,
    authprovider: s.authprovider,
    transport: { protocol: s.protocol },
  };
}

function subscriptionDetails(sub: Subscription): Dict {
  return { id: sub.id, created: new Date(sub.created).toISOString(), uri: sub.topic, match: sub.match };
}

function registrationDetails(reg: Registration): Dict {
  return {
    id: reg.id,
    created: new Date(reg.created).toISOString(),
    uri: reg.procedure,
    match: reg.match,
    invoke: reg.invoke,
  };
}

function isObject(value: unknown): value is Dict {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

function invalid(why: string): WampError {
  return new WampError(ErrorUri.INVALID_ARGUMENT, [why]);
}

function text(value: unknown, what: string): string {
  if (typeof value !== "string") throw invalid(`${what} must be a string`);
  return value;
}

function optionalRoles(value: unknown): Set<string> | null {
  if (value === undefined || value === null) return null;
  if (!Array.isArray(value) || !value.every((r) => typeof r === "string")) {
    throw invalid("filter_authroles must be a list of strings");
  }
  return new Set(value);
}

function lookupMatch(options: unknown): MatchPolicy {
  if (options === undefined || options === null) return "exact";
  if (!isObject(options)) throw invalid("options must be a dictionary");
  const match = options.match ?? "exact";
  if (!isMatchPolicy(match)) throw invalid(`unknown match policy ${JSON.stringify(match)}`);
  return match;
}

function scope(value: unknown): TestamentScope {
  if (value === undefined || value === null) return "destroyed";
  if (value === "destroyed" || value === "detached") return value;
  throw invalid('scope must be "destroyed" or "detached"');
}

function killReason(kwargs: Dict): { reason: string; message?: string } {
  const reason = kwargs.reason ?? CloseReason.NORMAL;
  if (typeof reason !== "string" || !isValidUri(reason)) {
    throw new WampError(ErrorUri.INVALID_URI, ["reason must be a valid URI"]);
  }
  const message = kwargs.message;
  if (message !== undefined && typeof message !== "string") throw invalid("message must be a string");
  return { reason, message };
}

/** The most events one `get_events` call returns. */
export const MAX_HISTORY_PAGE = 1000;

/** `get_events`' keyword arguments, checked. */
function historyQuery(kwargs: Dict): HistoryQuery {
  const known = new Set([
    "limit",
    "reverse",
    "from_time",
    "after_time",
    "before_time",
    "until_time",
    "topic",
    "from_publication",
    "after_publication",
    "before_publication",
    "until_publication",
  ]);
  for (const key of Object.keys(kwargs)) if (!known.has(key)) throw invalid(`unknown option ${key}`);
  const limit = kwargs.limit ?? MAX_HISTORY_PAGE;
  if (!Number.isSafeInteger(limit) || (limit as number) < 1) {
    throw invalid("limit must be a positive integer");
  }
  if (kwargs.reverse !== undefined && typeof kwargs.reverse !== "boolean") {
    throw invalid("reverse must be a boolean");
  }
  if (kwargs.topic !== undefined && typeof kwargs.topic !== "string") throw invalid("topic must be a URI");
  const time = (key: string): number | undefined => {
    const v = kwargs[key];
    if (v === undefined) return undefined;
    const t = typeof v === "string" ? Date.parse(v) : NaN;
    if (Number.isNaN(t)) throw invalid(`${key} must be an RFC 3339 timestamp`);
    return t;
  };
  const publication = (key: string): number | undefined => {
    const v = kwargs[key];
    if (v === undefined) return undefined;
    if (!isId(v)) throw invalid(`${key} must be a publication id`);
    return v;
  };
  return {
    limit: Math.min(limit as number, MAX_HISTORY_PAGE),
    reverse: kwargs.reverse === true,
    fromTime: time("from_time"),
    afterTime: time("after_time"),
    beforeTime: time("before_time"),
    untilTime: time("until_time"),
    topic: kwargs.topic as string | undefined,
    fromPublication: publication("from_publication"),
    afterPublication: publication("after_publication"),
    beforePublication: publication("before_publication"),
    untilPublication: publication("until_publication"),
  };
}
