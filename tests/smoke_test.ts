import assert from "node:assert/strict";
import { connectV2, rawV1, withServer, within } from "./helpers.ts";

Deno.test("smoke: v2 pub/sub, RPC, v1 interop", async () => {
  await withServer(async (server) => {
    const a = await connectV2(server.wsUrl);
    const b = await connectV2(server.wsUrl);
    const got = Promise.withResolvers<unknown[]>();
    await b.session.subscribe("push.tutorial.messages", (args: unknown[]) => got.resolve(args));
    await a.session.publish("push.tutorial.messages", [{ body: "hola" }], {}, { acknowledge: true });
    assert.deepEqual(await within(got.promise, "event"), [{ body: "hola" }]);
    assert.equal(await a.session.call("push.tutorial.areaCuadrado", ["4", "4"]), 16);
    const v1 = await rawV1(server.wsUrl);
    v1.client.send([5, "push.tutorial.messages"]);
    v1.client.send([2, "c1", "push.tutorial.areaCuadrado", 3, 5]);
    assert.deepEqual(await v1.client.next(), [3, "c1", 15]);
    await a.session.publish("push.tutorial.messages", ["x"], {}, { acknowledge: true });
    assert.deepEqual(await v1.client.next(), [8, "push.tutorial.messages", "x"]);
    await v1.client.close();
    await a.close();
    await b.close();
  });
});
