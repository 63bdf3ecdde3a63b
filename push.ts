/**
 * The push app, the tutorial's push server: tabs publish to and receive from
 * `push.tutorial.messages`, and call `push.tutorial.areaCuadrado(height, width)`,
 * which the server registers itself.
 *
 * Run: `deno task push` (options: `--help`).
 *
 * @module
 */

import { type App, LocalSession, runCli, WampError } from "./main.ts";
import { ErrorUri } from "./src/protocol/constants.ts";

/** The topic the push page publishes to and shows. */
export const MESSAGES_TOPIC = "push.tutorial.messages";
/** The procedure computing a rectangle's area. */
export const AREA_PROCEDURE = "push.tutorial.areaCuadrado";

/**
 * `areaCuadrado(height, width)`: height × width. Takes numbers or numeric strings
 * (the tutorial's page sends the raw text of two inputs).
 * @throws {WampError} `wamp.error.invalid_argument` with a readable description
 */
export function areaCuadrado(args: unknown[]): number {
  if (args.length !== 2) {
    throw new WampError(ErrorUri.INVALID_ARGUMENT, [
      `areaCuadrado takes two arguments, height and width; got ${args.length}`,
    ]);
  }
  return toLength(args[0], "height") * toLength(args[1], "width");
}

function toLength(value: unknown, name: string): number {
  const n = typeof value === "number"
    ? value
    : typeof value === "string" && value.trim() !== ""
    ? Number(value.trim().replace(",", "."))
    : NaN;
  if (!Number.isFinite(n)) {
    const shown = typeof value === "string" ? JSON.stringify(value.slice(0, 40)) : String(value);
    throw new WampError(ErrorUri.INVALID_ARGUMENT, [`${name} must be a number, not ${shown}`]);
  }
  if (n < 0) throw new WampError(ErrorUri.INVALID_ARGUMENT, [`${name} must not be negative`]);
  return n;
}

/** The push app: registers the area procedure. */
export const pushApp: App = {
  name: "push",
  index: "index.html",
  start(router) {
    const local = new LocalSession(router);
    local.register(AREA_PROCEDURE, (args) => areaCuadrado(args));
    return { close: () => local.close() };
  },
};

if (import.meta.main) await runCli(pushApp);
