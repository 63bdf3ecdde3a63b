/**
 * The `endpoint` section, with Crossbar.io's keys: where the server listens and,
 * with `tls`, the certificate it serves HTTPS and `wss://` with (`null`: no TLS).
 * File names are relative to the configuration file.
 *
 * @module
 */

import { parseNetwork } from "../net/address.ts";
import type { ConfigNode } from "./node.ts";

/** Where and how the server listens; unset fields keep their defaults. */
export interface EndpointConfig {
  /** TCP port. */
  port?: number;
  /** The interface (address) to listen on. */
  interface?: string;
  /** TLS: PEM files of the certificate chain and its private key. */
  tls?: { certificate: string; key: string };
  /**
   * Reverse proxies (addresses or CIDR networks) whose `X-Forwarded-For` names
   * the client; from anyone else the header is ignored.
   */
  trustedProxies?: string[];
}

/** Reads `endpoint`; `resolve` turns a file name into a path relative to the configuration file. */
export function parseEndpoint(node: ConfigNode, resolve: (file: string) => string): EndpointConfig {
  if (node.absent) return {};
  node.object(["type", "port", "interface", "tls", "trusted_proxies"], "the endpoint");
  node.key("type").oneOf(["tcp"], "tcp");
  const endpoint: EndpointConfig = {};
  if (!node.key("port").absent) endpoint.port = node.key("port").integer(0, 65535);
  if (!node.key("interface").absent) endpoint.interface = node.key("interface").name();
  const proxies = node.key("trusted_proxies");
  if (!proxies.absent) {
    endpoint.trustedProxies = proxies.items("a list of proxy addresses").map((item) => {
      const text = item.name();
      if (parseNetwork(text) === null) {
        item.fail(
          `${JSON.stringify(text)} is not an IP address or CIDR network (such as 127.0.0.1 or 10.0.0.0/8)`,
        );
      }
      return text;
    });
  }
  const tls = node.key("tls");
  if (!tls.absent && tls.value !== null) {
    tls.object(["certificate", "key"], "the TLS files");
    endpoint.tls = {
      certificate: resolve(tls.key("certificate").name()),
      key: resolve(tls.key("key").name()),
    };
  }
  return endpoint;
}
