/**
 * A minimal WebSocket client over a raw TCP connection, for load generation.
 *
 * The native WebSocket turns every message into a JS string and a MessageEvent;
 * a load generator that does that for 10,000 sockets spends more CPU receiving
 * than the server spends sending. This client reads whole TCP chunks into one
 * buffer per connection and hands each frame to a handler as a byte range, so
 * counting a frame costs a few byte comparisons and no allocation.
 *
 * Client frames are masked, as RFC 6455 requires; control frames are answered
 * (ping with pong, close with close). Fragmented data messages are not
 * reassembled: the handler sees each fragment (servers under test do not
 * fragment the small messages used here; {@link RawWebSocket.fragments} counts
 * any that arrive).
 *
 * @module
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();

export const OP_CONTINUATION = 0;
export const OP_TEXT = 1;
export const OP_BINARY = 2;
export const OP_CLOSE = 8;
export const OP_PING = 9;
export const OP_PONG = 10;

/** Receives one frame; the payload is `buf[start, end)`, valid only during the call. */
export type FrameHandler = (opcode: number, buf: Uint8Array, start: number, end: number) => void;

/** Where and how to connect. */
export interface WsTarget {
  hostname: string;
  port: number;
  path: string;
  /** The subprotocol offered, if any. */
  protocol?: string;
}

/** A frame kept for the handshake phase (copied out of the read buffer). */
export interface SetupFrame {
  opcode: number;
  data: Uint8Array;
}

const MAX_BUFFER = 16 * 1024 * 1024;

/** One client connection. */
export class RawWebSocket {
  /** Fragments (continuation frames) seen; should stay 0. */
  fragments = 0;
  /** Bytes received, headers included. */
  bytesIn = 0;
  #conn: Deno.TcpConn;
  #buf: Uint8Array;
  #start = 0;
  #end = 0;
  #out: Uint8Array[] = [];
  #outBytes = 0;
  #writing = false;
  #drainWaiters: (() => void)[] = [];
  #closed = false;
  #handler: FrameHandler;
  #afterChunk: (() => void) | null = null;
  #onClose: (() => void) | null = null;
  #setupFrames: SetupFrame[] = [];
  #setupWaiter: ((f: SetupFrame | null) => void) | null = null;
  #maskSeed = (Math.random() * 0xffffffff) >>> 0;
  readonly done: Promise<void>;

  private constructor(conn: Deno.TcpConn, buf: Uint8Array, start: number, end: number) {
    this.#conn = conn;
    this.#buf = buf;
    this.#start = start;
    this.#end = end;
    this.#handler = (op, b, s, e) => this.#keepForSetup(op, b, s, e);
    this.done = this.#readLoop();
  }

  /**
   * Connects, sends the upgrade request and waits for `101 Switching Protocols`.
   * @throws {Error} on a refused connection, another status, or a timeout.
   */
  static async connect(target: WsTarget, timeoutMs: number, bufferSize = 8192): Promise<RawWebSocket> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    let conn: Deno.TcpConn | undefined;
    let timedOut = false;
    const work = (async () => {
      const c = await Deno.connect({ hostname: target.hostname, port: target.port });
      if (timedOut) {
        c.close();
        throw new Error("connect timed out");
      }
      conn = c;
      c.setNoDelay(true);
      const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
      const request = `GET ${target.path} HTTP/1.1\r\nHost: ${target.hostname}:${target.port}\r\n` +
        `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\n` +
        `Sec-WebSocket-Version: 13\r\n` +
        (target.protocol ? `Sec-WebSocket-Protocol: ${target.protocol}\r\n` : "") + "\r\n";
      await writeAll(c, encoder.encode(request));
      const buf = new Uint8Array(bufferSize);
      let end = 0;
      for (let reads = 0; reads < 64; reads++) {
        const n = await c.read(buf.subarray(end));
        if (n === null) throw new Error("connection closed during the WebSocket handshake");
        end += n;
        const headerEnd = findHeaderEnd(buf, end);
        if (headerEnd < 0) {
          if (end === buf.length) throw new Error("handshake response too large");
          continue;
        }
        const head = decoder.decode(buf.subarray(0, headerEnd));
        const status = head.slice(0, head.indexOf("\r\n"));
        if (!/^HTTP\/1\.1 101\b/.test(status)) throw new Error(`upgrade refused: ${status}`);
        return new RawWebSocket(c, buf, headerEnd, end);
      }
      throw new Error("handshake response never ended");
    })();
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        timedOut = true;
        reject(new Error(`WebSocket handshake timed out after ${timeoutMs} ms`));
      }, timeoutMs);
    });
    try {
      return await Promise.race([work, timeout]);
    } catch (e) {
      try {
        conn?.close();
      } catch {
        // already closed
      }
      work.catch(() => {});
      throw e;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Whether the connection is closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Replaces the frame handler (after the handshake phase); `afterChunk` runs after each TCP read. */
  onFrame(handler: FrameHandler, afterChunk: (() => void) | null = null): void {
    this.#handler = handler;
    this.#afterChunk = afterChunk;
    this.#setupFrames = [];
  }

  /** Called once when the connection closes, for whatever reason. */
  onClose(fn: () => void): void {
    this.#onClose = fn;
  }

  /** The next data frame of the handshake phase, or null on close or timeout. */
  nextFrame(timeoutMs: number): Promise<SetupFrame | null> {
    const f = this.#setupFrames.shift();
    if (f !== undefined) return Promise.resolve(f);
    if (this.#closed) return Promise.resolve(null);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#setupWaiter = null;
        resolve(null);
      }, timeoutMs);
      this.#setupWaiter = (frame) => {
        clearTimeout(timer);
        this.#setupWaiter = null;
        resolve(frame);
      };
    });
  }

  /** Sends a text frame. */
  sendText(text: string): void {
    this.sendFrame(OP_TEXT, encoder.encode(text));
  }

  /** Sends a frame with `payload` (masked, as a client must). */
  sendFrame(opcode: number, payload: Uint8Array): void {
    if (this.#closed) return;
    const n = payload.length;
    const head = n < 126 ? 2 : n < 65536 ? 4 : 10;
    const frame = new Uint8Array(head + 4 + n);
    frame[0] = 0x80 | opcode;
    if (head === 2) {
      frame[1] = 0x80 | n;
    } else if (head === 4) {
      frame[1] = 0x80 | 126;
      frame[2] = n >>> 8;
      frame[3] = n & 0xff;
    } else {
      frame[1] = 0x80 | 127;
      frame[6] = (n >>> 24) & 0xff;
      frame[7] = (n >>> 16) & 0xff;
      frame[8] = (n >>> 8) & 0xff;
      frame[9] = n & 0xff;
    }
    // xorshift32: masking keys need not be cryptographic for a load generator.
    let x = this.#maskSeed;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    this.#maskSeed = x;
    const m0 = x >>> 24, m1 = (x >>> 16) & 0xff, m2 = (x >>> 8) & 0xff, m3 = x & 0xff;
    frame[head] = m0;
    frame[head + 1] = m1;
    frame[head + 2] = m2;
    frame[head + 3] = m3;
    const p = head + 4;
    for (let i = 0; i < n; i++) {
      const m = (i & 3) === 0 ? m0 : (i & 3) === 1 ? m1 : (i & 3) === 2 ? m2 : m3;
      frame[p + i] = payload[i] ^ m;
    }
    this.#queue(frame);
  }

  /** Resolves once everything sent so far was written to the socket. */
  drain(): Promise<void> {
    if (!this.#writing && this.#out.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#drainWaiters.push(resolve));
  }

  /** Closes the TCP connection at once (no close handshake). */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // already closed
    }
  }

  #queue(frame: Uint8Array): void {
    this.#out.push(frame);
    this.#outBytes += frame.length;
    if (!this.#writing) {
      this.#writing = true;
      queueMicrotask(() => void this.#flush());
    }
  }

  async #flush(): Promise<void> {
    try {
      // Bounded: each turn writes what was queued; senders stop when the connection closes.
      while (this.#out.length > 0 && !this.#closed) {
        let chunk: Uint8Array;
        if (this.#out.length === 1) {
          chunk = this.#out[0];
        } else {
          chunk = new Uint8Array(this.#outBytes);
          let offset = 0;
          for (const part of this.#out) {
            chunk.set(part, offset);
            offset += part.length;
          }
        }
        this.#out = [];
        this.#outBytes = 0;
        await writeAll(this.#conn, chunk);
      }
    } catch {
      this.close();
    } finally {
      this.#writing = false;
      this.#out = [];
      this.#outBytes = 0;
      const waiters = this.#drainWaiters;
      this.#drainWaiters = [];
      for (const w of waiters) w();
    }
  }

  async #readLoop(): Promise<void> {
    // Parse whatever arrived with the handshake response first.
    await Promise.resolve();
    this.#parse();
    try {
      while (!this.#closed) {
        if (this.#end === this.#buf.length) this.#makeRoom();
        const n = await this.#conn.read(this.#buf.subarray(this.#end));
        if (n === null) break;
        this.bytesIn += n;
        this.#end += n;
        this.#parse();
        if (this.#afterChunk !== null) this.#afterChunk();
      }
    } catch {
      // reset or closed by us
    }
    this.close();
    this.#setupWaiter?.(null);
    const waiters = this.#drainWaiters;
    this.#drainWaiters = [];
    for (const w of waiters) w();
    this.#onClose?.();
  }

  #makeRoom(): void {
    if (this.#start > 0) {
      this.#buf.copyWithin(0, this.#start, this.#end);
      this.#end -= this.#start;
      this.#start = 0;
      return;
    }
    if (this.#buf.length >= MAX_BUFFER) throw new Error("frame larger than the client's buffer limit");
    const bigger = new Uint8Array(this.#buf.length * 2);
    bigger.set(this.#buf.subarray(0, this.#end));
    this.#buf = bigger;
  }

  #parse(): void {
    const buf = this.#buf;
    const end = this.#end;
    let s = this.#start;
    while (end - s >= 2) {
      const b0 = buf[s];
      const b1 = buf[s + 1];
      let len = b1 & 0x7f;
      let head = 2;
      if (len === 126) {
        if (end - s < 4) break;
        len = (buf[s + 2] << 8) | buf[s + 3];
        head = 4;
      } else if (len === 127) {
        if (end - s < 10) break;
        len = buf[s + 6] * 0x1000000 + ((buf[s + 7] << 16) | (buf[s + 8] << 8) | buf[s + 9]);
        head = 10;
      }
      if ((b1 & 0x80) !== 0) head += 4; // a masked server frame: skip the key (not expected)
      if (end - s < head + len) break;
      const opcode = b0 & 0x0f;
      const ps = s + head;
      const pe = ps + len;
      s = pe;
      if (opcode >= 8) this.#control(opcode, buf, ps, pe);
      else {
        if (opcode === OP_CONTINUATION || (b0 & 0x80) === 0) this.fragments++;
        this.#handler(opcode, buf, ps, pe);
      }
    }
    if (s === end) {
      this.#start = 0;
      this.#end = 0;
    } else {
      this.#start = s;
    }
  }

  #control(opcode: number, buf: Uint8Array, start: number, end: number): void {
    if (opcode === OP_PING) {
      this.sendFrame(OP_PONG, buf.slice(start, end));
    } else if (opcode === OP_CLOSE) {
      if (!this.#closed) {
        this.sendFrame(OP_CLOSE, buf.slice(start, Math.min(end, start + 2)));
        void this.drain().then(() => this.close());
      }
    }
  }

  #keepForSetup(opcode: number, buf: Uint8Array, start: number, end: number): void {
    const frame = { opcode, data: buf.slice(start, end) };
    if (this.#setupWaiter !== null) this.#setupWaiter(frame);
    else if (this.#setupFrames.length < 10_000) this.#setupFrames.push(frame);
  }
}

/** Writes all of `data`. */
export async function writeAll(conn: Deno.Conn, data: Uint8Array): Promise<void> {
  let offset = 0;
  while (offset < data.length) offset += await conn.write(data.subarray(offset));
}

/** Index just past `\r\n\r\n` in `buf[0, end)`, or -1. */
function findHeaderEnd(buf: Uint8Array, end: number): number {
  for (let i = 3; i < end; i++) {
    if (buf[i] === 10 && buf[i - 1] === 13 && buf[i - 2] === 10 && buf[i - 3] === 13) return i + 1;
  }
  return -1;
}

/** A frame's payload as text (handshake phase only). */
export function frameText(frame: SetupFrame): string {
  return decoder.decode(frame.data);
}
