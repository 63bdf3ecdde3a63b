/**
 * The dealer: WAMP routed remote procedure calls within one realm.
 *
 * A registration is a procedure URI or pattern (`exact`, `prefix`, `wildcard`)
 * with an invocation policy. A call goes to exactly one registration, the most
 * specific match (exact, then the longest prefix, then the wildcard with the
 * longest leading literal components: {@link PatternIndex.best}), and to one of
 * its callees, chosen by the policy: `single` (the only one), `roundrobin`,
 * `random`, `first` or `last` (by registration order). Sessions joining a shared
 * registration must ask for the same policy, and `single` admits nobody else.
 *
 * CALL → INVOCATION → YIELD → RESULT; a callee's ERROR goes to the caller. Every
 * call in flight is indexed by its invocation id, by its caller and by its callee,
 * so whichever side leaves, the other is told (the caller gets
 * `wamp.error.canceled`, the callee an INTERRUPT) and nothing is left behind.
 *
 * Features: caller identification (`disclose_me`), call canceling (CANCEL with
 * `skip`, `kill` or `killnowait`), progressive call results, call timeouts (the
 * dealer's timer: the caller gets `wamp.error.timeout`, a callee that announced
 * call canceling an INTERRUPT, and a late answer is dropped), pattern-based and
 * shared registrations.
 *
 * @module
 */

import { ErrorUri, MessageType as T } from "../protocol/constants.ts";
import { WampError } from "../protocol/errors.ts";
import { IdSequence } from "../protocol/ids.ts";
import type { Dict, RequestId } from "../protocol/messages.ts";
import { type MatchPolicy, PatternIndex } from "../protocol/pattern.ts";
import { isReservedUri } from "../protocol/uri.ts";
import { DURATION_BOUNDS, Histogram } from "../stats/histogram.ts";
import type { MembershipListener, Participant } from "./participant.ts";

/** How a shared registration picks the callee of each call. */
export type InvocationPolicy = "single" | "roundrobin" | "random" | "first" | "last";

/** The invocation policies, for validation. */
export const INVOCATION_POLICIES: readonly InvocationPolicy[] = [
  "single",
  "roundrobin",
  "random",
  "first",
  "last",
];

/** A procedure (or pattern) and the sessions that offer it. */
export class Registration {
  /** When it was registered (ms since the epoch). */
  readonly created: number = Date.now();
  /** The callees, in the order they registered. */
  readonly callees: Participant[] = [];
  #turn = 0;

  /**
   * Records a registration; {@link Dealer.register} creates them.
   * @param id the registration id, 1..2^53, unique in the dealer
   * @param procedure the procedure URI, or the pattern for `prefix` and `wildcard`
   * @param match how `procedure` is matched against called URIs
   * @param invoke how the callee of each call is chosen
   */
  constructor(
    readonly id: number,
    readonly procedure: string,
    readonly match: MatchPolicy = "exact",
    readonly invoke: InvocationPolicy = "single",
  ) {}

  /** Takes `callee` out of the rotation, keeping the round-robin turn on the callee that was next. */
  remove(callee: Participant): void {
    const at = this.callees.indexOf(callee);
    if (at < 0) return;
    this.callees.splice(at, 1);
    if (at < this.#turn) this.#turn--;
  }

  /** The callee for the next call, by the invocation policy. */
  pick(): Participant {
    const callees = this.callees;
    switch (this.invoke) {
      case "last":
        return callees[callees.length - 1];
      case "random":
        return callees[Math.floor(Math.random() * callees.length)];
      case "roundrobin": {
        if (this.#turn >= callees.length) this.#turn = 0;
        return callees[this.#turn++];
      }
      default:
        return callees[0];
    }
  }
}

/** A session's calls in flight, as caller and as callee. */
interface CallsOf {
  /** The calls it made, by its request id. */
  readonly made: Map<RequestId, PendingCall>;
  /** The calls it serves, newest first, linked through {@link PendingCall.nextServed}. */
  served: PendingCall | null;
}

/** A call in flight. */
interface PendingCall {
  readonly invocation: number;
  readonly caller: Participant;
  readonly request: RequestId;
  readonly callee: Participant;
  /** The caller's and the callee's records, so that ending the call looks nothing up. */
  readonly ofCaller: CallsOf;
  readonly ofCallee: CallsOf;
  prevServed: PendingCall | null;
  nextServed: PendingCall | null;
  readonly receiveProgress: boolean;
  /** Set by CANCEL mode `kill`: the callee's answer is awaited, then sent as canceled. */
  killRequested: boolean;
  /** The call timeout's timer, if the call has one. */
  timer: ReturnType<typeof setTimeout> | undefined;
  /** When the call was routed (performance.now()), for the sampled calls; -1 for the others. */
  readonly started: number;
}

/** One call in this many is timed for the duration histogram (a power of two). */
export const DURATION_SAMPLE = 8;

/** How a routed call ended, as the metrics count it. */
export type CallOutcome = "result" | "error" | "canceled" | "timeout" | "callee_left" | "caller_left";

/** What the dealer counts: calls by outcome, and how long they took. */
export interface DealerCounters {
  /** Routed calls by how they ended; refused ones (no such procedure, ...) are counted by their error. */
  readonly calls: Record<CallOutcome, number>;
  /** Seconds from CALL to the final answer, for one routed call in {@link DURATION_SAMPLE}. */
  readonly duration: Histogram;
}

/** How a session asks to register (REGISTER.Options, already validated). */
export interface RegisterOptions {
  /** Default `exact`. */
  match?: MatchPolicy;
  /** Default `single`. */
  invoke?: InvocationPolicy;
}

/** What a call asks of the dealer (already validated by the session). */
export interface CallRequest {
  /** The caller's request id: an integer for v2 and local calls, the call id string for v1. */
  request: RequestId;
  /** The procedure URI, already checked (and, for v1, CURIE-resolved). */
  procedure: string;
  /** Positional arguments (CALL.Arguments). */
  args?: unknown[];
  /** Keyword arguments (CALL.ArgumentsKw). */
  kwargs?: Dict;
  /** CALL.Options: `receive_progress` and `timeout` (ms, 0 = none) are honored. */
  options: Dict;
  /** The payload as the caller's JSON text, passed on in the INVOCATION (see `Call.tail` in protocol/messages.ts). */
  tail?: string;
}

const MAX_TIMER_MS = 2 ** 31 - 1;
const NO_DETAILS: Dict = Object.freeze({}) as Dict;
const PROGRESS: Dict = Object.freeze({ progress: true }) as Dict;

/** Cancel modes of WAMP call canceling. */
export type CancelMode = "skip" | "kill" | "killnowait";

/** Routed RPC for one realm. */
export class Dealer {
  /** Told of registration lifecycle changes; set by the realm. */
  listener: MembershipListener<Registration> | null = null;
  /** Calls by outcome and duration. */
  readonly counters: DealerCounters = {
    calls: { result: 0, error: 0, canceled: 0, timeout: 0, callee_left: 0, caller_left: 0 },
    duration: new Histogram(DURATION_BOUNDS),
  };
  #index = new PatternIndex<Registration>();
  #byId = new Map<number, Registration>();
  #registrationsOf = new Map<Participant, Set<Registration>>();
  #pending = new Map<number, PendingCall>();
  #callsOf = new Map<Participant, CallsOf>();
  #registrationIds = new IdSequence();
  #invocationIds = new IdSequence();
  #timed = 0;

  /**
   * Registers `procedure` under `options.match` for `callee`, creating the
   * registration or joining the callee to a shared one.
   * @throws {WampError} `wamp.error.procedure_already_exists` when the registration
   *   exists and is `single`, asks for another policy, or already has this callee
   */
  register(callee: Participant, procedure: string, options: RegisterOptions = {}): Registration {
    const match = options.match ?? "exact";
    const invoke = options.invoke ?? "single";
    let reg = this.#index.get(procedure, match);
    if (reg !== undefined) {
      if (reg.callees.includes(callee)) {
        throw new WampError(ErrorUri.PROCEDURE_ALREADY_EXISTS, [
          `this session has already registered ${procedure}`,
        ]);
      }
      if (invoke === "single" || reg.invoke !== invoke) {
        throw new WampError(ErrorUri.PROCEDURE_ALREADY_EXISTS, [
          `procedure ${procedure} is already registered with the invocation policy ${reg.invoke}`,
        ]);
      }
    }
    const created = reg === undefined;
    if (reg === undefined) {
      reg = new Registration(this.#registrationIds.next(), procedure, match, invoke);
      this.#index.set(procedure, match, reg);
      this.#byId.set(reg.id, reg);
    }
    reg.callees.push(callee);
    let mine = this.#registrationsOf.get(callee);
    if (mine === undefined) this.#registrationsOf.set(callee, mine = new Set());
    mine.add(reg);
    if (this.listener !== null) {
      if (created) this.listener.created(callee, reg);
      this.listener.added(callee, reg);
    }
    return reg;
  }

  /**
   * Withdraws `callee` from registration `id`. Calls already in flight still complete.
   * @throws {WampError} `wamp.error.no_such_registration`
   */
  unregister(callee: Participant, id: number): void {
    const reg = this.#byId.get(id);
    if (reg === undefined || !reg.callees.includes(callee)) {
      throw new WampError(ErrorUri.NO_SUCH_REGISTRATION, [`no registration ${id} of this session`]);
    }
    this.#dropCallee(callee, reg);
  }

  /**
   * Withdraws `callee` from `reg` on the router's own initiative (another node of a
   * cluster holds the procedure), telling a callee that understands registration
   * revocation with UNREGISTERED `[67, 0, {registration, reason}]`. Calls in flight
   * still complete.
   */
  revoke(callee: Participant, reg: Registration, reason: string): void {
    if (!reg.callees.includes(callee)) return;
    this.#dropCallee(callee, reg);
    if (callee.acceptsRevocation === true) {
      callee.send({ type: T.UNREGISTERED, request: 0, details: { registration: reg.id, reason } });
    }
  }

  /** The registration of `procedure` under `match` (default exact), if any. */
  registration(procedure: string, match: MatchPolicy = "exact"): Registration | undefined {
    return this.#index.get(procedure, match);
  }

  /** The registration with this id, if it exists. */
  registrationById(id: number): Registration | undefined {
    return this.#byId.get(id);
  }

  /** The registration a call to the concrete URI `procedure` would go to, if any. */
  matching(procedure: string): Registration | undefined {
    // The router's own `wamp.` procedures are reached only by exact registrations: a
    // pattern that happens to cover them must not catch calls meant for the router.
    return isReservedUri(procedure) ? this.#index.get(procedure, "exact") : this.#index.best(procedure);
  }

  /** Every registration, in no particular order. */
  registrations(): IterableIterator<Registration> {
    return this.#byId.values();
  }

  /**
   * Whether `caller` has a call with this request id in flight (a client must not
   * reuse one before its answer).
   */
  isPending(caller: Participant, request: RequestId): boolean {
    return this.#callsOf.get(caller)?.made.has(request) ?? false;
  }

  /**
   * Routes a call to its callee as an INVOCATION; the answer reaches `caller` later
   * as RESULT or ERROR through {@link Participant.send}.
   * @param disclose whether INVOCATION details name the caller (`caller`, `caller_authid`,
   *   `caller_authrole`): the client's `disclose_me`, or its role's forced disclosure
   * @param defaultTimeoutMs the call timeout when the caller sets none (0: none)
   * @throws {WampError} `wamp.error.no_such_procedure`; `wamp.error.invalid_argument`
   *   for a `timeout` that is not a non-negative integer
   */
  call(caller: Participant, req: CallRequest, disclose = false, defaultTimeoutMs = 0): void {
    const timeout = req.options.timeout ?? defaultTimeoutMs;
    if (typeof timeout !== "number" || !Number.isSafeInteger(timeout) || timeout < 0) {
      throw new WampError(ErrorUri.INVALID_ARGUMENT, ["option timeout must be a non-negative integer (ms)"]);
    }
    const reg = this.matching(req.procedure);
    if (reg === undefined) {
      throw new WampError(ErrorUri.NO_SUCH_PROCEDURE, [`no procedure registered for ${req.procedure}`]);
    }
    const callee = reg.pick();
    const progress = req.options.receive_progress === true;
    let details = NO_DETAILS;
    if (disclose || callee.seesCallers === true || progress || reg.match !== "exact") {
      details = {};
      if (disclose || callee.seesCallers === true) {
        details.caller = caller.id;
        details.caller_authid = caller.authid;
        details.caller_authrole = caller.authrole;
      }
      if (progress) details.receive_progress = true;
      if (reg.match !== "exact") details.procedure = req.procedure;
    }
    this.#invoke(caller, req.request, callee, reg, details, req.args, req.kwargs, timeout, req.tail);
  }

  /**
   * Invokes `callee` on `reg` for a call routed elsewhere: another node of a
   * cluster chose the callee and built the INVOCATION details. The answer reaches
   * `caller` as for {@link call}; there is no timeout here (the caller's node keeps it).
   * @param details the INVOCATION details (`receive_progress` asks for progressive results)
   */
  invoke(
    caller: Participant,
    request: RequestId,
    callee: Participant,
    reg: Registration,
    details: Dict,
    args?: unknown[],
    kwargs?: Dict,
  ): void {
    this.#invoke(caller, request, callee, reg, details, args, kwargs, 0, undefined);
  }

  /** The callee serving invocation `invocation`, while it is in flight. */
  calleeOf(invocation: number): Participant | undefined {
    return this.#pending.get(invocation)?.callee;
  }

  #invoke(
    caller: Participant,
    request: RequestId,
    callee: Participant,
    reg: Registration,
    details: Dict,
    args: unknown[] | undefined,
    kwargs: Dict | undefined,
    timeout: number,
    tail: string | undefined,
  ): void {
    const pending: PendingCall = {
      invocation: this.#invocationIds.next(),
      caller,
      request,
      callee,
      ofCaller: this.#calls(caller),
      ofCallee: this.#calls(callee),
      prevServed: null,
      nextServed: null,
      receiveProgress: details.receive_progress === true,
      killRequested: false,
      timer: undefined,
      // Reading the clock twice costs a fifth of a routed call: time one call in 8.
      started: (++this.#timed & (DURATION_SAMPLE - 1)) === 0 ? performance.now() : -1,
    };
    this.#track(pending);
    // A timer cannot wait longer than 2^31 - 1 ms; longer timeouts wait that long.
    if (timeout > 0) pending.timer = setTimeout(() => this.#expire(pending), Math.min(timeout, MAX_TIMER_MS));
    callee.send({
      type: T.INVOCATION,
      request: pending.invocation,
      registration: reg.id,
      details,
      args,
      kwargs,
      tail,
    });
  }

  /**
   * A callee's YIELD. Answers for calls it does not hold (late, canceled or forged)
   * are dropped.
   */
  yield(
    callee: Participant,
    invocation: number,
    options: Dict,
    args?: unknown[],
    kwargs?: Dict,
    tail?: string,
  ): void {
    const pending = this.#pending.get(invocation);
    if (pending === undefined || pending.callee !== callee) return;
    const progress = options.progress === true;
    if (progress && !pending.receiveProgress) return;
    if (!progress) this.#untrack(pending, pending.killRequested ? "canceled" : "result");
    if (pending.killRequested) {
      if (!progress) this.#sendCanceled(pending, "the call was canceled");
      return;
    }
    pending.caller.send({
      type: T.RESULT,
      request: pending.request,
      details: progress ? PROGRESS : NO_DETAILS,
      args,
      kwargs,
      tail,
    });
  }

  /** A callee's ERROR for an invocation; relayed to the caller. */
  error(callee: Participant, invocation: number, error: string, args?: unknown[], kwargs?: Dict): void {
    const pending = this.#pending.get(invocation);
    if (pending === undefined || pending.callee !== callee) return;
    this.#untrack(pending, pending.killRequested ? "canceled" : "error");
    pending.caller.send({
      type: T.ERROR,
      requestType: T.CALL,
      request: pending.request,
      details: {},
      error: pending.killRequested ? ErrorUri.CANCELED : error,
      args,
      kwargs,
    });
  }

  /**
   * A caller's CANCEL. `skip` answers the caller at once and drops the callee's
   * eventual answer; `killnowait` also interrupts the callee; `kill` interrupts it
   * and waits for its answer. A callee that did not announce call canceling is
   * never sent INTERRUPT: `kill` and `killnowait` then behave like `skip`. A
   * callee on another node of a cluster is sent INTERRUPT with mode `skip` as well:
   * its node forgets the call without telling the callee.
   * Unknown requests are ignored (the answer may already be on its way).
   * @param reason the INTERRUPT's `reason` (a call that timed out, or whose caller
   *   left, on another node of a cluster)
   */
  cancel(caller: Participant, request: RequestId, mode: CancelMode, reason?: string): void {
    const pending = this.#callsOf.get(caller)?.made.get(request);
    if (pending === undefined || pending.killRequested) return;
    // A callee on another node hears of a skip too, so that its node forgets the call as well
    // (it does not tell the callee: `skip` never interrupts).
    const interrupt = pending.callee.acceptsInterrupt &&
      (mode !== "skip" || pending.callee.node !== undefined);
    if (interrupt) {
      const options: Dict = reason === undefined ? { mode } : { mode, reason };
      pending.callee.send({ type: T.INTERRUPT, request: pending.invocation, options });
    }
    if (mode === "kill" && interrupt) {
      pending.killRequested = true;
      return;
    }
    this.#untrack(pending, "canceled");
    this.#sendCanceled(pending, "the call was canceled");
  }

  /**
   * Forgets everything of a session that left: its registrations, the calls it
   * made (their callees are interrupted) and the calls it was serving (their
   * callers get `wamp.error.canceled`).
   */
  removeSession(s: Participant): void {
    const regs = this.#registrationsOf.get(s);
    if (regs !== undefined) { for (const reg of regs) this.#dropCallee(s, reg); }

    const calls = this.#callsOf.get(s);
    if (calls === undefined) return;
    // A copy first: answering a caller may end other calls of this list under us.
    const served: PendingCall[] = [];
    for (let p = calls.served; p !== null; p = p.nextServed) served.push(p);
    for (const pending of served) {
      if (this.#pending.get(pending.invocation) !== pending) continue;
      this.#untrack(pending, "callee_left");
      this.#sendCanceled(pending, "the callee left before answering");
    }
    for (const pending of calls.made.values()) {
      this.#untrack(pending, "caller_left");
      this.#interrupt(pending, ErrorUri.CANCELED);
    }
    this.#callsOf.delete(s);
  }

  /** How many calls `caller` has in flight. */
  pendingCountOf(caller: Participant): number {
    return this.#callsOf.get(caller)?.made.size ?? 0;
  }

  /** How many registrations `callee` is in. */
  registrationCountOf(callee: Participant): number {
    return this.#registrationsOf.get(callee)?.size ?? 0;
  }

  /** Number of calls in flight. */
  get pendingCount(): number {
    return this.#pending.size;
  }

  /** Number of registrations (procedures and patterns with at least one callee). */
  get registrationCount(): number {
    return this.#byId.size;
  }

  #sendCanceled(pending: PendingCall, why: string): void {
    pending.caller.send({
      type: T.ERROR,
      requestType: T.CALL,
      request: pending.request,
      details: {},
      error: ErrorUri.CANCELED,
      args: [why],
    });
  }

  #dropCallee(callee: Participant, reg: Registration): void {
    reg.remove(callee);
    const mine = this.#registrationsOf.get(callee);
    if (mine !== undefined && mine.delete(reg) && mine.size === 0) this.#registrationsOf.delete(callee);
    const deleted = reg.callees.length === 0;
    if (deleted) {
      this.#index.delete(reg.procedure, reg.match);
      this.#byId.delete(reg.id);
    }
    if (this.listener !== null) {
      this.listener.removed(callee, reg);
      if (deleted) this.listener.deleted(callee, reg);
    }
  }

  /** Tells a callee that announced call canceling to drop the invocation (`killnowait`). */
  #interrupt(pending: PendingCall, reason: string): void {
    if (!pending.callee.acceptsInterrupt) return;
    pending.callee.send({
      type: T.INTERRUPT,
      request: pending.invocation,
      options: { mode: "killnowait", reason },
    });
  }

  /** The call's timeout ran out: the caller hears `wamp.error.timeout`, the callee is interrupted. */
  #expire(pending: PendingCall): void {
    if (this.#pending.get(pending.invocation) !== pending) return;
    this.#untrack(pending, "timeout");
    this.#interrupt(pending, ErrorUri.TIMEOUT);
    pending.caller.send({
      type: T.ERROR,
      requestType: T.CALL,
      request: pending.request,
      details: {},
      error: ErrorUri.TIMEOUT,
      args: ["the call timed out"],
    });
  }

  #track(p: PendingCall): void {
    this.#pending.set(p.invocation, p);
    p.ofCaller.made.set(p.request, p);
    const first = p.ofCallee.served;
    p.nextServed = first;
    if (first !== null) first.prevServed = p;
    p.ofCallee.served = p;
  }

  #calls(s: Participant): CallsOf {
    let calls = this.#callsOf.get(s);
    // A session's record lives as long as the session (removeSession drops it).
    if (calls === undefined) this.#callsOf.set(s, calls = { made: new Map(), served: null });
    return calls;
  }

  #untrack(p: PendingCall, outcome: CallOutcome): void {
    if (p.timer !== undefined) clearTimeout(p.timer);
    this.counters.calls[outcome]++;
    if (p.started >= 0) this.counters.duration.observe((performance.now() - p.started) / 1000);
    this.#pending.delete(p.invocation);
    p.ofCaller.made.delete(p.request);
    // Out of the callee's list; a second untrack finds nothing to do.
    const { prevServed: prev, nextServed: next } = p;
    if (prev !== null) prev.nextServed = next;
    else if (p.ofCallee.served === p) p.ofCallee.served = next;
    if (next !== null) next.prevServed = prev;
    p.prevServed = p.nextServed = null;
  }
}
