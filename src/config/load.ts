/**
 * The configuration file (`--config FILE`, or the environment variable
 * `TUERCA_CONFIG`): JSON, read once at start. Each section has its own module;
 * a new section is a new module and one line here. Any error names the file, the
 * JSON path and what was expected, and the server does not start.
 *
 * @example
 * ```ts
 * const config = loadConfig("tuerca.json");
 * console.log(config.realms.map((r) => r.name));
 * ```
 *
 * @module
 */

import type { AuthConfig } from "../auth/authenticator.ts";
import type { RealmDefinition } from "../auth/authorizer.ts";
import { defaultRoles } from "../auth/default_roles.ts";
import { parseAuth, type RoleReference } from "./auth.ts";
import { type EndpointConfig, parseEndpoint } from "./endpoint.ts";
import {
  checkHttpApiRealms,
  defaultHttpApi,
  type HttpApiConfig,
  type MetricsConfig,
  parseHttpApi,
  parseMetrics,
} from "./http_api.ts";
import { type LimitsConfig, parseLimits } from "./limits.ts";
import { ConfigError, ConfigNode, type EnvReader } from "./node.ts";
import { parseOrigins } from "./origins.ts";
import { parseRealms } from "./realms.ts";

export { ConfigError } from "./node.ts";
export type { EndpointConfig } from "./endpoint.ts";
export type { LimitsConfig } from "./limits.ts";
export type { HttpApiConfig, HttpApiKey, MetricsConfig } from "./http_api.ts";

/** A configuration, complete: every section has its value or its default. */
export interface TuercaConfig {
  /** The file it came from, or null for the built-in defaults. */
  file: string | null;
  /** Realms, their roles and permissions; the first realm is the default. */
  realms: RealmDefinition[];
  /** Authentication methods and principals. */
  auth: AuthConfig;
  /** Web origins allowed to open a WebSocket besides the server's own. */
  origins: string[];
  /** Where the server listens, and TLS. */
  endpoint: EndpointConfig;
  /** Per-process and per-session limits set by the file. */
  limits: LimitsConfig;
  /** The HTTP publish and call API: its keys (none: off) and call timeout. */
  httpApi: HttpApiConfig;
  /** Who may read `/metrics` and `/healthz` besides loopback. */
  metrics: MetricsConfig;
}

/** The top-level keys, each read by its own module. */
const SECTIONS = ["realms", "auth", "origins", "endpoint", "limits", "http-api", "metrics"] as const;

/**
 * Where JSON text stops being valid, as `line L column C`, for the parse errors
 * whose message names no position (`Unexpected token '}'`). A prefix of the text
 * is still valid as far as it goes when parsing it fails only at its very end, so
 * the longest such prefix is found by bisection.
 */
export function placeOfJsonError(text: string): string {
  const validSoFar = (length: number): boolean => {
    try {
      JSON.parse(text.slice(0, length));
      return true;
    } catch (e) {
      const message = (e as Error).message;
      const at = /position (\d+)/.exec(message);
      return message.includes("Unexpected end") || (at !== null && Number(at[1]) >= length);
    }
  };
  let lo = 0;
  let hi = text.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (validSoFar(mid)) lo = mid;
    else hi = mid - 1;
  }
  const before = text.slice(0, lo);
  const line = before.split("\n").length;
  return `line ${line} column ${lo - before.lastIndexOf("\n")}`;
}

/** The configuration of a server started without a file. */
export function defaultConfig(): TuercaConfig {
  return {
    file: null,
    realms: [{ name: "realm1", roles: defaultRoles() }],
    auth: { anonymous: { role: "anonymous" } },
    origins: [],
    endpoint: {},
    limits: {},
    httpApi: defaultHttpApi(),
    metrics: { allow: [] },
  };
}

/**
 * Reads and checks a configuration file.
 * @param file the file's path
 * @param env reads environment variables, for `{ "env": "NAME" }` secrets
 * @throws {ConfigError} naming the file, the JSON path and what was expected
 */
export function loadConfig(file: string, env: EnvReader = (n) => Deno.env.get(n)): TuercaConfig {
  let text: string;
  try {
    text = Deno.readTextFileSync(file);
  } catch (e) {
    const why = e instanceof Deno.errors.NotFound ? "no such file" : (e as Error).message;
    throw new ConfigError(file, "(file)", `cannot read it: ${why}`);
  }
  return parseConfig(text, file, env);
}

/**
 * Checks a configuration given as JSON text.
 * @param text the JSON document
 * @param file the file name to put in errors, and the base for relative file names in it
 * @param env reads environment variables, for `{ "env": "NAME" }` secrets
 * @throws {ConfigError} naming the file, the JSON path and what was expected
 */
export function parseConfig(
  text: string,
  file: string,
  env: EnvReader = (n) => Deno.env.get(n),
): TuercaConfig {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (e) {
    // V8 may quote the text around the mistake; it could be a secret, so only the place is kept.
    const message = (e as Error).message.replace(/, (?:\.\.\.)?".*" is not valid JSON$/s, "");
    const where = /position \d+/.test(message) ? "" : ` at ${placeOfJsonError(text)}`;
    throw new ConfigError(file, "(top level)", `not valid JSON: ${message}${where}`);
  }
  const root = new ConfigNode(file, "", json, env);
  root.object(SECTIONS, "a Tuerca configuration");
  const dir = file.includes("/") ? file.slice(0, file.lastIndexOf("/") + 1) : "";
  const refs: RoleReference[] = [];
  const realmsNode = root.key("realms");
  const config: TuercaConfig = {
    file,
    realms: realmsNode.absent ? defaultConfig().realms : parseRealms(realmsNode),
    auth: parseAuth(root.key("auth"), refs),
    origins: parseOrigins(root.key("origins")),
    endpoint: parseEndpoint(root.key("endpoint"), (f) => f.startsWith("/") ? f : dir + f),
    limits: parseLimits(root.key("limits")),
    httpApi: parseHttpApi(root.key("http-api")),
    metrics: parseMetrics(root.key("metrics")),
  };
  checkHttpApiRealms(root.key("http-api"), config.httpApi, config.realms);
  const defined = new Set(config.realms.flatMap((r) => r.roles.map((role) => role.name)));
  const realms = config.realms.map((r) => r.name);
  for (const { role, realm, node } of refs) {
    if (realm !== undefined && !realms.includes(realm)) {
      node.fail(
        `no realm ${JSON.stringify(realm)}; the realms are ${
          realms.map((r) => JSON.stringify(r)).join(", ")
        }`,
      );
    }
    if (role !== undefined && !defined.has(role)) {
      node.fail(
        `role ${JSON.stringify(role)} is not defined in any realm; define it under realms[].roles ` +
          `or use one of ${[...defined].map((d) => JSON.stringify(d)).join(", ")}`,
      );
    }
  }
  return config;
}
