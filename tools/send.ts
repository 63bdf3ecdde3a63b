/**
 * Puts messages on a RabbitMQ queue (default `la_cola`) with the header `cat`, the
 * way the tutorial's PHP sender did, over STOMP: persistent, and confirmed by the
 * broker's receipt before the tool says so.
 *
 * ```sh
 * deno task send push.tutorial.messages "hola"
 * deno run tools/send.ts push.tutorial.messages "hola"      # in a terminal: one prompt, for the network
 * printf 'one\ntwo\n' | deno run -A tools/send.ts push.tutorial.messages -
 * ```
 *
 * Permissions: network access to the broker, nothing else. `STOMP_URL` and `QUEUE`
 * are read only when `--allow-env` grants them (otherwise the defaults apply and
 * nobody is asked). Without a terminal to prompt on, missing network access is one
 * line on standard error naming the flag and a command that works, and exit 1.
 *
 * A `cat` the push server would not publish (not a valid WAMP topic URI, or in the
 * reserved `wamp.` space: the router's own rule) is sent anyway, with a warning:
 * the bridge moves such a message to `<queue>.rejected` with the reason.
 *
 * Exit codes: 0 sent and confirmed; 1 broker unreachable or refusing, or a
 * permission missing; 2 wrong arguments.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { stompClient } from "../src/bridge/stomp_client.ts";
import { DEFAULT_STOMP_URL, isQueueName, parseStompUrl, type StompTarget } from "../src/bridge/stomp_url.ts";
import { isReservedUri, isUsableUri, isValidUri } from "../src/protocol/uri.ts";

const USAGE = `Usage: deno task send [options] <cat> <message>
   or: deno run -A tools/send.ts [options] <cat> <message>

Sends <message> to the RabbitMQ queue with the header cat=<cat>; the push server's
bridge republishes it to the WAMP topic <cat>. A message of "-" reads standard input,
one message per line. Needs network access to the broker (--allow-net); reads the
environment variables below only when --allow-env grants them.

  --stomp URL      broker (env STOMP_URL; default ${DEFAULT_STOMP_URL})
  --queue NAME     queue (env QUEUE; default la_cola)
  --count N        send each message N times (default 1)
  --header k=v     an extra header; repeatable
  --timeout S      seconds to wait for the broker (default 10)
  -h, --help       show this help`;

/** A mistake in the arguments: usage and exit 2. */
class UsageError extends Error {}

/**
 * An environment variable, read only when `--allow-env` grants it: a variable not
 * granted is treated as unset, without a prompt and without failing.
 */
function envIfGranted(variable: string): string | undefined {
  if (Deno.permissions.querySync({ name: "env", variable }).state !== "granted") return undefined;
  return Deno.env.get(variable);
}

/** Whether Deno can ask for a permission here (it prompts only with a terminal on stdin and stderr). */
function canPrompt(): boolean {
  return Deno.stdin.isTerminal() && Deno.stderr.isTerminal();
}

/** `arg` as a POSIX shell word. */
function shellWord(arg: string): string {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", `'\\''`)}'`;
}

/** The line for a permission that is missing: which one, and commands that work with these arguments. */
function permissionLine(what: string, flag: string, args: string[]): string {
  const rest = args.map(shellWord).join(" ");
  return `send: ${what} (${flag}); run: deno task send ${rest}  (or: deno run -A tools/send.ts ${rest})`;
}

/**
 * Makes sure the broker may be reached: granted already, or (with a terminal) the
 * user says yes to Deno's one prompt. Returns the line to print when not.
 */
function netPermission(target: StompTarget, args: string[]): string | null {
  const host = target.hostname.includes(":")
    ? `[${target.hostname}]:${target.port}`
    : `${target.hostname}:${target.port}`;
  const descriptor = { name: "net", host } as const;
  let { state } = Deno.permissions.querySync(descriptor);
  if (state === "prompt" && canPrompt()) state = Deno.permissions.requestSync(descriptor).state;
  if (state === "granted") return null;
  const how = state === "denied" ? "was denied" : "is not granted and there is no terminal to ask on";
  return permissionLine(`network access to ${host} ${how}`, "--allow-net", args);
}

/** A warning when the push server would not publish to `cat`, or null. Same rule as the router's. */
function catWarning(cat: string, queue: string): string | null {
  if (isUsableUri(cat, false)) return null;
  const shown = JSON.stringify(cat.slice(0, 100));
  const why = isReservedUri(cat) && isValidUri(cat)
    ? `cat ${shown} is in the reserved wamp. namespace`
    : `cat ${shown} is not a valid WAMP topic URI (components joined by ".", none empty, no spaces or "#")`;
  return `send: warning: ${why}; sending anyway: the push server's bridge will move it to ${queue}.rejected`;
}

/** What to send, from the command line. */
interface SendJob {
  target: StompTarget;
  queue: string;
  cat: string;
  messages: string[];
  count: number;
  headers: Record<string, string>;
  timeoutMs: number;
}

function parse(args: string[]): SendJob | "help" {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      options: {
        stomp: { type: "string" },
        queue: { type: "string" },
        count: { type: "string" },
        header: { type: "string", multiple: true },
        timeout: { type: "string" },
        help: { type: "boolean", short: "h" },
      },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return "help";
  if (positionals.length !== 2) {
    throw new UsageError(`expected <cat> <message>, got ${positionals.length} arguments`);
  }
  const [cat, message] = positionals;
  if (cat.trim() === "") throw new UsageError("<cat> must not be empty");
  let target: StompTarget;
  try {
    target = parseStompUrl(values.stomp ?? envIfGranted("STOMP_URL") ?? DEFAULT_STOMP_URL);
  } catch (e) {
    throw new UsageError(`--stomp: ${(e as Error).message}`);
  }
  const queue = values.queue ?? envIfGranted("QUEUE") ?? "la_cola";
  if (!isQueueName(queue)) throw new UsageError(`invalid queue name ${JSON.stringify(queue)}`);
  const count = wholeNumber(values.count ?? "1", "--count", 1, 1_000_000);
  const timeoutMs = wholeNumber(values.timeout ?? "10", "--timeout", 1, 3600) * 1000;
  const headers: Record<string, string> = {};
  for (const h of values.header ?? []) {
    const eq = h.indexOf("=");
    if (eq <= 0) throw new UsageError(`--header wants key=value, got ${JSON.stringify(h)}`);
    headers[h.slice(0, eq)] = h.slice(eq + 1);
  }
  const messages = message === "-" ? [] : [message];
  return { target, queue, cat, messages, count, headers, timeoutMs };
}

function wholeNumber(text: string, name: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^[0-9]+$/.test(text) || n < min || n > max) {
    throw new UsageError(`${name} wants a whole number from ${min} to ${max}, got ${JSON.stringify(text)}`);
  }
  return n;
}

async function readLines(): Promise<string[]> {
  const text = await new Response(Deno.stdin.readable).text();
  return text.split(/\r?\n/).filter((line) => line.length > 0);
}

/** Connects, sends every message with a receipt, waits for all receipts. Resolves to how many were sent. */
function send(job: SendJob): Promise<number> {
  const { promise, resolve, reject } = Promise.withResolvers<number>();
  let pending = 0;
  let sent = 0;
  let settled = false;
  const finish = (error?: Error) => {
    if (settled) return;
    settled = true;
    clearTimeout(timer);
    void client.deactivate().finally(() => error ? reject(error) : resolve(sent));
  };
  const timer = setTimeout(
    () => finish(new Error(`no answer from ${job.target.display} within ${job.timeoutMs / 1000} s`)),
    job.timeoutMs,
  );
  const client = stompClient(job.target, {
    connectionTimeout: job.timeoutMs,
    onConnect: () => {
      let n = 0;
      for (const body of job.messages) {
        for (let i = 0; i < job.count; i++) {
          const receipt = `send-${++n}`;
          pending++;
          client.watchForReceipt(receipt, () => {
            sent++;
            if (--pending === 0) finish();
          });
          client.publish({
            destination: `/queue/${job.queue}`,
            headers: { ...job.headers, cat: job.cat, persistent: "true", receipt },
            body,
          });
        }
      }
      if (pending === 0) finish();
    },
    onStompError: (frame) =>
      finish(new Error(`${job.target.display} refused: ${frame.headers.message ?? "error"}`)),
    onWebSocketClose: () => finish(new Error(`cannot reach RabbitMQ at ${job.target.display} (STOMP)`)),
  });
  client.activate();
  return promise;
}

async function main(args: string[]): Promise<number> {
  let job;
  try {
    job = parse(args);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    console.error(`send: ${e.message}\n\n${USAGE}`);
    return 2;
  }
  if (job === "help") {
    console.log(USAGE);
    return 0;
  }
  const denied = netPermission(job.target, args);
  if (denied !== null) {
    console.error(denied);
    return 1;
  }
  const warning = catWarning(job.cat, job.queue);
  if (warning !== null) console.error(warning);
  if (job.messages.length === 0) job.messages = await readLines();
  try {
    const sent = await send(job);
    const what = sent === 1 ? "1 message" : `${sent} messages`;
    console.log(
      `sent ${what} to queue ${job.queue} with cat ${job.cat} (confirmed by ${job.target.display})`,
    );
    return 0;
  } catch (e) {
    console.error(`send: ${(e as Error).message}`);
    return 1;
  }
}

if (import.meta.main) {
  let code: number;
  try {
    code = await main(Deno.args);
  } catch (e) {
    // Any other permission this tool would need (none today): the same one line, not a stack trace.
    if (!(e instanceof Deno.errors.NotCapable)) throw e;
    console.error(permissionLine((e as Error).message.split("\n")[0], "a flag of deno run", Deno.args));
    code = 1;
  }
  Deno.exit(code);
}
