/**
 * An experiment, not a baseline of the issue: the bare server's fan-out and echo
 * with WebSocket framing done in JS over `Deno.listen` TCP connections instead of
 * `Deno.upgradeWebSocket`. It shows what a router could gain by owning its
 * WebSocket layer:
 *
 * - one EVENT is encoded once into the bytes of a complete server frame (server
 *   frames are not masked, so the bytes are the same for every subscriber) and
 *   that one buffer is written to every socket: no per-send string copy;
 * - frames queued for a socket while a write is in flight go out together in
 *   the next write, so a burst costs fewer syscalls than frames;
 * - a connection holds a small read buffer (1 KiB, grown on demand) and no
 *   HTTP/WebSocket machinery.
 *
 * Same minimal WAMP as bench/server_bare.ts (HELLO, SUBSCRIBE, PUBLISH, CALL
 * echo). Loopback only; no ping/idle timeout, no size limits: not for
 * production.
 *
 * @module
 */

import { serveControl } from "./lib/server_control.ts";

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** One client connection. */
class Conn {
  #queue: Uint8Array[] = [];
  #queued = 0;
  #writing = false;
  closed = false;

  constructor(readonly tcp: Deno.TcpConn) {}

  /** Queues a complete frame; written now, or with the next write if one is in flight. */
  send(frame: Uint8Array): void {
    if (this.closed) return;
    this.#queue.push(frame);
    this.#queued += frame.length;
    if (!this.#writing) void this.#flush();
  }

  async #flush(): Promise<void> {
    this.#writing = true;
    try {
      while (this.#queue.length > 0 && !this.closed) {
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
      this.close();
    } finally {
      this.#writing = false;
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    subscribers.delete(this);
    try {
      this.tcp.close();
    } catch {
      // already closed
    }
  }
}

const subscribers = new Set<Conn>();
let publication = 0;
let session = 0;

/** An unmasked text frame holding `text`. */
function textFrame(text: string): Uint8Array {
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

function onMessage(c: Conn, data: string): void {
  const c1 = data.charCodeAt(1);
  const c2 = data.charCodeAt(2);
  if (c1 === 49 && c2 === 54 && data.charCodeAt(3) === 44) {
    const args = data.indexOf(",[", 4);
    const frame = textFrame(`[36,1,${++publication},{}${args < 0 ? "" : data.slice(args, data.length - 1)}]`);
    for (const s of subscribers) if (s !== c) s.send(frame);
  } else if (c1 === 52 && c2 === 56) {
    c.send(textFrame(data));
  } else if (c1 === 51 && c2 === 50) {
    subscribers.add(c);
    c.send(textFrame(`[33,${data.slice(4, data.indexOf(",", 4))},1]`));
  } else if (c1 === 54 && c2 === 52) {
    c.send(textFrame(`[65,${data.slice(4, data.indexOf(",", 4))},1]`));
  } else if (c1 === 49 && c2 === 44) {
    c.send(textFrame(`[2,${++session},{"roles":{"broker":{},"dealer":{}}}]`));
  }
}

async function acceptKey(key: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", encoder.encode(key + GUID));
  return btoa(String.fromCharCode(...new Uint8Array(digest)));
}

async function serve(tcp: Deno.TcpConn): Promise<void> {
  tcp.setNoDelay(true);
  const c = new Conn(tcp);
  let buf = new Uint8Array(1024);
  let end = 0;
  try {
    // The upgrade request (bounded).
    let head = -1;
    while (head < 0) {
      if (end === buf.length) {
        if (buf.length >= 16384) throw new Error("request too large");
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
    const protocol = /^sec-websocket-protocol:\s*([^,\r\n]+)/im.exec(request)?.[1]?.trim();
    const response = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
      `Sec-WebSocket-Accept: ${await acceptKey(key)}\r\n` +
      (protocol ? `Sec-WebSocket-Protocol: ${protocol}\r\n` : "") + "\r\n";
    c.send(encoder.encode(response));
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
        if (opcode === 1) onMessage(c, decoder.decode(buf.subarray(p, p + len)));
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
    // closed, reset or malformed: drop the connection
  }
  c.close();
}

const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
(async () => {
  for await (const tcp of listener) void serve(tcp);
})();

await serveControl((listener.addr as Deno.NetAddr).port);
