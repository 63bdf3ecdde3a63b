/**
 * The HTTP side: a hono app serving the pages in `public/` and the autobahn-browser
 * script from its npm package, so the pages work offline. Files are read once at
 * start-up and served from memory.
 *
 * Text files of 1 KiB or more (html, js, css, svg, json, txt) are also compressed
 * once, at start-up, with brotli and gzip; each request gets the smallest version
 * its `Accept-Encoding` accepts (`q=0` excludes a coding), with `Content-Encoding`
 * and `Vary: Accept-Encoding`. Every version has its own strong ETag (a SHA-256
 * prefix of the bytes sent), `If-None-Match` gets a 304 without a body, and every
 * file is sent with `Cache-Control: no-cache` (the paths are not versioned, so the
 * browser revalidates, which costs one 304 when nothing changed). `HEAD` gets the
 * headers of `GET` without the body; other methods on a file get 405.
 *
 * @module
 */

import { Hono } from "hono";
import { brotliCompressSync, constants as zlib, gzipSync } from "node:zlib";

// An alias, not a re-export: a re-export drags hono's own undocumented types into `deno doc --lint`.
/** The hono app that {@link pagesApp} builds. */
export type PagesApp = Hono;

/** A content coding the server may send; `identity` is the file as it is. */
type Coding = "br" | "gzip" | "identity";

/** One version of a file: its bytes and their ETag. */
interface Version {
  body: Uint8Array<ArrayBuffer>;
  etag: string;
}

/** One file ready to serve. */
interface Asset {
  type: string;
  /** The versions it exists in; always `identity`, and `br`/`gzip` when they are smaller. */
  versions: Map<Coding, Version>;
}

/** Content type of each extension, and whether such files are worth compressing. */
const TYPES: Record<string, { type: string; text: boolean }> = {
  html: { type: "text/html; charset=utf-8", text: true },
  js: { type: "text/javascript; charset=utf-8", text: true },
  css: { type: "text/css; charset=utf-8", text: true },
  svg: { type: "image/svg+xml", text: true },
  png: { type: "image/png", text: false },
  ico: { type: "image/x-icon", text: false },
  json: { type: "application/json", text: true },
  txt: { type: "text/plain; charset=utf-8", text: true },
};

/** Files smaller than this are sent as they are: compression would save next to nothing. */
export const MIN_COMPRESS_BYTES = 1024;

/** The compressed codings, best first (brotli is about 20 % smaller than gzip on text). */
const CODINGS: readonly Coding[] = ["br", "gzip"];

/** Methods the pages answer; the others get 405 with this list in `Allow`. */
const ALLOW = "GET, HEAD";

/** Where the page script library comes from. */
export const VENDOR_PATH = "/vendor/autobahn.min.js";

/** Options for {@link pagesApp}. */
export interface PagesOptions {
  /** Folder holding the pages. */
  publicDir: string | URL;
  /** File served at `/`. */
  index: string;
}

/**
 * Builds the hono app for the pages: `/` serves `index`, `/<file>` a file from the
 * public folder, {@link VENDOR_PATH} the autobahn-browser build. Compresses the text
 * files before it returns (about half a second for autobahn-browser with brotli's
 * best quality, once per process: a later call with the same files reuses the work).
 */
export async function pagesApp(options: PagesOptions): Promise<PagesApp> {
  const assets = new Map<string, Asset>();
  const dir = options.publicDir instanceof URL ? options.publicDir : new URL(`file://${options.publicDir}/`);
  for await (const [path, file] of walk(dir, "")) assets.set(`/${path}`, await asset(file));
  assets.set(VENDOR_PATH, await asset(new URL(import.meta.resolve("autobahn-browser/autobahn.min.js"))));
  const index = assets.get(`/${options.index}`);
  if (index !== undefined) assets.set("/", index);

  const app = new Hono();
  app.all("*", (c) => {
    const a = assets.get(c.req.path);
    if (a === undefined) return c.text("Not found\n", 404);
    const method = c.req.method;
    if (method !== "GET" && method !== "HEAD") {
      return c.text("Method not allowed: the pages answer GET and HEAD.\n", 405, { allow: ALLOW });
    }
    const coding = a.versions.size > 1 ? choose(c.req.header("accept-encoding"), a.versions) : "identity";
    const v = a.versions.get(coding)!;
    const headers: Record<string, string> = { etag: v.etag, "cache-control": "no-cache" };
    if (a.versions.size > 1) headers.vary = "Accept-Encoding";
    if (matches(c.req.header("if-none-match"), v.etag)) return c.body(null, 304, headers);
    headers["content-type"] = a.type;
    if (coding !== "identity") headers["content-encoding"] = coding;
    headers["content-length"] = String(v.body.length);
    return method === "HEAD" ? c.body(null, 200, headers) : c.body(v.body, 200, headers);
  });
  return app;
}

/**
 * The coding to send, from an `Accept-Encoding` value: the one with the highest
 * q-value among those `versions` has, compressed ones first on a tie. Without the
 * header, or when nothing is acceptable, the file as it is (RFC 9110, 12.5.3).
 */
function choose(header: string | undefined, versions: Map<Coding, Version>): Coding {
  if (header === undefined || header.trim() === "") return "identity";
  const q = new Map<string, number>();
  for (const part of header.split(",")) {
    const [name, ...params] = part.split(";").map((s) => s.trim().toLowerCase());
    if (name === "") continue;
    let value = 1;
    for (const p of params) {
      const m = /^q\s*=\s*([0-9.]+)$/.exec(p);
      if (m !== null) value = Number(m[1]);
    }
    if (!Number.isFinite(value) || value < 0) value = 0;
    const coding = name === "x-gzip" ? "gzip" : name;
    q.set(coding, Math.max(q.get(coding) ?? 0, Math.min(value, 1)));
  }
  const star = q.get("*");
  let best: Coding = "identity";
  let bestQ = q.get("identity") ?? (star === 0 ? 0 : 1);
  for (const coding of CODINGS) {
    const value = q.get(coding) ?? star ?? 0;
    if (versions.has(coding) && value > 0 && value >= bestQ && (best === "identity" || value > bestQ)) {
      best = coding;
      bestQ = value;
    }
  }
  return best;
}

/** Whether an `If-None-Match` value names `etag` (weak comparison, as RFC 9110 asks; `*` matches). */
function matches(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  return header.split(",").some((t) => {
    const tag = t.trim();
    return tag === "*" || tag.replace(/^W\//, "") === etag;
  });
}

/** Compressed versions already made in this process, by file, with the identity ETag they belong to. */
const compressed = new Map<string, { etag: string; versions: [Coding, Version][] }>();

async function asset(file: URL): Promise<Asset> {
  const body = await Deno.readFile(file) as Uint8Array<ArrayBuffer>;
  const ext = file.pathname.slice(file.pathname.lastIndexOf(".") + 1).toLowerCase();
  const kind = TYPES[ext] ?? { type: "application/octet-stream", text: false };
  const identity = { body, etag: await etagOf(body) };
  const versions = new Map<Coding, Version>([["identity", identity]]);
  if (kind.text && body.length >= MIN_COMPRESS_BYTES) {
    let done = compressed.get(file.href);
    if (done?.etag !== identity.etag) {
      done = { etag: identity.etag, versions: [] };
      for (const coding of CODINGS) {
        const packed = compress(coding, body);
        // Only when it saves something worth a header and a decompression.
        if (packed.length < body.length * 0.95) {
          done.versions.push([coding, { body: packed, etag: await etagOf(packed) }]);
        }
      }
      compressed.set(file.href, done);
    }
    for (const [coding, v] of done.versions) versions.set(coding, v);
  }
  return { type: kind.type, versions };
}

/**
 * `body` compressed with `coding`, once per process. Brotli at quality 9, not 11:
 * autobahn.min.js comes out at 98 KB instead of 90 KB, in 38 ms instead of 450 ms
 * of a blocked start (measured).
 */
function compress(coding: Coding, body: Uint8Array): Uint8Array<ArrayBuffer> {
  const out = coding === "br"
    ? brotliCompressSync(body, {
      params: {
        [zlib.BROTLI_PARAM_MODE]: zlib.BROTLI_MODE_TEXT,
        [zlib.BROTLI_PARAM_QUALITY]: 9,
        [zlib.BROTLI_PARAM_SIZE_HINT]: body.length,
      },
    })
    : gzipSync(body, { level: zlib.Z_BEST_COMPRESSION });
  return new Uint8Array(out);
}

/** A strong ETag: the first 12 bytes of the SHA-256 of `bytes`, in hex and quotes. */
async function etagOf(bytes: Uint8Array<ArrayBuffer>): Promise<string> {
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
  return `"${Array.from(digest.subarray(0, 12), (b) => b.toString(16).padStart(2, "0")).join("")}"`;
}

async function* walk(dir: URL, prefix: string): AsyncGenerator<[string, URL]> {
  for await (const entry of Deno.readDir(dir)) {
    if (entry.name.startsWith(".")) continue;
    if (entry.isDirectory) yield* walk(new URL(`${entry.name}/`, dir), `${prefix}${entry.name}/`);
    else if (entry.isFile) yield [`${prefix}${entry.name}`, new URL(entry.name, dir)];
  }
}
