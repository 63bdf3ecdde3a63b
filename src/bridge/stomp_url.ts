/**
 * STOMP broker addresses: `stomp://user:pass@host:61613/vhost` for raw TCP (or
 * `stomp+ssl://` for TLS), `ws://user:pass@host:15674/ws` (or `wss://`) for
 * RabbitMQ Web-STOMP. The vhost is the path of a `stomp:` URL (`/` when empty; a
 * URL-encoded `%2F` also means `/`); for WebSocket URLs it is the `vhost` query
 * parameter, since the path belongs to the endpoint.
 *
 * @module
 */

/** A parsed broker address. */
export interface StompTarget {
  /** `tcp` for `stomp://` and `stomp+ssl://`, `websocket` for `ws://` and `wss://`. */
  kind: "tcp" | "websocket";
  /** Host name or IP address (an IPv6 address without brackets). */
  hostname: string;
  /** TCP port; by default 61613 (`stomp`), 61614 (`stomp+ssl`), 80 (`ws`) or 443 (`wss`). */
  port: number;
  /** Whether the connection uses TLS (`stomp+ssl` or `wss`). */
  tls: boolean;
  /** For `websocket`: the endpoint URL without credentials. */
  endpoint: string;
  /** STOMP login; `guest` when the URL names no user. */
  login: string;
  /** STOMP passcode; `guest` when the URL has no password. */
  passcode: string;
  /** The RabbitMQ virtual host, sent as the CONNECT `host` header; `/` by default. */
  vhost: string;
  /** The address as it may be logged: no password. */
  display: string;
}

/** The default broker: RabbitMQ's STOMP plugin on this machine. */
export const DEFAULT_STOMP_URL = "stomp://guest:guest@127.0.0.1:61613";

/**
 * Parses a broker URL.
 * @throws {TypeError} for an unusable URL, with a message saying why.
 */
export function parseStompUrl(text: string): StompTarget {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new TypeError(`not a URL: ${JSON.stringify(text)}`);
  }
  const scheme = url.protocol.slice(0, -1);
  const tcp = scheme === "stomp" || scheme === "stomp+ssl";
  const ws = scheme === "ws" || scheme === "wss";
  if (!tcp && !ws) {
    throw new TypeError(`unsupported scheme ${scheme}: use stomp://, stomp+ssl://, ws:// or wss://`);
  }
  if (url.hostname === "") throw new TypeError("the URL names no host");
  const tls = scheme === "stomp+ssl" || scheme === "wss";
  const port = url.port !== "" ? Number(url.port) : tcp ? (tls ? 61614 : 61613) : (tls ? 443 : 80);
  const login = decodeURIComponent(url.username) || "guest";
  const passcode = decodeURIComponent(url.password) || "guest";
  const hostname = url.hostname.startsWith("[") ? url.hostname.slice(1, -1) : url.hostname;
  let vhost: string;
  if (tcp) {
    const path = decodeURIComponent(url.pathname.replace(/^\//, ""));
    vhost = path === "" ? "/" : path;
  } else {
    vhost = url.searchParams.get("vhost") ?? "/";
  }
  const bare = new URL(url);
  bare.username = "";
  bare.password = "";
  bare.searchParams.delete("vhost");
  const endpoint = bare.toString();
  const shownUser = url.username ? `${decodeURIComponent(url.username)}@` : "";
  const display = `${scheme}://${shownUser}${url.host}${tcp ? "" : bare.pathname}${
    vhost === "/" ? "" : ` (vhost ${vhost})`
  }`;
  return { kind: tcp ? "tcp" : "websocket", hostname, port, tls, endpoint, login, passcode, vhost, display };
}

/** Whether `name` is a queue name the tools accept: word characters, `.`, `:` and `-`, 1 to 200 of them. */
export function isQueueName(name: string): boolean {
  return /^[\w.:-]{1,200}$/.test(name);
}

/** The AMQP port of RabbitMQ when a STOMP address names no other (5671 with TLS). */
export const AMQP_PORT = 5672;

/**
 * The AMQP address of the broker a STOMP (or Web-STOMP) address points at: same
 * host, credentials and vhost, on port `port` (5672, or 5671 for `stomp+ssl`/`wss`),
 * with AMQP heartbeats every 10 s so a dead broker is noticed.
 * @throws {TypeError} for an unusable STOMP URL
 */
export function amqpUrlFromStomp(stompUrl: string, port?: number): string {
  const t = parseStompUrl(stompUrl);
  const scheme = t.tls ? "amqps" : "amqp";
  const host = t.hostname.includes(":") ? `[${t.hostname}]` : t.hostname;
  const vhost = encodeURIComponent(t.vhost);
  const credentials = `${encodeURIComponent(t.login)}:${encodeURIComponent(t.passcode)}`;
  return `${scheme}://${credentials}@${host}:${port ?? (t.tls ? 5671 : AMQP_PORT)}/${vhost}?heartbeat=10`;
}
