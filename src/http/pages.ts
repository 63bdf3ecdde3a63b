/**
 * The HTTP side: a hono app serving the pages in `public/` and the autobahn-browser
 * script from its npm package, so the pages work offline. Files are read once at
 * start-up and served from memory with an ETag.
 *
 * @module
 */

import { Hono } from "hono";

// An alias, not a re-export: a re-export drags hono's own undocumented types into `deno doc --lint`.
/** The hono app that {@link pagesApp} builds. */
export type PagesApp = Hono;

/** One file ready to serve. */
interface Asset {
  body: Uint8Array;
  type: string;
  etag: string;
}

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  svg: "image/svg+xml",
  png: "image/png",
  ico: "image/x-icon",
  json: "application/json",
  txt: "text/plain; charset=utf-8",
};

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
 * public folder, {@link VENDOR_PATH} the autobahn-browser build.
 */
export async function pagesApp(options: PagesOptions): Promise<PagesApp> {
  const assets = new Map<string, Asset>();
  const dir = options.publicDir instanceof URL ? options.publicDir : new URL(`file://${options.publicDir}/`);
  for await (const [path, file] of walk(dir, "")) assets.set(`/${path}`, await asset(file));
  assets.set(VENDOR_PATH, await asset(new URL(import.meta.resolve("autobahn-browser/autobahn.min.js"))));
  const index = assets.get(`/${options.index}`);
  if (index !== undefined) assets.set("/", index);

  const app = new Hono();
  app.get("*", (c) => {
    const a = assets.get(c.req.path);
    if (a === undefined) return c.text("Not found\n", 404);
    const headers = { "content-type": a.type, etag: a.etag, "cache-control": "no-cache" };
    if (c.req.header("if-none-match") === a.etag) return c.body(null, 304, headers);
    return c.body(a.body as Uint8Array<ArrayBuffer>, 200, headers);
  });
  return app;
}

async function asset(file: URL): Promise<Asset> {
  const body = await Deno.readFile(file);
  const ext = file.pathname.slice(file.pathname.lastIndexOf(".") + 1).toLowerCase();
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", body));
  const etag = `"${Array.from(digest.subarray(0, 12), (b) => b.toString(16).padStart(2, "0")).join("")}"`;
  return { body, type: TYPES[ext] ?? "application/octet-stream", etag };
}

async function* walk(dir: URL, prefix: string): AsyncGenerator<[string, URL]> {
  for await (const entry of Deno.readDir(dir)) {
    if (entry.name.startsWith(".")) continue;
    if (entry.isDirectory) yield* walk(new URL(`${entry.name}/`, dir), `${prefix}${entry.name}/`);
    else if (entry.isFile) yield [`${prefix}${entry.name}`, new URL(entry.name, dir)];
  }
}
