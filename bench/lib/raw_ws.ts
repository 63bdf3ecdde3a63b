/**
 * WebSocket framing written in JS over `Deno.listen` TCP connections: the
 * transport of the benchmark's own-framing experiments (bench/server_rawws.ts,
 * bench/server_tuerca_rawws.ts), not of the product. What it shows:
 *
 * - a server frame is bytes that can be built once and written to many sockets
 *   (server frames are not masked);
 * - frames queued for a socket while a write is in flight leave together in the
 *   next write, so a burst costs fewer syscalls than frames;
 * - a connection holds a small read buffer (1 KiB, grown on demand) and no HTTP
 *   or WebSocket machinery of the runtime.
 *
 * Loopback only: no idle timeout, no message size limit, no fragmented client
 * frames; an unknown request or a malformed frame drops the connection.
 *
 * @module
 */

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/** The largest upgrade request read. */
const MAX_REQUEST = 16 * 1024;

/** One client connection: queued, coalesced writes. */
export class RawConn {
  #queue: Uint8Array[] = [];
  #queued = 0;
  #writing = false;
  #closeWhenFlushed = false;
  /** Set once the connection is closed (or closing after its last write). */
  closed = false;

  constructor(readonly tcp: Deno.TcpConn) {}

  /** Queues a complete frame; written now, or with the next write if one is in flight. */
  send(frame: Uint8Array): void {
    if (this.closed) return;
    this.#queue.push(frame);
    this.#queued += frame.length;
    if (!this.#writing) void this.#flush();
  }

  /** Sends a close frame, then closes once everything queued has been written. */
  closeWith(code: number, reason: string): void {
    if (this.closed) return;
    const why = encoder.encode(reason).subarray(0, 123);
    const f = new Uint8Array(4 + why.length);
    f[0] = 0x88;
    f[1] = 2 + why.length;
    f[2] = code >>> 8;
    f[3] = code & 0xff;
    f.set(why, 4);
    this.send(f);
    this.closed = true;
    if (this.#writing) this.#closeWhenFlushed = true;
    else this.#closeTcp();
  }

  /** Closes at once, unless a close frame is still being written (then right after it). */
  close(): void {
    this.closed = true;
    if (!(this.#closeWhenFlushed && this.#writing)) this.#closeTcp();
  }

  async #flush(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#queue.length > 0) {
        let chunk: Uint8Array;
        if (this.#queue.length === 1) chunk = this.#queue[0];
        else {
          chunk = new Uint8Array(this.#queued);
          let o = 0;
          for (const f of this.#queue) {
            chunk.set(f, o);
            o += f.length;
          }
        }
        this.#queue = [];
        this.#queued = 0;
        let off = 0;
        while (off < chunk.length) off += await this.tcp.write(chunk.subarray(off));
      }
    } catch {
      this.closed = true;
    } finally {
      this.#writing = false;
    }
    if (this.#closeWhenFlushed || this.closed) this.#closeTcp();
  }

  #closeTcp(): void {
    try {
      this.tcp.close();
    } catch {
      // already closed
    }
  }
}

/** An unmasked text frame holding `text`. */
export function textFrame(text: string): Uint8Array {
  const payload = encoder.encode(text);
  const n = payload.length;
  const head = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const f = new Uint8Array(head + n);
  f[0] = 0x81;
  if (head === 2) f[1] = n;
  else if (head === 4) {
    f[1] = 126;
    f[2] = n >>> 8;
    f[3] = n & 0xff;
  } else {
    f[1] = 127;
    new DataView(f.buffer).setUint32(6, n);
  }
  f.set(payload, head);
  return f;
}

/** What a server does with one connection. */
export interface RawHandlers {
  /** A text message arrived. */
  text(data: string): void;
  /** The connection is gone (closed by either side, or failed). */
  closed(): void;
}

/**
 * Decides on a new connection: the subprotocol to answer (or undefined for none)
 * and the handlers, or null to drop it. Called once the upgrade request is read;
 * `opened` runs once the 101 answer is queued.
 */
export type RawAccept = (
  conn: RawConn,
  offered: string[],
) => { protocol: string | undefined; handlers: RawHandlers; opened?: () => void } | null;

/** Serves WebSocket upgrades on `listener` until it is closed. */
export function serveRawWebSocket(listener: Deno.TcpListener, accept: RawAccept): void {
  (async () => {
    for await (const tcp of listener) void serveConn(tcp, accept);
  })();
}

async function acceptKey(key: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", encoder.encode(key + GUID));
  return btoa(String.fromCharCode(...new Uint8Array(digest)));
}

async function serveConn(tcp: Deno.TcpConn, accept: RawAccept): Promise<void> {
  tcp.setNoDelay(true);
  const c = new RawConn(tcp);
  let buf = new Uint8Array(1024);
  let end = 0;
  let handlers: RawHandlers | undefined;
  try {
    let head = -1;
    while (head < 0) {
      if (end === buf.length) {
        if (buf.length >= MAX_REQUEST) throw new Error("request too large");
        const bigger = new Uint8Array(buf.length * 2);
        bigger.set(buf);
        buf = bigger;
      }
      const n = await tcp.read(buf.subarray(end));
      if (n === null) throw new Error("closed");
      end += n;
      for (let i = 3; i < end; i++) {
        if (buf[i] === 10 && buf[i - 1] === 13 && buf[i - 2] === 10 && buf[i - 3] === 13) {
          head = i + 1;
          break;
        }
      }
    }
    const request = decoder.decode(buf.subarray(0, head));
    const key = /^sec-websocket-key:\s*(\S+)/im.exec(request)?.[1];
    if (key === undefined) throw new Error("not a WebSocket upgrade");
    const offered = (/^sec-websocket-protocol:\s*([^\r\n]*)/im.exec(request)?.[1] ?? "")
      .split(",").map((p) => p.trim()).filter((p) => p !== "");
    const decision = accept(c, offered);
    if (decision === null) throw new Error("refused");
    handlers = decision.handlers;
    c.send(encoder.encode(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        `Sec-WebSocket-Accept: ${await acceptKey(key)}\r\n` +
        (decision.protocol ? `Sec-WebSocket-Protocol: ${decision.protocol}\r\n` : "") + "\r\n",
    ));
    decision.opened?.();
    buf.copyWithin(0, head, end);
    end -= head;
    // Client frames: masked, unfragmented (what the generators send).
    while (!c.closed) {
      let s = 0;
      while (end - s >= 6) {
        let len = buf[s + 1] & 0x7f;
        let h = 2;
        if (len === 126) {
          if (end - s < 8) break;
          len = (buf[s + 2] << 8) | buf[s + 3];
          h = 4;
        } else if (len === 127) {
          if (end - s < 14) break;
          len = new DataView(buf.buffer, buf.byteOffset + s + 6, 4).getUint32(0);
          h = 10;
        }
        if (end - s < h + 4 + len) break;
        const opcode = buf[s] & 0x0f;
        const m = s + h;
        const p = m + 4;
        for (let i = 0; i < len; i++) buf[p + i] ^= buf[m + (i & 3)];
        if (opcode === 1) handlers.text(decoder.decode(buf.subarray(p, p + len)));
        else if (opcode === 8) throw new Error("close");
        else if (opcode === 9) {
          const pong = new Uint8Array(2 + len);
          pong[0] = 0x8a;
          pong[1] = len;
          pong.set(buf.subarray(p, p + len), 2);
          c.send(pong);
        }
        s = p + len;
      }
      if (s > 0) {
        buf.copyWithin(0, s, end);
        end -= s;
      }
      if (end === buf.length) {
        const bigger = new Uint8Array(buf.length * 2);
        bigger.set(buf);
        buf = bigger;
      }
      const n = await tcp.read(buf.subarray(end));
      if (n === null) break;
      end += n;
    }
  } catch {
    // closed, reset, refused or malformed: drop the connection
  }
  c.close();
  handlers?.closed();
}
