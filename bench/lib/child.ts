/**
 * The orchestrator's side of its helper processes: spawning, JSON-line requests
 * with time limits (see ipc.ts), logs in `.bench/logs/`, and killing every
 * process it started (by pid, with its descendants), whatever happens.
 *
 * @module
 */

import { lineSplitter } from "./ipc.ts";
import { processTree } from "./procfs.ts";

/** Where helper processes' logs go (git-ignored). */
export const LOG_DIR = new URL("../../.bench/logs/", import.meta.url);

const live = new Set<Child>();

/** How to start a helper. */
export interface SpawnOptions {
  /** Extra environment. */
  env?: Record<string, string>;
  /** Working directory. */
  cwd?: string;
  /** Whether standard output carries JSON lines (else it is only logged). */
  jsonLines?: boolean;
}

/** A running helper process. */
export class Child {
  readonly pid: number;
  readonly name: string;
  #proc: Deno.ChildProcess;
  #pending = new Map<number, { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void }>();
  #nextId = 1;
  #ready = Promise.withResolvers<Record<string, unknown>>();
  #log: Deno.FsFile;
  #exited = false;
  #writer: WritableStreamDefaultWriter<Uint8Array>;
  #writes: Promise<void> = Promise.resolve();
  readonly status: Promise<Deno.CommandStatus>;

  constructor(name: string, cmd: string, args: string[], options: SpawnOptions = {}) {
    this.name = name;
    Deno.mkdirSync(LOG_DIR, { recursive: true });
    this.#log = Deno.openSync(new URL(`${name}.log`, LOG_DIR), { create: true, write: true, truncate: true });
    this.#proc = new Deno.Command(cmd, {
      args,
      env: options.env,
      cwd: options.cwd,
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.pid = this.#proc.pid;
    this.#writer = this.#proc.stdin.getWriter();
    live.add(this);
    this.#ready.promise.catch(() => {});
    this.status = this.#proc.status.then((s) => {
      this.#exited = true;
      live.delete(this);
      const err = new Error(`${name} exited (code ${s.code}${s.signal ? `, ${s.signal}` : ""})`);
      this.#ready.reject(err);
      for (const p of this.#pending.values()) p.reject(err);
      this.#pending.clear();
      return s;
    });
    void this.#readStdout(options.jsonLines ?? true);
    void this.#readStderr();
  }

  /** Whether the process has exited. */
  get exited(): boolean {
    return this.#exited;
  }

  /** Resolves with the helper's `{"ready": ...}` line. */
  ready(timeoutMs: number): Promise<Record<string, unknown>> {
    return withTimeout(this.#ready.promise, timeoutMs, `${this.name} not ready within ${timeoutMs} ms`);
  }

  /** Sends a command and waits (at most `timeoutMs`) for its answer. */
  request(
    cmd: string,
    params: Record<string, unknown> = {},
    timeoutMs = 30_000,
  ): Promise<Record<string, unknown>> {
    if (this.#exited) return Promise.reject(new Error(`${this.name} has exited`));
    const id = this.#nextId++;
    const answer = new Promise<Record<string, unknown>>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
    });
    const line = new TextEncoder().encode(JSON.stringify({ ...params, id, cmd }) + "\n");
    this.#writes = this.#writes.then(() => this.#writer.write(line)).catch(() => {});
    return withTimeout(answer, timeoutMs, `${this.name}: ${cmd} took over ${timeoutMs} ms`).finally(() =>
      this.#pending.delete(id)
    );
  }

  /** Appends a line to this helper's log. */
  log(line: string): void {
    try {
      this.#log.writeSync(new TextEncoder().encode(line + "\n"));
    } catch {
      // log closed
    }
  }

  /** Stops the process and its descendants: SIGTERM, then SIGKILL after `graceMs`. */
  async kill(graceMs = 2_000): Promise<void> {
    if (!this.#exited) {
      const tree = processTree(this.pid);
      for (const pid of tree.reverse()) signal(pid, "SIGTERM");
      const done = await Promise.race([
        this.status.then(() => true),
        new Promise<boolean>((r) => setTimeout(() => r(false), graceMs)),
      ]);
      // Descendants (an Erlang VM under a shell) may outlive the parent: check them all.
      for (const pid of tree) if (alive(pid)) signal(pid, "SIGKILL");
      if (!done) {
        signal(this.pid, "SIGKILL");
        await this.status;
      }
    }
    await this.closeStdin();
    try {
      this.#log.close();
    } catch {
      // already closed
    }
  }

  /** Closes standard input (a helper that serves commands then exits by itself). */
  async closeStdin(): Promise<void> {
    try {
      await this.#writes;
      await this.#writer.close();
    } catch {
      // already closed
    }
  }

  async #readStdout(jsonLines: boolean): Promise<void> {
    try {
      const lines = this.#proc.stdout.pipeThrough(new TextDecoderStream()).pipeThrough(lineSplitter());
      for await (const line of lines) {
        if (!jsonLines || !line.startsWith("{")) {
          this.log(line);
          continue;
        }
        let msg: Record<string, unknown>;
        try {
          msg = JSON.parse(line);
        } catch {
          this.log(line);
          continue;
        }
        if (msg.ready === true) {
          this.#ready.resolve(msg);
        } else if (typeof msg.id === "number") {
          const p = this.#pending.get(msg.id);
          if (p === undefined) continue;
          if (msg.ok === true) p.resolve(msg);
          else p.reject(new Error(`${this.name}: ${String(msg.error)}`));
        } else {
          this.log(line);
        }
      }
    } catch {
      // the process went away
    }
  }

  async #readStderr(): Promise<void> {
    try {
      for await (const chunk of this.#proc.stderr) this.#log.writeSync(chunk);
    } catch {
      // closed
    }
  }
}

function signal(pid: number, sig: Deno.Signal): void {
  try {
    Deno.kill(pid, sig);
  } catch {
    // already gone
  }
}

function alive(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

/** Kills every helper still running. */
export async function killAll(): Promise<void> {
  await Promise.all([...live].map((c) => c.kill(1_000)));
}

/** Rejects with `message` when `p` takes longer than `ms`. */
export function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([
    p,
    new Promise<never>((_, reject) => timer = setTimeout(() => reject(new Error(message)), ms)),
  ]).finally(() => clearTimeout(timer));
}

/** Waits until a TCP port accepts connections (bounded). */
export async function waitForPort(port: number, timeoutMs: number): Promise<void> {
  const until = performance.now() + timeoutMs;
  while (performance.now() < until) {
    try {
      const c = await Deno.connect({ hostname: "127.0.0.1", port });
      c.close();
      return;
    } catch {
      await new Promise((r) => setTimeout(r, 100));
    }
  }
  throw new Error(`nothing listens on 127.0.0.1:${port} after ${timeoutMs} ms`);
}

/** A free loopback TCP port (free now; another process could take it later). */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}
