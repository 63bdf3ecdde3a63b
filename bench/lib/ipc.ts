/**
 * The orchestrator talks to its helper processes (generators, servers under test)
 * in JSON lines: requests `{"id": 1, "cmd": "...", ...}` on the helper's standard
 * input, answers `{"id": 1, "ok": true, ...}` or `{"id": 1, "ok": false, "error":
 * "..."}` on its standard output. A helper may also print `{"ready": ...}` once,
 * and free text (which the orchestrator logs).
 *
 * @module
 */

const encoder = new TextEncoder();

/** A request from the orchestrator. */
export interface Request {
  id: number;
  cmd: string;
  [key: string]: unknown;
}

/** Handles one command; the resolved object becomes the answer. */
export type CommandHandler = (req: Request) => Promise<Record<string, unknown>> | Record<string, unknown>;

let writing: Promise<void> = Promise.resolve();

/** Prints one JSON line on standard output (serialised: lines never interleave). */
export function emit(value: unknown): Promise<void> {
  const bytes = encoder.encode(JSON.stringify(value) + "\n");
  writing = writing.then(async () => {
    let offset = 0;
    while (offset < bytes.length) offset += await Deno.stdout.write(bytes.subarray(offset));
  });
  return writing;
}

/**
 * Reads requests from standard input until it closes, running each through
 * `handlers[cmd]`; requests run concurrently. Resolves when standard input ends.
 */
export async function serveCommands(handlers: Record<string, CommandHandler>): Promise<void> {
  const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream()).pipeThrough(lineSplitter());
  for await (const line of lines) {
    if (line.trim() === "") continue;
    let req: Request;
    try {
      req = JSON.parse(line) as Request;
    } catch {
      await emit({ error: `not JSON: ${line.slice(0, 100)}` });
      continue;
    }
    const handler = handlers[req.cmd];
    if (handler === undefined) {
      void emit({ id: req.id, ok: false, error: `unknown command ${req.cmd}` });
      continue;
    }
    (async () => {
      try {
        const answer = await handler(req);
        await emit({ ...answer, id: req.id, ok: true });
      } catch (e) {
        await emit({ id: req.id, ok: false, error: e instanceof Error ? e.message : String(e) });
      }
    })();
  }
}

/** Splits a text stream into lines. */
export function lineSplitter(): TransformStream<string, string> {
  let rest = "";
  return new TransformStream({
    transform(chunk, controller) {
      rest += chunk;
      let nl = rest.indexOf("\n");
      while (nl >= 0) {
        controller.enqueue(rest.slice(0, nl));
        rest = rest.slice(nl + 1);
        nl = rest.indexOf("\n");
      }
    },
    flush(controller) {
      if (rest !== "") controller.enqueue(rest);
    },
  });
}
