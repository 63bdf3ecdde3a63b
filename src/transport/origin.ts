/**
 * Which web pages may open a WebSocket to the server. A browser sends the page's
 * origin in the upgrade's `Origin` header; without a check, any site a visitor
 * opens could talk to the server in the visitor's name.
 *
 * Allowed: a request without `Origin` (not a browser: scripts, servers, tests);
 * the same origin (the Origin's host and port equal the request's `Host`); an
 * origin in the configured list. A list entry is `scheme://host[:port]`, where the
 * host may start with `*.` for any subdomain, or `*` alone for every origin.
 *
 * @module
 */

/** A parsed entry of the allowed list. */
export interface AllowedOrigin {
  /** The scheme, lowercase (`https`). */
  scheme: string;
  /** The host, or the suffix after `*.` when `anySubdomain`. */
  host: string;
  /** Whether the entry was `scheme://*.host`: any subdomain of `host`. */
  anySubdomain: boolean;
  /** The port, explicit or the scheme's default. */
  port: string;
}

/** The Origin check of the WebSocket endpoint. */
export class OriginPolicy {
  readonly #allowed: AllowedOrigin[];
  /** Whether every origin is allowed (`*`). */
  readonly allowsAll: boolean;

  /**
   * Builds the check from the configured list.
   * @throws {TypeError} for an entry that is not `*` or `scheme://host[:port]`
   */
  constructor(allowed: readonly string[] = []) {
    this.allowsAll = allowed.includes("*");
    this.#allowed = allowed.filter((o) => o !== "*").map(parseAllowed);
  }

  /** Why `req` may not upgrade, or null when it may. */
  refuse(req: Request): string | null {
    const origin = req.headers.get("origin");
    if (origin === null || this.allowsAll) return null;
    const parsed = parseOrigin(origin);
    if (parsed !== null) {
      const host = req.headers.get("host");
      if (host !== null && sameHostPort(parsed, host)) return null;
      if (this.#allowed.some((a) => matches(a, parsed))) return null;
    }
    return `Origin ${JSON.stringify(origin.slice(0, 200))} may not open a WebSocket here ` +
      '(allow it with --allow-origin or "origins" in the configuration file).';
  }
}

/** Checks an entry of the allowed list; the error says what is wrong. */
export function parseAllowed(entry: string): AllowedOrigin {
  const m = /^([a-z][a-z0-9+.-]*):\/\/(\*\.)?([^/:?#*]+)(?::([0-9]{1,5}))?\/?$/i.exec(entry);
  if (m === null) {
    throw new TypeError(
      `${
        JSON.stringify(entry)
      } is not an origin: write scheme://host[:port] (for example https://example.com, ` +
        "https://*.example.com for its subdomains), or * for every origin",
    );
  }
  const scheme = m[1].toLowerCase();
  return {
    scheme,
    anySubdomain: m[2] !== undefined,
    host: m[3].toLowerCase(),
    port: m[4] ?? defaultPort(scheme),
  };
}

interface Origin {
  scheme: string;
  host: string;
  port: string;
}

function parseOrigin(origin: string): Origin | null {
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return null; // "null" (a sandboxed page or a file), or garbage
  }
  const scheme = url.protocol.slice(0, -1);
  return { scheme, host: url.hostname.toLowerCase(), port: url.port || defaultPort(scheme) };
}

function sameHostPort(origin: Origin, hostHeader: string): boolean {
  let host: URL;
  try {
    host = new URL(`${origin.scheme}://${hostHeader}`);
  } catch {
    return false;
  }
  return host.hostname.toLowerCase() === origin.host &&
    (host.port || defaultPort(origin.scheme)) === origin.port;
}

function matches(a: AllowedOrigin, o: Origin): boolean {
  if (a.scheme !== o.scheme || a.port !== o.port) return false;
  return a.anySubdomain ? o.host.endsWith(`.${a.host}`) : o.host === a.host;
}

function defaultPort(scheme: string): string {
  return scheme === "https" || scheme === "wss" ? "443" : scheme === "http" || scheme === "ws" ? "80" : "";
}
