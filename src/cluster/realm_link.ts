/**
 * One realm's part of the cluster: it relays this node's publishes, binds the
 * node's queue to what its subscribers need, tells the other nodes of the sessions,
 * registrations and testaments here, and mirrors theirs as {@link RemoteSession}s.
 *
 * The realm sees the cluster as participants and hooks it already has (the
 * broker's relay and membership listener, the dealer's membership listener, the
 * realm's session listener, the testaments' change hook); nothing in `src/realm`
 * knows of nodes beyond a participant's `node` field.
 *
 * Only sessions of clients are shared. The server's own sessions (the apps, the
 * queue bridge, the HTTP API, the meta API) run on every node, so each node's
 * are its own: `push.tutorial.areaCuadrado` is answered where it is called.
 *
 * @module
 */

import type { Logger } from "../log.ts";
import { ErrorUri, MessageType as T } from "../protocol/constants.ts";
import type { Dict, RouterMessage } from "../protocol/messages.ts";
import type { MatchPolicy } from "../protocol/pattern.ts";
import { isReservedUri } from "../protocol/uri.ts";
import type { PublishRelay, PublishRequest, Subscription } from "../realm/broker.ts";
import type { CancelMode, Registration } from "../realm/dealer.ts";
import { bothListeners, type Participant } from "../realm/participant.ts";
import type { Realm, SessionListener } from "../realm/realm.ts";
import { MetaTopic } from "../realm/meta.ts";
import type {
  RemoteSubscription,
  SubscriptionQuestion,
  SubscriptionSource,
} from "../realm/subscription_table.ts";
import { bindingKeys, RETAINED_KEY, routingKey } from "./keys.ts";
import { NodeCaller, payload, RemoteSession, sessionInfo } from "./remote.ts";
import type { RemoteOutlet } from "./remote.ts";
import type { ClusterMessage, RealmState, RegInfo, SessionInfo, SubInfo } from "./wire.ts";

/** What a realm link needs from the node's backbone connection. */
export interface Backbone {
  /** This node's id. */
  readonly node: string;
  /** Publishes an encoded message to an exchange (dropped, and counted, while disconnected). */
  publish(exchange: string, key: string, message: ClusterMessage): void;
  /** Sends a message to every node. */
  broadcast(message: ClusterMessage): void;
  /** Sends a message to one node. */
  sendTo(node: string, message: ClusterMessage): void;
  /** Binds this node's queue to `exchange` under `key` (again after a reconnection). */
  bind(exchange: string, key: string): void;
  /** Removes that binding. */
  unbind(exchange: string, key: string): void;
  /** A fresh session id for the participants that stand for other nodes. */
  newId(): number;
}

const CANCEL_MODES: readonly string[] = ["skip", "kill", "killnowait"];
/**
 * How long the meta API waits for the other nodes' subscriptions. A node that has
 * not answered by then (it is being lost: heartbeats give up after 3 s) is left out.
 */
export const SUBSCRIPTION_QUERY_MS = 2_000;
const META_TOPICS: ReadonlySet<string> = new Set(Object.values(MetaTopic));

/** What this node knows of another node in this realm. */
interface Peer {
  sessions: Map<number, RemoteSession>;
  /** The meta topics its subscribers hold. */
  watch: Set<string>;
  /** Per session, its registrations by `match procedure`. */
  regs: Map<number, Map<string, RegInfo>>;
  /** Set once the node has routed a call here. */
  caller: NodeCaller | null;
}

/** A question for every node's subscriptions, waiting for the nodes that have not answered. */
interface SubscriptionQuery {
  waiting: Set<string>;
  got: RemoteSubscription[];
  timer: ReturnType<typeof setTimeout>;
  done: (subs: RemoteSubscription[]) => void;
}

/** Whether `s` is a client session of this node (the ones other nodes hear of). */
function shared(s: Participant): boolean {
  return s.node === undefined && s.authprovider !== "local";
}

const regKey = (r: { p: string; m: MatchPolicy }) => `${r.m} ${r.p}`;

/** One realm, linked to the other nodes. */
export class RealmLink implements PublishRelay, RemoteOutlet, SessionListener, SubscriptionSource {
  /** The realm's exchange. */
  readonly exchange: string;
  /** Registrations of one procedure made on two nodes at once, settled for the earlier. */
  conflicts = 0;
  /** Publishes sent to the other nodes. */
  relayed = 0;
  #bindings = new Map<string, number>();
  #peers = new Map<string, Peer>();
  /** The meta topics this node's subscribers hold (told to the others, so they publish only those). */
  #watch = new Set<string>();
  #queries = new Map<number, SubscriptionQuery>();
  #lastQuery = 0;

  /**
   * Hooks into `realm` (call once, before clients connect).
   * @param exchange the realm's topic exchange
   */
  constructor(
    readonly realm: Realm,
    exchange: string,
    private readonly bb: Backbone,
    private readonly log: Logger,
  ) {
    this.exchange = exchange;
    const { broker, dealer } = realm;
    broker.relay = this;
    broker.listener = bothListeners(broker.listener, {
      created: (_s, sub) => {
        this.#need(sub, 1);
        this.#rewatch(sub);
      },
      added: () => {},
      removed: () => {},
      deleted: (_s, sub) => {
        this.#need(sub, -1);
        this.#rewatch(sub);
      },
    });
    dealer.listener = bothListeners(dealer.listener, {
      created: () => {},
      added: (s, reg) => this.#announceReg("reg", s, reg),
      removed: (s, reg) => this.#announceReg("unreg", s, reg),
      deleted: () => {},
    });
    realm.sessionListener = this;
    realm.testaments.onChange = (s) => {
      if (!shared(s)) return;
      const { detached, destroyed } = realm.testaments.of(s);
      this.bb.broadcast({ k: "tst", n: bb.node, r: realm.name, i: s.id, d: detached, x: destroyed });
    };
    for (const sub of broker.subscriptions()) this.#need(sub, 1);
    this.#watch = this.#watched();
    broker.spreadIds();
    realm.meta.elsewhere = this;
  }

  /** Asks every other node for its subscriptions here (see {@link SUBSCRIPTION_QUERY_MS}). */
  elsewhere(question: SubscriptionQuestion): Promise<RemoteSubscription[]> | null {
    if (this.#peers.size === 0) return null;
    const q = ++this.#lastQuery;
    return new Promise((resolve) => {
      const query: SubscriptionQuery = {
        waiting: new Set(this.#peers.keys()),
        got: [],
        timer: setTimeout(() => {
          this.log.warn("cluster: nodes did not answer for their subscriptions in time; left out", {
            realm: this.realm.name,
            nodes: [...query.waiting].join(" "),
          });
          this.#settle(q);
        }, SUBSCRIPTION_QUERY_MS),
        done: resolve,
      };
      this.#queries.set(q, query);
      const m: ClusterMessage = { k: "subq", n: this.bb.node, r: this.realm.name, q };
      if (question.withSubscribers === true) m.w = true;
      if (question.pattern !== undefined) [m.u, m.m] = [question.pattern.uri, question.pattern.match];
      if (question.topic !== undefined) m.t = question.topic;
      this.bb.broadcast(m);
    });
  }

  /**
   * Whether a publish on `topic` may reach a subscriber on another node. Meta
   * events are published on every join and subscribe, so for them the answer is
   * what the other nodes said they watch; any other topic may be bound somewhere.
   */
  mayReach(topic: string): boolean {
    if (!META_TOPICS.has(topic)) return true;
    for (const peer of this.#peers.values()) if (peer.watch.has(topic)) return true;
    return false;
  }

  /** The binding keys this realm needs now (after a reconnection, all of them are bound again). */
  keys(): string[] {
    return [RETAINED_KEY, ...this.#bindings.keys()];
  }

  // ---- this node → the others

  /** A publish made here goes to the realm's exchange once. */
  published(req: PublishRequest, publication: number, identity: Dict | null): void {
    // Built field by field: this runs once per publish.
    const m: ClusterMessage = {
      k: "ev",
      n: this.bb.node,
      r: this.realm.name,
      p: publication,
      t: req.topic,
      o: req.options,
    };
    if (req.args !== undefined) m.a = req.args;
    if (req.kwargs !== undefined) m.w = req.kwargs;
    if (identity !== null) m.d = identity;
    this.relayed++;
    this.bb.publish(this.exchange, req.options.retain === true ? RETAINED_KEY : routingKey(req.topic), m);
  }

  /** A client session joined here. */
  joined(s: Participant): void {
    if (shared(s)) this.bb.broadcast({ k: "join", n: this.bb.node, r: this.realm.name, s: sessionInfo(s) });
  }

  /** A client session left here (its registrations went first, each with `unreg`). */
  left(s: Participant): void {
    if (shared(s)) this.bb.broadcast({ k: "leave", n: this.bb.node, r: this.realm.name, i: s.id });
  }

  /** Everything other nodes must know of this realm here: for `hello` and `state`. */
  state(): RealmState {
    const sessions: SessionInfo[] = [];
    const testaments: RealmState["testaments"] = [];
    for (const s of this.realm.sessions()) {
      if (!shared(s)) continue;
      sessions.push(sessionInfo(s));
      const t = this.realm.testaments.of(s);
      if (t.detached.length + t.destroyed.length > 0) testaments.push([s.id, t.detached, t.destroyed]);
    }
    const regs: RegInfo[] = [];
    for (const reg of this.realm.dealer.registrations()) {
      if (isReservedUri(reg.procedure)) continue;
      for (const c of reg.callees) {
        if (shared(c)) regs.push({ i: c.id, p: reg.procedure, m: reg.match, v: reg.invoke, at: reg.created });
      }
    }
    return { sessions, regs, testaments, watch: [...this.#watch] };
  }

  #need(sub: Subscription, delta: 1 | -1): void {
    for (const key of bindingKeys(sub.topic, sub.match)) {
      const n = (this.#bindings.get(key) ?? 0) + delta;
      if (n > 0) {
        this.#bindings.set(key, n);
        if (n === 1 && delta === 1) this.bb.bind(this.exchange, key);
      } else {
        this.#bindings.delete(key);
        this.bb.unbind(this.exchange, key);
      }
    }
  }

  /** The meta topics some subscription here matches. */
  #watched(): Set<string> {
    const out = new Set<string>();
    for (const t of META_TOPICS) if (this.realm.broker.matching(t).length > 0) out.add(t);
    return out;
  }

  /** After a subscription came or went: if what this node watches changed, the others are told. */
  #rewatch(sub: Subscription): void {
    if (sub.match === "exact" && !META_TOPICS.has(sub.topic)) return;
    const now = this.#watched();
    if (now.size === this.#watch.size && [...now].every((t) => this.#watch.has(t))) return;
    this.#watch = now;
    this.bb.broadcast({ k: "watch", n: this.bb.node, r: this.realm.name, w: [...now] });
  }

  #announceReg(k: "reg" | "unreg", s: Participant, reg: Registration): void {
    if (!shared(s) || isReservedUri(reg.procedure)) return;
    this.bb.broadcast({
      k,
      n: this.bb.node,
      r: this.realm.name,
      i: s.id,
      p: reg.procedure,
      m: reg.match,
      v: reg.invoke,
      at: reg.created,
    });
  }

  // ---- the remote participants → their nodes

  /** An INVOCATION or INTERRUPT for a callee on another node. */
  toCallee(callee: RemoteSession, message: RouterMessage): void {
    const r = this.realm.name;
    if (message.type === T.INVOCATION) {
      const reg = this.realm.dealer.registrationById(message.registration);
      if (reg === undefined) return;
      this.bb.sendTo(callee.node, {
        k: "inv",
        n: this.bb.node,
        r,
        c: callee.id,
        q: message.request,
        p: reg.procedure,
        m: reg.match,
        d: message.details,
        ...payload(message.args, message.kwargs),
      });
    } else if (message.type === T.INTERRUPT) {
      const mode = typeof message.options.mode === "string" ? message.options.mode : "killnowait";
      const m: ClusterMessage = { k: "int", n: this.bb.node, r, q: message.request, mode };
      if (typeof message.options.reason === "string") m.why = message.options.reason;
      this.bb.sendTo(callee.node, m);
    }
  }

  /** A RESULT or ERROR for a call another node routed here. */
  toCaller(caller: NodeCaller, message: RouterMessage): void {
    const r = this.realm.name;
    if (message.type === T.RESULT) {
      const q = message.request as number;
      this.bb.sendTo(caller.node, {
        k: "res",
        n: this.bb.node,
        r,
        q,
        d: message.details,
        ...payload(message.args, message.kwargs),
      });
    } else if (message.type === T.ERROR) {
      const q = message.request as number;
      this.bb.sendTo(caller.node, {
        k: "err",
        n: this.bb.node,
        r,
        q,
        e: message.error,
        ...payload(message.args, message.kwargs),
      });
    }
  }

  /** The meta API's kill of a session on another node. */
  kill(s: RemoteSession, reason: string, message?: string): void {
    const m: ClusterMessage = { k: "kill", n: this.bb.node, r: this.realm.name, i: s.id, reason };
    if (message !== undefined) m.message = message;
    this.bb.sendTo(s.node, m);
  }

  // ---- the others → this node

  /** Acts on a message about this realm from another node. */
  handle(m: ClusterMessage): void {
    const { broker, dealer } = this.realm;
    switch (m.k) {
      case "ev":
        try {
          broker.deliverRelayed(
            { topic: m.t, args: m.a ?? undefined, kwargs: m.w ?? undefined, options: m.o },
            m.p,
            m.d ?? null,
          );
        } catch {
          // Lists the origin accepted cannot be malformed; a hostile node's are dropped.
        }
        return;
      case "join":
        return this.#addSession(m.n, m.s, false);
      case "leave": {
        const rs = this.#peers.get(m.n)?.sessions.get(m.i);
        if (rs !== undefined) this.#removeSession(rs, false);
        return;
      }
      case "reg":
        return this.#addReg(m.n, m);
      case "unreg":
        return this.#removeReg(m.n, m);
      case "watch":
        this.#peer(m.n).watch = new Set(m.w);
        return;
      case "tst": {
        const rs = this.#peers.get(m.n)?.sessions.get(m.i);
        if (rs !== undefined) this.realm.testaments.set(rs, { detached: m.d, destroyed: m.x });
        return;
      }
      case "inv": {
        const caller = this.#callerFor(m.n);
        const callee = this.realm.session(m.c);
        const reg = dealer.registration(m.p, m.m);
        if (
          callee === undefined || callee.node !== undefined || reg === undefined ||
          !reg.callees.includes(callee)
        ) {
          caller.send({
            type: T.ERROR,
            requestType: T.CALL,
            request: m.q,
            details: {},
            error: ErrorUri.CANCELED,
            args: ["the callee left before answering"],
          });
          return;
        }
        return dealer.invoke(caller, m.q, callee, reg, m.d, m.a ?? undefined, m.w ?? undefined);
      }
      case "int": {
        const caller = this.#peers.get(m.n)?.caller;
        if (caller != null && CANCEL_MODES.includes(m.mode)) {
          dealer.cancel(caller, m.q, m.mode as CancelMode, m.why ?? undefined);
        }
        return;
      }
      case "res":
      case "err": {
        const callee = dealer.calleeOf(m.q);
        // Only the callee's own node answers for it.
        if (!(callee instanceof RemoteSession) || callee.node !== m.n) return;
        if (m.k === "res") {
          dealer.yield(
            callee,
            m.q,
            m.d.progress === true ? { progress: true } : {},
            m.a ?? undefined,
            m.w ?? undefined,
          );
        } else dealer.error(callee, m.q, m.e, m.a ?? undefined, m.w ?? undefined);
        return;
      }
      case "subq":
        this.bb.sendTo(m.n, {
          k: "suba",
          n: this.bb.node,
          r: this.realm.name,
          q: m.q,
          s: this.#subscriptions(m),
        });
        return;
      case "suba": {
        const query = this.#queries.get(m.q);
        if (query === undefined || !query.waiting.delete(m.n)) return;
        for (const sub of m.s) {
          const got: RemoteSubscription = {
            id: sub.i,
            uri: sub.u,
            match: sub.m,
            created: sub.c,
            count: sub.n,
          };
          if (sub.s != null) got.subscribers = sub.s;
          query.got.push(got);
        }
        if (query.waiting.size === 0) this.#settle(m.q);
        return;
      }
      case "kill": {
        const s = this.realm.session(m.i);
        if (s === undefined || s.node !== undefined) return;
        try {
          s.kill(m.reason, m.message ?? undefined);
        } catch {
          // The server's own sessions refuse, as on one node.
        }
        return;
      }
    }
  }

  /**
   * Takes what `node` holds here as the truth: sessions it no longer has leave,
   * new ones join (announced to this node's subscribers: they were not heard of
   * before), registrations and testaments follow.
   */
  adopt(node: string, state: RealmState): void {
    const peer = this.#peer(node);
    peer.watch = new Set(state.watch);
    const listed = new Set(state.sessions.map((s) => s.id));
    for (const rs of [...peer.sessions.values()]) if (!listed.has(rs.id)) this.#removeSession(rs, true);
    for (const info of state.sessions) if (!peer.sessions.has(info.id)) this.#addSession(node, info, true);
    const wanted = new Map<number, Map<string, RegInfo>>();
    for (const r of state.regs) {
      let mine = wanted.get(r.i);
      if (mine === undefined) wanted.set(r.i, mine = new Map());
      mine.set(regKey(r), r);
    }
    for (const [id, regs] of [...peer.regs]) {
      for (const [key, r] of [...regs]) if (!wanted.get(id)?.has(key)) this.#removeReg(node, r);
    }
    for (const regs of wanted.values()) {
      for (const [key, r] of regs) if (!peer.regs.get(r.i)?.has(key)) this.#addReg(node, r);
    }
    const willed = new Map(
      state.testaments.map(([id, detached, destroyed]) => [id, { detached, destroyed }]),
    );
    for (const rs of peer.sessions.values()) {
      this.realm.testaments.set(rs, willed.get(rs.id) ?? { detached: [], destroyed: [] });
    }
  }

  /**
   * Forgets `node`. When it was lost (no heartbeat), its sessions' testaments and
   * `on_leave` are published to this node's subscribers, and the calls it was
   * serving or making end; after a `bye` its sessions have already left.
   */
  dropNode(node: string, lost: boolean): void {
    const peer = this.#peers.get(node);
    if (peer === undefined) return;
    for (const rs of [...peer.sessions.values()]) this.#removeSession(rs, lost);
    if (peer.caller !== null) this.realm.dealer.removeSession(peer.caller);
    this.#peers.delete(node);
    for (const [q, query] of this.#queries) {
      if (query.waiting.delete(node) && query.waiting.size === 0) this.#settle(q);
    }
  }

  /** The node is stopping: questions still open are answered with what has arrived. */
  stop(): void {
    for (const q of [...this.#queries.keys()]) this.#settle(q);
  }

  /** Answers a subscription query with what has arrived. */
  #settle(q: number): void {
    const query = this.#queries.get(q);
    if (query === undefined) return;
    this.#queries.delete(q);
    clearTimeout(query.timer);
    query.done(query.got);
  }

  /** This node's subscriptions that client sessions hold and `question` asks for, for another node's meta API. */
  #subscriptions(question: { w?: boolean; u?: string; m?: MatchPolicy; t?: string }): SubInfo[] {
    const broker = this.realm.broker;
    const withIds = question.w === true;
    let subs: Iterable<Subscription> = broker.subscriptions();
    if (question.u != null && question.m != null) {
      const one = broker.subscription(question.u, question.m);
      subs = one === undefined ? [] : [one];
    } else if (question.t != null) subs = broker.matching(question.t);
    const out: SubInfo[] = [];
    for (const sub of subs) {
      const ids: number[] = [];
      for (const s of sub.subscribers) if (shared(s)) ids.push(s.id);
      if (ids.length === 0) continue;
      const info: SubInfo = { i: sub.id, u: sub.topic, m: sub.match, c: sub.created, n: ids.length };
      if (withIds) info.s = ids;
      out.push(info);
    }
    return out;
  }

  #peer(node: string): Peer {
    let peer = this.#peers.get(node);
    if (peer === undefined) {
      this.#peers.set(node, peer = { sessions: new Map(), watch: new Set(), regs: new Map(), caller: null });
    }
    return peer;
  }

  #callerFor(node: string): NodeCaller {
    const peer = this.#peer(node);
    return peer.caller ??= new NodeCaller(this.bb.newId(), node, this);
  }

  #addSession(node: string, info: SessionInfo, announce: boolean): void {
    if (this.realm.session(info.id) !== undefined) {
      this.log.warn("cluster: a session id is already in use here; the announcement is ignored", {
        node,
        session: info.id,
      });
      return;
    }
    const rs = new RemoteSession(node, info, this);
    this.#peer(node).sessions.set(rs.id, rs);
    this.realm.join(rs, announce);
  }

  #removeSession(rs: RemoteSession, announce: boolean): void {
    const peer = this.#peers.get(rs.node);
    peer?.sessions.delete(rs.id);
    peer?.regs.delete(rs.id);
    this.realm.leave(rs, announce);
  }

  #addReg(node: string, r: RegInfo): void {
    const peer = this.#peer(node);
    const rs = peer.sessions.get(r.i);
    if (rs === undefined) return;
    const dealer = this.realm.dealer;
    try {
      dealer.register(rs, r.p, { match: r.m, invoke: r.v });
    } catch {
      // Taken here: by the same registration made on two nodes at once (each heard of the
      // other's too late), or by the server's own procedure. Every node keeps the earlier one.
      const held = dealer.registration(r.p, r.m);
      if (held === undefined || !this.#supersedes(r, held)) {
        this.#conflict(node, r);
        return;
      }
      for (const c of [...held.callees]) {
        if (c instanceof RemoteSession) dealer.unregister(c, held.id);
        else dealer.revoke(c, held, "wamp.error.procedure_already_exists");
      }
      this.#conflict(node, r);
      dealer.register(rs, r.p, { match: r.m, invoke: r.v });
    }
    let mine = peer.regs.get(r.i);
    if (mine === undefined) peer.regs.set(r.i, mine = new Map());
    mine.set(regKey(r), r);
  }

  /**
   * Whether registration `r` of another node came before `held`, taken here: the
   * earlier wins, then the lower session id, so every node decides alike. The
   * server's own procedures are never displaced.
   */
  #supersedes(r: RegInfo, held: Registration): boolean {
    const first = held.callees[0];
    if (first === undefined || (first.node === undefined && !shared(first))) return false;
    const at = first instanceof RemoteSession
      ? this.#peers.get(first.node)?.regs.get(first.id)?.get(regKey(r))?.at ?? held.created
      : held.created;
    return r.at < at || (r.at === at && r.i < first.id);
  }

  #conflict(node: string, r: RegInfo): void {
    this.conflicts++;
    this.log.warn(
      "cluster: the same procedure was registered on two nodes at once; the earlier registration stays",
      {
        node,
        procedure: r.p,
        match: r.m,
      },
    );
  }

  #removeReg(node: string, r: RegInfo): void {
    const peer = this.#peers.get(node);
    const rs = peer?.sessions.get(r.i);
    if (peer === undefined || rs === undefined) return;
    peer.regs.get(r.i)?.delete(regKey(r));
    const reg = this.realm.dealer.registration(r.p, r.m);
    if (reg !== undefined && reg.callees.includes(rs)) this.realm.dealer.unregister(rs, reg.id);
  }
}
