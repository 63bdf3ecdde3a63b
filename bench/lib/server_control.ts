/**
 * What the servers under test written in Deno share: a `ready` line with the
 * port, and commands on standard input (`mem`: collect garbage, then report
 * memory; `exit`: leave at once, which also writes a `--cpu-prof` profile), plus
 * any commands of the server's own.
 *
 * @module
 */

import { type CommandHandler, emit, serveCommands } from "./ipc.ts";

/** Prints the ready line, then serves `mem`, `exit` and `extra` until standard input closes. */
export async function serveControl(
  port: number,
  extra: Record<string, CommandHandler> = {},
): Promise<never> {
  await emit({ ready: true, port, pid: Deno.pid });
  await serveCommands({
    ...extra,
    mem() {
      const gc = (globalThis as { gc?: () => void }).gc;
      if (gc !== undefined) {
        gc();
        gc();
      }
      return { mem: Deno.memoryUsage(), gc: gc !== undefined };
    },
    exit() {
      setTimeout(() => Deno.exit(0), 10);
      return {};
    },
  });
  Deno.exit(0);
}
