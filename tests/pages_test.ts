/**
 * The pages over HTTP: compression chosen by Accept-Encoding, ETags and 304s, HEAD,
 * and 405 for other methods. fetch() asks for gzip and br by itself and decompresses
 * what it gets, so most checks here send raw HTTP/1.1 requests over TCP to see the
 * bytes and headers exactly as the server sends them.
 */
import assert from "node:assert/strict";
import { brotliDecompressSync, gunzipSync } from "node:zlib";
import { MIN_COMPRESS_BYTES } from "../src/http/pages.ts";
import type { RunningServer } from "../main.ts";
import { chatApp } from "../chat.ts";
import { within, withServer } from "./helpers.ts";

/** A response as it came over the wire. */
interface Raw {
  status: number;
  /** Header names in lower case. */
  headers: Map<string, string>;
  body: Uint8Array;
}

/** Sends one HTTP/1.1 request on a fresh connection and reads the response until the server closes it. */
async function raw(
  server: RunningServer,
  method: string,
  path: string,
  headers: Record<string, string> = {},
): Promise<Raw> {
  const { hostname, port } = new URL(server.url);
  const conn = await Deno.connect({ hostname, port: Number(port) });
  try {
    const lines = [`${method} ${path} HTTP/1.1`, `Host: ${hostname}:${port}`, "Connection: close"];
    for (const [name, value] of Object.entries(headers)) lines.push(`${name}: ${value}`);
    await conn.write(new TextEncoder().encode(`${lines.join("\r\n")}\r\n\r\n`));
    const bytes = new Uint8Array(
      await within(new Response(conn.readable).arrayBuffer(), `${method} ${path}`),
    );
    const end = bytes.findIndex((_, i) =>
      bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10
    );
    assert.ok(end > 0, `${method} ${path}: a complete head`);
    const [statusLine, ...fields] = new TextDecoder().decode(bytes.subarray(0, end)).split("\r\n");
    const parsed = new Map<string, string>();
    for (const field of fields) {
      const colon = field.indexOf(":");
      parsed.set(field.slice(0, colon).trim().toLowerCase(), field.slice(colon + 1).trim());
    }
    return { status: Number(statusLine.split(" ")[1]), headers: parsed, body: bytes.subarray(end + 4) };
  } finally {
    try {
      conn.close();
    } catch {
      // already closed by reading to the end
    }
  }
}

/** The body decoded as its Content-Encoding says. */
function decoded(res: Raw): Uint8Array {
  const coding = res.headers.get("content-encoding");
  if (coding === undefined) return res.body;
  if (coding === "br") return new Uint8Array(brotliDecompressSync(res.body));
  if (coding === "gzip") return new Uint8Array(gunzipSync(res.body));
  throw new Error(`unexpected Content-Encoding ${coding}`);
}

const VENDOR = "/vendor/autobahn.min.js";
const vendorFile = () => Deno.readFile(new URL(import.meta.resolve("autobahn-browser/autobahn.min.js")));
const publicFile = (name: string) => Deno.readFile(new URL(`../public/${name}`, import.meta.url));

/** Every asset path of the push server with the bytes it serves. */
async function allAssets(): Promise<[string, Uint8Array][]> {
  const out: [string, Uint8Array][] = [["/", await publicFile("index.html")], [VENDOR, await vendorFile()]];
  for await (const entry of Deno.readDir(new URL("../public/", import.meta.url))) {
    if (entry.isFile && !entry.name.startsWith(".")) {
      out.push([`/${entry.name}`, await publicFile(entry.name)]);
    }
  }
  return out;
}

Deno.test("Accept-Encoding picks br, gzip or none; the decoded body is the file", async () => {
  await withServer(async (server) => {
    const file = await vendorFile();
    const cases: [string | undefined, string | undefined][] = [
      ["br", "br"],
      ["gzip, deflate, br", "br"],
      ["gzip;q=1, br;q=1", "br"],
      ["gzip", "gzip"],
      ["x-gzip", "gzip"],
      ["GZIP, deflate", "gzip"],
      ["br;q=0, gzip", "gzip"],
      ["br;q=0.5, gzip", "gzip"],
      ["*", "br"],
      ["*;q=0, gzip", "gzip"],
      ["*, br;q=0", "gzip"],
      [undefined, undefined],
      ["", undefined],
      ["identity", undefined],
      ["deflate", undefined],
      ["br;q=0, gzip;q=0", undefined],
      ["gzip;q=0.5, identity", undefined],
      ["br;q=0, identity;q=0, gzip", "gzip"],
      ["br;q=0, gzip;q=0, identity;q=0", undefined],
      ["*;q=0", undefined], // nothing acceptable: the file as it is rather than an error
    ];
    for (const [accept, expected] of cases) {
      const res = await raw(server, "GET", VENDOR, accept === undefined ? {} : { "accept-encoding": accept });
      const what = `Accept-Encoding: ${accept}`;
      assert.equal(res.status, 200, what);
      assert.equal(res.headers.get("content-encoding"), expected, what);
      assert.equal(res.headers.get("vary"), "Accept-Encoding", what);
      assert.match(res.headers.get("content-type") ?? "", /^text\/javascript/, what);
      assert.equal(res.headers.get("content-length"), String(res.body.length), what);
      if (expected !== undefined) assert.ok(res.body.length < file.length / 2, `${what}: compressed`);
      assert.deepEqual(decoded(res), file, what);
    }
  });
});

Deno.test("every text file of 1 KiB or more is compressed; the decoded bodies are the files", async () => {
  await withServer(async (server) => {
    for (const [path, file] of await allAssets()) {
      for (const coding of ["br", "gzip"]) {
        const res = await raw(server, "GET", path, { "accept-encoding": coding });
        assert.equal(res.status, 200, path);
        const big = file.length >= MIN_COMPRESS_BYTES && /\.(js|css|html|svg|json)$|^\/$/.test(path);
        assert.equal(res.headers.get("content-encoding"), big ? coding : undefined, `${path} ${coding}`);
        assert.equal(res.headers.get("vary"), big ? "Accept-Encoding" : undefined, `${path} ${coding}`);
        assert.deepEqual(decoded(res), file, `${path} ${coding}`);
      }
    }
  });
});

Deno.test("a file under 1 KiB is sent as it is, without Vary", async () => {
  await withServer(async (server) => {
    const file = await publicFile("favicon.svg");
    assert.ok(file.length < MIN_COMPRESS_BYTES, `favicon.svg is ${file.length} bytes`);
    const res = await raw(server, "GET", "/favicon.svg", { "accept-encoding": "br, gzip" });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-encoding"), undefined);
    assert.equal(res.headers.get("vary"), undefined);
    assert.equal(res.headers.get("content-type"), "image/svg+xml");
    assert.equal(res.headers.get("content-length"), String(file.length));
    assert.deepEqual(res.body, file);
  });
});

Deno.test("fetch() gets a compressed autobahn.min.js and decodes it to the file", async () => {
  await withServer(async (server) => {
    const res = await within(fetch(`${server.url}vendor/autobahn.min.js`), "GET autobahn.min.js");
    const body = new Uint8Array(await res.arrayBuffer());
    assert.equal(res.status, 200);
    assert.ok(["br", "gzip"].includes(res.headers.get("content-encoding") ?? ""), "compressed");
    assert.ok(Number(res.headers.get("content-length")) < body.length / 2, "the wire size is under half");
    assert.deepEqual(body, await vendorFile());
  });
});

Deno.test("each encoding has its own strong ETag; If-None-Match with it gets 304 and no body", async () => {
  await withServer(async (server) => {
    for (const path of ["/", "/style.css", VENDOR, "/favicon.svg"]) {
      const etags = new Set<string>();
      for (const coding of ["br", "gzip", "identity"]) {
        const ae = { "accept-encoding": coding };
        const first = await raw(server, "GET", path, ae);
        const etag = first.headers.get("etag");
        assert.ok(etag !== undefined && /^"[0-9a-f]{24}"$/.test(etag), `${path} ${coding}: a strong ETag`);
        etags.add(etag);
        for (const inm of [etag, `W/${etag}`, `"other", ${etag}`, "*"]) {
          for (const method of ["GET", "HEAD"]) {
            const again = await raw(server, method, path, { ...ae, "if-none-match": inm });
            const what = `${method} ${path} ${coding} If-None-Match: ${inm}`;
            assert.equal(again.status, 304, what);
            assert.equal(again.body.length, 0, `${what}: no body`);
            assert.equal(again.headers.get("etag"), etag, what);
            assert.equal(again.headers.get("cache-control"), "no-cache", what);
            assert.equal(again.headers.get("vary"), first.headers.get("vary"), what);
          }
        }
        const other = await raw(server, "GET", path, { ...ae, "if-none-match": '"something-else"' });
        assert.equal(other.status, 200, `${path} ${coding}: 200 for another ETag`);
        assert.deepEqual(other.body, first.body);
      }
      const compressed = path !== "/favicon.svg";
      assert.equal(etags.size, compressed ? 3 : 1, `${path}: one ETag per encoding`);
    }
    // A cached gzip copy does not validate the br version: that is another representation.
    const gz = await raw(server, "GET", VENDOR, { "accept-encoding": "gzip" });
    const br = await raw(server, "GET", VENDOR, {
      "accept-encoding": "br",
      "if-none-match": gz.headers.get("etag")!,
    });
    assert.equal(br.status, 200);
    assert.equal(br.headers.get("content-encoding"), "br");
  });
});

Deno.test("every asset is sent with Cache-Control: no-cache; the ETags survive a restart", async () => {
  const seen = new Map<string, string>();
  for (let round = 0; round < 2; round++) {
    await withServer(async (server) => {
      for (const [path] of await allAssets()) {
        for (const coding of ["br", "identity"]) {
          const res = await raw(server, "GET", path, { "accept-encoding": coding });
          assert.equal(res.headers.get("cache-control"), "no-cache", path);
          const key = `${path} ${coding}`;
          if (round === 0) seen.set(key, res.headers.get("etag")!);
          else assert.equal(res.headers.get("etag"), seen.get(key), `${key}: the same ETag after a restart`);
        }
      }
    });
  }
});

Deno.test("HEAD has the headers of GET, Content-Length included, and no body", async () => {
  await withServer(async (server) => {
    for (const [path] of await allAssets()) {
      for (const accept of [undefined, "gzip", "br, gzip", "identity"]) {
        const headers: Record<string, string> = accept === undefined ? {} : { "accept-encoding": accept };
        const get = await raw(server, "GET", path, headers);
        const head = await raw(server, "HEAD", path, headers);
        const what = `${path} Accept-Encoding: ${accept}`;
        assert.equal(head.status, 200, what);
        assert.equal(head.body.length, 0, `${what}: no body`);
        get.headers.delete("date");
        head.headers.delete("date");
        assert.deepEqual(head.headers, get.headers, what);
        assert.equal(head.headers.get("content-length"), String(get.body.length), what);
      }
    }
  });
});

Deno.test("other methods on a file get 405 with Allow: GET, HEAD; unknown paths stay 404", async () => {
  await withServer(async (server) => {
    for (const method of ["POST", "PUT", "DELETE", "PATCH", "OPTIONS"]) {
      for (const path of ["/", "/index_chat.html", "/style.css", VENDOR]) {
        const res = await raw(server, method, path, { "content-length": "0" });
        assert.equal(res.status, 405, `${method} ${path}`);
        assert.equal(res.headers.get("allow"), "GET, HEAD", `${method} ${path}`);
      }
      for (const path of ["/nope.html", "/vendor/", "/index.html/x"]) {
        const res = await raw(server, method, path, { "content-length": "0" });
        assert.equal(res.status, 404, `${method} ${path}`);
      }
    }
    for (const method of ["GET", "HEAD"]) {
      const res = await raw(server, method, "/nope.html");
      assert.equal(res.status, 404, `${method} /nope.html`);
    }
  });
});

Deno.test("the chat server's index is compressed too", async () => {
  await withServer(async (server) => {
    const file = await publicFile("index_chat.html");
    const res = await raw(server, "GET", "/", { "accept-encoding": "gzip" });
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type") ?? "", /^text\/html/);
    assert.equal(res.headers.get("content-encoding"), file.length >= MIN_COMPRESS_BYTES ? "gzip" : undefined);
    assert.deepEqual(decoded(res), file);
  }, chatApp);
});
