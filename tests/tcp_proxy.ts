/**
 * A TCP proxy for the browser and broker tests, on 127.0.0.1 (an ephemeral port) to a
 * server's port. A tab that loads its page through {@link TcpProxy.url} has its
 * WebSocket go through it too (the page connects to its own origin, which the
 * server sees as its own: the Host header is the proxy's), so a test can take the
 * network away from the tab and give it back:
 *
 * - {@link TcpProxy.hold} refuses new connections (accepted and closed at once,
 *   counted in {@link TcpProxy.refused}) while those open go on;
 * - {@link TcpProxy.cut} also closes every connection open through it;
 * - {@link TcpProxy.stall} makes the open connections a black hole: what either
 *   side sends is dropped, and neither notices until they are cut;
 * - {@link TcpProxy.restore} lets connections through again.
 *
 * @module
 */

/** A proxy whose link the test can hold or cut. */
export class TcpProxy {
  /** Connections refused while held or cut. */
  refused = 0;
  readonly #listener: Deno.TcpListener;
  readonly #open = new Set<Deno.Conn>();
  readonly #pipes = new Set<Promise<void>>();
  readonly #accepting: Promise<void>;
  #held = false;
  #stalled = false;

  /** Listens at once; `target` is the server's port on 127.0.0.1. */
  constructor(readonly target: number) {
    this.#listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    this.#accepting = this.#accept();
  }

  /** The proxy's own port. */
  get port(): number {
    return this.#listener.addr.port;
  }

  /** The page URL through the proxy. */
  get url(): string {
    return `http://127.0.0.1:${this.port}/`;
  }

  /** Refuses new connections; those open go on. */
  hold(): void {
    this.#held = true;
  }

  /** Drops everything sent through the open connections, both ways, until {@link cut}. */
  stall(): void {
    this.#stalled = true;
  }

  /** Closes every connection through the proxy and refuses new ones. */
  cut(): void {
    this.#held = true;
    this.#stalled = false;
    for (const conn of this.#open) closeQuietly(conn);
    this.#open.clear();
  }

  /** Accepts connections again. */
  restore(): void {
    this.#held = false;
  }

  /** Cuts, stops listening and waits for its copying to end. */
  async close(): Promise<void> {
    this.cut();
    closeQuietly(this.#listener);
    await this.#accepting;
    await Promise.all(this.#pipes);
  }

  async #accept(): Promise<void> {
    try {
      for await (const client of this.#listener) {
        if (this.#held) {
          this.refused++;
          closeQuietly(client);
          continue;
        }
        const pipe = this.#pipe(client);
        this.#pipes.add(pipe);
        pipe.finally(() => this.#pipes.delete(pipe));
      }
    } catch {
      // the listener was closed
    }
  }

  async #pipe(client: Deno.Conn): Promise<void> {
    let server: Deno.Conn;
    try {
      server = await Deno.connect({ hostname: "127.0.0.1", port: this.target });
    } catch {
      closeQuietly(client);
      return;
    }
    if (this.#held) {
      closeQuietly(client);
      closeQuietly(server);
      return;
    }
    this.#open.add(client);
    this.#open.add(server);
    const stalled = () => this.#stalled;
    await Promise.race([pump(client, server, stalled), pump(server, client, stalled)]);
    for (const conn of [client, server]) {
      if (this.#open.delete(conn)) closeQuietly(conn);
    }
  }
}

/** Copies `from` to `to` until either ends; what it reads while `stalled()` is dropped. */
async function pump(from: Deno.Conn, to: Deno.Conn, stalled: () => boolean): Promise<void> {
  const buffer = new Uint8Array(64 * 1024);
  try {
    for (;;) {
      const n = await from.read(buffer);
      if (n === null) return;
      if (stalled()) continue;
      for (let done = 0; done < n;) done += await to.write(buffer.subarray(done, n));
    }
  } catch {
    // closed under us (cut), or reset (the server died)
  }
}

function closeQuietly(closer: { close(): void }): void {
  try {
    closer.close();
  } catch {
    // already closed
  }
}
