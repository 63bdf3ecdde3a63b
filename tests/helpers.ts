/**
 * Test helpers: a real server on an ephemeral port, autobahn-browser as the WAMP v2
 * client, a raw WebSocket client for frames a library would never send, and
 * bounded waits instead of sleeps.
 *
 * @module
 */

import "./quiet_autobahn.ts";
import assert from "node:assert/strict";
import autobahn from "autobahn-browser";
import { type App, LocalSession, type RunningServer, type ServerOptions, startServer } from "../main.ts";
import { pushApp } from "../push.ts";

export { autobahn };

/** Default bound for every wait in the tests. */
export const TIMEOUT_MS = 5_000;

/** Starts `app` (default: the push app) on 127.0.0.1 with a free port. */
export function startTestServer(app: App = pushApp, options: ServerOptions = {}): Promise<RunningServer> {
  return startServer(app, { port: 0, host: "127.0.0.1", ...options });
}

/** Resolves with `promise`, or rejects after `ms` naming `what`. */
export async function within<T>(promise: Promise<T>, what: string, ms = TIMEOUT_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms waiting for ${what}`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Polls `condition` every 10 ms until it holds, failing after `ms`. */
export async function waitUntil(condition: () => boolean, what: string, ms = TIMEOUT_MS): Promise<void> {
  const deadline = Date.now() + ms;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/**
 * Polls an asynchronous `probe` every `intervalMs` until it gives a value other
 * than undefined or false, and returns that value; fails after `ms` naming `what`
 * (a function is asked at the deadline, so the message can show what was last seen).
 */
export async function eventually<T>(
  probe: () => Promise<T | undefined | false>,
  what: string | (() => string),
  ms = TIMEOUT_MS,
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + ms;
  while (true) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) {
      throw new Error(`timed out after ${ms} ms waiting for ${typeof what === "string" ? what : what()}`);
    }
    await new Promise((r) => setTimeout(r, intervalMs)); // the polling interval, not a synchronization
  }
}

// deno-lint-ignore no-explicit-any
export type AutobahnSession = any;

/** An open autobahn-browser session and a way to close it. */
export interface V2Client {
  session: AutobahnSession;
  connection: AutobahnSession;
  /** Closes the connection and waits until autobahn reports it closed. */
  close(): Promise<void>;
}

/** Opens an autobahn-browser (WAMP v2) session to `url`, without retries. */
export async function connectV2(url: string, realm = "realm1"): Promise<V2Client> {
  const closed = Promise.withResolvers<void>();
  const opened = Promise.withResolvers<AutobahnSession>();
  const connection = new autobahn.Connection({
    url,
    realm,
    max_retries: 0,
    protocols: ["wamp.2.json"],
    use_es6_promises: true,
  });
  connection.onopen = (session: AutobahnSession) => opened.resolve(session);
  connection.onclose = (reason: string, details: unknown) => {
    opened.reject(new Error(`connection closed: ${reason} ${JSON.stringify(details)}`));
    closed.resolve();
    return true; // no reconnect
  };
  connection.open();
  const session = await within(opened.promise, `WAMP v2 session to ${url}`);
  return {
    session,
    connection,
    async close() {
      if (connection.isOpen) connection.close();
      await within(closed.promise, "the autobahn connection to close");
    },
  };
}

/** A raw WebSocket client that queues every frame it receives. */
export class RawClient {
  readonly ws: WebSocket;
  readonly frames: string[] = [];
  readonly opened: Promise<void>;
  readonly closed: Promise<CloseEvent>;
  #waiters: (() => void)[] = [];

  private constructor(url: string, protocols?: string | string[]) {
    this.ws = new WebSocket(url, protocols);
    const opened = Promise.withResolvers<void>();
    const closed = Promise.withResolvers<CloseEvent>();
    this.opened = opened.promise;
    this.closed = closed.promise;
    this.ws.onopen = () => opened.resolve();
    this.ws.onerror = () => opened.reject(new Error(`WebSocket to ${url} failed`));
    this.ws.onmessage = (e) => {
      this.frames.push(typeof e.data === "string" ? e.data : "<binary>");
      this.#wake();
    };
    this.ws.onclose = (e) => {
      closed.resolve(e);
      opened.reject(new Error(`closed before open: ${e.code}`));
      this.#wake();
    };
    // Closing before open rejects `opened`; tests that expect that await `closed`.
    this.opened.catch(() => {});
  }

  /** Connects and waits for the socket to open. */
  static async open(url: string, protocols?: string | string[]): Promise<RawClient> {
    const c = new RawClient(url, protocols);
    await within(c.opened, `raw WebSocket to ${url}`);
    return c;
  }

  /** Sends a frame; arrays and objects are JSON-encoded. */
  send(frame: unknown): void {
    this.ws.send(typeof frame === "string" ? frame : JSON.stringify(frame));
  }

  /** The next frame, parsed as JSON. */
  async next(what = "a frame"): Promise<unknown> {
    return JSON.parse(await this.nextText(what));
  }

  /** The next frame as text. */
  async nextText(what = "a frame"): Promise<string> {
    await within(
      new Promise<void>((resolve) => {
        if (this.frames.length > 0) return resolve();
        this.#waiters.push(resolve);
      }),
      what,
    );
    if (this.frames.length === 0) throw new Error(`socket closed while waiting for ${what}`);
    return this.frames.shift()!;
  }

  /** Waits for the server to close the socket and returns the close event. */
  closeEvent(): Promise<CloseEvent> {
    return within(this.closed, "the server to close the socket");
  }

  /** Closes from our side and waits for the close to finish. */
  async close(): Promise<void> {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.close(1000);
    await within(this.closed, "the socket to close");
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }
}

let lastRequest = 0;

/** A fresh request id for raw v2 frames (unique within the test process). */
export function rid(): number {
  return ++lastRequest;
}

/** Sends `frame` and returns the next frame the client receives. */
export async function ask(client: RawClient, frame: unknown[]): Promise<unknown[]> {
  client.send(frame);
  return await client.next(`the answer to ${JSON.stringify(frame)}`) as unknown[];
}

/**
 * Calls a procedure that answers at once (a meta procedure, say) from a raw v2
 * client that receives nothing else meanwhile; returns the RESULT's arguments.
 * Anything but that RESULT fails, naming the frame.
 */
export async function metaCall(
  client: RawClient,
  procedure: string,
  args: unknown[] = [],
): Promise<unknown[]> {
  const request = rid();
  const reply = await ask(client, [48, request, {}, procedure, args]);
  assert.deepEqual(
    reply.slice(0, 2),
    [50, request],
    `${procedure}(${JSON.stringify(args)}): ${JSON.stringify(reply)}`,
  );
  return (reply[3] ?? []) as unknown[];
}

/** Subscribes a raw v2 client to `topic`; returns the subscription id. */
export async function rawSubscribe(client: RawClient, topic: string): Promise<number> {
  const request = rid();
  const reply = await ask(client, [32, request, {}, topic]);
  assert.deepEqual(reply.slice(0, 2), [33, request], `SUBSCRIBED to ${topic}: ${JSON.stringify(reply)}`);
  return reply[2] as number;
}

/** Registers `procedure` on a raw v2 client; returns the registration id. */
export async function rawRegister(client: RawClient, procedure: string): Promise<number> {
  const request = rid();
  const reply = await ask(client, [64, request, {}, procedure]);
  assert.deepEqual(reply.slice(0, 2), [65, request], `REGISTERED ${procedure}: ${JSON.stringify(reply)}`);
  return reply[2] as number;
}

/** A subscription id no router hands out (they count up from 1, in a cluster from a point below 2^52). */
const NEVER_AN_ID = 2 ** 53;

/**
 * Barrier for a raw v2 client: asks something that changes nothing (UNSUBSCRIBE of
 * an id that never exists) and checks that its answer is the very next frame, so
 * nothing else was queued for the client before it. This is how a test shows that
 * something was NOT sent, without sleeping.
 */
export async function assertNothingQueued(client: RawClient, context: string): Promise<void> {
  const r = rid();
  const reply = await ask(client, [34, r, NEVER_AN_ID]);
  assert.deepEqual(
    reply.slice(0, 5),
    [8, 34, r, {}, "wamp.error.no_such_subscription"],
    `${context}: expected nothing before the barrier's answer, got ${JSON.stringify(reply)}`,
  );
}

/** Opens a raw WAMP v2 socket and completes the HELLO/WELCOME handshake; returns the session id too. */
export async function rawV2(url: string, realm = "realm1", roles: Record<string, unknown> = {
  caller: {},
  callee: { features: { call_canceling: true, progressive_call_results: true } },
  publisher: {},
  subscriber: {},
}): Promise<{ client: RawClient; session: number }> {
  const client = await RawClient.open(url, "wamp.2.json");
  client.send([1, realm, { roles }]);
  const welcome = await client.next("WELCOME") as unknown[];
  if (welcome[0] !== 2) throw new Error(`expected WELCOME, got ${JSON.stringify(welcome)}`);
  return { client, session: welcome[1] as number };
}

/** Opens a raw WAMP v1 socket and reads its WELCOME; returns the session id too. */
export async function rawV1(url: string): Promise<{ client: RawClient; session: string }> {
  const client = await RawClient.open(url, "wamp");
  const welcome = await client.next("v1 WELCOME") as unknown[];
  if (welcome[0] !== 0) throw new Error(`expected v1 WELCOME, got ${JSON.stringify(welcome)}`);
  return { client, session: welcome[1] as string };
}

/** Runs `fn` with a fresh test server, always closing it. */
export async function withServer(
  fn: (server: RunningServer) => Promise<void>,
  app: App = pushApp,
  options: ServerOptions = {},
): Promise<void> {
  const server = await startTestServer(app, options);
  try {
    await fn(server);
  } finally {
    await server.close();
  }
}

/**
 * The clients one test opens, each closed at its end. The methods are bound, so a
 * test may destructure them (`async ({ v2, v1 }) => ...`).
 */
export class TestClients {
  #raw: RawClient[] = [];
  #autobahn: V2Client[] = [];
  #local: LocalSession[] = [];

  /** Clients of `server`. */
  constructor(readonly server: RunningServer) {}

  /** A raw v2 session (anonymous, with `roles` in HELLO when given). */
  v2 = async (roles?: Record<string, unknown>): Promise<{ client: RawClient; session: number }> =>
    this.#keep(await rawV2(this.server.wsUrl, "realm1", roles));

  /** A raw v1 session. */
  v1 = async (): Promise<{ client: RawClient; session: string }> =>
    this.#keep(await rawV1(this.server.wsUrl));

  /** An autobahn-browser session. */
  autobahn = async (): Promise<V2Client> => {
    const c = await connectV2(this.server.wsUrl);
    this.#autobahn.push(c);
    return c;
  };

  /** A server-side session. */
  local = (): LocalSession => {
    const l = new LocalSession(this.server.router);
    this.#local.push(l);
    return l;
  };

  /** Closes `client` with the others at the end. */
  track = (client: RawClient): RawClient => {
    this.#raw.push(client);
    return client;
  };

  /** Closes every client; a client that fails to close fails the test. */
  async close(): Promise<void> {
    for (const c of this.#autobahn.splice(0)) await c.close();
    for (const c of this.#raw.splice(0)) await c.close();
    for (const l of this.#local.splice(0)) l.close();
  }

  /** Closes whatever is left, ignoring failures (for a test that already failed). */
  async abandon(): Promise<void> {
    for (const c of this.#autobahn.splice(0)) await c.close().catch(() => {});
    for (const c of this.#raw.splice(0)) await c.close().catch(() => {});
    for (const l of this.#local.splice(0)) l.close();
  }

  #keep<T extends { client: RawClient }>(s: T): T {
    this.#raw.push(s.client);
    return s;
  }
}

/**
 * Runs `fn` against a fresh server (`app`, default the push app, with `options`):
 * closes every client it opened, checks that the router holds exactly what it held
 * before them (nothing pending, no session left behind), and stops the server.
 */
export async function withCleanServer(
  options: ServerOptions,
  fn: (clients: TestClients) => Promise<void>,
  app: App = pushApp,
): Promise<void> {
  const server = await startTestServer(app, options);
  const clients = new TestClients(server);
  try {
    const baseline = footprint(server);
    await fn(clients);
    await clients.close();
    await backToBaseline(server, baseline, "the router to release everything the test's sessions held");
  } finally {
    await clients.abandon();
    await server.close();
  }
}

/** The events of one autobahn subscription, queued in arrival order. */
export class Events {
  readonly items: unknown[][] = [];

  /** Pass this to `session.subscribe`. */
  handler = (args: unknown[]): void => {
    this.items.push(args);
  };

  /** The next event's args, waiting (boundedly) for one to arrive. */
  async next(what: string): Promise<unknown[]> {
    await waitUntil(() => this.items.length > 0, what);
    return this.items.shift()!;
  }
}

/** Everything sessions could leave behind in the router and its default realm, and the open connections. */
export interface Footprint {
  routerSessions: number;
  realmSessions: number;
  topics: number;
  subscribers: number;
  pendingCalls: number;
  registrations: number;
  openConnections: number;
}

/** What the router, its default realm and its WebSocket endpoint hold now. */
export function footprint(server: RunningServer): Footprint {
  const realm = server.router.defaultRealm;
  return {
    routerSessions: server.router.sessionCount,
    realmSessions: realm.sessionCount,
    topics: realm.broker.topicCount,
    subscribers: realm.broker.subscriberCount,
    pendingCalls: realm.dealer.pendingCount,
    registrations: realm.dealer.registrationCount,
    openConnections: server.endpoint.counters.open,
  };
}

/** Waits until the router holds exactly what it held at `baseline`; fails showing the difference. */
export async function backToBaseline(
  server: RunningServer,
  baseline: Footprint,
  what: string,
): Promise<void> {
  try {
    await waitUntil(() => JSON.stringify(footprint(server)) === JSON.stringify(baseline), what);
  } catch {
    assert.deepEqual(footprint(server), baseline, `the router still holds something: ${what}`);
  }
}
