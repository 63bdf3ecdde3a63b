/**
 * Transport security: the Origin check on every WebSocket upgrade, TLS (https://
 * and wss:// on one port, from the API and the command line), the close handshake
 * after a protocol violation (the close frame reaches a client that had already sent
 * its next frame), the caps on WAMP v1 CURIE prefixes, areaCuadrado's hostile
 * arguments, and a process that keeps serving after all of it.
 *
 * The Origin and close-handshake tests speak HTTP/1.1 and RFC 6455 framing by hand
 * over Deno.connect: the WebSocket constructor can neither set Origin nor send two
 * frames in one TCP write.
 */
import assert from "node:assert/strict";
import { chatApp } from "../chat.ts";
import type { RunningServer } from "../main.ts";
import { pushApp } from "../push.ts";
import {
  type AutobahnSession,
  connectV2,
  RawClient,
  rawV1,
  waitUntil,
  within,
  withServer,
} from "./helpers.ts";
import { haveOpenssl, makeCertificate } from "./tls.ts";

const AREA = "push.tutorial.areaCuadrado";
const INVALID_ARGUMENT = "wamp.error.invalid_argument";
const PROTOCOL_VIOLATION = "wamp.error.protocol_violation";
const HELLO = JSON.stringify([1, "realm1", { roles: { caller: {}, publisher: {}, subscriber: {} } }]);

const encoder = new TextEncoder();
const decoder = new TextDecoder();

// ===========================================================================
// RFC 6455 by hand over TCP

/** The example key of RFC 6455 §1.3 and the accept value the server must answer with. */
const WS_KEY = "dGhlIHNhbXBsZSBub25jZQ==";
const WS_ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";

const OP_TEXT = 0x1;
const OP_CLOSE = 0x8;

function concat(...parts: Uint8Array[]): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** A client-to-server frame (FIN set, masked as RFC 6455 requires), of any length. */
function clientFrame(opcode: number, payload: Uint8Array): Uint8Array {
  const n = payload.length;
  const head = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const frame = new Uint8Array(head + 4 + n);
  const view = new DataView(frame.buffer);
  frame[0] = 0x80 | opcode;
  if (n < 126) {
    frame[1] = 0x80 | n;
  } else if (n < 65536) {
    frame[1] = 0x80 | 126;
    view.setUint16(2, n);
  } else {
    frame[1] = 0x80 | 127;
    view.setBigUint64(2, BigInt(n));
  }
  const mask = crypto.getRandomValues(new Uint8Array(4));
  frame.set(mask, head);
  for (let i = 0; i < n; i++) frame[head + 4 + i] = payload[i] ^ mask[i % 4];
  return frame;
}

function textFrame(text: string): Uint8Array {
  return clientFrame(OP_TEXT, encoder.encode(text));
}

function closeFrame(code: number): Uint8Array {
  const payload = new Uint8Array(2);
  new DataView(payload.buffer).setUint16(0, code);
  return clientFrame(OP_CLOSE, payload);
}

/** A frame from the server (never masked). */
interface ServerFrame {
  opcode: number;
  payload: Uint8Array;
}

/** What an upgrade request got back. */
interface UpgradeAnswer {
  status: number;
  statusLine: string;
  headers: Headers;
  /** The body of a refusal (empty for 101). */
  body: string;
  /** The open WebSocket after a 101; the caller closes it. */
  socket: RawTcpWebSocket | null;
}

/** Options of a hand-written upgrade request. */
interface UpgradeRequest {
  path?: string;
  /** `Sec-WebSocket-Protocol`; none when absent. */
  protocol?: string;
  /** `Origin`; none when absent. */
  origin?: string;
  /** `Host`; default `127.0.0.1:<port>`. */
  host?: string;
}

/** A WebSocket client over a bare TCP connection: frames are written and parsed here. */
class RawTcpWebSocket {
  #buf: Uint8Array<ArrayBuffer> = new Uint8Array(0);
  readonly #chunk = new Uint8Array(64 * 1024);
  #done = false;

  private constructor(readonly conn: Deno.TcpConn) {}

  /** Sends a hand-written upgrade request and reads the answer (a refusal's body too). */
  static async upgrade(port: number, req: UpgradeRequest = {}): Promise<UpgradeAnswer> {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    const ws = new RawTcpWebSocket(conn);
    try {
      const lines = [
        `GET ${req.path ?? "/ws"} HTTP/1.1`,
        `Host: ${req.host ?? `127.0.0.1:${port}`}`,
        "Upgrade: websocket",
        "Connection: Upgrade",
        `Sec-WebSocket-Key: ${WS_KEY}`,
        "Sec-WebSocket-Version: 13",
      ];
      if (req.protocol !== undefined) lines.push(`Sec-WebSocket-Protocol: ${req.protocol}`);
      if (req.origin !== undefined) lines.push(`Origin: ${req.origin}`);
      await conn.write(encoder.encode(lines.join("\r\n") + "\r\n\r\n"));
      const { statusLine, headers } = await ws.#readHead();
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(statusLine)?.[1]);
      if (status === 101) {
        assert.equal(headers.get("sec-websocket-accept"), WS_ACCEPT, "the handshake's accept value");
        return { status, statusLine, headers, body: "", socket: ws };
      }
      const body = await ws.#readBody(headers);
      ws.#closeConn();
      return { status, statusLine, headers, body, socket: null };
    } catch (e) {
      ws.#closeConn();
      throw e;
    }
  }

  /** Upgrades with `protocol` and fails unless the answer is 101. */
  static async open(port: number, protocol: string, path = "/ws"): Promise<RawTcpWebSocket> {
    const answer = await RawTcpWebSocket.upgrade(port, { protocol, path });
    assert.equal(answer.status, 101, `upgrade refused: ${answer.statusLine} ${answer.body}`);
    return answer.socket!;
  }

  /** Writes bytes as they are (one TCP write; possibly several frames). */
  async write(bytes: Uint8Array): Promise<void> {
    let at = 0;
    while (at < bytes.length) at += await this.conn.write(bytes.subarray(at));
  }

  /** Sends one text frame. */
  send(text: string): Promise<void> {
    return this.write(textFrame(text));
  }

  /** The next frame from the server; a reset or an end of stream before it is an error. */
  async nextFrame(what: string, ms?: number): Promise<ServerFrame> {
    while (true) {
      const frame = this.#parseFrame();
      if (frame !== null) return frame;
      if (!await this.#fill(what, ms)) throw new Error(`the connection ended before ${what}`);
    }
  }

  /** The next frame, which must be a text frame holding JSON. */
  async nextJson(what: string): Promise<unknown> {
    const frame = await this.nextFrame(what);
    if (frame.opcode === OP_CLOSE) {
      throw new Error(`expected ${what}, got a close frame ${JSON.stringify(closeOf(frame))}`);
    }
    assert.equal(frame.opcode, OP_TEXT, `${what} is a text frame`);
    return JSON.parse(decoder.decode(frame.payload));
  }

  /** The next frame, which must be a close frame; returns its code and reason. */
  async nextClose(what: string, ms?: number): Promise<{ code: number; reason: string }> {
    const frame = await this.nextFrame(what, ms);
    if (frame.opcode !== OP_CLOSE) {
      throw new Error(
        `expected ${what}, got opcode ${frame.opcode}: ${decoder.decode(frame.payload).slice(0, 200)}`,
      );
    }
    return closeOf(frame);
  }

  /** Answers the close (when the connection still takes it) and closes the TCP connection. */
  async finish(): Promise<void> {
    if (this.#done) return;
    try {
      await this.write(closeFrame(1000));
    } catch {
      // The server already went away: nothing to answer.
    }
    this.#closeConn();
  }

  #closeConn(): void {
    if (this.#done) return;
    this.#done = true;
    try {
      this.conn.close();
    } catch {
      // Already closed.
    }
  }

  /** Reads more bytes into the buffer; false at the end of the stream. */
  async #fill(what: string, ms?: number): Promise<boolean> {
    let n: number | null;
    try {
      n = await within(this.conn.read(this.#chunk), what, ms);
    } catch (e) {
      if (e instanceof Deno.errors.ConnectionReset) {
        throw new Error(`the connection was reset (ECONNRESET) before ${what}`);
      }
      throw e;
    }
    if (n === null) return false;
    this.#buf = concat(this.#buf, this.#chunk.subarray(0, n));
    return true;
  }

  async #readHead(): Promise<{ statusLine: string; headers: Headers }> {
    let end;
    while ((end = findHeadEnd(this.#buf)) < 0) {
      if (!await this.#fill("the HTTP response head")) {
        throw new Error("the connection ended before a response");
      }
    }
    const [statusLine, ...lines] = decoder.decode(this.#buf.subarray(0, end)).split("\r\n");
    this.#buf = this.#buf.slice(end + 4);
    const headers = new Headers();
    for (const line of lines) {
      const colon = line.indexOf(":");
      headers.append(line.slice(0, colon).trim(), line.slice(colon + 1).trim());
    }
    return { statusLine, headers };
  }

  async #readBody(headers: Headers): Promise<string> {
    const length = headers.get("content-length");
    if (length !== null) {
      while (this.#buf.length < Number(length)) {
        if (!await this.#fill("the response body")) break;
      }
      return decoder.decode(this.#buf.subarray(0, Number(length)));
    }
    if (headers.get("transfer-encoding")?.includes("chunked")) {
      // Enough for short bodies: wait for the last chunk, then strip the chunk sizes.
      while (
        !decoder.decode(this.#buf).includes("\r\n0\r\n\r\n") && !decoder.decode(this.#buf).startsWith("0\r\n")
      ) {
        if (!await this.#fill("the response body")) break;
      }
      let text = decoder.decode(this.#buf);
      let body = "";
      while (true) {
        const nl = text.indexOf("\r\n");
        const size = parseInt(text.slice(0, nl), 16);
        if (!(size > 0)) break;
        body += text.slice(nl + 2, nl + 2 + size);
        text = text.slice(nl + 2 + size + 2);
      }
      return body;
    }
    while (await this.#fill("the response body")) {
      // Until the server closes.
    }
    return decoder.decode(this.#buf);
  }

  #parseFrame(): ServerFrame | null {
    const b = this.#buf;
    if (b.length < 2) return null;
    assert.equal(b[1] & 0x80, 0, "server frames are not masked");
    let len = b[1] & 0x7f;
    let at = 2;
    const view = new DataView(b.buffer, b.byteOffset, b.byteLength);
    if (len === 126) {
      if (b.length < 4) return null;
      len = view.getUint16(2);
      at = 4;
    } else if (len === 127) {
      if (b.length < 10) return null;
      len = Number(view.getBigUint64(2));
      at = 10;
    }
    if (b.length < at + len) return null;
    assert.equal(b[0] & 0x80, 0x80, "the server sends unfragmented frames");
    const frame = { opcode: b[0] & 0x0f, payload: b.slice(at, at + len) };
    this.#buf = b.slice(at + len);
    return frame;
  }
}

function findHeadEnd(buf: Uint8Array): number {
  for (let i = 0; i + 3 < buf.length; i++) {
    if (buf[i] === 13 && buf[i + 1] === 10 && buf[i + 2] === 13 && buf[i + 3] === 10) return i;
  }
  return -1;
}

function closeOf(frame: ServerFrame): { code: number; reason: string } {
  if (frame.payload.length < 2) return { code: 1005, reason: "" };
  const code = new DataView(frame.payload.buffer, frame.payload.byteOffset).getUint16(0);
  return { code, reason: decoder.decode(frame.payload.subarray(2)) };
}

/** Upgrades by hand and returns the status and a refusal's body; a 101 connection is closed again. */
async function upgradeStatus(port: number, req: UpgradeRequest): Promise<{ status: number; body: string }> {
  const answer = await RawTcpWebSocket.upgrade(port, req);
  await answer.socket?.finish();
  return { status: answer.status, body: answer.body };
}

/** Waits until the endpoint holds no connection (the 101s of a test closed again). */
function allClosed(server: RunningServer): Promise<void> {
  return waitUntil(() => server.endpoint.counters.open === 0, "every connection to close");
}

// ===========================================================================
// 1. Origin

Deno.test("Origin: an upgrade without Origin, or from the server's own origin, is accepted (101)", async () => {
  await withServer(async (server) => {
    const port = server.port;
    const protocol = "wamp.2.json";
    assert.equal((await upgradeStatus(port, { protocol })).status, 101, "no Origin");
    assert.equal(
      (await upgradeStatus(port, { protocol, origin: `http://127.0.0.1:${port}` })).status,
      101,
      "Origin equal to the Host header",
    );
    // Same origin means host AND port equal to the Host header.
    assert.equal(
      (await upgradeStatus(port, { protocol, origin: `http://127.0.0.1:${port + 1}` })).status,
      403,
      "Origin on another port of the same host",
    );
    assert.equal(
      (await upgradeStatus(port, { protocol, origin: `http://localhost:${port}` })).status,
      403,
      "Origin with another host name than the Host header",
    );
    assert.equal(server.endpoint.counters.originRefused, 2);
    await allClosed(server);
  });
});

Deno.test("Origin: a foreign Origin gets 403 with a one-line body naming it and how to allow it, counted", async () => {
  await withServer(async (server) => {
    assert.equal(server.endpoint.counters.originRefused, 0);
    const { status, body } = await upgradeStatus(server.port, {
      protocol: "wamp.2.json",
      origin: "http://evil.example.com",
    });
    assert.equal(status, 403);
    assert.ok(body.endsWith("\n"), `the body is a line: ${JSON.stringify(body)}`);
    assert.ok(!body.trimEnd().includes("\n"), `the body is one line: ${JSON.stringify(body)}`);
    assert.ok(body.includes("http://evil.example.com"), `the body names the origin: ${body}`);
    assert.match(body, /--allow-origin|"origins"/, `the body says how to allow it: ${body}`);
    assert.equal(server.endpoint.counters.originRefused, 1);
    assert.equal(server.router.sessionCount, 0, "no session was made for the refused upgrade");
    // v1 is checked the same way.
    assert.equal(
      (await upgradeStatus(server.port, { protocol: "wamp", origin: "http://evil.example.com" })).status,
      403,
    );
    assert.equal(server.endpoint.counters.originRefused, 2);
  });
});

Deno.test("Origin: configured origins match scheme, host and port exactly; *.domain means subdomains only; null is refused", async () => {
  await withServer(
    async (server) => {
      const cases: [string, number, string][] = [
        ["https://example.com", 101, "listed"],
        ["https://example.com:8443", 403, "the port differs"],
        ["http://example.com", 403, "the scheme differs"],
        ["https://a.example.org", 101, "a subdomain of *.example.org"],
        ["https://b.a.example.org", 101, "a deeper subdomain of *.example.org"],
        ["https://example.org", 403, "the bare domain is not a subdomain"],
        ["https://badexample.org", 403, "a name merely ending in example.org"],
        ["https://example.com.evil.net", 403, "a listed name as a prefix of another"],
        ["null", 403, "Origin: null (sandboxed page or file)"],
      ];
      let refused = 0;
      for (const [origin, expected, why] of cases) {
        const { status } = await upgradeStatus(server.port, { protocol: "wamp.2.json", origin });
        assert.equal(status, expected, `${origin}: ${why}`);
        if (expected === 403) refused++;
      }
      assert.equal(server.endpoint.counters.originRefused, refused);
      await allClosed(server);
    },
    pushApp,
    { origins: ["https://example.com", "https://*.example.org"] },
  );
});

Deno.test('Origin: origins ["*"] accepts every origin, null included', async () => {
  await withServer(
    async (server) => {
      for (const origin of ["http://evil.example.com", "https://anything.test:1234", "null"]) {
        const { status } = await upgradeStatus(server.port, { protocol: "wamp.2.json", origin });
        assert.equal(status, 101, origin);
      }
      assert.equal(server.endpoint.counters.originRefused, 0);
      await allClosed(server);
    },
    pushApp,
    { origins: ["*"] },
  );
});

Deno.test("Origin: the chat app's plain (no subprotocol) endpoint checks Origin too", async () => {
  await withServer(async (server) => {
    const port = server.port;
    assert.equal((await upgradeStatus(port, { path: "/" })).status, 101, "no Origin");
    assert.equal((await upgradeStatus(port, { path: "/", origin: `http://127.0.0.1:${port}` })).status, 101);
    const refused = await upgradeStatus(port, { path: "/", origin: "http://evil.example.com" });
    assert.equal(refused.status, 403);
    assert.ok(refused.body.includes("http://evil.example.com"), refused.body);
    assert.equal(server.endpoint.counters.originRefused, 1);
    await allClosed(server);
  }, chatApp);
});

// ===========================================================================
// 2. TLS

const CI = Deno.env.get("CI") === "true";
const HAVE_OPENSSL = await haveOpenssl();
const SKIP_TLS = !HAVE_OPENSSL && !CI;
if (SKIP_TLS) console.log("TLS tests skipped: openssl is missing (set CI=true to make this an error)");

/** A WebSocket through `client` that queues its text frames; closed by `close()`. */
async function openTlsSocket(
  url: string,
  client: Deno.HttpClient,
  protocol: string,
): Promise<{ ws: WebSocket; next: (what: string) => Promise<unknown>; close: () => Promise<void> }> {
  const ws = new WebSocket(url, { client, protocols: [protocol] });
  const frames: string[] = [];
  const opened = Promise.withResolvers<void>();
  const closed = Promise.withResolvers<void>();
  ws.onopen = () => opened.resolve();
  ws.onerror = () => opened.reject(new Error(`WebSocket to ${url} failed`));
  ws.onclose = () => {
    opened.reject(new Error(`WebSocket to ${url} closed before open`));
    closed.resolve();
  };
  ws.onmessage = (e) => frames.push(String(e.data));
  opened.promise.catch(() => {});
  await within(opened.promise, `the WebSocket to ${url}`);
  assert.equal(ws.protocol, protocol, "the negotiated subprotocol");
  return {
    ws,
    async next(what) {
      await waitUntil(() => frames.length > 0 || ws.readyState === WebSocket.CLOSED, what);
      if (frames.length === 0) throw new Error(`the socket closed while waiting for ${what}`);
      return JSON.parse(frames.shift()!);
    },
    async close() {
      if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING) ws.close(1000);
      await within(closed.promise, "the TLS WebSocket to close");
    },
  };
}

Deno.test({
  name:
    "TLS: https:// and wss:// on one port serve the page, a v2 WELCOME and a v1 WELCOME; plain http:// fails",
  ignore: SKIP_TLS,
  async fn() {
    const tls = await makeCertificate();
    const client = Deno.createHttpClient({ caCerts: [tls.cert] });
    try {
      await withServer(
        async (server) => {
          assert.ok(server.url.startsWith("https://"), server.url);
          assert.ok(server.wsUrl.startsWith("wss://"), server.wsUrl);
          assert.equal(server.url, `https://127.0.0.1:${server.port}/`);

          const res = await within(fetch(server.url, { client }), `GET ${server.url}`);
          const page = await res.text();
          assert.equal(res.status, 200);
          assert.ok(page.includes("Tuerca"), "the push page is served over https");

          const v2 = await openTlsSocket(server.wsUrl, client, "wamp.2.json");
          try {
            v2.ws.send(HELLO);
            const welcome = await v2.next("WELCOME over wss") as unknown[];
            assert.equal(welcome[0], 2, `expected WELCOME, got ${JSON.stringify(welcome)}`);
            v2.ws.send(JSON.stringify([48, 1, {}, AREA, ["4", "4"]]));
            assert.deepEqual(await v2.next("RESULT over wss"), [50, 1, {}, [16]]);
          } finally {
            await v2.close();
          }

          const v1 = await openTlsSocket(server.wsUrl, client, "wamp");
          try {
            const welcome = await v1.next("v1 WELCOME over wss") as unknown[];
            assert.equal(welcome[0], 0, `expected v1 WELCOME, got ${JSON.stringify(welcome)}`);
            assert.equal(welcome[2], 1, "v1 protocol version");
          } finally {
            await v1.close();
          }

          // Plain HTTP (and plain ws://) to the TLS port is not served.
          const plainClient = Deno.createHttpClient({});
          try {
            await assert.rejects(
              within(fetch(`http://127.0.0.1:${server.port}/`, { client: plainClient }), "plain http to TLS"),
              (e: Error) => !/timed out/.test(e.message),
              "plain http:// to the TLS port must fail (not hang, not serve the page)",
            );
          } finally {
            plainClient.close();
          }
          await assert.rejects(
            RawClient.open(`ws://127.0.0.1:${server.port}/ws`, "wamp.2.json"),
            "plain ws:// to the TLS port must fail",
          );
          await allClosed(server);
        },
        pushApp,
        { tls: { cert: tls.cert, key: tls.key } },
      );
    } finally {
      client.close();
      await tls.remove();
    }
  },
});

/** Bound for a child to start and print its line (it compiles on first run). */
const START_MS = 15_000;

Deno.test({
  name: "TLS: push.ts --cert --key prints its https:// lines, serves the page over TLS, and stops on SIGINT",
  ignore: SKIP_TLS,
  async fn() {
    const tls = await makeCertificate();
    const client = Deno.createHttpClient({ caCerts: [tls.cert] });
    const child = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-net",
        "--allow-read",
        "--allow-env",
        "push.ts",
        "--no-bridge",
        "--port",
        "0",
        "--cert",
        tls.certFile,
        "--key",
        tls.keyFile,
      ],
      cwd: new URL("..", import.meta.url),
      // No broker on port 1: this test must never consume anyone's messages.
      env: { STOMP_URL: "stomp://guest:guest@127.0.0.1:1" },
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const lines: string[] = [];
    let stdoutDone = false;
    const reading = (async () => {
      let buffer = "";
      for await (const chunk of child.stdout.pipeThrough(new TextDecoderStream())) {
        buffer += chunk;
        let nl;
        while ((nl = buffer.indexOf("\n")) >= 0) {
          lines.push(buffer.slice(0, nl));
          buffer = buffer.slice(nl + 1);
        }
      }
      if (buffer.length > 0) lines.push(buffer);
      stdoutDone = true;
    })();
    const stderr = new Response(child.stderr).text();
    try {
      const re = /https:\/\/127\.0\.0\.1:(\d+)\//;
      await waitUntil(
        () => stdoutDone || lines.some((l) => re.test(l)),
        "the https:// start-up line",
        START_MS,
      );
      const line = lines.find((l) => re.test(l));
      assert.ok(line !== undefined, `no https:// line; stdout ${JSON.stringify(lines)}`);
      const url = re.exec(line)![0];
      assert.ok(line.includes("wss://127.0.0.1:"), `the line names the wss:// endpoint: ${line}`);
      assert.ok(!line.includes("http://"), `no plain http:// in the line: ${line}`);

      const res = await within(fetch(url, { client }), `GET ${url}`);
      const page = await res.text();
      assert.equal(res.status, 200);
      assert.ok(page.includes("Tuerca"), "the page is served over https");

      child.kill("SIGINT");
      const status = await within(child.status, "push.ts to exit after SIGINT", 10_000);
      assert.equal(status.code, 0, `exit code after SIGINT; stderr: ${await stderr}`);
      await within(reading, "stdout to end");
      assert.deepEqual(lines, [
        line,
        `Health at ${url}healthz and ${url}readyz, Prometheus metrics at ${url}metrics`,
      ], "stdout holds the page line and the health and metrics line, all https://");
    } finally {
      try {
        child.kill("SIGKILL");
      } catch {
        // Already exited.
      }
      await child.status;
      await reading;
      await stderr;
      client.close();
      await tls.remove();
    }
  },
});

// ===========================================================================
// 3. The close handshake after a violation

/** A raw v2 connection past HELLO/WELCOME. */
async function rawTcpV2(port: number): Promise<RawTcpWebSocket> {
  const ws = await RawTcpWebSocket.open(port, "wamp.2.json");
  try {
    await ws.send(HELLO);
    const welcome = await ws.nextJson("WELCOME") as unknown[];
    assert.equal(welcome[0], 2, `expected WELCOME, got ${JSON.stringify(welcome)}`);
    return ws;
  } catch (e) {
    await ws.finish();
    throw e;
  }
}

/** Frames that break WAMP v2 (each is a protocol violation). */
const V2_MALFORMED = ["this is not JSON", '{"not": "a list"}', "[999]", "[48]", '[16, "x"]'];

/**
 * Sends a malformed v2 frame and, in the same TCP write, a valid CALL; the client must read
 * ABORT protocol_violation and then a close frame 1002, with no reset in between.
 */
async function v2ViolationWithFollowUp(port: number, malformed: string): Promise<void> {
  const ws = await rawTcpV2(port);
  try {
    await ws.write(concat(textFrame(malformed), textFrame(JSON.stringify([48, 7, {}, AREA, [2, 3]]))));
    const abort = await ws.nextJson(`ABORT after ${malformed}`) as unknown[];
    assert.equal(abort[0], 3, `expected ABORT after ${malformed}, got ${JSON.stringify(abort)}`);
    assert.equal(abort[2], PROTOCOL_VIOLATION);
    assert.equal(typeof (abort[1] as { message?: unknown }).message, "string", "ABORT details.message");
    // The next frame is the close frame (the CALL sent after the violation is not answered).
    const close = await ws.nextClose(`the close frame after ABORT (${malformed})`);
    assert.equal(close.code, 1002, `close code after ${malformed}: ${JSON.stringify(close)}`);
  } finally {
    await ws.finish();
  }
}

/** Sends a malformed v1 frame and, in the same write, a SUBSCRIBE; the client must read close 1007. */
async function v1ViolationWithFollowUp(port: number, malformed: string): Promise<void> {
  const ws = await RawTcpWebSocket.open(port, "wamp");
  try {
    const welcome = await ws.nextJson("v1 WELCOME") as unknown[];
    assert.equal(welcome[0], 0, `expected v1 WELCOME, got ${JSON.stringify(welcome)}`);
    await ws.write(concat(textFrame(malformed), textFrame(JSON.stringify([5, "push.tutorial.messages"]))));
    const close = await ws.nextClose(`the close frame after ${malformed}`);
    assert.equal(close.code, 1007, `close code after ${malformed}: ${JSON.stringify(close)}`);
    assert.ok(close.reason.length > 0, `the close frame gives a reason after ${malformed}`);
  } finally {
    await ws.finish();
  }
}

Deno.test("close after a v2 violation: a client that already sent its next frame reads ABORT, then close 1002, not a reset (20 times)", async () => {
  await withServer(async (server) => {
    for (let i = 0; i < 20; i++) {
      await v2ViolationWithFollowUp(server.port, V2_MALFORMED[i % V2_MALFORMED.length]);
    }
    await allClosed(server);
    assert.equal(server.router.sessionCount, 0);
  });
});

Deno.test("close after a v1 violation: a client that already sent its next frame reads close 1007 with a reason", async () => {
  await withServer(async (server) => {
    for (const malformed of ["not JSON", '{"a": 1}', "[42]", "[5, 17]", "[1, 2, 3, 4]"]) {
      await v1ViolationWithFollowUp(server.port, malformed);
    }
    await allClosed(server);
  });
});

Deno.test("close after a violation: a client that keeps sending every 5 ms still gets its close frame within 2.5 s", async () => {
  await withServer(async (server) => {
    const ws = await rawTcpV2(server.port);
    let stop = false;
    try {
      const started = Date.now();
      await ws.send("this is not JSON");
      // Pacing is the behaviour under test: the client is never silent for the 250 ms the
      // server waits for, so only the cap can make the close frame go out. Bounded to 5 s.
      const sending = (async () => {
        const frame = textFrame(JSON.stringify([48, 9, {}, AREA, [1, 1]]));
        while (!stop && Date.now() - started < 5_000) {
          try {
            await ws.write(frame);
          } catch {
            return; // the server closed the connection
          }
          await new Promise((r) => setTimeout(r, 5));
        }
      })();
      try {
        const abort = await ws.nextJson("ABORT") as unknown[];
        assert.equal(abort[0], 3, `expected ABORT, got ${JSON.stringify(abort)}`);
        assert.equal(abort[2], PROTOCOL_VIOLATION);
        const close = await ws.nextClose("the close frame while the client keeps sending", 2_500);
        const elapsed = Date.now() - started;
        assert.equal(close.code, 1002);
        assert.ok(elapsed <= 2_500, `the close frame came after ${elapsed} ms`);
      } finally {
        stop = true;
        await sending;
      }
    } finally {
      await ws.finish();
    }
    await allClosed(server);
  });
});

// ===========================================================================
// 4. v1 PREFIX caps

/** A v1 CALL of areaCuadrado(2, 3) through `procedure` (a CURIE), which must answer 6. */
async function assertCallWorks(client: RawClient, procedure: string, id: string): Promise<void> {
  client.send([2, id, procedure, 2, 3]);
  assert.deepEqual(await client.next(`CALLRESULT of ${procedure}`), [3, id, 6], `CALL ${procedure}`);
}

async function expectClose1007(client: RawClient, what: string): Promise<string> {
  const close = await client.closeEvent();
  assert.equal(close.code, 1007, `${what}: close ${close.code} ${close.reason}`);
  assert.ok(close.reason.length > 0, `${what}: a reason`);
  return close.reason;
}

Deno.test("v1 PREFIX: 256 prefixes are accepted and resolve; the 257th closes with 1007", async () => {
  await withServer(async (server) => {
    const { client } = await rawV1(server.wsUrl);
    try {
      for (let i = 0; i < 256; i++) client.send([1, `p${i}`, "push.tutorial."]);
      await assertCallWorks(client, "p0:areaCuadrado", "first");
      await assertCallWorks(client, "p255:areaCuadrado", "last");
      client.send([1, "p256", "push.tutorial."]);
      const reason = await expectClose1007(client, "the 257th prefix");
      assert.match(reason, /prefix/i);
    } finally {
      await client.close();
    }
  });
});

Deno.test("v1 PREFIX: a 64-char name and a 512-char URI are accepted; 65 and 513 chars close with 1007", async () => {
  await withServer(async (server) => {
    const { client: ok } = await rawV1(server.wsUrl);
    try {
      ok.send([1, "n".repeat(64), "push.tutorial."]);
      await assertCallWorks(ok, `${"n".repeat(64)}:areaCuadrado`, "name64");
      ok.send([1, "long", `push.tutorial.${"u".repeat(512 - 14)}`]);
      await assertCallWorks(ok, AREA, "uri512");
    } finally {
      await ok.close();
    }

    const { client: longName } = await rawV1(server.wsUrl);
    try {
      longName.send([1, "n".repeat(65), "push.tutorial."]);
      await expectClose1007(longName, "a 65-char prefix name");
    } finally {
      await longName.close();
    }

    const { client: longUri } = await rawV1(server.wsUrl);
    try {
      longUri.send([1, "long", `push.tutorial.${"u".repeat(513 - 14)}`]);
      await expectClose1007(longUri, "a 513-char prefix URI");
    } finally {
      await longUri.close();
    }
  });
});

Deno.test("v1 PREFIX: prefixes over 32 KiB in total close with 1007 and a reason naming prefixes", async () => {
  await withServer(async (server) => {
    const { client } = await rawV1(server.wsUrl);
    try {
      const uri = `push.tutorial.${"a".repeat(400 - 14)}`;
      let total = 0;
      let i = 0;
      // Up to the limit (names plus URIs): accepted.
      while (total + `p${i}`.length + uri.length <= 32 * 1024) {
        client.send([1, `p${i}`, uri]);
        total += `p${i}`.length + uri.length;
        i++;
      }
      assert.ok(i > 50 && i < 100, `${i} prefixes of 400 chars fit`);
      await assertCallWorks(client, AREA, "under-the-limit");
      // One more crosses the limit. Nothing follows it: the close frame waits for 250 ms of silence
      // (src/transport/websocket.ts), and a frame arriving after it went out would reset the connection.
      client.send([1, `p${i}`, uri]);
      const reason = await expectClose1007(client, "prefixes over 32 KiB");
      assert.match(reason, /prefix/i);
    } finally {
      await client.close();
    }
  });
});

Deno.test("v1 PREFIX: redefining a prefix replaces its URI and counts once", async () => {
  await withServer(async (server) => {
    const { client } = await rawV1(server.wsUrl);
    try {
      client.send([1, "p", "nowhere."]);
      client.send([1, "p", "push.tutorial."]);
      await assertCallWorks(client, "p:areaCuadrado", "replaced");
      for (let i = 1; i < 256; i++) client.send([1, `q${i}`, "push.tutorial."]); // 256 in all
      // 300 redefinitions of 400-char URIs: 120,000 chars if each counted anew.
      for (let i = 0; i < 300; i++) client.send([1, "p", `push.other.${i}.${"b".repeat(380)}`]);
      client.send([1, "q1", "push.tutorial."]);
      client.send([1, "p", "push.tutorial."]);
      await assertCallWorks(client, "p:areaCuadrado", "after-redefinitions");
      // Still exactly 256: a new one is the 257th.
      client.send([1, "new", "push.tutorial."]);
      await expectClose1007(client, "the 257th prefix after redefinitions");
    } finally {
      await client.close();
    }
  });
});

// ===========================================================================
// 5. areaCuadrado's hostile and odd arguments

/** A list nested `depth` deep, built without recursion. */
function nestedList(depth: number): unknown {
  let v: unknown = [];
  for (let i = 0; i < depth; i++) v = [v];
  return v;
}

/** Runs `fn` with console output captured (and not shown); returns what was printed. */
async function capturingConsole(fn: () => Promise<void>): Promise<string[]> {
  const printed: string[] = [];
  const methods = ["error", "warn", "log", "info", "debug"] as const;
  const saved = methods.map((m) => console[m]);
  for (const m of methods) {
    console[m] = (...args: unknown[]) => {
      printed.push(args.map((a) => typeof a === "string" ? a : Deno.inspect(a, { depth: 4 })).join(" "));
    };
  }
  try {
    await fn();
  } finally {
    methods.forEach((m, i) => console[m] = saved[i]);
  }
  return printed;
}

function assertNoStackTrace(printed: string[]): void {
  const traces = printed.filter((p) =>
    /^\s+at\s/m.test(p) || /RangeError|call stack|session failed/i.test(p)
  );
  assert.deepEqual(traces, [], "nothing like a stack trace on the console");
}

/** The error of a v2 call that must fail with `uri`; returns its description. */
async function v2CallError(session: AutobahnSession, args: unknown[], uri: string): Promise<string> {
  let error: { error?: string; args?: unknown[] } | undefined;
  try {
    const result = await within(session.call(AREA, args), `areaCuadrado over v2`);
    assert.fail(`expected ${uri}, got the result ${JSON.stringify(result)}`);
  } catch (e) {
    if (e instanceof assert.AssertionError) throw e;
    error = e as { error?: string; args?: unknown[] };
  }
  assert.equal(error?.error, uri, `error URI; got ${Deno.inspect(error, { depth: 2 })}`);
  const desc = error?.args?.[0];
  assert.equal(typeof desc, "string", "a readable description");
  assert.ok((desc as string).length > 0 && (desc as string).length < 300, `a short description: ${desc}`);
  return desc as string;
}

let v1Ids = 0;

/** A v1 CALL of areaCuadrado; returns the CALLRESULT value or the CALLERROR. */
async function v1Area(
  client: RawClient,
  args: unknown[],
): Promise<{ result: unknown } | { uri: string; desc: string }> {
  const id = `area${++v1Ids}`;
  client.send([2, id, AREA, ...args]);
  const answer = await client.next("CALLRESULT or CALLERROR") as unknown[];
  assert.equal(answer[1], id, `the answer to ${id}: ${JSON.stringify(answer).slice(0, 200)}`);
  if (answer[0] === 3) return { result: answer[2] };
  assert.equal(answer[0], 4, `expected CALLRESULT or CALLERROR, got ${JSON.stringify(answer).slice(0, 200)}`);
  return { uri: answer[2] as string, desc: answer[3] as string };
}

async function v1CallError(client: RawClient, args: unknown[]): Promise<string> {
  const answer = await v1Area(client, args);
  assert.ok("uri" in answer, `expected CALLERROR for ${JSON.stringify(args)}, got ${JSON.stringify(answer)}`);
  assert.equal(answer.uri, INVALID_ARGUMENT, `for ${JSON.stringify(args)}`);
  assert.equal(typeof answer.desc, "string");
  assert.ok(answer.desc.length > 0 && answer.desc.length < 300, `a short description: ${answer.desc}`);
  return answer.desc;
}

const REFUSED_TEXTS = ["0x10", "1e3", "Infinity", "1,000", "2.500"];
const COMPUTED: [unknown, unknown, number][] = [["0,125", "8", 1], ["0.1", "0.2", 0.02], [" 3 ", "2", 6]];

Deno.test("areaCuadrado over v2: overflow, hex, exponents, Infinity and 1,000/2.500 are invalid_argument; plain decimals compute", async () => {
  await withServer(async (server) => {
    const c = await connectV2(server.wsUrl);
    try {
      assert.match(await v2CallError(c.session, [1e308, 1e308], INVALID_ARGUMENT), /too large/);
      for (const text of REFUSED_TEXTS) {
        await v2CallError(c.session, [text, "2"], INVALID_ARGUMENT);
        await v2CallError(c.session, ["2", text], INVALID_ARGUMENT);
      }
      for (const [h, w, area] of COMPUTED) {
        assert.equal(await within(c.session.call(AREA, [h, w]), `${h} × ${w}`), area, `${h} × ${w}`);
      }
    } finally {
      await c.close();
    }
  });
});

Deno.test("areaCuadrado over v1: overflow, hex, exponents, Infinity and 1,000/2.500 are invalid_argument; plain decimals compute", async () => {
  await withServer(async (server) => {
    const { client } = await rawV1(server.wsUrl);
    try {
      assert.match(await v1CallError(client, [1e308, 1e308]), /too large/);
      for (const text of REFUSED_TEXTS) {
        await v1CallError(client, [text, "2"]);
        await v1CallError(client, ["2", text]);
      }
      for (const [h, w, area] of COMPUTED) {
        assert.deepEqual(await v1Area(client, [h, w]), { result: area }, `${h} × ${w}`);
      }
    } finally {
      await client.close();
    }
  });
});

Deno.test("areaCuadrado given a 10,000-deep nested list answers invalid_argument, readably, with no stack trace (v2 and v1)", async () => {
  await withServer(async (server) => {
    const deep = nestedList(10_000);
    const c = await connectV2(server.wsUrl);
    const { client } = await rawV1(server.wsUrl);
    try {
      let v2Desc = "";
      let v1Desc = "";
      const printed = await capturingConsole(async () => {
        v2Desc = await v2CallError(c.session, [deep, "2"], INVALID_ARGUMENT);
        v1Desc = await v1CallError(client, ["2", deep]);
      });
      assertNoStackTrace(printed);
      assert.match(v2Desc, /height.*number.*list/, `v2: ${v2Desc}`);
      assert.match(v1Desc, /width.*number.*list/, `v1: ${v1Desc}`);
      // Both sessions go on.
      assert.equal(await within(c.session.call(AREA, [2, 2]), "a normal call after"), 4);
      assert.deepEqual(await v1Area(client, [2, 5]), { result: 10 });
    } finally {
      await c.close();
      await client.close();
    }
  });
});

// ===========================================================================
// 6. Survival

Deno.test("the process survives every bad input of this file and still answers a normal v2 call", async () => {
  await withServer(async (server) => {
    const bystander = await connectV2(server.wsUrl);
    try {
      const printed = await capturingConsole(async () => {
        assert.equal(
          (await upgradeStatus(server.port, { protocol: "wamp.2.json", origin: "http://evil.example.com" }))
            .status,
          403,
        );
        for (const malformed of V2_MALFORMED) await v2ViolationWithFollowUp(server.port, malformed);
        await v1ViolationWithFollowUp(server.port, "not JSON");

        const { client: prefixes } = await rawV1(server.wsUrl);
        try {
          for (let i = 0; i <= 256; i++) prefixes.send([1, `p${i}`, "push.tutorial."]);
          await expectClose1007(prefixes, "the 257th prefix");
        } finally {
          await prefixes.close();
        }

        const deep = nestedList(10_000);
        await v2CallError(bystander.session, [deep, deep], INVALID_ARGUMENT);
        await v2CallError(bystander.session, [1e308, 1e308], INVALID_ARGUMENT);
        const { client: v1 } = await rawV1(server.wsUrl);
        try {
          await v1CallError(v1, [deep, 1]);
          await v1CallError(v1, ["0x10", 1]);
        } finally {
          await v1.close();
        }
      });
      assertNoStackTrace(printed);

      assert.equal(await within(bystander.session.call(AREA, ["4", "4"]), "the bystander's call"), 16);
      const fresh = await connectV2(server.wsUrl);
      try {
        assert.equal(await within(fresh.session.call(AREA, [3, 5]), "a new session's call"), 15);
      } finally {
        await fresh.close();
      }
      await waitUntil(() => server.router.sessionCount === 1, "only the bystander to remain");
    } finally {
      await bystander.close();
    }
    await allClosed(server);
  });
});
