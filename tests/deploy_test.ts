/**
 * The deployment snippets in deploy/ (shown in the README) are checked, not just
 * shown: the systemd unit's command line, with its exact permission flags, starts
 * a server that serves and drains on SIGTERM; the headers the nginx snippet sets
 * carry a WebSocket upgrade through, and with `--trust-proxy` the client's address
 * from X-Forwarded-For is the one the server logs.
 *
 * @module
 */

import assert from "node:assert/strict";
import { createLogger } from "../src/log.ts";
import { pushApp } from "../push.ts";
import { startTestServer, waitUntil, within } from "./helpers.ts";
import {
  clusterTest,
  deleteClusterLeftovers,
  healthOnNewConnection,
  uniqueCluster,
} from "./cluster_nodes.ts";
import { freePort } from "./rabbitmq_node.ts";
import { pollUntil } from "./rabbitmq.ts";

const ROOT = new URL("../", import.meta.url).pathname.replace(/\/$/, "");
const UNIT = Deno.readTextFileSync(`${ROOT}/deploy/tuerca@.service`);
const NODE_UNIT = Deno.readTextFileSync(`${ROOT}/deploy/tuerca-node@.service`);
const NGINX = Deno.readTextFileSync(`${ROOT}/deploy/nginx.conf`);

/**
 * A unit's ExecStart as arguments, with the installation's paths replaced by this
 * checkout's, the app named, and port 8080 replaced by `port`.
 */
function execStart(configDir: string, unit = UNIT, port = 0): string[] {
  const line = unit.split("\n").find((l) => l.startsWith("ExecStart="));
  assert.ok(line, "the unit has an ExecStart");
  return line.slice("ExecStart=".length).split(/\s+/).slice(1).map((arg) =>
    arg.replaceAll("/opt/tuerca", ROOT).replaceAll("/etc/tuerca", configDir).replace("%i", "push")
      .replace("${APP}", "push")
  ).map((arg) => arg === "8080" ? String(port) : arg);
}

Deno.test("the systemd unit's command line, with its permission flags, serves and drains on SIGTERM", async () => {
  const configDir = await Deno.makeTempDir();
  try {
    await Deno.copyFile(`${ROOT}/tuerca.example.json`, `${configDir}/tuerca.json`);
    const args = execStart(configDir);
    assert.ok(!args.includes("--allow-all") && !args.includes("-A"), "no --allow-all");
    const child = new Deno.Command(Deno.execPath(), {
      args: [...args, "--no-bridge"],
      cwd: ROOT,
      env: { TUERCA_CONFIG: `${configDir}/tuerca.json`, LOG_FORMAT: "json" },
      clearEnv: false,
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const out = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
    const errText = new Response(child.stderr).text();
    let stdout = "";
    try {
      await within(
        (async () => {
          while (!/open (http:\/\/\S+\/)/.test(stdout)) {
            const { value, done } = await out.read();
            if (done) throw new Error(`the server exited: ${stdout}`);
            stdout += value;
          }
        })(),
        "the start-up line",
        20_000,
      );
      const url = /open (http:\/\/\S+\/)/.exec(stdout)![1];
      const health = await within(fetch(`${url}healthz`), "GET /healthz");
      assert.equal(health.status, 200);
      assert.equal((await health.json()).status, "ok");
      const page = await within(fetch(url), "GET /");
      assert.equal(page.status, 200);
      await page.body?.cancel();
    } finally {
      child.kill("SIGTERM");
    }
    const status = await within(child.status, "the server to stop on SIGTERM", 15_000);
    const stderr = await errText;
    assert.equal(status.code, 0, `exit code: ${stderr}`);
    assert.ok(
      !/NotCapable|PermissionDenied|Requires .* access/.test(stderr),
      `no permission errors: ${stderr}`,
    );
    const lines = stderr.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
    assert.ok(lines.some((l) => l.msg === "stopped"), `a JSON 'stopped' line: ${stderr}`);
    await out.cancel().catch(() => {});
  } finally {
    await Deno.remove(configDir, { recursive: true });
  }
});

Deno.test("the headers the nginx snippet sets carry a WebSocket upgrade; behind it the client's address is X-Forwarded-For's", async () => {
  const headers = [...NGINX.matchAll(/proxy_set_header\s+(\S+)\s+([^;]+);/g)].map(([, name]) =>
    name.toLowerCase()
  );
  assert.deepEqual(
    headers.sort(),
    ["connection", "host", "upgrade", "x-forwarded-for", "x-forwarded-proto"].sort(),
  );
  assert.match(NGINX, /proxy_http_version 1\.1;/, "WebSocket needs HTTP/1.1 upstream");

  const lines: string[] = [];
  const log = createLogger({ format: "json", write: (l) => lines.push(l) });
  const server = await startTestServer(pushApp, { trustedProxies: ["127.0.0.1"], log });
  try {
    // What nginx sends upstream for a browser at 203.0.113.9 on https://push.example.com.
    const conn = await Deno.connect({ hostname: "127.0.0.1", port: server.port });
    const request = [
      "GET /ws HTTP/1.1",
      "Host: push.example.com",
      "Upgrade: websocket",
      "Connection: upgrade",
      "X-Forwarded-For: 203.0.113.9",
      "X-Forwarded-Proto: https",
      "Origin: https://push.example.com",
      "Sec-WebSocket-Version: 13",
      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==",
      "Sec-WebSocket-Protocol: wamp.2.json",
      "",
      "",
    ].join("\r\n");
    await conn.write(new TextEncoder().encode(request));
    const buf = new Uint8Array(1024);
    const n = await within(conn.read(buf), "the upgrade answer");
    const answer = new TextDecoder().decode(buf.subarray(0, n ?? 0));
    assert.match(answer, /^HTTP\/1\.1 101/, answer);
    assert.match(answer, /sec-websocket-protocol: wamp\.2\.json/i);
    // HELLO as a masked text frame, so the session opens and is logged.
    const hello = new TextEncoder().encode('[1,"realm1",{"roles":{"subscriber":{}}}]');
    const mask = [1, 2, 3, 4];
    const frame = new Uint8Array(6 + hello.length);
    frame.set([0x81, 0x80 | hello.length, ...mask]);
    hello.forEach((b, i) => frame[6 + i] = b ^ mask[i % 4]);
    await conn.write(frame);
    await waitUntil(
      () => lines.some((l) => JSON.parse(l).msg === "session opened"),
      "the session's open line",
    );
    const opened = lines.map((l) => JSON.parse(l)).find((l) => l.msg === "session opened");
    assert.equal(opened.remote, "203.0.113.9", "the client's address, not the proxy's");
    conn.close();
  } finally {
    await server.close();
  }
});

clusterTest(
  "the cluster node unit's command line: two processes on one port (--reuse-port) act as one cluster and drain on SIGTERM",
  async () => {
    const configDir = await Deno.makeTempDir();
    const cluster = uniqueCluster("unit");
    const port = freePort();
    const children: Deno.ChildProcess[] = [];
    const stderrs: Promise<string>[] = [];
    try {
      await Deno.copyFile(`${ROOT}/tuerca.example.json`, `${configDir}/tuerca.json`);
      const args = execStart(configDir, NODE_UNIT, port);
      assert.ok(!args.includes("--allow-all") && !args.includes("-A"), "no --allow-all");
      for (let i = 0; i < 2; i++) {
        const child = new Deno.Command(Deno.execPath(), {
          args: [...args, "--no-bridge"],
          cwd: ROOT,
          // What /etc/tuerca/cluster.env gives the unit.
          env: { TUERCA_CONFIG: `${configDir}/tuerca.json`, LOG_FORMAT: "json", CLUSTER: cluster },
          stdout: "null",
          stderr: "piped",
        }).spawn();
        children.push(child);
        stderrs.push(new Response(child.stderr).text());
      }
      // Each process answers on the one port, and hears of the other.
      const seen = new Map<number, string[]>();
      const together = await pollUntil(async () => {
        try {
          const h = await healthOnNewConnection(port);
          seen.set(h.pid, h.cluster.nodes);
        } catch {
          // not listening yet
        }
        return seen.size === 2 && [...seen.values()].every((nodes) => nodes.length === 1);
      }, 20_000);
      assert.ok(together, `both processes on port ${port} in one cluster: ${JSON.stringify([...seen])}`);
      assert.deepEqual([...seen.keys()].sort(), children.map((c) => c.pid).sort());
    } finally {
      for (const child of children) child.kill("SIGTERM");
      const statuses = await Promise.all(
        children.map((c) => within(c.status, "a node to stop on SIGTERM", 15_000)),
      );
      const texts = await Promise.all(stderrs);
      await deleteClusterLeftovers(cluster).catch(() => {});
      await Deno.remove(configDir, { recursive: true });
      statuses.forEach((status, i) => assert.equal(status.code, 0, `exit code: ${texts[i]}`));
      for (const text of texts) {
        assert.ok(
          !/NotCapable|PermissionDenied|Requires .* access/.test(text),
          `no permission errors: ${text}`,
        );
        const lines = text.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
        assert.ok(lines.some((l) => l.msg === "cluster: connected"), `a 'cluster: connected' line: ${text}`);
      }
    }
  },
);
