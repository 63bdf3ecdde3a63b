/**
 * The real entry points (push.ts, chat.ts) run as subprocesses: the start-up line,
 * the options, the usage errors and an orderly stop on SIGINT.
 */
import assert from "node:assert/strict";
import { type Child, EXIT_MS, START_MS, withChild } from "./child.ts";
import { RawClient, rawV2, within } from "./helpers.ts";

/** The start-up URL: `http://127.0.0.1:<port>/` followed by `path`. */
function urlPattern(path: string): RegExp {
  return new RegExp(`http://127\\.0\\.0\\.1:(\\d+)/${path.replace(/\./g, "\\.")}(?=[\\s)]|$)`);
}

/** Finds the start-up line and returns it with the page URL and port it names. */
async function startLine(child: Child, path = ""): Promise<{ line: string; url: string; port: number }> {
  const m = await child.lineMatching(
    urlPattern(path),
    `the start-up line naming http://127.0.0.1:<port>/${path}`,
  );
  const port = Number(m[1]);
  assert.ok(Number.isInteger(port) && port > 0 && port < 65536, `a real port: ${port}`);
  return { line: m.input!, url: m[0], port };
}

/** After the process ended: exactly one stdout line named the URL, and it was the first line. */
async function assertOneUrlLine(child: Child, line: string, path = ""): Promise<void> {
  const lines = await child.allStdout();
  const re = urlPattern(path);
  assert.deepEqual(lines.filter((l) => re.test(l)), [line], "exactly one line names the URL");
  assert.equal(lines[0], line, "the URL line is the first line");
}

async function assertPageServed(url: string, marker: string): Promise<void> {
  const res = await within(fetch(url), `GET ${url}`);
  const body = await res.text();
  assert.equal(res.status, 200, `GET ${url}`);
  assert.ok(body.includes(marker), `the page at ${url} contains ${marker}`);
}

/** Sends SIGINT and checks the v2 session is told `wamp.close.system_shutdown` and the process exits 0. */
async function interruptWithSession(child: Child, port: number): Promise<RawClient> {
  const { client } = await rawV2(`ws://127.0.0.1:${port}/ws`);
  child.process.kill("SIGINT");
  const goodbye = await client.next("GOODBYE after SIGINT") as unknown[];
  assert.equal(goodbye[0], 6, `expected GOODBYE, got ${JSON.stringify(goodbye)}`);
  assert.equal(goodbye[2], "wamp.close.system_shutdown");
  client.send([6, {}, "wamp.close.goodbye_and_out"]);
  return client;
}

Deno.test("push.ts --port 0 prints exactly one line with http://127.0.0.1:<port>/ and serves the page there", async () => {
  await withChild("push.ts", ["--port", "0"], async (child) => {
    const { url, line } = await startLine(child);
    assert.ok(line.includes("push"), `the line names the app: ${line}`);
    await assertPageServed(url, "push.js");
    const { client } = await rawV2(`${url.replace("http", "ws")}ws`);
    client.send([48, 1, {}, "push.tutorial.areaCuadrado", ["4", "4"]]);
    assert.deepEqual(await client.next("RESULT"), [50, 1, {}, [16]]);
    await client.close();
    child.process.kill("SIGINT");
    const status = await child.status();
    assert.equal(status.code, 0);
    await assertOneUrlLine(child, line);
  });
});

Deno.test("push.ts --no-bridge --port 0 prints the page line and the health and metrics line, nothing else", async () => {
  await withChild("push.ts", ["--no-bridge", "--port", "0"], async (child) => {
    const { url, line } = await startLine(child);
    await assertPageServed(url, "push.js");
    child.process.kill("SIGINT");
    assert.equal((await child.status()).code, 0);
    assert.deepEqual(await child.allStdout(), [
      line,
      `Health at ${url}healthz and ${url}readyz, Prometheus metrics at ${url}metrics`,
    ], "stdout holds the two start-up lines");
  });
});

Deno.test("push.ts --host 127.0.0.1 --port 0 listens on 127.0.0.1", async () => {
  await withChild("push.ts", ["--host", "127.0.0.1", "--port", "0"], async (child) => {
    const { url } = await startLine(child);
    await assertPageServed(url, "push.js");
  });
});

Deno.test("push.ts takes the port from the environment: PORT=0", async () => {
  await withChild("push.ts", [], async (child) => {
    const { url } = await startLine(child);
    await assertPageServed(url, "push.js");
  }, { PORT: "0" });
});

Deno.test("push.ts: --port wins over PORT", async () => {
  await withChild("push.ts", ["--port", "0"], async (child) => {
    const { url } = await startLine(child);
    await assertPageServed(url, "push.js");
  }, { PORT: "not-a-port" });
});

for (
  const [what, args, env] of [
    ["--port abc", ["--port", "abc"], undefined],
    ["--port 70000", ["--port", "70000"], undefined],
    ["--port -1", ["--port=-1"], undefined],
    ["an unknown option", ["--nope"], undefined],
    ["PORT=abc", [], { PORT: "abc" }],
  ] as [string, string[], Record<string, string> | undefined][]
) {
  Deno.test(`push.ts ${what} exits with code 2 and prints the usage on stderr`, async () => {
    await withChild("push.ts", args, async (child) => {
      const status = await child.status(START_MS);
      assert.equal(status.code, 2);
      const stderr = await child.stderr;
      assert.ok(stderr.includes("Usage:"), `usage on stderr: ${stderr}`);
      assert.ok(stderr.includes("--port"), `usage lists --port: ${stderr}`);
      assert.deepEqual(await child.allStdout(), [], "nothing on stdout");
    }, env);
  });
}

Deno.test("push.ts --help exits 0 and prints the usage", async () => {
  for (const flag of ["--help", "-h"]) {
    await withChild("push.ts", [flag], async (child) => {
      const status = await child.status(START_MS);
      assert.equal(status.code, 0, flag);
      const out = (await child.allStdout()).join("\n");
      assert.ok(out.includes("Usage:"), `${flag}: usage on stdout: ${out}`);
      for (const option of ["--port", "--host", "--realm", "--help"]) {
        assert.ok(out.includes(option), `${flag}: usage lists ${option}`);
      }
      assert.equal(await child.stderr, "", `${flag}: nothing on stderr`);
    });
  }
});

Deno.test("push.ts on SIGINT says GOODBYE wamp.close.system_shutdown to v2 sessions and exits 0", async () => {
  await withChild("push.ts", ["--port", "0"], async (child) => {
    const { port } = await startLine(child);
    const client = await interruptWithSession(child, port);
    try {
      await client.closeEvent();
      const status = await child.status();
      assert.equal(status.code, 0);
      assert.equal(status.success, true);
    } finally {
      await client.close();
    }
  });
});

Deno.test("push.ts on SIGINT exits 0 even when a v2 session never answers the GOODBYE", async () => {
  await withChild("push.ts", ["--port", "0"], async (child) => {
    const { port } = await startLine(child);
    const { client } = await rawV2(`ws://127.0.0.1:${port}/ws`);
    try {
      child.process.kill("SIGINT");
      const goodbye = await client.next("GOODBYE after SIGINT") as unknown[];
      assert.deepEqual([goodbye[0], goodbye[2]], [6, "wamp.close.system_shutdown"]);
      // No answer from us: the server gives up after its grace period and closes.
      const closed = await within(client.closed, "the server to close the silent session", EXIT_MS);
      assert.equal(closed.code, 1001);
      const status = await child.status();
      assert.equal(status.code, 0);
    } finally {
      await client.close();
    }
  });
});

Deno.test("chat.ts --port 0 prints one line with a URL ending in /index_chat.html and serves the chat page", async () => {
  await withChild("chat.ts", ["--port", "0"], async (child) => {
    const { url, line } = await startLine(child, "index_chat.html");
    assert.ok(url.endsWith("/index_chat.html"));
    assert.ok(line.includes("chat"), `the line names the app: ${line}`);
    await assertPageServed(url, "chat.js");
    await assertPageServed(url.replace(/index_chat\.html$/, ""), "chat.js");
    child.process.kill("SIGINT");
    assert.equal((await child.status()).code, 0);
    await assertOneUrlLine(child, line, "index_chat.html");
  });
});

Deno.test("chat.ts on SIGINT says GOODBYE to v2 sessions, closes plain clients with 1001, and exits 0", async () => {
  await withChild("chat.ts", ["--port", "0"], async (child) => {
    const { port } = await startLine(child, "index_chat.html");
    const plain = await RawClient.open(`ws://127.0.0.1:${port}/`);
    let client: RawClient | undefined;
    try {
      client = await interruptWithSession(child, port);
      await client.closeEvent();
      const plainClosed = await plain.closeEvent();
      assert.equal(plainClosed.code, 1001);
      const status = await child.status();
      assert.equal(status.code, 0);
    } finally {
      await client?.close();
      await plain.close();
    }
  });
});

Deno.test("--reuse-port: two push.ts processes share one port, and the kernel hands connections to both", async () => {
  const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (probe.addr as Deno.NetAddr).port;
  probe.close();
  const start = () =>
    new Deno.Command(Deno.execPath(), {
      args: ["run", "--unstable-net", "-A", "push.ts", "--no-bridge", "--reuse-port", "--port", String(port)],
      cwd: new URL("..", import.meta.url),
      stdout: "piped",
      stderr: "piped",
    }).spawn();
  const children = [start(), start()];
  try {
    for (const child of children) {
      const reader = child.stdout.pipeThrough(new TextDecoderStream()).getReader();
      let out = "";
      await within(
        (async () => {
          while (!out.includes(`127.0.0.1:${port}/`)) {
            const { value, done } = await reader.read();
            if (done) throw new Error(`a process exited: ${out}`);
            out += value;
          }
        })(),
        "both processes to listen",
        20_000,
      );
      reader.releaseLock();
    }
    // A new TCP connection per request, so each is the kernel's choice of process.
    const pids = new Set<number>();
    for (let i = 0; i < 200 && pids.size < 2; i++) {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port });
      await conn.write(
        new TextEncoder().encode("GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"),
      );
      const text = await new Response(conn.readable).text();
      pids.add(JSON.parse(text.slice(text.indexOf("{"))).pid);
    }
    assert.equal(pids.size, 2, "both processes answered");
    assert.deepEqual([...pids].sort(), children.map((c) => c.pid).sort());
  } finally {
    for (const child of children) {
      child.kill("SIGTERM");
      await child.status;
      await child.stdout.cancel().catch(() => {});
      await child.stderr.cancel().catch(() => {});
    }
  }
});
