/**
 * Builds a one-connection @stomp/stompjs client for a {@link StompTarget}: raw TCP
 * through {@link TcpStompSocket}, or Web-STOMP through the native WebSocket.
 * Automatic reconnection is off; callers that want it make a new client per attempt.
 *
 * @module
 */

import { Client, type StompConfig } from "@stomp/stompjs";
import type { StompTarget } from "./stomp_url.ts";
import { TcpStompSocket } from "./tcp_socket.ts";

// Aliases, not re-exports: a re-export drags stompjs's own undocumented types into `deno doc --lint`.
/** The @stomp/stompjs `Client` that {@link stompClient} returns. */
export type StompClient = Client;
/** The @stomp/stompjs `StompConfig`: callbacks, heart-beats and other client settings. */
export type StompClientConfig = StompConfig;

/** STOMP versions offered over WebSocket, newest first. */
const WS_SUBPROTOCOLS = ["v12.stomp", "v11.stomp", "v10.stomp"];

/** A client for `target`; `config` adds callbacks and heart-beats. Call `activate()` to connect. */
export function stompClient(target: StompTarget, config: StompClientConfig = {}): StompClient {
  return new Client({
    webSocketFactory: () =>
      target.kind === "tcp"
        ? new TcpStompSocket({ hostname: target.hostname, port: target.port, tls: target.tls })
        : new WebSocket(target.endpoint, WS_SUBPROTOCOLS),
    connectHeaders: { login: target.login, passcode: target.passcode, host: target.vhost },
    reconnectDelay: 0,
    connectionTimeout: 10_000,
    debug: () => {},
    // Otherwise stompjs serializes every frame, in and out, into a debug string nobody reads.
    logRawCommunication: true,
    ...config,
  });
}
