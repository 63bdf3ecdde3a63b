/**
 * The real entry points (push.ts, chat.ts) as subprocesses for the tests: a
 * {@link Child} reads its stdout line by line and keeps its stderr, and
 * {@link withChild} always kills it afterwards.
 *
 * @module
 */

import { waitUntil, within } from "./helpers.ts";

/** The repository root, where the entry points live. */
export const ROOT: URL = new URL("..", import.meta.url);
/** Bound for a child to start and print its line (it compiles on first run). */
export const START_MS = 15_000;
/** Bound for a child to stop after a signal or on a usage error. */
export const EXIT_MS = 10_000;
/**
 * A STOMP address where nothing listens. push.ts bridges a RabbitMQ queue by
 * default; a child of push.ts gets this as `STOMP_URL` (unless its `env` says
 * otherwise), so a test never consumes messages from a broker others may use.
 */
export const NO_BROKER = "stomp://guest:guest@127.0.0.1:1";
/** The permissions a child gets unless {@link ChildOptions.permissions} says otherwise. */
export const DEFAULT_PERMISSIONS: readonly string[] = ["--allow-net", "--allow-read", "--allow-env"];

/** How a {@link Child} is started, besides its script, arguments and environment. */
export interface ChildOptions {
  /**
   * Deno flags given before the script besides the permissions, e.g.
   * `["--unstable-net"]` (which `--reuse-port` needs).
   */
  denoFlags?: string[];
  /** Permission flags; default {@link DEFAULT_PERMISSIONS}. `["--allow-all"]` gives every one. */
  permissions?: readonly string[];
}

/** A running entry point whose stdout is read line by line. */
export class Child {
  /** The subprocess. */
  readonly process: Deno.ChildProcess;
  /** The stdout lines so far (without their newlines). */
  readonly lines: string[] = [];
  #stdoutDone = false;
  readonly #stdout: Promise<void>;
  /** All of stderr, once the process has closed it. */
  readonly stderr: Promise<string>;
  #stderrText = "";

  /**
   * Spawns `deno run <permissions> <denoFlags> <script> <args>` in the repository root.
   * @param script the entry point, relative to the repository root (`push.ts`, `chat.ts`)
   * @param env added to this process's environment; for push.ts, `STOMP_URL` defaults to {@link NO_BROKER}
   */
  constructor(
    readonly script: string,
    args: string[],
    env: Record<string, string> = {},
    options: ChildOptions = {},
  ) {
    this.process = new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        ...(options.permissions ?? DEFAULT_PERMISSIONS),
        ...(options.denoFlags ?? []),
        script,
        ...args,
      ],
      cwd: ROOT,
      env: script === "push.ts" ? { STOMP_URL: NO_BROKER, ...env } : env,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#stdout = this.#readLines();
    this.stderr = this.#readStderr();
  }

  /** The process id. */
  get pid(): number {
    return this.process.pid;
  }

  async #readLines(): Promise<void> {
    let buffer = "";
    for await (const chunk of this.process.stdout.pipeThrough(new TextDecoderStream())) {
      buffer += chunk;
      let nl;
      while ((nl = buffer.indexOf("\n")) >= 0) {
        this.lines.push(buffer.slice(0, nl));
        buffer = buffer.slice(nl + 1);
      }
    }
    if (buffer.length > 0) this.lines.push(buffer);
    this.#stdoutDone = true;
  }

  async #readStderr(): Promise<string> {
    for await (const chunk of this.process.stderr.pipeThrough(new TextDecoderStream())) {
      this.#stderrText += chunk;
    }
    return this.#stderrText;
  }

  /**
   * The first stdout line matching `re`, waiting up to `ms` for it.
   * @throws {Error} when stdout ends (the process exited) or `ms` pass first; the message holds stdout and stderr
   */
  async lineMatching(re: RegExp, what: string, ms = START_MS): Promise<RegExpMatchArray> {
    const find = () => this.lines.map((l) => l.match(re)).find((m) => m !== null) ?? null;
    try {
      await waitUntil(() => find() !== null || this.#stdoutDone, what, ms);
    } catch (e) {
      throw new Error(
        `${(e as Error).message}; stdout: ${JSON.stringify(this.lines)}; stderr: ${this.#stderrText}`,
      );
    }
    const m = find();
    if (m === null) {
      throw new Error(
        `stdout ended while waiting for ${what}; stdout: ${JSON.stringify(this.lines)}; stderr: ${await this
          .stderrSoFar()}`,
      );
    }
    return m;
  }

  /** The exit status, within `ms`. */
  status(ms = EXIT_MS): Promise<Deno.CommandStatus> {
    return within(this.process.status, "the process to exit", ms);
  }

  /** All of stdout, once the process has closed it (within {@link EXIT_MS}). */
  async allStdout(): Promise<string[]> {
    await within(this.#stdout, "stdout to end", EXIT_MS);
    return this.lines;
  }

  /** Everything on stderr so far, at once (the process may still run). */
  stderrSoFar(): Promise<string> {
    return Promise.resolve(this.#stderrText);
  }

  /** Kills the process (SIGKILL) if it still runs and drains its pipes. Idempotent. */
  async dispose(): Promise<void> {
    try {
      this.process.kill("SIGKILL");
    } catch {
      // Already exited.
    }
    await this.process.status;
    await this.#stdout;
    await this.stderr;
  }
}

/** Runs `fn` with a child (see {@link Child}'s constructor), always killing it afterwards. */
export async function withChild(
  script: string,
  args: string[],
  fn: (child: Child) => Promise<void>,
  env?: Record<string, string>,
  options?: ChildOptions,
): Promise<void> {
  const child = new Child(script, args, env, options);
  try {
    await fn(child);
  } finally {
    await child.dispose();
  }
}
