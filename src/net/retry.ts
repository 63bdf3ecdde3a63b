/**
 * Retrying a connection with a growing pause: 0.5 s, doubling up to 10 s, back to
 * 0.5 s after a success. Used by the connections that must come back by
 * themselves (the cluster backbone, the history stream).
 *
 * @module
 */

const MIN_MS = 500;
const MAX_MS = 10_000;

/** Runs `attempt` after a pause, again and again, until it succeeds or {@link stop} is called. */
export class Retrier {
  #timer: ReturnType<typeof setTimeout> | undefined;
  #ms = MIN_MS;
  #stopped = false;

  /**
   * A retrier of `attempt`; nothing runs before {@link schedule}.
   * @param attempt tries once; resolves true on success
   */
  constructor(private readonly attempt: () => Promise<boolean>) {}

  /** Schedules the next attempt (one at a time; none once stopped). */
  schedule(): void {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    this.#timer = setTimeout(async () => {
      this.#timer = undefined;
      if (this.#stopped) return;
      if (await this.attempt()) {
        this.#ms = MIN_MS;
      } else {
        this.#ms = Math.min(this.#ms * 2, MAX_MS);
        this.schedule();
      }
    }, this.#ms);
  }

  /** No more attempts. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#timer);
  }
}
