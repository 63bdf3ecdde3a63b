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
import type { AuthConfig } from "./src/auth/authenticator.ts";
import type { RealmDefinition } from "./src/auth/authorizer.ts";
import type { FailureThrottle } from "./src/auth/throttle.ts";
import { ConfigError, defaultConfig, loadConfig, type TuercaConfig } from "./src/config/load.ts";
import { limitBounds } from "./src/config/limits.ts";
import { DEFAULT_MAX_TOTAL_BYTES, type HistoryRule, type StoreConfig } from "./src/store/store.ts";
import { Subprotocol } from "./src/protocol/constants.ts";
import { wampV2Json } from "./src/codec/v2_json.ts";
import { wampV2JsonBatched } from "./src/codec/v2_json_batched.ts";
import { wampV2Msgpack } from "./src/codec/v2_msgpack.ts";
import { wampV2Cbor } from "./src/codec/v2_cbor.ts";
import { pagesApp } from "./src/http/pages.ts";
import { httpApi } from "./src/http/api.ts";
import type { HttpApiConfig } from "./src/config/http_api.ts";
import { OpsAccess, TrustedProxies } from "./src/http/access.ts";
import { healthz, metrics, readyz, type ServerView } from "./src/http/metrics.ts";
import { createLogger, LOG_LEVELS, type Logger, type LogLevel, SILENT } from "./src/log.ts";
import type { QueueBridge } from "./src/bridge/queue_bridge.ts";
import { Router } from "./src/router.ts";
import { Cluster, type ClusterOptions } from "./src/cluster/cluster.ts";
import { amqpUrlFromStomp, DEFAULT_STOMP_URL } from "./src/bridge/stomp_url.ts";
import { isClusterName } from "./src/cluster/keys.ts";
import { MemoryStore } from "./src/store/memory.ts";
import { historyStream, StreamStore } from "./src/store/stream.ts";

import type { SessionLimits } from "./src/router.ts";
import { WampV1Session } from "./src/session/v1.ts";
import { WampV2Session } from "./src/session/v2.ts";
import { OriginPolicy } from "./src/transport/origin.ts";
import { isUpgrade, type SessionFactory, WebSocketEndpoint } from "./src/transport/websocket.ts";

export { Router } from "./src/router.ts";
export { CallResult, LocalSession } from "./src/session/local.ts";
export { WampError } from "./src/protocol/errors.ts";
export { ConfigError } from "./src/config/load.ts";
export type { Peer, WireSession } from "./src/session/peer.ts";
export type { HistoryRule, StoreConfig } from "./src/store/store.ts";

/** An application hosted by the server (the push app, the chat app, yours). */
export interface App {
  /** Short name, shown in the start-up line. */
  name: string;
  /** The page served at `/`. */
  index: string;
  /** Starts the app's in-process parts once the router exists. */
  start(router: Router): AppInstance | Promise<AppInstance>;
  /** The history its pages need, kept by realms whose configuration sets no `store`. */
  history?: HistoryRule[];
}

/** A started app. */
export interface AppInstance {
  /** Serves WebSocket clients that offer no subprotocol; refused when absent. */
  plain?: SessionFactory;
  /** The app's queue bridge, when it runs one: `/healthz`, `/readyz` and `/metrics` report it. */
  bridge?: QueueBridge | null;
  /** Stops the app; called first at shutdown, before the router says goodbye to the sessions. */
  close(): void | Promise<void>;
}

/** Server settings; every field has a default. */
export interface ServerOptions {
  /** TCP port; 0 picks a free one. Default 8080. */
  port?: number;
  /** Interface to listen on. Default 127.0.0.1 (use 0.0.0.0 to expose). */
  host?: string;
  /**
   * Realms; the first is the default. A name alone gets the default roles (anonymous
   * tabs may do what the demo pages do). Default `["realm1"]`.
   */
  realms?: (string | RealmDefinition)[];
  /**
   * The history of realms that configure no `store`; default: the app's
   * {@link App.history}, in memory, or in a RabbitMQ stream in a cluster.
   */
  store?: StoreConfig;
  /** Authentication methods. Default: anonymous only, as the role `anonymous`. */
  auth?: AuthConfig;
  /** The authentication failure throttle (tests pass a quicker one). */
  authThrottle?: FailureThrottle;
  /** Web origins allowed to open a WebSocket besides the server's own; `*` for all. Default none. */
  origins?: string[];
  /** Serve HTTPS and `wss://`: the PEM text of the certificate chain and of its key. */
  tls?: { cert: string; key: string };
  /** Per-session quotas; unset ones keep their defaults (0 turns one off). */
  limits?: Partial<SessionLimits>;
  /** Most WebSocket connections at once. Default 100,000 (0: no limit). */
  maxSessions?: number;
  /** Largest incoming WebSocket message. Default 1 MiB. */
  maxMessageSize?: number;
  /** Bytes queued for one connection before it is closed as a slow consumer. Default 8 MiB. */
  maxBufferedAmount?: number;
  /** Where the server logs (sessions, the bridge, start and stop). Default: nowhere. */
  log?: Logger;
  /**
   * Who besides loopback may read `/metrics` and `/healthz`: addresses or CIDR
   * networks, and a bearer key. Default: loopback only.
   */
  opsAccess?: { allow?: string[]; key?: string };
  /** Reverse proxies whose `X-Forwarded-For` names the client (addresses or CIDR networks). Default: none. */
  trustedProxies?: string[];
  /**
   * Share the port with other processes (Linux `SO_REUSEPORT`): the kernel spreads
   * new connections over them. Needs `--unstable-net`. Default false.
   */
  reusePort?: boolean;
  /** How long a v2 connection may wait before HELLO, in ms. Default 10 s. */
  helloTimeoutMs?: number;
  /**
   * Act as one router with the other nodes of this cluster, through RabbitMQ
   * (see `src/cluster/cluster.ts`). Default: a router of its own.
   */
  cluster?: Omit<ClusterOptions, "log">;
  /**
   * RabbitMQ's AMQP address for realms whose store is `rabbitmq`. Default: the
   * cluster's, else the one derived from the default STOMP address.
   */
  amqpUrl?: string;
  /** Folder with the pages. Default: `public/` beside this file. */
  publicDir?: string | URL;
  /** The HTTP publish and call API (`POST /publish`, `POST /call`); off without keys. Default off. */
  httpApi?: HttpApiConfig;
}

/** A server that is listening. */
export interface RunningServer {
  /** The router behind the WAMP endpoint. */
  readonly router: Router;
  /** The started app (the push app's holds its queue bridge). */
  readonly app: AppInstance;
  /** The WebSocket endpoint: its refusals and open connections. */
  readonly endpoint: WebSocketEndpoint;
  /** The node's cluster membership, when it runs in one. */
  readonly cluster: Cluster | null;
  /** The pages, such as `http://127.0.0.1:8080/` (`https://` with TLS). */
  readonly url: string;
  /** The WAMP endpoint, such as `ws://127.0.0.1:8080/ws` (`wss://` with TLS). */
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
  const origins = new OriginPolicy(options.origins ?? []);
  const log = options.log ?? SILENT;
  const streams: StreamStore[] = [];
  const router = new Router({
    log,
    realms: options.realms,
    auth: options.auth,
    authThrottle: options.authThrottle,
    limits: options.limits,
    maxMessageSize: options.maxMessageSize,
    helloTimeoutMs: options.helloTimeoutMs,
    store: options.store ?? {
      // In a cluster a node hears only the topics its own subscribers hold: the pages' history must be shared.
      type: options.cluster === undefined ? "memory" : "rabbitmq",
      eventHistory: app.history ?? [],
      maxTotalBytes: DEFAULT_MAX_TOTAL_BYTES,
    },
    openStore: (realm, config) => {
      if (config.type === "memory") return new MemoryStore(config);
      const url = options.amqpUrl ?? options.cluster?.url ?? amqpUrlFromStomp(DEFAULT_STOMP_URL);
      const store = new StreamStore(config, {
        url,
        stream: historyStream(options.cluster?.name, realm),
        log,
      });
      streams.push(store);
      return store;
    },
  });
  // Shared history is read before anyone may ask for it.
  await Promise.all(streams.map((s) => s.start()));
  const api = httpApi(router, options.httpApi);
  const pages = await pagesApp({
    publicDir: options.publicDir ?? new URL("./public/", import.meta.url),
    index: app.index,
  });
  // The cluster before the app: what the app's queue bridge publishes must reach every node.
  const cluster = options.cluster === undefined ? null : new Cluster(router, { ...options.cluster, log });
  await cluster?.start();
  const instance = await app.start(router);
  const protocols: Record<string, SessionFactory> = {
    [Subprotocol.WAMP2_JSON]: (peer) => new WampV2Session(router, peer, wampV2Json),
    [Subprotocol.WAMP2_JSON_BATCHED]: (peer) => new WampV2Session(router, peer, wampV2JsonBatched),
    [Subprotocol.WAMP2_MSGPACK]: (peer) => new WampV2Session(router, peer, wampV2Msgpack),
    [Subprotocol.WAMP2_CBOR]: (peer) => new WampV2Session(router, peer, wampV2Cbor),
    [Subprotocol.WAMP1]: (peer) => new WampV1Session(router, peer),
  };
  const endpoint = new WebSocketEndpoint({
    protocols,
    plain: instance.plain,
    maxBufferedAmount: options.maxBufferedAmount,
    origins,
    maxConnections: options.maxSessions,
  });

  const access = new OpsAccess(options.opsAccess?.allow ?? [], options.opsAccess?.key);
  const proxies = new TrustedProxies(options.trustedProxies ?? []);
  const view = { router, endpoint, bridge: instance.bridge ?? null, cluster, listening: false };
  const ops: Record<string, (v: ServerView) => Response> = {
    "/healthz": healthz,
    "/readyz": readyz,
    "/metrics": metrics,
  };
  const server = Deno.serve({
    port: options.port ?? 8080,
    hostname: options.host ?? "127.0.0.1",
    ...options.tls,
    ...(options.reusePort ? { reusePort: true } : {}),
    onListen: () => {},
  }, (req, info) => {
    const path = new URL(req.url).pathname;
    const remote = proxies.client(info.remoteAddr.hostname, req.headers.get("x-forwarded-for"));
    const op = ops[path];
    if (op !== undefined) {
      if (!access.permits(remote, req.headers.get("authorization"))) {
        return new Response("Forbidden: only loopback, --metrics-allow addresses or the metrics key.\n", {
          status: 403,
          headers: { "content-type": "text/plain; charset=utf-8", "www-authenticate": "Bearer" },
        });
      }
      return op(view);
    }
    if (path === "/" || path === "/ws") {
      if (isUpgrade(req)) return endpoint.accept(req, remote);
      if (path === "/ws") {
        return new Response("This is the WAMP WebSocket endpoint; connect with a WebSocket client.\n", {
          status: 426,
          headers: { upgrade: "websocket", "content-type": "text/plain; charset=utf-8" },
        });
      }
    }
    if (api?.handles(path)) return api.fetch(req, remote);
    return pages.fetch(req);
  });

  view.listening = true;
  const host = urlHost(server.addr.hostname);
  const port = server.addr.port;
  const secure = options.tls !== undefined ? "s" : "";
  let closing: Promise<void> | undefined;
  return {
    router,
    app: instance,
    endpoint,
    cluster,
    url: `http${secure}://${host}:${port}/`,
    wsUrl: `ws${secure}://${host}:${port}/ws`,
    port,
    close() {
      closing ??= (async () => {
        const started = performance.now();
        log.info("shutting down", { sessions: router.sessionCount });
        // The app first: a bridge stops taking messages before the sessions it would route them to go.
        await instance.close();
        api?.close();
        log.info("app stopped; saying goodbye to the sessions", { sessions: router.sessionCount });
        await router.shutdown();
        // After the sessions: their leaves reach the other nodes before this node's goodbye.
        await cluster?.stop();
        await Promise.all(streams.map((s) => s.stop()));
        let timer: ReturnType<typeof setTimeout> | undefined;
        await Promise.race([
          server.shutdown(),
          new Promise((resolve) => timer = setTimeout(resolve, HTTP_SHUTDOWN_MS)),
        ]);
        clearTimeout(timer);
        view.listening = false;
        log.info("stopped", { drain_ms: Math.round(performance.now() - started) });
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
    "Where it listens:",
    "  --port N        port for the pages and WebSocket (env PORT; default 8080; 0 = any free)",
    "  --host ADDR     interface to listen on (env HOST; default 127.0.0.1; 0.0.0.0 to expose)",
    "  --cert FILE --key FILE  serve HTTPS and wss:// with this PEM certificate chain and key",
    "  --trust-proxy ADDR  a reverse proxy (address or CIDR) whose X-Forwarded-For names the client (repeat)",
    "  --reuse-port    share the port with other Tuerca processes (SO_REUSEPORT; with --cluster they act",
    "                  as one router, without it each is its own)",
    "",
    "Who may do what:",
    "  --config FILE   JSON configuration: realms, roles, authentication, origins, TLS, limits, history,",
    "                  HTTP API keys (env TUERCA_CONFIG; see tuerca.example.json); options here win over it",
    "  --realm NAME    a realm sessions may join; repeat for more; the first is the default",
    "                  (env REALMS, comma separated; default realm1)",
    "  --allow-origin URL  a web origin whose pages may connect besides the server's own",
    "                  (scheme://host[:port], *.host for subdomains; repeat; * allows every origin)",
    "",
    "Limits:",
    "  --max-sessions N       most connections at once (default 100000; 0 = no limit)",
    "  --max-subscriptions N  per session (default 1000)      --max-registrations N  per session (default 100)",
    "  --max-pending-calls N  per session (default 1000)      --max-message-size N   bytes (default 1048576)",
    "  --rate N --burst N     publishes plus calls per second per session (default 1000, burst 2000; 0 = off)",
    "  --call-timeout SECONDS how long a call waits for its callee when the caller sets no timeout",
    "                  (default 0: forever)",
    "",
    "Operations:",
    "  --log-format text|json  log lines for people or for a pipeline (env LOG_FORMAT; default text)",
    "  --log-level L   error, warn, info or debug (env LOG_LEVEL; default info: sessions, bridge, auth failures)",
    "  --metrics-allow ADDR  an address or CIDR network that may read /metrics and /healthz besides",
    "                  loopback (repeat)",
    "",
    "Cluster (several processes or machines acting as one router, through RabbitMQ):",
    "  --cluster NAME  join cluster NAME (env CLUSTER): nodes with one name on one broker share sessions,",
    "                  topics, procedures and presence; letters, digits, _ and -",
    "  --stomp URL     the broker, as the queue bridge names it (env STOMP_URL; default",
    "                  stomp://guest:guest@127.0.0.1:61613); the cluster and `rabbitmq` history speak AMQP",
    "                  to the same host, user and vhost on port 5672 (5671 for stomp+ssl:// and wss://)",
    "  --amqp URL      the AMQP address, when it is not derived from --stomp (env AMQP_URL)",
    ...(extension?.usage?.length ? ["", `The ${name} server:`, ...extension.usage] : []),
    "",
    "  -h, --help      show this help",
  ].join("\n");
}

/** What parseServerArgs found: the server options, the configuration behind them, and the app's own values. */
export type ParsedServerArgs = ServerOptions & {
  /** Whether `--help` was asked for. */
  help: boolean;
  /** The app's own option values. */
  extra: CliValues;
  /** The configuration file's content (the built-in defaults without one). */
  config: TuercaConfig;
};

/** The numeric flags and the ServerOptions field each sets. */
const LIMIT_FLAGS = {
  "max-sessions": "sessions",
  "max-subscriptions": "subscriptions",
  "max-registrations": "registrations",
  "max-pending-calls": "pendingCalls",
  "rate": "rate",
  "burst": "burst",
  "max-message-size": "maxMessageSize",
  "call-timeout": "callTimeout",
} as const;

/**
 * Reads the shared options, and an app's own, from arguments, environment and the
 * configuration file (arguments win over the environment, both over the file).
 * @throws {UsageError} on unknown options or bad values.
 * @throws {ConfigError} for a configuration file that cannot be used.
 */
export function parseServerArgs(
  args: string[],
  env: (name: string) => string | undefined = (n) => Deno.env.get(n),
  extension?: CliExtension,
): ParsedServerArgs {
  let values: CliValues;
  try {
    ({ values } = parseArgs({
      args,
      options: {
        config: { type: "string" },
        port: { type: "string" },
        host: { type: "string" },
        realm: { type: "string", multiple: true },
        "allow-origin": { type: "string", multiple: true },
        cert: { type: "string" },
        key: { type: "string" },
        "log-format": { type: "string" },
        "log-level": { type: "string" },
        "metrics-allow": { type: "string", multiple: true },
        "trust-proxy": { type: "string", multiple: true },
        "reuse-port": { type: "boolean" },
        cluster: { type: "string" },
        amqp: { type: "string" },
        stomp: { type: "string" },
        ...Object.fromEntries(Object.keys(LIMIT_FLAGS).map((f) => [f, { type: "string" as const }])),
        help: { type: "boolean", short: "h" },
        ...extension?.options,
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const configFile = (values.config as string | undefined) ?? env("TUERCA_CONFIG");
  const config = configFile === undefined || configFile === ""
    ? defaultConfig()
    : loadConfig(configFile, env);

  const portText = (values.port as string | undefined) ?? env("PORT") ?? String(config.endpoint.port ?? 8080);
  const port = Number(portText);
  if (!/^[0-9]+$/.test(portText) || port > 65535) {
    throw new UsageError(`invalid port ${JSON.stringify(portText)}`);
  }
  const host = (values.host as string | undefined) ?? env("HOST") ?? config.endpoint.interface ?? "127.0.0.1";
  if (host.length === 0) throw new UsageError("--host needs an address");
  const realmNames = (values.realm as string[] | undefined) ??
    env("REALMS")?.split(",").map((r) => r.trim()).filter(Boolean);
  // Realms named by flag keep the roles the file gives them; others get the default roles.
  const realms = realmNames?.length
    ? realmNames.map((name) => config.realms.find((r) => r.name === name) ?? name)
    : config.realms;

  const originFlags = values["allow-origin"] as string[] | undefined;
  const origins = originFlags ?? config.origins;
  try {
    new OriginPolicy(origins);
  } catch (e) {
    throw new UsageError(`--allow-origin: ${(e as Error).message}`);
  }

  let { sessions: maxSessions, maxMessageSize, ...limits } = config.limits;
  for (const [flag, field] of Object.entries(LIMIT_FLAGS)) {
    const text = values[flag] as string | undefined;
    if (text === undefined) continue;
    const [min, max] = limitBounds(field);
    const n = Number(text);
    if (!/^[0-9]+$/.test(text) || n < min || n > max) {
      throw new UsageError(
        `--${flag}: expected a whole number from ${min} to ${max}, got ${JSON.stringify(text)}`,
      );
    }
    if (field === "sessions") maxSessions = n;
    else if (field === "maxMessageSize") maxMessageSize = n;
    else limits = { ...limits, [field]: n };
  }

  const logFormat = (values["log-format"] as string | undefined) ?? env("LOG_FORMAT") ?? "text";
  if (logFormat !== "text" && logFormat !== "json") {
    throw new UsageError(`--log-format: expected text or json, got ${JSON.stringify(logFormat)}`);
  }
  const logLevel = (values["log-level"] as string | undefined) ?? env("LOG_LEVEL") ?? "info";
  if (!LOG_LEVELS.includes(logLevel as LogLevel)) {
    throw new UsageError(
      `--log-level: expected one of ${LOG_LEVELS.join(", ")}, got ${JSON.stringify(logLevel)}`,
    );
  }
  // The flags replace the file's list; the file's key stays.
  const metricsAllow = (values["metrics-allow"] as string[] | undefined) ?? config.metrics.allow;
  try {
    new OpsAccess(metricsAllow);
  } catch (e) {
    throw new UsageError(`--metrics-allow: ${(e as Error).message}`);
  }

  const trustedProxies = (values["trust-proxy"] as string[] | undefined) ?? config.endpoint.trustedProxies ??
    [];
  try {
    new TrustedProxies(trustedProxies);
  } catch (e) {
    throw new UsageError(`--trust-proxy: ${(e as Error).message}`);
  }

  return {
    port,
    host,
    trustedProxies,
    ...brokerFrom(values, env),
    reusePort: values["reuse-port"] === true,
    log: createLogger({ format: logFormat, level: logLevel as LogLevel }),
    opsAccess: { allow: metricsAllow, key: config.metrics.key },
    realms,
    auth: config.auth,
    origins,
    tls: readTls(values, config),
    limits,
    maxSessions,
    maxMessageSize,
    httpApi: config.httpApi,
    help: values.help === true,
    extra: values,
    config,
  };
}

/**
 * The cluster to join, from `--cluster` (or `CLUSTER`), and RabbitMQ's AMQP
 * address, from `--amqp` (or `AMQP_URL`) or derived from the STOMP address.
 */
function brokerFrom(
  values: CliValues,
  env: (name: string) => string | undefined,
): Pick<ServerOptions, "cluster" | "amqpUrl"> {
  const explicit = (values.amqp as string | undefined) ?? env("AMQP_URL");
  let amqpUrl: string;
  if (explicit !== undefined) {
    if (!/^amqps?:\/\/[^/]/.test(explicit)) {
      throw new UsageError(
        `--amqp: expected amqp://user:pass@host:5672/vhost, got ${JSON.stringify(explicit)}`,
      );
    }
    amqpUrl = explicit;
  } else {
    const stomp = (values.stomp as string | undefined) ?? env("STOMP_URL") ?? DEFAULT_STOMP_URL;
    try {
      amqpUrl = amqpUrlFromStomp(stomp);
    } catch (e) {
      throw new UsageError(`--stomp: ${(e as Error).message}`);
    }
  }
  const name = (values.cluster as string | undefined) ?? env("CLUSTER");
  if (name === undefined || name === "") return { amqpUrl };
  if (!isClusterName(name)) {
    throw new UsageError(
      `--cluster: ${JSON.stringify(name)} is not a cluster name (letters, digits, _ and -)`,
    );
  }
  return { amqpUrl, cluster: { name, url: amqpUrl } };
}

/** The PEM texts for TLS, from `--cert`/`--key` or the file's `endpoint.tls`. */
function readTls(values: CliValues, config: TuercaConfig): ServerOptions["tls"] {
  const cert = values.cert as string | undefined;
  const key = values.key as string | undefined;
  if ((cert === undefined) !== (key === undefined)) {
    throw new UsageError("--cert and --key go together: give both, or neither");
  }
  const files = cert !== undefined ? { certificate: cert, key: key! } : config.endpoint.tls;
  if (files === undefined) return undefined;
  const read = (file: string, what: string): string => {
    try {
      return Deno.readTextFileSync(file);
    } catch (e) {
      const why = `cannot read the TLS ${what} ${file}: ${(e as Error).message}`;
      if (cert !== undefined) throw new UsageError(why);
      throw new ConfigError(config.file ?? "configuration", `endpoint.tls.${what}`, why);
    }
  };
  return { cert: read(files.certificate, "certificate"), key: read(files.key, "key") };
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
    if (e instanceof ConfigError) {
      console.error(`Configuration error: ${e.message}`);
      Deno.exit(2);
    }
    if (!(e instanceof UsageError)) throw e;
    console.error(`${e.message}\n\n${usage(name, extension)}`);
    Deno.exit(2);
  }
  if (options.origins?.includes("*")) {
    console.error(
      "Warning: every web origin may open a WebSocket here (origins: *); any site a visitor opens can.",
    );
  }
  let server: RunningServer;
  try {
    server = await startServer(theApp, options);
  } catch (e) {
    if (e instanceof Deno.errors.AddrInUse) {
      console.error(`Port ${options.port} is in use; pick another with --port or PORT.`);
      Deno.exit(1);
    }
    if (e instanceof ConfigError) {
      console.error(`Configuration error: ${e.message}`);
      Deno.exit(2);
    }
    throw e;
  }
  const page = theApp.index === "index.html" ? server.url : `${server.url}${theApp.index}`;
  console.log(`Tuerca ${theApp.name} server: open ${page} (WAMP at ${server.wsUrl})`);
  console.log(
    `Health at ${server.url}healthz and ${server.url}readyz, Prometheus metrics at ${server.url}metrics`,
  );
  options.log?.info("started", { app: theApp.name, url: server.url, ws: server.wsUrl });
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
