/**
 * The part of amqplib (an untyped npm package) that the cluster backbone and the
 * stream-backed event store use, typed.
 *
 * Both speak AMQP 0-9-1 rather than STOMP: the backbone binds one queue to many
 * routing keys and unbinds them as subscriptions come and go, which STOMP cannot
 * express (a STOMP subscription to an exchange makes a queue of its own).
 *
 * @module
 */

import amqplibModule from "amqplib";
import type { Buffer } from "node:buffer";

/** A delivered message. */
export interface AmqpDelivery {
  /** The body. */
  content: Uint8Array;
  /** Where it was published to. */
  fields: { exchange: string; routingKey: string };
  /** Its headers (a stream's `x-stream-offset` among them) and the publisher's `appId`. */
  properties: { headers?: Record<string, unknown>; appId?: string };
}

/** An amqplib channel (the subset used here). */
export interface AmqpChannel {
  /** Declares an exchange (the same again is fine; other settings close the channel). */
  assertExchange(
    name: string,
    type: "topic" | "fanout",
    options?: { durable?: boolean; autoDelete?: boolean },
  ): Promise<unknown>;
  /** Declares a queue (the same again is fine; other settings close the channel). */
  assertQueue(
    name: string,
    options?: {
      durable?: boolean;
      exclusive?: boolean;
      autoDelete?: boolean;
      arguments?: Record<string, unknown>;
    },
  ): Promise<{ queue: string }>;
  /** Routes what `exchange` gets under `key` to `queue`. */
  bindQueue(queue: string, exchange: string, key: string): Promise<unknown>;
  /** Removes that binding. */
  unbindQueue(queue: string, exchange: string, key: string): Promise<unknown>;
  /** Whether a queue exists: rejects (and closes the channel) when it does not. */
  checkQueue(name: string): Promise<{ queue: string; messageCount: number }>;
  /** Starts a consumer; `null` is delivered when the broker cancels it. */
  consume(
    queue: string,
    onMessage: (msg: AmqpDelivery | null) => void,
    options?: { noAck?: boolean; exclusive?: boolean; arguments?: Record<string, unknown> },
  ): Promise<{ consumerTag: string }>;
  /** Limits unacknowledged deliveries (streams require it). */
  prefetch(count: number): Promise<unknown>;
  /** Acknowledges `msg`, and with `allUpTo` every earlier one. */
  ack(msg: AmqpDelivery, allUpTo?: boolean): void;
  /** `content` must be a Buffer. Returns false when its buffer is full. */
  sendToQueue(queue: string, content: Buffer): boolean;
  /** `content` must be a Buffer: amqplib refuses a plain Uint8Array. Returns false when its buffer is full. */
  publish(exchange: string, key: string, content: Buffer, options?: { appId?: string }): boolean;
  /** Closes the channel. */
  close(): Promise<void>;
  /** Listens to `error`, `close`, `drain`. */
  on(event: string, listener: (...args: unknown[]) => void): void;
  /** Listens once. */
  once(event: string, listener: (...args: unknown[]) => void): void;
}

/** A channel in confirm mode. */
export interface AmqpConfirmChannel extends AmqpChannel {
  /**
   * Sends `content` to `queue`; `confirmed` is called once the broker confirmed it
   * (with null), or with an error when it refused it or the channel closed first.
   */
  sendToQueue(
    queue: string,
    content: Buffer,
    options?: Record<string, unknown>,
    confirmed?: (err: unknown) => void,
  ): boolean;
  /** Publishes `content` to `exchange` under `key`; `confirmed` as for {@link sendToQueue}. */
  publish(
    exchange: string,
    key: string,
    content: Buffer,
    options?: { appId?: string },
    confirmed?: (err: unknown) => void,
  ): boolean;
  /** Resolves once every message published so far is confirmed; rejects if one was refused or lost. */
  waitForConfirms(): Promise<void>;
}

/**
 * Watches what is sent on a confirm channel for losses, so that a loss is told
 * once even when it happened before anyone waited (a connection that went down
 * between a send and the wait). Pass {@link ConfirmWatch.confirmed} with each send.
 */
export class ConfirmWatch {
  #lost = false;

  /** The confirmation callback for every send (one function, not one per message). */
  readonly confirmed = (err: unknown): void => {
    if (err !== null) this.#lost = true;
  };

  /**
   * Resolves once everything sent on `ch` is confirmed; rejects if something was
   * refused or went down unconfirmed since the last rejection. With no channel
   * (disconnected) it resolves, unless such a loss is still untold.
   * @param what what was lost, for the rejection's message
   */
  flushed(ch: AmqpConfirmChannel | null, what: string): Promise<void> {
    if (this.#lost) {
      this.#lost = false;
      return Promise.reject(new Error(`${what} were lost with the connection`));
    }
    if (ch === null) return Promise.resolve();
    return ch.waitForConfirms().catch((e) => {
      this.#lost = false; // this rejection is the news of the loss
      throw e;
    });
  }
}

/** An amqplib connection (the subset used here). */
export interface AmqpConnection {
  /** A new channel. */
  createChannel(): Promise<AmqpChannel>;
  /** A new channel in confirm mode. */
  createConfirmChannel(): Promise<AmqpConfirmChannel>;
  /** Closes the connection and its channels. */
  close(): Promise<void>;
  /** Listens to `error` and `close`. */
  on(event: string, listener: (...args: unknown[]) => void): void;
}

const amqplib = amqplibModule as {
  connect(url: string, socketOptions?: { noDelay?: boolean; timeout?: number }): Promise<AmqpConnection>;
};

/**
 * Opens an AMQP connection. `noDelay`: Nagle would hold back the small frames of
 * heartbeats and single calls by tens of milliseconds.
 */
export function amqpConnect(url: string): Promise<AmqpConnection> {
  return amqplib.connect(url, { noDelay: true, timeout: 10_000 });
}

/** An AMQP address as it may be logged: no password. */
export function displayAmqpUrl(url: string): string {
  try {
    const u = new URL(url);
    u.password = "";
    u.search = "";
    return u.toString().replace(/:@/, "@");
  } catch {
    return "(an unparsable URL)";
  }
}
