/**
 * RPC across the nodes of a cluster: real `push.ts` processes joined through the
 * shared RabbitMQ (tests/cluster_nodes.ts starts them), with WAMP v2 clients (raw
 * frames and autobahn-browser) and WAMP v1 clients on different nodes.
 *
 * Covered: procedures registered on one node called from the others (v2 and v1;
 * arguments, keyword arguments, prefix matches, caller disclosure and callee errors
 * intact); `single` registrations refused on a second node until the first callee
 * unregisters; shared registrations over the callees of two nodes (`roundrobin`
 * alternates, `first` / `last` pick the same callee from every node, `list_callees`
 * lists both); call timeouts, a caller leaving mid-call, CANCEL (`skip`,
 * `killnowait`, `kill`) and progressive results with caller and callee on
 * different nodes; a node killed with SIGKILL while calls to and from it are
 * pending (the callers are canceled, the callee serving it interrupted, the others
 * publish its sessions' testaments and `on_leave`, no registration, session or node
 * of it is left, and its clients go on on another node; the times are printed);
 * and two `--reuse-port` processes of one cluster on one port acting as one router.
 *
 * Registrations and unregistrations reach the other nodes through the broker, a
 * moment after REGISTERED / UNREGISTERED: a test that calls from another node
 * first waits (boundedly) until that node's `wamp.registration.lookup` sees it.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  ask,
  assertNothingQueued,
  autobahn,
  connectV2,
  eventually,
  metaCall,
  RawClient,
  rawV1,
  rawV2,
  rid,
  type V2Client,
  waitUntil,
  within,
} from "./helpers.ts";
import {
  clusterTest,
  deleteClusterLeftovers,
  disposeAll,
  healthOnNewConnection,
  type NodeProcess,
  startNode,
  uniqueCluster,
  withCluster,
} from "./cluster_nodes.ts";
import { freePort } from "./rabbitmq_node.ts";

// ---------------------------------------------------------------------------
// Message types, error URIs

const ERROR = 8, PUBLISH = 16, PUBLISHED = 17, SUBSCRIBE = 32, SUBSCRIBED = 33, EVENT = 36;
const CALL = 48, CANCEL = 49, RESULT = 50, REGISTER = 64, REGISTERED = 65, UNREGISTER = 66;
const UNREGISTERED = 67, INVOCATION = 68, INTERRUPT = 69, YIELD = 70;
const V1_CALL = 2, V1_CALLRESULT = 3, V1_CALLERROR = 4;

const PROCEDURE_ALREADY_EXISTS = "wamp.error.procedure_already_exists";
const NO_SUCH_PROCEDURE = "wamp.error.no_such_procedure";
const CANCELED = "wamp.error.canceled";
const TIMEOUT = "wamp.error.timeout";

type Frame = unknown[];
type Dict = Record<string, unknown>;

/** Bound for what crosses the broker (a registration reaching another node, ...). */
const PROPAGATION_MS = 5_000;
/** Bound for the other nodes to notice a node killed with SIGKILL (silent for 3 s, heartbeats every 1 s). */
const DEATH_MS = 10_000;

// ---------------------------------------------------------------------------
// Clients

/** The clients one test opens; all closed at its end, ignoring those whose node is gone. */
class Clients {
  #raw: RawClient[] = [];
  #autobahn: V2Client[] = [];

  /** A raw v2 session on `node` (rawV2's default roles announce call_canceling and progressive results). */
  async v2(node: NodeProcess, roles?: Dict): Promise<{ client: RawClient; session: number }> {
    const s = await rawV2(node.wsUrl, "realm1", roles);
    this.#raw.push(s.client);
    return s;
  }

  /** A raw v1 session on `node`. */
  async v1(node: NodeProcess): Promise<{ client: RawClient; session: string }> {
    const s = await rawV1(node.wsUrl);
    this.#raw.push(s.client);
    return s;
  }

  /** An autobahn-browser session on `node`. */
  async autobahn(node: NodeProcess): Promise<V2Client> {
    const c = await connectV2(node.wsUrl);
    this.#autobahn.push(c);
    return c;
  }

  /** Tracks a raw client opened some other way. */
  track(c: RawClient): RawClient {
    this.#raw.push(c);
    return c;
  }

  async closeAll(): Promise<void> {
    for (const c of this.#autobahn.splice(0)) await c.close().catch(() => {});
    for (const c of this.#raw.splice(0)) await c.close().catch(() => {});
  }
}

/**
 * Runs `fn` with `n` nodes of a fresh cluster (they hear of each other) and a client
 * tracker; every client is closed, every node killed and the cluster's exchanges
 * deleted at the end (withCluster of tests/cluster_nodes.ts).
 */
function scenario(
  prefix: string,
  n: number,
  fn: (nodes: NodeProcess[], clients: Clients) => Promise<void>,
): Promise<void> {
  return withCluster(n, { cluster: uniqueCluster(prefix) }, async (nodes) => {
    const clients = new Clients();
    try {
      await fn(nodes, clients);
    } finally {
      await clients.closeAll();
    }
  });
}

// ---------------------------------------------------------------------------
// Raw frames

/** The next frame on `c` (a JSON array), waiting up to `ms`. */
async function next(c: RawClient, what: string, ms = PROPAGATION_MS): Promise<Frame> {
  await waitUntil(() => c.frames.length > 0, what, ms);
  const f = await c.next(what);
  assert.ok(Array.isArray(f), `expected a WAMP message for ${what}, got ${JSON.stringify(f)}`);
  return f;
}

/** Asserts that `f` is ERROR `[8, type, request, {}, uri, ...]`. */
function assertError(f: Frame, type: number, request: number, uri: string, context = ""): void {
  assert.deepEqual(f.slice(0, 5), [ERROR, type, request, {}, uri], `${context} got ${JSON.stringify(f)}`);
}

/** Sends CALL; returns its request id. */
function call(
  c: RawClient,
  procedure: string,
  args: unknown[] = [],
  options: Dict = {},
  kwargs?: Dict,
): number {
  const r = rid();
  c.send(
    kwargs === undefined ? [CALL, r, options, procedure, args] : [CALL, r, options, procedure, args, kwargs],
  );
  return r;
}

/** The next frame, which must be an INVOCATION; returns it. */
async function nextInvocation(c: RawClient, what: string): Promise<Frame> {
  const f = await next(c, what);
  assert.equal(f[0], INVOCATION, `expected INVOCATION (${what}), got ${JSON.stringify(f)}`);
  return f;
}

/** REGISTER with `options`; returns the request id and the answer (REGISTERED or ERROR). */
async function tryRegister(c: RawClient, procedure: string, options: Dict = {}): Promise<[number, Frame]> {
  const r = rid();
  return [r, await ask(c, [REGISTER, r, options, procedure])];
}

/** Registers `procedure`; returns the registration id. */
async function register(c: RawClient, procedure: string, options: Dict = {}): Promise<number> {
  const [r, f] = await tryRegister(c, procedure, options);
  assert.deepEqual(
    f.slice(0, 2),
    [REGISTERED, r],
    `REGISTERED ${procedure} ${JSON.stringify(options)}: ${JSON.stringify(f)}`,
  );
  return f[2] as number;
}

/** Subscribes to `topic`; returns the subscription id. */
async function subscribe(c: RawClient, topic: string): Promise<number> {
  const r = rid();
  const f = await ask(c, [SUBSCRIBE, r, {}, topic]);
  assert.deepEqual(f.slice(0, 2), [SUBSCRIBED, r], `SUBSCRIBED to ${topic}: ${JSON.stringify(f)}`);
  return f[2] as number;
}

/** Publishes with acknowledge and waits for PUBLISHED. */
async function publish(c: RawClient, topic: string, args: unknown[]): Promise<void> {
  const r = rid();
  const f = await ask(c, [PUBLISH, r, { acknowledge: true }, topic, args]);
  assert.deepEqual(f.slice(0, 2), [PUBLISHED, r], `PUBLISHED to ${topic}: ${JSON.stringify(f)}`);
}

/** `wamp.registration.lookup(procedure)` on the node of `observer`: the registration id or null. */
async function lookup(observer: RawClient, procedure: string): Promise<number | null> {
  return (await metaCall(observer, "wamp.registration.lookup", [procedure]))[0] as number | null;
}

/** {@link eventually} within the cluster's propagation bound, every 20 ms (a meta call is cheap). */
function propagated<T>(probe: () => Promise<T | undefined>, what: string, ms = PROPAGATION_MS): Promise<T> {
  return eventually(probe, what, ms, 20);
}

/** Waits until the node of `observer` knows a registration of `procedure`; returns its id there. */
function seen(observer: RawClient, procedure: string, what: string): Promise<number> {
  return propagated(async () => (await lookup(observer, procedure)) ?? undefined, what);
}

/** Waits until the node of `observer` no longer knows a registration of `procedure`. */
async function gone(observer: RawClient, procedure: string, what: string): Promise<void> {
  await propagated(async () => (await lookup(observer, procedure)) === null ? true : undefined, what);
}

/** Waits until the registration `procedure` on the node of `observer` lists exactly `callees` (any order). */
async function calleesAre(
  observer: RawClient,
  procedure: string,
  callees: number[],
  what: string,
): Promise<number> {
  const want = JSON.stringify([...callees].sort());
  return await propagated(async () => {
    const id = await lookup(observer, procedure);
    if (id === null) return undefined;
    const got = (await metaCall(observer, "wamp.registration.list_callees", [id]))[0] as number[];
    return JSON.stringify([...got].sort()) === want ? id : undefined;
  }, what);
}

/** Waits until one of `callees` receives a frame, which must be an INVOCATION; that callee yields `[its index]`. */
async function serveOne(callees: RawClient[], what: string): Promise<{ index: number; invocation: Frame }> {
  await waitUntil(() => callees.some((c) => c.frames.length > 0), what, PROPAGATION_MS);
  const index = callees.findIndex((c) => c.frames.length > 0);
  const invocation = await nextInvocation(callees[index], what);
  callees[index].send([YIELD, invocation[1], {}, [index]]);
  return { index, invocation };
}

// ---------------------------------------------------------------------------
// (a) A procedure on one node, called from the others

clusterTest(
  "cluster RPC: procedures registered on node A (autobahn and raw callees, exact and prefix) are called from B (raw v2 and autobahn) and C (v1 CALL); args, kwargs, caller disclosure and callee errors arrive intact",
  () =>
    scenario("rpc-a", 3, async ([a, b, c], clients) => {
      const callee = await clients.autobahn(a);
      await callee.session.register(
        "t.a.echo",
        (args: unknown[], kwargs: Dict) => new autobahn.Result(args, kwargs),
      );
      const rawCallee = (await clients.v2(a)).client;
      await register(rawCallee, "t.a.fail");
      const prefixReg = await register(rawCallee, "t.a.pre", { match: "prefix" });
      const onB = await clients.v2(b);
      const onC = (await clients.v1(c)).client;
      const observerC = (await clients.v2(c)).client;
      for (const p of ["t.a.echo", "t.a.fail"]) {
        await seen(onB.client, p, `node B to learn of ${p}`);
        await seen(observerC, p, `node C to learn of ${p}`);
      }
      await propagated(
        async () => (await metaCall(onB.client, "wamp.registration.match", ["t.a.pre.x.y"]))[0] ?? undefined,
        "node B to learn of the prefix registration t.a.pre",
      );

      // v2 from B: positional and keyword arguments, nested, come back as they went.
      const args = [1, "two", { three: [3, 3.5] }, null, true];
      const kwargs = { k: "v", nested: { list: [1, { x: "y" }] }, none: null };
      const r = call(onB.client, "t.a.echo", args, {}, kwargs);
      assert.deepEqual(await next(onB.client, "the echo RESULT on B"), [RESULT, r, {}, args, kwargs]);

      // A prefix registration: the callee learns the called URI, and who called (disclose_me).
      const rp = call(onB.client, "t.a.pre.x.y", ["p"], { disclose_me: true });
      const inv = await nextInvocation(rawCallee, "the prefix INVOCATION on A");
      assert.equal(inv[2], prefixReg, "the callee's own registration id");
      const details = inv[3] as Dict;
      assert.equal(details.procedure, "t.a.pre.x.y", JSON.stringify(inv));
      assert.equal(details.caller, onB.session, `the caller on B is disclosed: ${JSON.stringify(inv)}`);
      assert.deepEqual(inv[4], ["p"]);
      rawCallee.send([YIELD, inv[1], {}, ["prefix ok"]]);
      assert.deepEqual(await next(onB.client, "the prefix RESULT"), [RESULT, rp, {}, ["prefix ok"]]);

      // The callee's error, with its args and kwargs.
      const rf = call(onB.client, "t.a.fail", ["x"]);
      const invF = await nextInvocation(rawCallee, "the failing INVOCATION on A");
      rawCallee.send([ERROR, INVOCATION, invF[1], {}, "com.example.oops", ["it failed", "x"], {
        why: "asked to",
      }]);
      assert.deepEqual(await next(onB.client, "the callee's ERROR on B"), [
        ERROR,
        CALL,
        rf,
        {},
        "com.example.oops",
        ["it failed", "x"],
        { why: "asked to" },
      ]);

      // autobahn-browser from B.
      const viaAutobahn = await clients.autobahn(b);
      const res: { args: unknown[]; kwargs: Dict } = await within(
        viaAutobahn.session.call("t.a.echo", [7, "eight"], { nine: 9 }),
        "autobahn's call from B",
      );
      assert.deepEqual([res.args, res.kwargs], [[7, "eight"], { nine: 9 }]);

      // v1 from C: one argument → that value, several → the array; errors as CALLERROR.
      onC.send([V1_CALL, "c1", "t.a.echo", 42]);
      assert.deepEqual(await next(onC, "v1 CALLRESULT (one value)"), [V1_CALLRESULT, "c1", 42]);
      onC.send([V1_CALL, "c2", "t.a.echo", 3, "x", { y: [1, 2] }]);
      assert.deepEqual(await next(onC, "v1 CALLRESULT (several)"), [V1_CALLRESULT, "c2", [3, "x", {
        y: [1, 2],
      }]]);
      onC.send([V1_CALL, "c3", "t.a.fail", "z"]);
      const invV1 = await nextInvocation(rawCallee, "the v1 call's INVOCATION on A");
      assert.deepEqual(invV1[4], ["z"]);
      rawCallee.send([ERROR, INVOCATION, invV1[1], {}, "com.example.oops", ["it failed"], {
        why: "asked to",
      }]);
      assert.deepEqual(await next(onC, "v1 CALLERROR"), [
        V1_CALLERROR,
        "c3",
        "com.example.oops",
        "it failed",
        { why: "asked to" },
      ]);
      // The server's own procedure is answered by the node it is called on.
      onC.send([V1_CALL, "c4", "push.tutorial.areaCuadrado", "4", "4"]);
      assert.deepEqual(await next(onC, "areaCuadrado on C"), [V1_CALLRESULT, "c4", 16]);
      await assertNothingQueued(rawCallee, "the raw callee at the end");
    }),
);

// ---------------------------------------------------------------------------
// (b) single registrations are single in the cluster

clusterTest(
  "cluster RPC: a second single registration of a procedure on another node gets procedure_already_exists; once the first callee unregisters, another node may register it",
  () =>
    scenario("rpc-b", 3, async ([a, b, c], clients) => {
      const first = (await clients.v2(a)).client;
      const second = await clients.v2(b);
      const third = (await clients.v2(c)).client;
      const observerC = (await clients.v2(c)).client;
      const reg = await register(first, "t.b.single");
      await seen(second.client, "t.b.single", "node B to learn of A's registration");
      await seen(observerC, "t.b.single", "node C to learn of A's registration");

      const [r1, refused] = await tryRegister(second.client, "t.b.single");
      assertError(refused, REGISTER, r1, PROCEDURE_ALREADY_EXISTS, "single on B:");
      const [r2, shared] = await tryRegister(third, "t.b.single", { invoke: "roundrobin" });
      assertError(shared, REGISTER, r2, PROCEDURE_ALREADY_EXISTS, "roundrobin on C:");

      // The first callee unregisters; once B has heard of it, B may register.
      const u = rid();
      assert.deepEqual(await ask(first, [UNREGISTER, u, reg]), [UNREGISTERED, u]);
      const started = Date.now();
      await gone(second.client, "t.b.single", "node B to hear of the unregistration");
      console.log(`  the unregistration reached node B in ${Date.now() - started} ms`);
      await register(second.client, "t.b.single");

      // Now A refuses it (once A has heard of B's), and a call from C reaches B.
      await seen(first, "t.b.single", "node A to learn of B's registration");
      const [r3, again] = await tryRegister(first, "t.b.single");
      assertError(again, REGISTER, r3, PROCEDURE_ALREADY_EXISTS, "single again on A:");
      await calleesAre(observerC, "t.b.single", [second.session], "node C to list B's callee");
      const r = call(observerC, "t.b.single", ["to B"]);
      const inv = await nextInvocation(second.client, "the INVOCATION on B");
      assert.deepEqual(inv[4], ["to B"]);
      second.client.send([YIELD, inv[1], {}, ["from B"]]);
      assert.deepEqual(await next(observerC, "the RESULT on C"), [RESULT, r, {}, ["from B"]]);
    }),
);

// ---------------------------------------------------------------------------
// (c) shared registrations over the callees of several nodes

clusterTest(
  "cluster RPC: roundrobin with a callee on A and one on B: 10 calls from C (v2 and v1) alternate, 5 each; list_callees on C lists both; first and last pick the same callee from every node",
  () =>
    scenario("rpc-c", 3, async ([a, b, c], clients) => {
      const onA = await clients.v2(a);
      const onB = await clients.v2(b);
      await register(onA.client, "t.c.rr", { invoke: "roundrobin" });
      await register(onB.client, "t.c.rr", { invoke: "roundrobin" });
      const caller = (await clients.v2(c)).client;
      const v1caller = (await clients.v1(c)).client;
      await calleesAre(
        caller,
        "t.c.rr",
        [onA.session, onB.session],
        "list_callees on C to list both callees",
      );
      const id = await lookup(caller, "t.c.rr");
      const listed = (await metaCall(caller, "wamp.registration.list_callees", [id]))[0] as number[];
      assert.deepEqual([...listed].sort(), [onA.session, onB.session].sort());

      const callees = [onA.client, onB.client];
      const picks: number[] = [];
      for (let i = 0; i < 10; i++) {
        if (i % 2 === 0) {
          const r = call(caller, "t.c.rr", [i]);
          const { index, invocation } = await serveOne(callees, `INVOCATION of call ${i}`);
          assert.deepEqual(invocation[4], [i]);
          assert.deepEqual(await next(caller, `RESULT of call ${i}`), [RESULT, r, {}, [index]]);
          picks.push(index);
        } else {
          v1caller.send([V1_CALL, `v1-${i}`, "t.c.rr", i]);
          const { index, invocation } = await serveOne(callees, `INVOCATION of v1 call ${i}`);
          assert.deepEqual(invocation[4], [i]);
          assert.deepEqual(await next(v1caller, `CALLRESULT of call ${i}`), [
            V1_CALLRESULT,
            `v1-${i}`,
            index,
          ]);
          picks.push(index);
        }
      }
      for (let i = 1; i < picks.length; i++) {
        assert.notEqual(picks[i], picks[i - 1], `roundrobin alternates: ${JSON.stringify(picks)}`);
      }
      assert.equal(picks.filter((p) => p === 0).length, 5, `5 calls each: ${JSON.stringify(picks)}`);
      for (const [i, callee] of callees.entries()) await assertNothingQueued(callee, `callee ${i}`);

      // first and last: the same callee whichever node calls (A registered first, then B).
      const observerA = (await clients.v2(a)).client;
      const observerB = (await clients.v2(b)).client;
      for (const invoke of ["first", "last"]) {
        const procedure = `t.c.${invoke}`;
        await register(onA.client, procedure, { invoke });
        for (const o of [observerB, caller]) await seen(o, procedure, `${procedure} from A on every node`);
        await register(onB.client, procedure, { invoke });
        for (const o of [observerA, observerB, caller]) {
          await calleesAre(
            o,
            procedure,
            [onA.session, onB.session],
            `both callees of ${procedure} on every node`,
          );
        }
        const expected = invoke === "first" ? 0 : 1;
        for (const [name, from] of [["A", observerA], ["B", observerB], ["C", caller]] as const) {
          const r = call(from, procedure, [name]);
          const { index } = await serveOne(callees, `${procedure} called from ${name}`);
          assert.equal(index, expected, `${procedure} called from ${name} went to callee ${index}`);
          assert.deepEqual(await next(from, `RESULT of ${procedure} from ${name}`), [RESULT, r, {}, [index]]);
        }
      }
    }),
);

// ---------------------------------------------------------------------------
// (d) call timeouts

clusterTest(
  "cluster RPC: CALL timeout 300 from B to a silent callee on A: the caller gets wamp.error.timeout, the callee (call_canceling) an INTERRUPT, its late YIELD is dropped; a caller on C that leaves mid-call gets the callee interrupted too; the INTERRUPTs say why, as on one node",
  () =>
    scenario("rpc-d", 3, async ([a, b, c], clients) => {
      const callee = (await clients.v2(a)).client;
      await register(callee, "t.d.silent");
      const caller = (await clients.v2(b)).client;
      await seen(caller, "t.d.silent", "node B to learn of t.d.silent");
      const started = Date.now();
      const r = call(caller, "t.d.silent", ["wait"], { timeout: 300 });
      const inv = await nextInvocation(callee, "the INVOCATION on A");
      assertError(await next(caller, "the timeout on B"), CALL, r, TIMEOUT);
      const elapsed = Date.now() - started;
      console.log(`  wamp.error.timeout after ${elapsed} ms (timeout 300)`);
      assert.ok(elapsed >= 290 && elapsed < 2_000, `timed out after ${elapsed} ms`);
      const timeoutInterrupt = await next(callee, "the INTERRUPT on A");
      assert.deepEqual(timeoutInterrupt.slice(0, 2), [INTERRUPT, inv[1]], JSON.stringify(timeoutInterrupt));
      assert.equal((timeoutInterrupt[2] as Dict).mode, "killnowait", JSON.stringify(timeoutInterrupt));

      // The callee's answer after the INTERRUPT goes nowhere: the caller's next frame
      // is the answer to its next call, which the callee answers after the late YIELD.
      callee.send([YIELD, inv[1], {}, ["too late"]]);
      const r2 = call(caller, "t.d.silent", ["answered"]);
      const inv2 = await nextInvocation(callee, "the second INVOCATION on A");
      callee.send([YIELD, inv2[1], {}, ["in time"]]);
      assert.deepEqual(await next(caller, "the second call's RESULT"), [RESULT, r2, {}, ["in time"]]);
      await assertNothingQueued(caller, "the caller got one answer per call");

      // A caller on C leaves with its call in flight: the callee is interrupted.
      const leaving = await RawClient.open(c.wsUrl, "wamp.2.json");
      clients.track(leaving);
      leaving.send([1, "realm1", { roles: { caller: {} } }]);
      assert.equal((await next(leaving, "WELCOME on C"))[0], 2);
      await seen(leaving, "t.d.silent", "node C to learn of t.d.silent");
      call(leaving, "t.d.silent", ["leaving"]);
      const inv3 = await nextInvocation(callee, "the INVOCATION from C");
      await leaving.close();
      const goneInterrupt = await next(callee, "the INTERRUPT after the caller left");
      assert.deepEqual(goneInterrupt.slice(0, 2), [INTERRUPT, inv3[1]], JSON.stringify(goneInterrupt));
      assert.equal((goneInterrupt[2] as Dict).mode, "killnowait", JSON.stringify(goneInterrupt));
      await assertNothingQueued(callee, "the callee at the end");

      // As on one node (tests/advanced_rpc_pubsub_test.ts), each INTERRUPT says why.
      assert.deepEqual(
        [timeoutInterrupt[2], goneInterrupt[2]],
        [{ mode: "killnowait", reason: TIMEOUT }, { mode: "killnowait", reason: CANCELED }],
        "INTERRUPT options (timeout, caller gone) as on one node",
      );
    }),
);

// ---------------------------------------------------------------------------
// (e) CANCEL

clusterTest(
  "cluster RPC: CANCEL across nodes: skip (caller canceled, no INTERRUPT), killnowait (caller canceled at once, callee INTERRUPT), kill (caller canceled only after the callee answers the INTERRUPT)",
  () =>
    scenario("rpc-e", 3, async ([a, b, c], clients) => {
      const callee = (await clients.v2(a)).client;
      await register(callee, "t.e.slow");
      const onB = (await clients.v2(b)).client;
      const onC = (await clients.v2(c)).client;
      await seen(onB, "t.e.slow", "node B to learn of t.e.slow");
      await seen(onC, "t.e.slow", "node C to learn of t.e.slow");

      // skip, from B.
      const rs = call(onB, "t.e.slow", ["skip"]);
      const invS = await nextInvocation(callee, "INVOCATION (skip)");
      onB.send([CANCEL, rs, { mode: "skip" }]);
      assertError(await next(onB, "canceled (skip)"), CALL, rs, CANCELED);
      callee.send([YIELD, invS[1], {}, ["late"]]);

      // killnowait, from B: the caller hears at once, the callee is interrupted.
      const rn = call(onB, "t.e.slow", ["killnowait"]);
      const invN = await nextInvocation(callee, "INVOCATION (killnowait)");
      assert.deepEqual(invN[4], ["killnowait"], "no INTERRUPT for skip before this INVOCATION");
      onB.send([CANCEL, rn, { mode: "killnowait" }]);
      assertError(await next(onB, "canceled (killnowait)"), CALL, rn, CANCELED);
      const intN = await next(callee, "INTERRUPT (killnowait)");
      assert.deepEqual(intN, [INTERRUPT, invN[1], { mode: "killnowait" }]);
      callee.send([ERROR, INVOCATION, invN[1], {}, CANCELED]);
      await assertNothingQueued(callee, "the callee after killnowait");

      // kill, from C: the caller's ERROR waits for the callee's answer.
      const rk = call(onC, "t.e.slow", ["kill"]);
      const invK = await nextInvocation(callee, "INVOCATION (kill)");
      onC.send([CANCEL, rk, { mode: "kill" }]);
      const intK = await next(callee, "INTERRUPT (kill)");
      assert.deepEqual(intK, [INTERRUPT, invK[1], { mode: "kill" }]);
      // C would have answered the CANCEL at once, before the INTERRUPT even left: nothing yet.
      await assertNothingQueued(onC, "the caller before the callee answered the kill");
      callee.send([ERROR, INVOCATION, invK[1], {}, CANCELED, ["stopped"]]);
      assertError(await next(onC, "canceled (kill)"), CALL, rk, CANCELED);

      // kill answered by a YIELD: still canceled, not the result.
      const ry = call(onC, "t.e.slow", ["kill-yield"]);
      const invY = await nextInvocation(callee, "INVOCATION (kill, then YIELD)");
      onC.send([CANCEL, ry, { mode: "kill" }]);
      assert.equal((await next(callee, "INTERRUPT (kill, then YIELD)"))[0], INTERRUPT);
      await assertNothingQueued(onC, "the caller before the callee's YIELD");
      callee.send([YIELD, invY[1], {}, ["finished anyway"]]);
      assertError(await next(onC, "canceled (kill answered by YIELD)"), CALL, ry, CANCELED);

      // Nothing else reached anyone; calls still work both ways.
      await assertNothingQueued(callee, "the callee at the end");
      const rb = call(onB, "t.e.slow", ["after"]);
      const invB = await nextInvocation(callee, "a last INVOCATION");
      callee.send([YIELD, invB[1], {}, ["done"]]);
      assert.deepEqual(await next(onB, "the last RESULT"), [RESULT, rb, {}, ["done"]]);
      await assertNothingQueued(onB, "caller B at the end");
      await assertNothingQueued(onC, "caller C at the end");
    }),
);

// ---------------------------------------------------------------------------
// (f) progressive results

clusterTest(
  "cluster RPC: progressive results across nodes: receive_progress from B and C reaches the (autobahn) callee on A; progress RESULTs, then the final one",
  () =>
    scenario("rpc-f", 3, async ([a, b, c], clients) => {
      const callee = await clients.autobahn(a);
      await callee.session.register("t.f.count", (args: unknown[], _kwargs: Dict, details: Dict) => {
        const n = args[0] as number;
        // autobahn gives a progress function only when the INVOCATION asked for progress.
        const progress = details.progress as ((a: unknown[], k?: Dict) => void) | null;
        for (let i = 1; i <= n; i++) progress?.([i], { step: i });
        return new autobahn.Result(["done", n], { progressive: typeof progress === "function" });
      });
      const onB = (await clients.v2(b)).client;
      const onC = (await clients.v2(c)).client;
      await seen(onB, "t.f.count", "node B to learn of t.f.count");
      await seen(onC, "t.f.count", "node C to learn of t.f.count");

      for (const [name, caller] of [["B", onB], ["C", onC]] as const) {
        const r = call(caller, "t.f.count", [3], { receive_progress: true });
        for (let i = 1; i <= 3; i++) {
          assert.deepEqual(await next(caller, `progress ${i} on ${name}`), [RESULT, r, { progress: true }, [
            i,
          ], {
            step: i,
          }]);
        }
        assert.deepEqual(await next(caller, `the final RESULT on ${name}`), [RESULT, r, {}, ["done", 3], {
          progressive: true,
        }]);
      }
      // Without receive_progress: the callee is not asked for progress, one RESULT.
      const plain = call(onB, "t.f.count", [2]);
      assert.deepEqual(await next(onB, "the plain RESULT"), [RESULT, plain, {}, ["done", 2], {
        progressive: false,
      }]);
      await assertNothingQueued(onB, "caller B at the end");
      await assertNothingQueued(onC, "caller C at the end");
    }),
);

// ---------------------------------------------------------------------------
// (g) a node killed with SIGKILL while a call to its callee is pending

/** Parses the EVENT frames queued on `c` (dropping nothing else silently: a non-EVENT fails). */
function takeEvents(c: RawClient): Frame[] {
  const out: Frame[] = [];
  while (c.frames.length > 0) {
    const f = JSON.parse(c.frames.shift()!) as Frame;
    assert.equal(f[0], EVENT, `expected only EVENTs, got ${JSON.stringify(f)}`);
    out.push(f);
  }
  return out;
}

/** Waits (up to `ms`) until `c` has received `wamp.session.on_leave` for each of `sessions`; returns when. */
async function onLeaveOf(c: RawClient, sessions: number[], what: string, ms: number): Promise<number> {
  const left = new Set<number>();
  await waitUntil(
    () => {
      for (const f of takeEvents(c)) {
        const id = (f[4] as unknown[])[0] as number;
        assert.ok(sessions.includes(id), `${what}: on_leave of an unexpected session ${JSON.stringify(f)}`);
        assert.ok(!left.has(id), `${what}: on_leave of ${id} twice`);
        left.add(id);
      }
      return left.size === sessions.length;
    },
    what,
    ms,
  );
  return performance.now();
}

clusterTest(
  "cluster RPC: node A killed with SIGKILL mid-stream with calls from B (v2) and C (v1) pending at its callee: the callers get canceled, a callee on B serving A is interrupted, B and C publish A's on_leave and testament, no ghost registration or session remains, and A's clients go on on C",
  () =>
    scenario("rpc-g", 3, async ([a, b, c], clients) => {
      // On A: a callee, a publisher (with a testament) and a caller.
      const callee = await clients.v2(a);
      await register(callee.client, "t.g.proc");
      const publisher = await clients.v2(a);
      await metaCall(publisher.client, "wamp.session.add_testament", [
        "t.g.will",
        ["A's publisher is gone"],
        {},
      ]);
      const callerA = await clients.v2(a);
      // On B: a caller, a callee, subscribers to the stream, the testament and on_leave, and an observer.
      const caller = (await clients.v2(b)).client;
      const calleeB = (await clients.v2(b)).client;
      await register(calleeB, "t.g.onB");
      const observerB = (await clients.v2(b)).client;
      const streamB = (await clients.v2(b)).client;
      const willB = (await clients.v2(b)).client;
      const leaveB = (await clients.v2(b)).client;
      await subscribe(streamB, "t.g.stream");
      await subscribe(willB, "t.g.will");
      await subscribe(leaveB, "wamp.session.on_leave");
      // On C: a v1 caller, an on_leave subscriber and an observer.
      const v1caller = (await clients.v1(c)).client;
      const leaveC = (await clients.v2(c)).client;
      const observerC = (await clients.v2(c)).client;
      await subscribe(leaveC, "wamp.session.on_leave");
      await seen(caller, "t.g.proc", "node B to learn of t.g.proc");
      await seen(observerC, "t.g.proc", "node C to learn of t.g.proc");
      await seen(callerA.client, "t.g.onB", "node A to learn of t.g.onB");
      const sessionsOfA = [callee.session, publisher.session, callerA.session];

      // The publisher streams (no acknowledgement) until its node dies.
      let seq = 0;
      const streamed: unknown[] = [];
      const drainStream = () => {
        for (const f of takeEvents(streamB)) streamed.push((f[4] as unknown[])[0]);
      };
      const stream = setInterval(() => {
        if (publisher.client.ws.readyState === WebSocket.OPEN) {
          publisher.client.send([PUBLISH, rid(), {}, "t.g.stream", [++seq]]);
        }
      }, 20);
      try {
        // Three events on B: they were published after the testament, so B holds it too.
        await waitUntil(
          () => {
            drainStream();
            return streamed.length >= 3;
          },
          "three streamed events on B",
          PROPAGATION_MS,
        );
        assert.deepEqual(streamed.slice(0, 3), [1, 2, 3], "the stream arrives in order");

        // Calls in flight: B (v2) and C (v1) at A's callee, A at B's callee.
        const r = call(caller, "t.g.proc", ["pending from B"]);
        await nextInvocation(callee.client, "the INVOCATION from B on A");
        v1caller.send([V1_CALL, "v1-pending", "t.g.proc", "pending from C"]);
        await nextInvocation(callee.client, "the INVOCATION from C on A");
        call(callerA.client, "t.g.onB", ["pending from A"]);
        const invOnB = await nextInvocation(calleeB, "the INVOCATION from A on B");

        const killed = performance.now();
        a.kill("SIGKILL");

        const [canceledB, canceledC, interruptedB, leftB, leftC, willAt] = await Promise.all([
          (async () => {
            assertError(await next(caller, "B's pending call to end", DEATH_MS), CALL, r, CANCELED);
            return performance.now();
          })(),
          (async () => {
            const f = await next(v1caller, "C's pending v1 call to end", DEATH_MS);
            assert.deepEqual(f.slice(0, 3), [V1_CALLERROR, "v1-pending", CANCELED], JSON.stringify(f));
            return performance.now();
          })(),
          (async () => {
            assert.deepEqual(await next(calleeB, "the INTERRUPT of A's call on B", DEATH_MS), [
              INTERRUPT,
              invOnB[1],
              { mode: "killnowait", reason: CANCELED },
            ]);
            return performance.now();
          })(),
          onLeaveOf(leaveB, sessionsOfA, "on_leave of A's sessions on B", DEATH_MS),
          onLeaveOf(leaveC, sessionsOfA, "on_leave of A's sessions on C", DEATH_MS),
          (async () => {
            const f = await next(willB, "A's publisher's testament on B", DEATH_MS);
            assert.equal(f[0], EVENT, JSON.stringify(f));
            assert.deepEqual(f[4], ["A's publisher is gone"]);
            return performance.now();
          })(),
        ]);
        drainStream();
        assert.deepEqual(
          [...streamed],
          streamed.map((_, i) => i + 1),
          "B received the stream in order, without a gap, up to A's death",
        );
        const ms = (t: number) => Math.round(t - killed);
        console.log(
          `  after SIGKILL of A: v2 caller on B canceled in ${ms(canceledB)} ms, v1 caller on C in ${
            ms(canceledC)
          } ms, callee on B interrupted in ${ms(interruptedB)} ms, on_leave on B in ${
            ms(leftB)
          } ms, on C in ${ms(leftC)} ms, testament on B in ${
            ms(willAt)
          } ms (${streamed.length} events streamed before)`,
        );

        // No ghost: neither B nor C holds A's registration, sessions or node.
        assert.equal(await lookup(observerB, "t.g.proc"), null, "lookup on B");
        assert.equal(await lookup(observerC, "t.g.proc"), null, "lookup on C");
        const r2 = call(caller, "t.g.proc", ["anyone?"]);
        assertError(await next(caller, "no_such_procedure on B"), CALL, r2, NO_SUCH_PROCEDURE);
        for (const [name, observer] of [["B", observerB], ["C", observerC]] as const) {
          const listed = (await metaCall(observer, "wamp.session.list"))[0] as number[];
          assert.ok(
            sessionsOfA.every((id) => !listed.includes(id)),
            `wamp.session.list on ${name} still lists A's sessions ${JSON.stringify(sessionsOfA)}: ${
              JSON.stringify(listed)
            }`,
          );
        }
        for (const [name, node] of [["B", b], ["C", c]] as const) {
          const health = await node.health();
          assert.ok(
            !health.cluster.nodes.includes(a.node),
            `${name} still counts node A: ${JSON.stringify(health.cluster)}`,
          );
        }
        await assertNothingQueued(willB, "one testament only");
        await assertNothingQueued(leaveB, "one on_leave per session on B");
        await assertNothingQueued(leaveC, "one on_leave per session on C");
        await assertNothingQueued(calleeB, "one INTERRUPT only");

        // A's clients come back on C and go on.
        const callee2 = await clients.v2(c);
        await register(callee2.client, "t.g.proc");
        const publisher2 = (await clients.v2(c)).client;
        await publish(publisher2, "t.g.stream", ["back on C"]);
        await waitUntil(
          () => {
            drainStream();
            return streamed.includes("back on C");
          },
          "the publish from C on B",
          PROPAGATION_MS,
        );
        await seen(caller, "t.g.proc", "node B to learn of the registration on C");
        const r3 = call(caller, "t.g.proc", ["again"]);
        const inv = await nextInvocation(callee2.client, "the INVOCATION on C");
        assert.deepEqual(inv[4], ["again"]);
        callee2.client.send([YIELD, inv[1], {}, ["served from C"]]);
        assert.deepEqual(await next(caller, "the RESULT from C"), [RESULT, r3, {}, ["served from C"]]);
        v1caller.send([V1_CALL, "v1-again", "t.g.proc", "again from C"]);
        const inv2 = await nextInvocation(callee2.client, "the v1 call's INVOCATION on C");
        callee2.client.send([YIELD, inv2[1], {}, ["served again"]]);
        assert.deepEqual(await next(v1caller, "the v1 CALLRESULT"), [
          V1_CALLRESULT,
          "v1-again",
          "served again",
        ]);
        await propagated(async () => {
          const listed = (await metaCall(observerB, "wamp.session.list"))[0] as number[];
          return listed.includes(callee2.session) ? true : undefined;
        }, "wamp.session.list on B to list the new callee on C");
      } finally {
        clearInterval(stream);
      }
    }),
);

// ---------------------------------------------------------------------------
// (h) --reuse-port: two processes of one cluster on one port

/** A port nothing listens on now (bound, then released). */
clusterTest(
  "cluster RPC: two --reuse-port processes of one cluster on one port: connections land on both, and a subscriber on one receives a publish made on the other",
  async () => {
    const port = freePort();
    const cluster = uniqueCluster("rpc-h");
    const args = ["--reuse-port", "--port", String(port)];
    const nodes: NodeProcess[] = [];
    const clients = new Clients();
    try {
      nodes.push(await startNode({ cluster, args }));
      nodes.push(await startNode({ cluster, args }));

      // Both processes answer /healthz on the one port, each hearing of the other.
      // (waitForPeers cannot tell: its /healthz requests land on either process.)
      const byPid = new Map<number, { node: string; nodes: string[] }>();
      const together = () => {
        if (byPid.size !== 2) return false;
        const [x, y] = [...byPid.values()];
        return JSON.stringify(x.nodes) === JSON.stringify([y.node]) &&
          JSON.stringify(y.nodes) === JSON.stringify([x.node]);
      };
      await propagated(
        async () => {
          const h = await healthOnNewConnection(port);
          byPid.set(h.pid, h.cluster);
          return together() ? true : undefined;
        },
        `both processes to answer on port ${port}, each hearing of the other: ${JSON.stringify([...byPid])}`,
        15_000,
      );
      assert.deepEqual([...byPid.keys()].sort(), nodes.map((n) => n.pid).sort(), "both processes answered");

      // WAMP sessions until one is on each process. A process is told by the callee of
      // push.tutorial.areaCuadrado, which each process registers for itself (not shared).
      const byProcess = new Map<number, RawClient>();
      for (let i = 0; i < 200 && byProcess.size < 2; i++) {
        const { client } = await rawV2(`ws://127.0.0.1:${port}/ws`);
        const id = await lookup(client, "push.tutorial.areaCuadrado");
        const appSessions = (await metaCall(client, "wamp.registration.list_callees", [id]))[0] as number[];
        assert.equal(
          appSessions.length,
          1,
          `one local callee of areaCuadrado: ${JSON.stringify(appSessions)}`,
        );
        if (byProcess.has(appSessions[0])) {
          await client.close();
        } else {
          byProcess.set(appSessions[0], clients.track(client));
        }
      }
      assert.equal(byProcess.size, 2, "WAMP sessions landed on both processes");
      const [one, two] = [...byProcess.values()];

      // A subscriber on one process, a publisher on the other, both ways.
      await subscribe(one, "t.h.topic");
      await subscribe(two, "t.h.topic");
      await publish(two, "t.h.topic", ["from two"]);
      const e1 = await next(one, "the event on process one");
      assert.deepEqual([e1[0], e1[4]], [EVENT, ["from two"]]);
      await publish(one, "t.h.topic", ["from one"]);
      const e2 = await next(two, "the event on process two");
      assert.deepEqual([e2[0], e2[4]], [EVENT, ["from one"]]);
      await assertNothingQueued(one, "the publisher on one is excluded from its own event");
      await assertNothingQueued(two, "the publisher on two is excluded from its own event");
    } finally {
      await clients.closeAll();
      await disposeAll(nodes);
      await deleteClusterLeftovers(cluster).catch(() => {});
    }
  },
);
