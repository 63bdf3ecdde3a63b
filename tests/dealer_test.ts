/**
 * The dealer's bookkeeping of calls in flight (src/realm/dealer.ts), driven
 * directly: a callee or caller that leaves ends each of its calls exactly once,
 * also when answering one caller makes that caller end another call at once.
 *
 * @module
 */

import assert from "node:assert/strict";
import { MessageType as T } from "../src/protocol/constants.ts";
import type { RouterMessage } from "../src/protocol/messages.ts";
import { Dealer } from "../src/realm/dealer.ts";
import type { Participant } from "../src/realm/participant.ts";

/** A participant that keeps what it is sent; `onSend` runs after each message. */
class Recorder implements Participant {
  readonly authid = "test";
  readonly authrole = "anonymous";
  readonly authmethod = "anonymous";
  readonly authprovider = "static";
  readonly protocol = "test";
  readonly acceptsInterrupt = true;
  readonly sent: RouterMessage[] = [];
  onSend: (m: RouterMessage) => void = () => {};
  constructor(readonly id: number) {}
  deliverEvent(): void {}
  send(message: RouterMessage): void {
    this.sent.push(message);
    this.onSend(message);
  }
  kill(): void {}
}

const errorsFor = (p: Recorder, request: number) =>
  p.sent.filter((m) => m.type === T.ERROR && m.request === request).length;

Deno.test("dealer: a callee that leaves gives each of its calls' callers one wamp.error.canceled, from every caller", () => {
  const dealer = new Dealer();
  const callee = new Recorder(1);
  const [a, b] = [new Recorder(2), new Recorder(3)];
  dealer.register(callee, "t.proc");
  for (const [caller, request] of [[a, 1], [b, 1], [a, 2], [b, 2], [a, 3]] as const) {
    dealer.call(caller, { request, procedure: "t.proc", options: {} });
  }
  assert.equal(dealer.pendingCount, 5);
  dealer.removeSession(callee);
  for (const [caller, requests] of [[a, [1, 2, 3]], [b, [1, 2]]] as const) {
    for (const r of requests) assert.equal(errorsFor(caller, r), 1, `caller ${caller.id}, request ${r}`);
  }
  assert.equal(dealer.pendingCount, 0);
  assert.equal(dealer.pendingCountOf(a), 0);
  assert.equal(dealer.counters.calls.callee_left, 5);
});

Deno.test("dealer: a caller that cancels another call while hearing that the callee left still gets one answer per call", () => {
  const dealer = new Dealer();
  const callee = new Recorder(1);
  const caller = new Recorder(2);
  dealer.register(callee, "t.proc");
  for (const request of [1, 2, 3]) dealer.call(caller, { request, procedure: "t.proc", options: {} });
  // On its first ERROR the caller cancels every other call it still has.
  caller.onSend = (m) => {
    if (m.type !== T.ERROR) return;
    caller.onSend = () => {};
    for (const request of [1, 2, 3]) dealer.cancel(caller, request, "skip");
  };
  dealer.removeSession(callee);
  for (const r of [1, 2, 3]) assert.equal(errorsFor(caller, r), 1, `request ${r}`);
  assert.equal(dealer.pendingCount, 0);
  assert.equal(dealer.counters.calls.callee_left + dealer.counters.calls.canceled, 3);
});

Deno.test("dealer: a caller that leaves has its calls interrupted once each; its callee's late answers go nowhere", () => {
  const dealer = new Dealer();
  const callee = new Recorder(1);
  const caller = new Recorder(2);
  dealer.register(callee, "t.proc");
  for (const request of [1, 2]) dealer.call(caller, { request, procedure: "t.proc", options: {} });
  const invocations = callee.sent.filter((m) => m.type === T.INVOCATION).map((m) => m.request as number);
  dealer.removeSession(caller);
  assert.equal(callee.sent.filter((m) => m.type === T.INTERRUPT).length, 2);
  for (const inv of invocations) dealer.yield(callee, inv, {}, ["late"]);
  assert.equal(caller.sent.length, 0);
  assert.equal(dealer.pendingCount, 0);
  // The callee's own record is untouched: a new call is tracked and answered.
  const other = new Recorder(3);
  dealer.call(other, { request: 9, procedure: "t.proc", options: {} });
  const inv = callee.sent.at(-1)!;
  assert.equal(inv.type, T.INVOCATION);
  dealer.yield(callee, inv.request as number, {}, ["ok"]);
  assert.deepEqual(other.sent.map((m) => m.type), [T.RESULT]);
  assert.equal(dealer.pendingCount, 0);
});

Deno.test("dealer: a session calling its own procedure and leaving ends that call once", () => {
  const dealer = new Dealer();
  const both = new Recorder(1);
  dealer.register(both, "t.self");
  dealer.call(both, { request: 1, procedure: "t.self", options: {} });
  dealer.removeSession(both);
  assert.equal(dealer.pendingCount, 0);
  assert.equal(dealer.counters.calls.callee_left + dealer.counters.calls.caller_left, 1);
});
