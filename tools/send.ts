/**
 * Puts messages on a RabbitMQ queue (default `la_cola`) with the header `cat`, the
 * way the tutorial's PHP sender did, over STOMP: persistent, and confirmed by the
 * broker's receipt before the tool says so.
 *
 * ```sh
 * deno run -A tools/send.ts push.tutorial.messages "hola"
 * printf 'one\ntwo\n' | deno run -A tools/send.ts push.tutorial.messages -
 * ```
 *
 * Exit codes: 0 sent and confirmed; 1 broker unreachable or refusing; 2 wrong arguments.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { stompClient } from "../src/bridge/stomp_client.ts";
import { DEFAULT_STOMP_URL, isQueueName, parseStompUrl, type StompTarget } from "../src/bridge/stomp_url.ts";

const USAGE = `Usage: deno run -A tools/send.ts [options] <cat> <message>

Sends <message> to the RabbitMQ queue with the header cat=<cat>; the push server's
bridge republishes it to the WAMP topic <cat>. A message of "-" reads standard input,
one message per line.

  --stomp URL      broker (env STOMP_URL; default ${DEFAULT_STOMP_URL})
  --queue NAME     queue (env QUEUE; default la_cola)
  --count N        send each message N times (default 1)
  --header k=v     an extra header; repeatable
  --timeout S      seconds to wait for the broker (default 10)
  -h, --help       show this help`;

/** A mistake in the arguments: usage and exit 2. */
class UsageError extends Error {}

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
    target = parseStompUrl(values.stomp ?? Deno.env.get("STOMP_URL") ?? DEFAULT_STOMP_URL);
  } catch (e) {
    throw new UsageError(`--stomp: ${(e as Error).message}`);
  }
  const queue = values.queue ?? Deno.env.get("QUEUE") ?? "la_cola";
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

if (import.meta.main) Deno.exit(await main(Deno.args));
