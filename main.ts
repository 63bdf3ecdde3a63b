/**
 * Tuerca's shared server start-up: one `Deno.serve` that hosts the pages and the
 * WAMP endpoint (WebSocket upgrades at `/` and `/ws`), plus the command line both
 * apps share. Programs that embed the router import this module.
 *
 * @example Embed the router with an app of your own
 * ```ts
 * import { LocalSession, startServer } from "./main.ts";
 * const server = await startServer({
 *   name: "demo",
 *   index: "index.html",
 *   start(router) {
 *     const local = new LocalSession(router);
 *     local.register("com.example.ping", () => "pong");
 *     return { close: () => local.close() };
 *   },
 * }, { port: 0 });
 * console.log(server.url);
 * await server.close();
 * ```
 *
 * @module
 */

import { parseArgs, type ParseArgsOptionsConfig } from "node:util";
import { Subprotocol } from "./src/protocol/constants.ts";
import { wampV2Json } from "./src/codec/v2_json.ts";
import { pagesApp } from "./src/http/pages.ts";
import { Router } from "./src/router.ts";
import { WampV1Session } from "./src/session/v1.ts";
import { WampV2Session } from "./src/session/v2.ts";
import { acceptWebSocket, isUpgrade, type SessionFactory } from "./src/transport/websocket.ts";

export { Router } from "./src/router.ts";
export { CallResult, LocalSession } from "./src/session/local.ts";
export { WampError } from "./src/protocol/errors.ts";
export type { Peer, WireSession } from "./src/session/peer.ts";

/** An application hosted by the server (the push app, the chat app, yours). */
export interface App {
  /** Short name, shown in the start-up line. */
  name: string;
  /** The page served at `/`. */
  index: string;
  /** Starts the app's in-process parts once the router exists. */
  start(router: Router): AppInstance | Promise<AppInstance>;
}

/** A started app. */
export interface AppInstance {
  /** Serves WebSocket clients that offer no subprotocol; refused when absent. */
  plain?: SessionFactory;
  /** Stops the app; called first at shutdown, before the router says goodbye to the sessions. */
  close(): void | Promise<void>;
}

/** Server settings; every field has a default. */
export interface ServerOptions {
  /** TCP port; 0 picks a free one. Default 8080. */
  port?: number;
  /** Interface to listen on. Default 127.0.0.1 (use 0.0.0.0 to expose). */
  host?: string;
  /** Realms; the first is the default. Default `["realm1"]`. */
  realms?: string[];
  /** Largest incoming WebSocket message. Default 1 MiB. */
  maxMessageSize?: number;
  /** Bytes queued for one connection before it is closed as a slow consumer. Default 8 MiB. */
  maxBufferedAmount?: number;
  /** How long a v2 connection may wait before HELLO, in ms. Default 10 s. */
  helloTimeoutMs?: number;
  /** Folder with the pages. Default: `public/` beside this file. */
  publicDir?: string | URL;
}

/** A server that is listening. */
export interface RunningServer {
  /** The router behind the WAMP endpoint. */
  readonly router: Router;
  /** The started app (the push app's holds its queue bridge). */
  readonly app: AppInstance;
  /** The pages, such as `http://127.0.0.1:8080/`. */
  readonly url: string;
  /** The WAMP endpoint, such as `ws://127.0.0.1:8080/ws`. */
  readonly wsUrl: string;
  /** The TCP port listened on; the one picked when `port: 0` was asked for. */
  readonly port: number;
  /** Stops the app, says goodbye to every session, stops listening. Idempotent. */
  close(): Promise<void>;
}

/** How long close() waits for the HTTP server to drain before it returns anyway. */
const HTTP_SHUTDOWN_MS = 3_000;

/** Starts the router, the app and the HTTP server. */
export async function startServer(app: App, options: ServerOptions = {}): Promise<RunningServer> {
  const router = new Router({
    realms: options.realms,
    maxMessageSize: options.maxMessageSize,
    helloTimeoutMs: options.helloTimeoutMs,
  });
  const pages = await pagesApp({
    publicDir: options.publicDir ?? new URL("./public/", import.meta.url),
    index: app.index,
  });
  const instance = await app.start(router);
  const protocols: Record<string, SessionFactory> = {
    [Subprotocol.WAMP2_JSON]: (peer) => new WampV2Session(router, peer, wampV2Json),
    [Subprotocol.WAMP1]: (peer) => new WampV1Session(router, peer),
  };
  const wsOptions = { protocols, plain: instance.plain, maxBufferedAmount: options.maxBufferedAmount };

  const server = Deno.serve({
    port: options.port ?? 8080,
    hostname: options.host ?? "127.0.0.1",
    onListen: () => {},
  }, (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/" || path === "/ws") {
      if (isUpgrade(req)) return acceptWebSocket(req, wsOptions);
      if (path === "/ws") {
        return new Response("This is the WAMP WebSocket endpoint; connect with a WebSocket client.\n", {
          status: 426,
          headers: { upgrade: "websocket", "content-type": "text/plain; charset=utf-8" },
        });
      }
    }
    return pages.fetch(req);
  });

  const host = urlHost(server.addr.hostname);
  const port = server.addr.port;
  let closing: Promise<void> | undefined;
  return {
    router,
    app: instance,
    url: `http://${host}:${port}/`,
    wsUrl: `ws://${host}:${port}/ws`,
    port,
    close() {
      closing ??= (async () => {
        // The app first: a bridge stops taking messages before the sessions it would route them to go.
        await instance.close();
        await router.shutdown();
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([
          server.shutdown(),
          new Promise((resolve) => timer = setTimeout(resolve, HTTP_SHUTDOWN_MS)),
        ]);
        clearTimeout(timer);
      })();
      return closing;
    },
  };
}

/** A command-line mistake; the CLI prints it with the usage and exits 2. */
export class UsageError extends Error {
  /** The error name: `UsageError`. */
  override name = "UsageError";
}

/** Options an app adds to the shared command line. */
export interface CliExtension {
  /** Extra options, in `node:util` parseArgs form. */
  options: ParseArgsOptionsConfig;
  /** Their usage lines. */
  usage: string[];
}

/** The values of an app's extra options, as parseArgs returns them. */
export type CliValues = Record<string, string | boolean | string[] | boolean[] | undefined>;

/** Usage text: the shared options, then the app's own. */
export function usage(name: string, extension?: CliExtension): string {
  return [
    `Usage: deno task ${name} [options]`,
    "",
    "  --port N        port for the pages and WebSocket (env PORT; default 8080; 0 = any free)",
    "  --host ADDR     interface to listen on (env HOST; default 127.0.0.1; 0.0.0.0 to expose)",
    "  --realm NAME    a realm sessions may join; repeat for more; the first is the default",
    "                  (env REALMS, comma separated; default realm1)",
    ...(extension?.usage ?? []),
    "  -h, --help      show this help",
  ].join("\n");
}

/**
 * Reads the shared options, and an app's own, from arguments and environment
 * (arguments win).
 * @throws {UsageError} on unknown options or bad values.
 */
export function parseServerArgs(
  args: string[],
  env: (name: string) => string | undefined = (n) => Deno.env.get(n),
  extension?: CliExtension,
): ServerOptions & { help: boolean; extra: CliValues } {
  let values: CliValues;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        port: { type: "string" },
        host: { type: "string" },
        realm: { type: "string", multiple: true },
        help: { type: "boolean", short: "h" },
        ...extension?.options,
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const portText = (values.port as string | undefined) ?? env("PORT") ?? "8080";
  const port = Number(portText);
  if (!/^[0-9]+$/.test(portText) || port > 65535) {
    throw new UsageError(`invalid port ${JSON.stringify(portText)}`);
  }
  const host = (values.host as string | undefined) ?? env("HOST") ?? "127.0.0.1";
  if (host.length === 0) throw new UsageError("--host needs an address");
  const realms = (values.realm as string[] | undefined) ??
    env("REALMS")?.split(",").map((r) => r.trim()).filter(Boolean);
  return {
    port,
    host,
    realms: realms?.length ? realms : undefined,
    help: values.help === true,
    extra: values,
  };
}

/**
 * Runs an app from the command line: parses options, starts, prints one line with
 * the URL to open, and stops cleanly on SIGINT or SIGTERM. `app` may be built from
 * the values of the app's own options (`extension`); it may throw a
 * {@link UsageError} for bad values.
 */
export async function runCli(
  app: App | ((extra: CliValues) => App),
  args: string[] = Deno.args,
  extension?: CliExtension,
  name: string = typeof app === "function" ? "app" : app.name,
): Promise<void> {
  let options;
  let theApp: App;
  try {
    options = parseServerArgs(args, undefined, extension);
    if (options.help) {
      console.log(usage(name, extension));
      return;
    }
    theApp = typeof app === "function" ? app(options.extra) : app;
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`${e.message}\n\n${usage(name, extension)}`);
    Deno.exit(2);
  }
  let server: RunningServer;
  try {
    server = await startServer(theApp, options);
  } catch (e) {
    if (e instanceof Deno.errors.AddrInUse) {
      console.error(`Port ${options.port} is in use; pick another with --port or PORT.`);
      Deno.exit(1);
    }
    throw e;
  }
  const page = theApp.index === "index.html" ? server.url : `${server.url}${theApp.index}`;
  console.log(`Tuerca ${theApp.name} server: open ${page} (WAMP at ${server.wsUrl})`);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await server.close();
    Deno.exit(0);
  };
  Deno.addSignalListener("SIGINT", stop);
  if (Deno.build.os !== "windows") Deno.addSignalListener("SIGTERM", stop);
}

/** A host name as it goes into a URL: IPv6 in brackets, the wildcard as localhost. */
function urlHost(hostname: string): string {
  if (hostname === "0.0.0.0" || hostname === "::") return "localhost";
  return hostname.includes(":") ? `[${hostname}]` : hostname;
}
