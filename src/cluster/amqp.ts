/**
 * The part of amqplib (an untyped npm package) the backbone uses, typed, and the
 * AMQP address the backbone derives from the bridge's STOMP address.
 *
 * The backbone speaks AMQP 0-9-1 rather than STOMP: it must bind one queue to many
 * routing keys and unbind them as subscriptions come and go, which STOMP cannot
 * express (a STOMP subscription to an exchange makes a queue of its own), and it
 * measured faster (see bench/analysis.md).
 *
 * @module
 */

import amqplibModule from "amqplib";
import type { Buffer } from "node:buffer";
import { parseStompUrl } from "../bridge/stomp_url.ts";

/** A delivered message. */
export interface AmqpDelivery {
  content: Uint8Array;
  fields: { exchange: string; routingKey: string };
}

/** An amqplib channel (the subset used here). */
export interface AmqpChannel {
  assertExchange(name: string, type: "topic" | "fanout", options?: { durable?: boolean }): Promise<unknown>;
  assertQueue(
    name: string,
    options?: {
      durable?: boolean;
      exclusive?: boolean;
      autoDelete?: boolean;
      arguments?: Record<string, unknown>;
    },
  ): Promise<{ queue: string }>;
  bindQueue(queue: string, exchange: string, key: string): Promise<unknown>;
  unbindQueue(queue: string, exchange: string, key: string): Promise<unknown>;
  consume(
    queue: string,
    onMessage: (msg: AmqpDelivery | null) => void,
    options?: { noAck?: boolean; exclusive?: boolean },
  ): Promise<{ consumerTag: string }>;
  /** `content` must be a Buffer: amqplib refuses a plain Uint8Array. Returns false when its buffer is full. */
  publish(exchange: string, key: string, content: Buffer): boolean;
  close(): Promise<void>;
  on(event: string, listener: (...args: unknown[]) => void): void;
  once(event: string, listener: (...args: unknown[]) => void): void;
}

/** An amqplib connection (the subset used here). */
export interface AmqpConnection {
  createChannel(): Promise<AmqpChannel>;
  close(): Promise<void>;
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

/** The AMQP port of RabbitMQ when a STOMP address names no other (5671 with TLS). */
export const AMQP_PORT = 5672;

/**
 * The AMQP address of the broker a STOMP (or Web-STOMP) address points at: same
 * host, credentials and vhost, on port `port` (5672, or 5671 for `stomp+ssl`/`wss`),
 * with AMQP heartbeats every 10 s so a dead broker is noticed.
 * @throws {TypeError} for an unusable STOMP URL
 */
export function amqpUrlFromStomp(stompUrl: string, port?: number): string {
  const t = parseStompUrl(stompUrl);
  const scheme = t.tls ? "amqps" : "amqp";
  const host = t.hostname.includes(":") ? `[${t.hostname}]` : t.hostname;
  const vhost = encodeURIComponent(t.vhost);
  const credentials = `${encodeURIComponent(t.login)}:${encodeURIComponent(t.passcode)}`;
  return `${scheme}://${credentials}@${host}:${port ?? (t.tls ? 5671 : AMQP_PORT)}/${vhost}?heartbeat=10`;
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
