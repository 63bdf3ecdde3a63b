/**
 * The push app, the tutorial's push server: tabs publish to and receive from
 * `push.tutorial.messages`, and call `push.tutorial.areaCuadrado(height, width)`,
 * which the server registers itself.
 *
 * With RabbitMQ, it also consumes the queue `la_cola` and republishes each message
 * to the topic named by its `cat` header (see src/bridge/queue_bridge.ts).
 *
 * Run: `deno task push` (options: `--help`).
 *
 * @module
 */

import { SILENT } from "./src/log.ts";
import {
  type App,
  type AppInstance,
  type CliExtension,
  type CliValues,
  LocalSession,
  runCli,
  UsageError,
  WampError,
} from "./main.ts";
import { QueueBridge, type QueueBridgeOptions } from "./src/bridge/queue_bridge.ts";
import { DEFAULT_STOMP_URL, isQueueName, parseStompUrl } from "./src/bridge/stomp_url.ts";
import { ErrorUri } from "./src/protocol/constants.ts";

/** The topic the push page publishes to and shows. */
export const MESSAGES_TOPIC = "push.tutorial.messages";
/** The procedure computing a rectangle's area. */
export const AREA_PROCEDURE = "push.tutorial.areaCuadrado";

/**
 * `areaCuadrado(height, width)`: height × width, rounded to 15 significant digits
 * so that 0.1 × 0.2 is 0.02 and not 0.020000000000000004. Takes numbers, or
 * strings holding a plain decimal (the tutorial's page sends the raw text of two
 * inputs): digits with at most one `.` or `,` as the decimal mark, nothing else.
 * A mark followed by exactly three digits after a non-zero whole part (`1,000`,
 * `2.500`) could be a thousands separator, so it is refused as ambiguous rather
 * than guessed.
 * @throws {WampError} `wamp.error.invalid_argument` with a readable description
 */
export function areaCuadrado(args: unknown[]): number {
  if (args.length !== 2) {
    throw new WampError(ErrorUri.INVALID_ARGUMENT, [
      `areaCuadrado takes two arguments, height and width; got ${args.length}`,
    ]);
  }
  const area = toLength(args[0], "height") * toLength(args[1], "width");
  if (!Number.isFinite(area)) {
    throw new WampError(ErrorUri.INVALID_ARGUMENT, ["the area is too large to compute; use smaller values"]);
  }
  return Number(area.toPrecision(15));
}

/** A plain decimal, optionally signed (a sign only to say "negative" clearly). */
const DECIMAL = /^[+-]?(?:[0-9]+(?:[.,][0-9]*)?|[.,][0-9]+)$/;
/** `1,000` or `12.500`: a thousands separator in one locale, a decimal mark in another. */
const AMBIGUOUS = /^[+-]?0*[1-9][0-9]{0,2}[.,][0-9]{3}$/;

function toLength(value: unknown, name: string): number {
  let n: number;
  if (typeof value === "number") {
    n = value;
  } else if (typeof value === "string") {
    const text = value.trim();
    if (!DECIMAL.test(text)) {
      throw new WampError(ErrorUri.INVALID_ARGUMENT, [
        `${name} must be a number such as 4 or 2.5, not ${JSON.stringify(text.slice(0, 40))}`,
      ]);
    }
    if (AMBIGUOUS.test(text)) {
      const whole = text.replace(/[.,]/, "");
      throw new WampError(ErrorUri.INVALID_ARGUMENT, [
        `${name} ${JSON.stringify(text)} is ambiguous (a thousands separator or a decimal mark?): ` +
        `write ${whole}, or fewer decimals`,
      ]);
    }
    n = Number(text.replace(",", "."));
  } else {
    throw new WampError(ErrorUri.INVALID_ARGUMENT, [`${name} must be a number, not ${kindOf(value)}`]);
  }
  if (!Number.isFinite(n)) throw new WampError(ErrorUri.INVALID_ARGUMENT, [`${name} is too large`]);
  if (n < 0) throw new WampError(ErrorUri.INVALID_ARGUMENT, [`${name} must not be negative`]);
  return n;
}

/** What kind of JSON value a client sent, without looking inside it (it may be nested 10,000 deep). */
function kindOf(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "an object";
  if (typeof value === "boolean") return `${value}`;
  return typeof value;
}

/** What the push app runs besides the area procedure. */
export interface PushConfig {
  /** The RabbitMQ queue bridge, or false for none. */
  bridge: QueueBridgeOptions | false;
}

/** The bridge settings `deno task push` uses unless told otherwise. */
export const DEFAULT_BRIDGE: QueueBridgeOptions = { url: DEFAULT_STOMP_URL, queue: "la_cola" };

/**
 * The push app: registers the area procedure and, unless `bridge` is false, runs
 * the RabbitMQ queue bridge.
 */
export function createPushApp(config: PushConfig = { bridge: DEFAULT_BRIDGE }): App {
  return {
    name: "push",
    index: "index.html",
    // The page shows what was said before it opened, and what it missed while away.
    history: [{ uri: MESSAGES_TOPIC, match: "exact", limit: 100, maxBytes: 0, maxAge: 0 }],
    start(router): PushAppInstance {
      const local = new LocalSession(router);
      local.register(AREA_PROCEDURE, (args) => areaCuadrado(args));
      // The bridge's lines go to the server's log, unless the caller takes them (tests do).
      const bridge = config.bridge === false ? null : new QueueBridge(router, {
        log: router.log === SILENT ? undefined : (line) => router.log.info(line),
        ...config.bridge,
      });
      bridge?.start();
      return {
        bridge,
        async close() {
          await bridge?.stop();
          local.close();
        },
      };
    },
  };
}

/** A started push app. */
export interface PushAppInstance extends AppInstance {
  /** The queue bridge, when configured. */
  bridge: QueueBridge | null;
}

/** The push app alone, without the queue bridge (what most tests embed). */
export const pushApp: App = createPushApp({ bridge: false });

/** The push server's own command-line options. */
export const PUSH_CLI: CliExtension = {
  options: {
    stomp: { type: "string" },
    queue: { type: "string" },
    prefetch: { type: "string" },
    "no-bridge": { type: "boolean" },
  },
  usage: [
    "  --stomp URL     RabbitMQ STOMP address (env STOMP_URL; default stomp://guest:guest@127.0.0.1:61613;",
    "                  ws://host:15674/ws uses Web-STOMP; a stomp:// path names the vhost)",
    "  --queue NAME    queue to consume (env QUEUE; default la_cola); rejects go to NAME.rejected",
    "  --prefetch N    most unacknowledged messages in flight (default 100)",
    "  --no-bridge     do not consume any queue",
  ],
};

/**
 * Builds the push config from its command-line values and the environment.
 * @throws {UsageError} for a bad URL, queue name or prefetch.
 */
export function pushConfigFromArgs(
  values: CliValues,
  env: (name: string) => string | undefined = (n) => Deno.env.get(n),
): PushConfig {
  if (values["no-bridge"] === true) return { bridge: false };
  const url = (values.stomp as string | undefined) ?? env("STOMP_URL") ?? DEFAULT_STOMP_URL;
  try {
    parseStompUrl(url);
  } catch (e) {
    throw new UsageError(`--stomp: ${(e as Error).message}`);
  }
  const queue = (values.queue as string | undefined) ?? env("QUEUE") ?? "la_cola";
  if (!isQueueName(queue)) throw new UsageError(`invalid queue name ${JSON.stringify(queue)}`);
  const prefetchText = (values.prefetch as string | undefined) ?? "100";
  const prefetch = Number(prefetchText);
  if (!/^[0-9]+$/.test(prefetchText) || prefetch < 1 || prefetch > 65535) {
    throw new UsageError(`invalid prefetch ${JSON.stringify(prefetchText)}: a whole number from 1 to 65535`);
  }
  return { bridge: { url, queue, prefetch } };
}

if (import.meta.main) {
  await runCli((values) => createPushApp(pushConfigFromArgs(values)), Deno.args, PUSH_CLI, "push");
}
