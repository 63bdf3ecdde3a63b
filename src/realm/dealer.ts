/**
 * The dealer: WAMP routed remote procedure calls within one realm.
 *
 * One callee per procedure (the basic profile's `single` invocation policy).
 * CALL → INVOCATION → YIELD → RESULT; a callee's ERROR goes to the caller. Every
 * call in flight is indexed by its invocation id, by its caller and by its callee,
 * so whichever side leaves, the other is told (the caller gets
 * `wamp.error.canceled`, the callee an INTERRUPT) and nothing is left behind.
 *
 * Features: caller identification (`disclose_me`), call canceling (CANCEL with
 * `skip`, `kill` or `killnowait`), progressive call results.
 *
 * @module
 */

import { ErrorUri, MessageType as T } from "../protocol/constants.ts";
import { WampError } from "../protocol/errors.ts";
import { IdSequence } from "../protocol/ids.ts";
import type { Dict, RequestId } from "../protocol/messages.ts";
import type { Participant } from "./participant.ts";

/** A procedure and the session that offers it. */
export class Registration {
  /** When it was registered (ms since the epoch). */
  readonly created: number = Date.now();

  /**
   * Records a registration; {@link Dealer.register} creates them.
   * @param id the registration id, 1..2^53, unique in the dealer
   * @param procedure the procedure URI, matched exactly
   * @param callee the session that runs it
   */
  constructor(readonly id: number, readonly procedure: string, readonly callee: Participant) {}
}

/** A call in flight. */
interface PendingCall {
  readonly invocation: number;
  readonly caller: Participant;
  readonly request: RequestId;
  readonly callee: Participant;
  readonly receiveProgress: boolean;
  /** Set by CANCEL mode `kill`: the callee's answer is awaited, then sent as canceled. */
  killRequested: boolean;
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
  /** CALL.Options: `receive_progress` is honored. */
  options: Dict;
}

/** Cancel modes of WAMP call canceling. */
export type CancelMode = "skip" | "kill" | "killnowait";

/** Routed RPC for one realm. */
export class Dealer {
  #byProcedure = new Map<string, Registration>();
  #byId = new Map<number, Registration>();
  #registrationsOf = new Map<Participant, Set<Registration>>();
  #pending = new Map<number, PendingCall>();
  #pendingOfCaller = new Map<Participant, Map<RequestId, PendingCall>>();
  #pendingOfCallee = new Map<Participant, Set<PendingCall>>();
  #registrationIds = new IdSequence();
  #invocationIds = new IdSequence();

  /**
   * Registers `procedure` for `callee`.
   * @throws {WampError} `wamp.error.procedure_already_exists`
   */
  register(callee: Participant, procedure: string): Registration {
    if (this.#byProcedure.has(procedure)) {
      throw new WampError(ErrorUri.PROCEDURE_ALREADY_EXISTS, [
        `procedure ${procedure} is already registered`,
      ]);
    }
    const reg = new Registration(this.#registrationIds.next(), procedure, callee);
    this.#byProcedure.set(procedure, reg);
    this.#byId.set(reg.id, reg);
    let mine = this.#registrationsOf.get(callee);
    if (mine === undefined) this.#registrationsOf.set(callee, mine = new Set());
    mine.add(reg);
    return reg;
  }

  /**
   * Withdraws `callee`'s registration `id`. Calls already in flight still complete.
   * @throws {WampError} `wamp.error.no_such_registration`
   */
  unregister(callee: Participant, id: number): void {
    const reg = this.#byId.get(id);
    if (reg === undefined || reg.callee !== callee) {
      throw new WampError(ErrorUri.NO_SUCH_REGISTRATION, [`no registration ${id} of this session`]);
    }
    this.#dropRegistration(reg);
  }

  /** The registration of `procedure`, if any. */
  registration(procedure: string): Registration | undefined {
    return this.#byProcedure.get(procedure);
  }

  /**
   * Whether `caller` has a call with this request id in flight (a client must not
   * reuse one before its answer).
   */
  isPending(caller: Participant, request: RequestId): boolean {
    return this.#pendingOfCaller.get(caller)?.has(request) ?? false;
  }

  /**
   * Routes a call to its callee as an INVOCATION; the answer reaches `caller` later
   * as RESULT or ERROR through {@link Participant.send}.
   * @param disclose whether INVOCATION details name the caller (`caller`, `caller_authid`,
   *   `caller_authrole`): the client's `disclose_me`, or its role's forced disclosure
   * @throws {WampError} `wamp.error.no_such_procedure`
   */
  call(caller: Participant, req: CallRequest, disclose = false): void {
    const reg = this.#byProcedure.get(req.procedure);
    if (reg === undefined) {
      throw new WampError(ErrorUri.NO_SUCH_PROCEDURE, [`no procedure registered for ${req.procedure}`]);
    }
    const callee = reg.callee;
    const receiveProgress = req.options.receive_progress === true;
    const pending: PendingCall = {
      invocation: this.#invocationIds.next(),
      caller,
      request: req.request,
      callee,
      receiveProgress,
      killRequested: false,
    };
    this.#track(pending);
    const details: Dict = {};
    if (disclose) {
      details.caller = caller.id;
      details.caller_authid = caller.authid;
      details.caller_authrole = caller.authrole;
    }
    if (receiveProgress) details.receive_progress = true;
    callee.send({
      type: T.INVOCATION,
      request: pending.invocation,
      registration: reg.id,
      details,
      args: req.args,
      kwargs: req.kwargs,
    });
  }

  /**
   * A callee's YIELD. Answers for calls it does not hold (late, canceled or forged)
   * are dropped.
   */
  yield(callee: Participant, invocation: number, options: Dict, args?: unknown[], kwargs?: Dict): void {
    const pending = this.#pending.get(invocation);
    if (pending === undefined || pending.callee !== callee) return;
    const progress = options.progress === true;
    if (progress && !pending.receiveProgress) return;
    if (!progress) this.#untrack(pending);
    if (pending.killRequested) {
      if (!progress) this.#sendCanceled(pending, "the call was canceled");
      return;
    }
    pending.caller.send({
      type: T.RESULT,
      request: pending.request,
      details: progress ? { progress: true } : {},
      args,
      kwargs,
    });
  }

  /** A callee's ERROR for an invocation; relayed to the caller. */
  error(callee: Participant, invocation: number, error: string, args?: unknown[], kwargs?: Dict): void {
    const pending = this.#pending.get(invocation);
    if (pending === undefined || pending.callee !== callee) return;
    this.#untrack(pending);
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
   * never sent INTERRUPT: `kill` and `killnowait` then behave like `skip`.
   * Unknown requests are ignored (the answer may already be on its way).
   */
  cancel(caller: Participant, request: RequestId, mode: CancelMode): void {
    const pending = this.#pendingOfCaller.get(caller)?.get(request);
    if (pending === undefined || pending.killRequested) return;
    const interrupt = mode !== "skip" && pending.callee.acceptsInterrupt;
    if (interrupt) {
      pending.callee.send({ type: T.INTERRUPT, request: pending.invocation, options: { mode } });
    }
    if (mode === "kill" && interrupt) {
      pending.killRequested = true;
      return;
    }
    this.#untrack(pending);
    this.#sendCanceled(pending, "the call was canceled");
  }

  /**
   * Forgets everything of a session that left: its registrations, the calls it
   * made (their callees are interrupted) and the calls it was serving (their
   * callers get `wamp.error.canceled`).
   */
  removeSession(s: Participant): void {
    const regs = this.#registrationsOf.get(s);
    if (regs !== undefined) { for (const reg of regs) this.#dropRegistration(reg); }

    const asCallee = this.#pendingOfCallee.get(s);
    if (asCallee !== undefined) {
      for (const pending of asCallee) {
        this.#untrack(pending);
        this.#sendCanceled(pending, "the callee left before answering");
      }
    }
    const asCaller = this.#pendingOfCaller.get(s);
    if (asCaller !== undefined) {
      for (const pending of asCaller.values()) {
        this.#untrack(pending);
        if (pending.callee.acceptsInterrupt) {
          pending.callee.send({
            type: T.INTERRUPT,
            request: pending.invocation,
            options: { mode: "killnowait", reason: ErrorUri.CANCELED },
          });
        }
      }
    }
    this.#pendingOfCallee.delete(s);
    this.#pendingOfCaller.delete(s);
  }

  /** How many calls `caller` has in flight. */
  pendingCountOf(caller: Participant): number {
    return this.#pendingOfCaller.get(caller)?.size ?? 0;
  }

  /** How many procedures `callee` has registered. */
  registrationCountOf(callee: Participant): number {
    return this.#registrationsOf.get(callee)?.size ?? 0;
  }

  /** Number of calls in flight. */
  get pendingCount(): number {
    return this.#pending.size;
  }

  /** Number of registered procedures. */
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

  #dropRegistration(reg: Registration): void {
    this.#byProcedure.delete(reg.procedure);
    this.#byId.delete(reg.id);
    const mine = this.#registrationsOf.get(reg.callee);
    if (mine !== undefined && mine.delete(reg) && mine.size === 0) {
      this.#registrationsOf.delete(reg.callee);
    }
  }

  #track(p: PendingCall): void {
    this.#pending.set(p.invocation, p);
    let ofCaller = this.#pendingOfCaller.get(p.caller);
    if (ofCaller === undefined) this.#pendingOfCaller.set(p.caller, ofCaller = new Map());
    ofCaller.set(p.request, p);
    let ofCallee = this.#pendingOfCallee.get(p.callee);
    if (ofCallee === undefined) this.#pendingOfCallee.set(p.callee, ofCallee = new Set());
    ofCallee.add(p);
  }

  // A session's two indexes live as long as the session (removeSession drops them):
  // emptying and re-creating them on every call was pure churn for a caller with one
  // call in flight at a time.
  #untrack(p: PendingCall): void {
    this.#pending.delete(p.invocation);
    this.#pendingOfCaller.get(p.caller)?.delete(p.request);
    this.#pendingOfCallee.get(p.callee)?.delete(p);
  }
}
