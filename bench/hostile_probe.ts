/**
 * What the runtime costs when clients misbehave in ways Tuerca cannot refuse
 * early, so the README can state the residual risk with numbers:
 *
 * 1. connections that send half an HTTP request and nothing more (Deno.serve has
 *    no header timeout, denoland/deno#3515);
 * 2. 48 MiB text frames, under the runtime's 64 MiB frame cap, which the session
 *    closes with 1009 only once the whole frame is a string (2c: the same as a
 *    binary frame, for comparison);
 * 3. a frame of exactly 64 MiB, which the runtime refuses at its header;
 * 4. fragmented text messages, which no frame cap bounds (denoland/deno#15809): 540 MiB
 *    is too long for a V8 string and the runtime's reader fails (the product's
 *    guard in src/transport/websocket.ts keeps the process alive); 480 MiB is just
 *    under the limit and reaches the session as a string.
 *
 * Each scenario runs against a fresh Tuerca child (bench/server_tuerca.ts), and
 * its peak RSS (VmHWM) is reset through /proc/PID/clear_refs at the start, so the
 * peak is the scenario's own. Meanwhile a well-behaved v2 session in this process
 * calls `push.tutorial.areaCuadrado("4","4")` every 20 ms: its slowest answers
 * show whether other sessions suffer. This process's own timer lag is reported
 * beside them (a stall there is the probe's, not the server's). Scenario 1 asks
 * the server to collect garbage before each RSS reading it divides by the
 * connections (a few ms of the caller's stall can be that).
 *
 * Hostile clients speak raw TCP: a hand-made upgrade, then client frames masked
 * with a zero key (so the payload goes out as is), big payloads written in
 * 4 MiB chunks. They never answer pings.
 *
 * Run: `deno run --allow-all bench/hostile_probe.ts [1 2 2a 4b …]` (all: about 2.5
 * minutes on 2 cores). Prints a markdown table and writes the raw numbers to
 * `.bench/hostile.json`.
 *
 * @module
 */

import { killAll, withTimeout } from "./lib/child.ts";
import { loadAverage } from "./lib/procfs.ts";
import { wampCall, wampJoin } from "./lib/protocols.ts";
import { type Server, startTuerca } from "./lib/servers.ts";
import { percentiles } from "./lib/stats.ts";
import { OP_TEXT, RawWebSocket } from "./lib/ws_client.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const MiB = 1024 * 1024;
const CHUNK = 4 * MiB;
const REALM = "realm1";
const AREA = "push.tutorial.areaCuadrado";
const HELLO = '[1,"realm1",{"roles":{"caller":{},"subscriber":{},"publisher":{},"callee":{}}}]';
const OUT = new URL("../.bench/hostile.json", import.meta.url);
const LOG_DIR = new URL("../.bench/logs/", import.meta.url);

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

// ---------------------------------------------------------------------------
// The server process, from /proc

/** VmRSS and VmHWM of a process, in KiB (0 when it is gone). */
interface Mem {
  rssKiB: number;
  hwmKiB: number;
}

function memOf(pid: number): Mem {
  try {
    const s = Deno.readTextFileSync(`/proc/${pid}/status`);
    return {
      rssKiB: Number(/VmRSS:\s+(\d+)/.exec(s)?.[1] ?? 0),
      hwmKiB: Number(/VmHWM:\s+(\d+)/.exec(s)?.[1] ?? 0),
    };
  } catch {
    return { rssKiB: 0, hwmKiB: 0 };
  }
}

/** Resets VmHWM to the current RSS (Linux ≥ 4.0); false when not allowed. */
function resetPeak(pid: number): boolean {
  try {
    Deno.writeTextFileSync(`/proc/${pid}/clear_refs`, "5");
    return true;
  } catch {
    return false;
  }
}

/** Open file descriptors of a process (-1 when unreadable). */
function fdCount(pid: number): number {
  try {
    let n = 0;
    for (const _ of Deno.readDirSync(`/proc/${pid}/fd`)) n++;
    return n;
  } catch {
    return -1;
  }
}

/** Whether the process exists and is not a zombie. */
function alive(pid: number): boolean {
  try {
    const stat = Deno.readTextFileSync(`/proc/${pid}/stat`);
    return stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3) !== "Z";
  } catch {
    return false;
  }
}

// ---------------------------------------------------------------------------
// The well-behaved caller, and this process's own event-loop lag

/** What the well-behaved caller saw. */
interface CallerStats {
  calls: number;
  answered: number;
  errors: number;
  /** Calls still unanswered 1 s after the last was sent. */
  unanswered: number;
  p50Ms: number;
  p99Ms: number;
  /** The slowest answer, or the oldest unanswered call's age, whichever is larger. */
  maxMs: number;
  /** Whether its connection closed during the scenario. */
  disconnected: boolean;
  /** This (probe) process's worst timer lateness: a stall here is the probe's, not the server's. */
  probeLagMaxMs: number;
}

/** A v2 session calling areaCuadrado("4","4") every 20 ms. */
class Caller {
  #ws: RawWebSocket;
  #timer: ReturnType<typeof setInterval>;
  #lagTimer: ReturnType<typeof setInterval>;
  #lastTick = performance.now();
  #lagMax = 0;
  #sent = new Map<number, number>();
  #latencies: number[] = [];
  #next = 1;
  #errors = 0;
  #disconnected = false;
  /** performance.now() of the last answer. */
  lastAnswer = performance.now();

  private constructor(ws: RawWebSocket) {
    this.#ws = ws;
    ws.onFrame((op, buf, s, e) => {
      if (op !== OP_TEXT) return;
      const msg = JSON.parse(decoder.decode(buf.subarray(s, e))) as unknown[];
      const id = msg[0] === 50 ? msg[1] : msg[0] === 8 && msg[1] === 48 ? msg[2] : undefined;
      if (typeof id !== "number") return;
      const t = this.#sent.get(id);
      if (t === undefined) return;
      this.#sent.delete(id);
      const now = performance.now();
      this.#latencies.push(now - t);
      this.lastAnswer = now;
      if (msg[0] === 8) this.#errors++;
    });
    ws.onClose(() => this.#disconnected = true);
    this.#timer = setInterval(() => {
      const id = this.#next++;
      this.#sent.set(id, performance.now());
      ws.sendText(wampCall(id, AREA, '["4","4"]'));
    }, 20);
    this.#lagTimer = setInterval(() => {
      const now = performance.now();
      this.#lagMax = Math.max(this.#lagMax, now - this.#lastTick - 10);
      this.#lastTick = now;
    }, 10);
  }

  static async start(server: Server): Promise<Caller> {
    const ws = await RawWebSocket.connect({ ...server.endpoint, protocol: "wamp.2.json" }, 10_000);
    await wampJoin(ws, REALM, 10_000);
    return new Caller(ws);
  }

  /** Whether a call was answered in the last `ms` milliseconds. */
  answeredWithin(ms: number): boolean {
    return this.lastAnswer >= performance.now() - ms;
  }

  /** Stops calling, waits (at most 1 s) for the calls in flight, closes. */
  async stop(): Promise<CallerStats> {
    clearInterval(this.#timer);
    const until = performance.now() + 1_000;
    while (this.#sent.size > 0 && performance.now() < until && !this.#ws.closed) await sleep(20);
    clearInterval(this.#lagTimer);
    const now = performance.now();
    let oldest = 0;
    for (const t of this.#sent.values()) oldest = Math.max(oldest, now - t);
    const p = percentiles(this.#latencies);
    this.#ws.close();
    return {
      calls: this.#next - 1,
      answered: this.#latencies.length,
      errors: this.#errors,
      unanswered: this.#sent.size,
      p50Ms: round(p.p50),
      p99Ms: round(p.p99),
      maxMs: round(Math.max(p.max || 0, oldest)),
      disconnected: this.#disconnected,
      probeLagMaxMs: round(this.#lagMax),
    };
  }
}

/** Milliseconds from TCP connect to WELCOME for a new v2 session (null on failure). */
async function timeToWelcome(server: Server): Promise<{ ms: number | null; error?: string }> {
  const t0 = performance.now();
  let ws: RawWebSocket | undefined;
  try {
    ws = await RawWebSocket.connect({ ...server.endpoint, protocol: "wamp.2.json" }, 10_000);
    await wampJoin(ws, REALM, 10_000);
    return { ms: round(performance.now() - t0) };
  } catch (e) {
    return { ms: null, error: String(e) };
  } finally {
    ws?.close();
  }
}

// ---------------------------------------------------------------------------
// Hostile clients: raw TCP, hand-made frames

/** A 4 MiB chunk of `a`: the filler of every big payload (valid UTF-8 and valid inside a JSON string). */
const FILLER = new Uint8Array(CHUNK).fill(0x61);

async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let off = 0;
  while (off < data.length) off += await conn.write(data.subarray(off));
}

/** A client frame header for `length` payload bytes, masked with a zero key. */
function frameHeader(opcode: number, fin: boolean, length: number): Uint8Array {
  const small = length < 126, mid = length < 65536;
  const h = new Uint8Array((small ? 2 : mid ? 4 : 10) + 4); // the mask key stays 0,0,0,0
  h[0] = (fin ? 0x80 : 0) | opcode;
  if (small) h[1] = 0x80 | length;
  else if (mid) {
    h[1] = 0x80 | 126;
    h[2] = length >>> 8;
    h[3] = length & 0xff;
  } else {
    h[1] = 0x80 | 127;
    new DataView(h.buffer).setBigUint64(2, BigInt(length));
  }
  return h;
}

/** How a hostile connection ended, as its client saw it. */
interface PeerEnd {
  /** "open", "close frame", "eof" (FIN without a close frame) or "reset". */
  how: string;
  closeCode: number | null;
  closeReason: string;
  /** Milliseconds from `mark()` to the end. */
  afterMarkMs: number | null;
  /** Text frames received (cut to 200 characters). */
  texts: string[];
  pings: number;
}

/** One raw WebSocket client connection that reads what the server sends and answers nothing. */
class HostilePeer {
  readonly conn: Deno.TcpConn;
  #buf: Uint8Array = new Uint8Array(0);
  #texts: string[] = [];
  #textWaiters: ((t: string | null) => void)[] = [];
  #how = "open";
  #closeCode: number | null = null;
  #closeReason = "";
  #pings = 0;
  #mark = performance.now();
  #endedAt: number | null = null;
  readonly ended: Promise<void>;

  private constructor(conn: Deno.TcpConn, leftover: Uint8Array) {
    this.conn = conn;
    this.#buf = leftover;
    this.ended = this.#read();
  }

  /** TCP connect, upgrade with `wamp.2.json`, then HELLO → WELCOME. */
  static async join(port: number): Promise<HostilePeer> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    try {
      const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
      await writeAll(
        conn,
        encoder.encode(
          `GET /ws HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
            `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n` +
            `Sec-WebSocket-Protocol: wamp.2.json\r\n\r\n`,
        ),
      );
      let got: Uint8Array = new Uint8Array(0);
      for (let reads = 0; reads < 32; reads++) {
        const part = new Uint8Array(4096);
        const n = await withTimeout(conn.read(part), 10_000, "no upgrade answer in 10 s");
        if (n === null) throw new Error("closed during the upgrade");
        got = concat(got, part.subarray(0, n));
        const head = indexOfHeaderEnd(got);
        if (head < 0) continue;
        const status = decoder.decode(got.subarray(0, got.indexOf(13)));
        if (!status.startsWith("HTTP/1.1 101")) throw new Error(`upgrade refused: ${status}`);
        const peer = new HostilePeer(conn, got.slice(head));
        peer.sendText(HELLO);
        const welcome = await peer.nextText(10_000);
        if (welcome === null || !welcome.startsWith("[2,")) throw new Error(`no WELCOME: ${welcome}`);
        return peer;
      }
      throw new Error("upgrade answer never ended");
    } catch (e) {
      try {
        conn.close();
      } catch {
        // already closed
      }
      throw e;
    }
  }

  /** Sends a small text frame. */
  sendText(text: string): void {
    const payload = encoder.encode(text);
    void writeAll(this.conn, concat(frameHeader(OP_TEXT, true, payload.length), payload)).catch(() => {});
  }

  /**
   * Writes one frame of `length` payload bytes (`prefix`, then `a`s, then `suffix`)
   * in 4 MiB chunks. Resolves with the bytes written and the write error, if any.
   */
  async sendBig(
    opcode: number,
    fin: boolean,
    length: number,
    prefix = "",
    suffix = "",
  ): Promise<{ bytes: number; error: string | null }> {
    const pre = encoder.encode(prefix), suf = encoder.encode(suffix);
    let bytes = 0;
    try {
      const head = frameHeader(opcode, fin, length);
      await writeAll(this.conn, concat(head, pre));
      bytes += head.length + pre.length;
      let left = length - pre.length - suf.length;
      while (left > 0) {
        const n = Math.min(left, CHUNK);
        await writeAll(this.conn, FILLER.subarray(0, n));
        bytes += n;
        left -= n;
      }
      await writeAll(this.conn, suf);
      bytes += suf.length;
      return { bytes, error: null };
    } catch (e) {
      return { bytes, error: e instanceof Error ? `${e.name}: ${e.message}` : String(e) };
    }
  }

  /** The next text frame, or null on close or after `ms`. */
  nextText(ms: number): Promise<string | null> {
    const t = this.#texts.shift();
    if (t !== undefined) return Promise.resolve(t);
    if (this.#how !== "open") return Promise.resolve(null);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#textWaiters = this.#textWaiters.filter((w) => w !== waiter);
        resolve(null);
      }, ms);
      const waiter = (text: string | null) => {
        clearTimeout(timer);
        resolve(text);
      };
      this.#textWaiters.push(waiter);
    });
  }

  /** Starts the clock for {@link PeerEnd.afterMarkMs}. */
  mark(): void {
    this.#mark = performance.now();
  }

  /** How it ended (or "open"), and what it received. */
  end(): PeerEnd {
    return {
      how: this.#how,
      closeCode: this.#closeCode,
      closeReason: this.#closeReason,
      afterMarkMs: this.#endedAt === null ? null : Math.round(this.#endedAt - this.#mark),
      texts: this.#texts.map((t) => t.slice(0, 200)),
      pings: this.#pings,
    };
  }

  /** Closes the TCP connection (no close handshake). */
  close(): void {
    try {
      this.conn.close();
    } catch {
      // already closed
    }
  }

  async #read(): Promise<void> {
    const part = new Uint8Array(64 * 1024);
    try {
      this.#parse();
      while (this.#how === "open") {
        const n = await this.conn.read(part);
        if (n === null) {
          this.#finish("eof");
          break;
        }
        this.#buf = concat(this.#buf, part.subarray(0, n));
        this.#parse();
      }
    } catch (e) {
      if (this.#how === "open") {
        this.#finish(e instanceof Deno.errors.ConnectionReset ? "reset" : `error (${(e as Error).name})`);
      }
    }
    this.close();
    for (const w of this.#textWaiters.splice(0)) w(null);
  }

  #finish(how: string): void {
    if (this.#how !== "open") return;
    this.#how = how;
    this.#endedAt = performance.now();
  }

  /** Server frames: unmasked. */
  #parse(): void {
    const b = this.#buf;
    let s = 0;
    while (b.length - s >= 2 && this.#how === "open") {
      let len = b[s + 1] & 0x7f, head = 2;
      if (len === 126) {
        if (b.length - s < 4) break;
        len = (b[s + 2] << 8) | b[s + 3];
        head = 4;
      } else if (len === 127) {
        if (b.length - s < 10) break;
        len = Number(new DataView(b.buffer, b.byteOffset + s + 2, 8).getBigUint64(0));
        head = 10;
      }
      if (b.length - s < head + len) break;
      const op = b[s] & 0x0f;
      const payload = b.subarray(s + head, s + head + len);
      s += head + len;
      if (op === 1) {
        const text = decoder.decode(payload);
        const w = this.#textWaiters.shift();
        if (w) w(text);
        else this.#texts.push(text);
      } else if (op === 9) {
        this.#pings++; // deliberately unanswered
      } else if (op === 8) {
        this.#closeCode = len >= 2 ? (payload[0] << 8) | payload[1] : null;
        this.#closeReason = decoder.decode(payload.subarray(2));
        this.#finish("close frame");
      }
    }
    this.#buf = b.slice(s);
  }
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function indexOfHeaderEnd(b: Uint8Array): number {
  for (let i = 3; i < b.length; i++) {
    if (b[i] === 10 && b[i - 1] === 13 && b[i - 2] === 10 && b[i - 3] === 13) return i + 1;
  }
  return -1;
}

// ---------------------------------------------------------------------------
// Scenarios

/** One row of the report and its raw numbers. */
interface Result {
  scenario: string;
  happened: string;
  rssBeforeKiB: number;
  peakKiB: number;
  rssAfterKiB: number;
  perConnectionKiB: number | null;
  /** The table's per-connection cell, when it says more than the number. */
  perConnectionText?: string;
  caller: CallerStats | null;
  seconds: number;
  details: Record<string, unknown>;
}

/** A fresh server and a caller around `body`; both stopped whatever happens. */
async function withServer(
  name: string,
  body: (server: Server, pid: number, caller: Caller) => Promise<Omit<Result, "caller" | "seconds">>,
): Promise<Result> {
  const t0 = performance.now();
  const server = await startTuerca({ name });
  let caller: Caller | undefined;
  try {
    const pid = server.pids()[0];
    caller = await Caller.start(server);
    await sleep(500); // settle: the caller's first calls, the server's startup garbage
    const r = await body(server, pid, caller);
    const stats = await caller.stop();
    caller = undefined;
    return { ...r, caller: stats, seconds: round((performance.now() - t0) / 1000) };
  } finally {
    await caller?.stop().catch(() => {});
    await withTimeout(server.stop(), 15_000, `${name}: stop took over 15 s`).catch(() => {});
  }
}

/** RSS in KiB right after the server collected its garbage (its `mem` command); null if that failed. */
async function rssAfterGc(server: Server, pid: number): Promise<number | null> {
  try {
    await server.request!("mem", {}, 10_000);
    return memOf(pid).rssKiB;
  } catch {
    return null;
  }
}

/** Peak so far and the current RSS, after resetting the peak at the start. */
function beginScenario(pid: number): Mem & { peakReset: boolean } {
  const peakReset = resetPeak(pid);
  return { ...memOf(pid), peakReset };
}

/** Scenario 1: `n` connections that send half an HTTP request and nothing more. */
function halfSent(n: number): Promise<Result> {
  return withServer(`hostile-half-${n}`, async (server, pid, caller) => {
    const port = server.endpoint.port;
    // Per-connection cost from RSS after a GC on both sides: the caller's garbage is not the connections'.
    const gcBefore = await rssAfterGc(server, pid);
    const before = beginScenario(pid);
    const fdsBefore = fdCount(pid);
    const partial = encoder.encode("GET / HTTP/1.1\r\nHost: x\r\n");
    const conns: { conn: Deno.TcpConn; open: boolean; ended: string }[] = [];
    let failed = 0;
    for (let i = 0; i < n; i += 100) {
      await Promise.all(Array.from({ length: Math.min(100, n - i) }, async () => {
        try {
          const conn = await withTimeout(Deno.connect({ hostname: "127.0.0.1", port }), 10_000, "connect");
          await writeAll(conn, partial);
          const c = { conn, open: true, ended: "" };
          conns.push(c);
          // Anything read (an answer, EOF or a reset) means the server gave up on it.
          const buf = new Uint8Array(1024);
          void conn.read(buf).then(
            (r) => c.ended = r === null ? "eof" : `answered: ${decoder.decode(buf.subarray(0, 40))}`,
            (e) => c.ended = e instanceof Deno.errors.ConnectionReset ? "reset" : "error",
          ).finally(() => c.open = false);
        } catch {
          failed++;
        }
      }));
    }
    const opened = performance.now();
    await sleep(1_000); // settle: let the server accept and read every one
    const after = memOf(pid);
    const gcAfter = await rssAfterGc(server, pid);
    const fdsAfter = fdCount(pid);
    const welcomeDuring = await timeToWelcome(server);
    const answeredDuring = caller.answeredWithin(500);
    // Hold them for 30 s from the last connect (proving the server does NOT time them out).
    await sleep(Math.max(0, 30_000 - (performance.now() - opened)));
    const stillOpen = conns.filter((c) => c.open).length;
    const heldSeconds = round((performance.now() - opened) / 1000);
    const after30 = memOf(pid);
    const gcAfter30 = await rssAfterGc(server, pid);
    const welcomeAfter30 = await timeToWelcome(server);
    const endings: Record<string, number> = {};
    for (const c of conns) if (!c.open) endings[c.ended] = (endings[c.ended] ?? 0) + 1;
    for (const c of conns) {
      try {
        c.conn.close();
      } catch {
        // already closed
      }
    }
    await sleep(1_000);
    const released = memOf(pid);
    const perConn = (kib: number | null) =>
      gcBefore === null || kib === null ? null : round((kib - gcBefore) / n, 1);
    return {
      scenario: `1. ${n.toLocaleString("en-US")} half-sent HTTP requests`,
      happened: `${stillOpen}/${n} still open after ${heldSeconds} s; new session WELCOME in ` +
        `${welcomeDuring.ms ?? "FAILED"} ms (${welcomeAfter30.ms ?? "FAILED"} ms at 30 s)`,
      rssBeforeKiB: before.rssKiB,
      peakKiB: after30.hwmKiB,
      rssAfterKiB: after30.rssKiB,
      perConnectionKiB: perConn(gcAfter),
      perConnectionText: `${perConn(gcAfter)} KiB (${perConn(gcAfter30)} at 30 s)`,
      details: {
        n,
        rssBeforeAfterGcKiB: gcBefore,
        rssAfterOpenAfterGcKiB: gcAfter,
        rssAt30sAfterGcKiB: gcAfter30,
        perConnectionAt30sKiB: perConn(gcAfter30),
        perConnectionRawRssAt30sKiB: round((after30.rssKiB - before.rssKiB) / n, 1),
        connectFailed: failed,
        fdsBefore,
        fdsAfter,
        rssAfterOpen1sKiB: after.rssKiB,
        perConnectionRawRssAt1sKiB: round((after.rssKiB - before.rssKiB) / n, 1),
        rssAfter30sKiB: after30.rssKiB,
        rssAfterClosingAllKiB: released.rssKiB,
        stillOpen,
        heldSeconds,
        endings,
        welcomeDuringMs: welcomeDuring.ms,
        welcomeDuringError: welcomeDuring.error,
        welcomeAfter30sMs: welcomeAfter30.ms,
        welcomeAfter30sError: welcomeAfter30.error,
        callerAnsweredDuring: answeredDuring,
        peakReset: before.peakReset,
      },
    };
  });
}

/** The 48 MiB text frame: a CALL with one huge string argument (valid JSON, valid UTF-8). */
const BIG_PREFIX = `[48,2,{},"${AREA}",["`;
const BIG_SUFFIX = '","4"]]';

/**
 * Scenario 2: `k` connections each send one 48 MiB frame at once: text (2a, 2b), or
 * binary (2c: the same bytes without the text path's costs, for comparison).
 */
function bigFrames(k: number, opcode = OP_TEXT): Promise<Result> {
  const kind = opcode === OP_TEXT ? "text" : "binary";
  return withServer(`hostile-48mib-${kind}-x${k}`, async (server, pid) => {
    const peers = await Promise.all(Array.from({ length: k }, () => HostilePeer.join(server.endpoint.port)));
    const before = beginScenario(pid);
    const t0 = performance.now();
    const writes = await Promise.all(
      peers.map((p) => p.sendBig(opcode, true, 48 * MiB, BIG_PREFIX, BIG_SUFFIX)),
    );
    const written = performance.now();
    for (const p of peers) p.mark();
    await withTimeout(Promise.all(peers.map((p) => p.ended)), 20_000, "no close in 20 s").catch(() => {});
    const ends = peers.map((p) => p.end());
    for (const p of peers) p.close();
    await sleep(1_000); // settle: the server frees what it read
    const after = memOf(pid);
    const afterGcKiB = await rssAfterGc(server, pid);
    const codes = ends.map((e) => e.closeCode ?? e.how).join(", ");
    return {
      scenario: opcode !== OP_TEXT
        ? `2c. one 48 MiB binary frame (for comparison)`
        : k === 1
        ? "2a. one 48 MiB text frame"
        : `2b. ${k} × 48 MiB text frames at once`,
      happened: `close ${codes} ${
        Math.max(...ends.map((e) => e.afterMarkMs ?? -1))
      } ms after the last byte; ` +
        `writes took ${Math.round(written - t0)} ms`,
      rssBeforeKiB: before.rssKiB,
      peakKiB: after.hwmKiB,
      rssAfterKiB: after.rssKiB,
      perConnectionKiB: round((after.hwmKiB - before.rssKiB) / k, 0),
      details: {
        connections: k,
        frameBytes: 48 * MiB,
        opcode,
        writes,
        writeMs: Math.round(written - t0),
        ends,
        rssAfterGcKiB: afterGcKiB,
        peakReset: before.peakReset,
      },
    };
  });
}

/** Scenario 3: one frame of exactly 64 MiB (the runtime's cap). */
function capFrame(): Promise<Result> {
  return withServer("hostile-64mib", async (server, pid) => {
    const peer = await HostilePeer.join(server.endpoint.port);
    const before = beginScenario(pid);
    peer.mark();
    const write = await withTimeout(
      peer.sendBig(OP_TEXT, true, 64 * MiB, BIG_PREFIX, BIG_SUFFIX),
      30_000,
      "64 MiB write took over 30 s",
    ).catch((e) => ({ bytes: -1, error: String(e) }));
    await withTimeout(peer.ended, 10_000, "no end in 10 s").catch(() => {});
    const end = peer.end();
    peer.close();
    await sleep(500);
    const after = memOf(pid);
    return {
      scenario: "3. one 64 MiB (67,108,864-byte) text frame",
      happened:
        `${end.how}${end.closeCode !== null ? ` ${end.closeCode}` : ""} after ${end.afterMarkMs} ms; ` +
        `write ${write.error ?? "completed"} after ${(write.bytes / MiB).toFixed(1)} MiB`,
      rssBeforeKiB: before.rssKiB,
      peakKiB: after.hwmKiB,
      rssAfterKiB: after.rssKiB,
      perConnectionKiB: null,
      details: { frameBytes: 64 * MiB, write, end, peakReset: before.peakReset },
    };
  });
}

/**
 * Scenario 4: one fragmented text message of `fragments` × 60 MiB. Nine (540 MiB)
 * is past V8's longest string (2^29 − 24 characters, about 512 MiB): the runtime
 * fails to make the string (4a). Eight (480 MiB) is just under it: the message
 * becomes a string and reaches the session (4b).
 */
function fragmented(fragments: number): Promise<Result> {
  const name = `hostile-${fragments * 60}mib-fragmented`;
  return withServer(name, async (server, pid, caller) => {
    const peer = await HostilePeer.join(server.endpoint.port);
    const before = beginScenario(pid);
    const t0 = performance.now();
    const size = 60 * MiB;
    const writes: { bytes: number; error: string | null }[] = [];
    const writing = (async () => {
      for (let i = 0; i < fragments; i++) {
        const w = await peer.sendBig(
          i === 0 ? OP_TEXT : 0,
          i === fragments - 1,
          size,
          i === 0 ? BIG_PREFIX : "",
          i === fragments - 1 ? BIG_SUFFIX : "",
        );
        writes.push(w);
        if (w.error !== null) break;
      }
    })();
    await withTimeout(writing, 60_000, "writing 540 MiB took over 60 s").catch(() => {});
    const written = performance.now();
    peer.mark();
    // Bounded at 45 s (the idle timeout is 30 s); watch that the server lives and serves meanwhile.
    const aliveChecks: boolean[] = [];
    const until = written + 45_000;
    while (peer.end().how === "open" && performance.now() < until) {
      aliveChecks.push(alive(pid));
      await Promise.race([peer.ended, sleep(1_000)]);
    }
    const end = peer.end();
    peer.close();
    const stillAlive = alive(pid);
    const answeredLast2s = caller.answeredWithin(2_000);
    const welcome = await timeToWelcome(server);
    await sleep(500);
    const after = memOf(pid);
    const afterGcKiB = await rssAfterGc(server, pid);
    let log = "";
    try {
      log = Deno.readTextFileSync(new URL(`${name}.log`, LOG_DIR));
    } catch {
      // no log
    }
    const guardLine = log.split("\n").find((l) => l.includes("too large to read")) ?? null;
    return {
      scenario: `${fragments === 9 ? "4a" : "4b"}. fragmented text message, ${fragments} × 60 MiB = ` +
        `${fragments * 60} MiB`,
      happened:
        `server ${stillAlive ? "alive" : "DEAD"}, guard ${guardLine !== null ? "fired" : "silent"}; ` +
        `offender ${end.how}${end.closeCode !== null ? ` ${end.closeCode}` : ""} ` +
        `${end.afterMarkMs === null ? "not within 45 s" : `${(end.afterMarkMs / 1000).toFixed(1)} s`} ` +
        `after the last byte (writes ${((written - t0) / 1000).toFixed(1)} s); ` +
        `new session WELCOME in ${welcome.ms ?? "FAILED"} ms`,
      rssBeforeKiB: before.rssKiB,
      peakKiB: after.hwmKiB,
      rssAfterKiB: after.rssKiB,
      perConnectionKiB: null,
      details: {
        fragments,
        fragmentBytes: size,
        writes,
        writeMs: Math.round(written - t0),
        end,
        rssAfterGcKiB: afterGcKiB,
        serverAlive: stillAlive,
        aliveThroughout: aliveChecks.every((a) => a),
        callerAnsweredInLast2s: answeredLast2s,
        welcomeAfterMs: welcome.ms,
        welcomeAfterError: welcome.error,
        guardLine,
        serverLogTail: log.split("\n").slice(-10).join("\n"),
        peakReset: before.peakReset,
      },
    };
  });
}

// ---------------------------------------------------------------------------
// Report

function mib(kib: number): string {
  return `${(kib / 1024).toFixed(1)} MiB`;
}

function table(results: Result[]): string {
  const rows = [
    [
      "scenario",
      "what happened",
      "RSS before",
      "peak RSS",
      "RSS after",
      "per connection",
      "caller max / p99 (probe lag)",
    ],
    ...results.map((r) => [
      r.scenario,
      r.happened,
      mib(r.rssBeforeKiB),
      mib(r.peakKiB),
      mib(r.rssAfterKiB),
      r.perConnectionText ??
        (r.perConnectionKiB === null
          ? "—"
          : r.perConnectionKiB > 1024
          ? mib(r.perConnectionKiB)
          : `${r.perConnectionKiB} KiB`),
      r.caller === null ? "—" : `${r.caller.maxMs} / ${r.caller.p99Ms} ms (${r.caller.probeLagMaxMs} ms)` +
        (r.caller.unanswered > 0 || r.caller.disconnected
          ? ` — ${r.caller.unanswered} unanswered${r.caller.disconnected ? ", disconnected" : ""}`
          : ""),
    ]),
  ];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
  return [line(rows[0]), `| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`, ...rows.slice(1).map(line)]
    .join("\n");
}

async function main(): Promise<void> {
  const t0 = performance.now();
  const load0 = loadAverage();
  const results: Result[] = [];
  const failures: { scenario: string; error: string }[] = [];
  // Arguments pick scenarios by number ("1", "2", "2a", "4b", …); none: all.
  const only = Deno.args;
  const run = async (label: string, f: () => Promise<Result>) => {
    if (only.length > 0 && !only.some((id) => label.startsWith(id))) {
      return;
    }
    console.error(`… ${label}`);
    try {
      const r = await f();
      results.push(r);
      console.error(`  ${r.happened} (${r.seconds} s)`);
    } catch (e) {
      failures.push({ scenario: label, error: e instanceof Error ? e.stack ?? e.message : String(e) });
      console.error(`  FAILED: ${e}`);
    }
  };
  try {
    await run("1. 200 half-sent requests", () => halfSent(200));
    await run("1. 1,000 half-sent requests", () => halfSent(1_000));
    await run("2a. one 48 MiB frame", () => bigFrames(1));
    await run("2b. four 48 MiB frames", () => bigFrames(4));
    await run("2c. one 48 MiB binary frame", () => bigFrames(1, 2));
    await run("3. one 64 MiB frame", capFrame);
    await run("4a. 9 × 60 MiB fragments", () => fragmented(9));
    await run("4b. 8 × 60 MiB fragments", () => fragmented(8));
  } finally {
    await killAll();
  }
  const seconds = round((performance.now() - t0) / 1000);
  const load1 = loadAverage();
  const note =
    `${navigator.hardwareConcurrency} CPUs, Deno ${Deno.version.deno}; load average ${load0} at the ` +
    `start, ${load1} at the end (the machine may be shared with other work). ${seconds} s in all.`;
  console.log(table(results));
  console.log();
  console.log(
    "Caller: a v2 session in the probe calling areaCuadrado every 20 ms; max / p99 answer time over the " +
      "scenario (probe lag: this process's own worst timer delay).",
  );
  console.log(note);
  for (const f of failures) console.log(`FAILED ${f.scenario}: ${f.error.split("\n")[0]}`);
  Deno.mkdirSync(new URL(".", OUT), { recursive: true });
  Deno.writeTextFileSync(
    OUT,
    JSON.stringify(
      {
        date: new Date().toISOString(),
        seconds,
        cpus: navigator.hardwareConcurrency,
        deno: Deno.version.deno,
        loadAverage: [load0, load1],
        results,
        failures,
      },
      null,
      2,
    ) + "\n",
  );
  console.log(`Raw numbers: ${OUT.pathname}`);
  // Exit at once: Server.stop() (bench/lib/servers.ts) leaves a 10 s timer behind.
  Deno.exit(failures.length > 0 ? 1 : 0);
}

if (import.meta.main) await main();
