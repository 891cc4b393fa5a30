import { assert } from "../test_deps.ts";
import { MemoryNetwork, MemoryTransport } from "../../transport/memory.ts";
import type { InboundMessage } from "../../transport/types.ts";
import { makeRequest, makeResponse } from "./_sip_helpers.ts";

Deno.test("memory transport: UDP request gets received/rport (RFC 3581) and the response routes back", async () => {
  const net = new MemoryNetwork();
  await using a = new MemoryTransport(net);
  await using b = new MemoryTransport(net);
  const [la] = await a.listen("sip:10.0.0.1:0;transport=udp");
  await b.listen("sip:10.0.0.2:5060;transport=udp");
  const atB: InboundMessage[] = [];
  const atA: InboundMessage[] = [];
  b.onMessage((m) => atB.push(m));
  a.onMessage((m) => atA.push(m));
  const req = makeRequest("OPTIONS", "sip:bob@10.0.0.2");
  const used = await a.sendRequest(req, { transport: "udp", host: "10.0.0.2", port: 5060 });
  assert.deepEqual(used, { transport: "udp", host: "10.0.0.2", port: 5060 });
  await net.settle();
  assert.equal(atB.length, 1);
  const via = atB[0]!.message.vias[0]!;
  assert.equal(via.host, "10.0.0.1");
  assert.equal(via.port, la!.port);
  // The sent-by equals the source, so only rport gets a value; RFC 3581 §4 adds received too.
  assert.equal(via.rport, la!.port);
  assert.equal(via.received, "10.0.0.1");
  const inbound = atB[0]!;
  if (inbound.message.kind !== "request") throw new Error("expected a request");
  await b.sendResponse(makeResponse(inbound.message, 200), inbound);
  await net.settle();
  assert.equal(atA.length, 1);
  assert.equal(atA[0]!.message.kind, "response");
});

Deno.test("memory transport: stream flows are reused and responses use the flow", async () => {
  const net = new MemoryNetwork();
  await using a = new MemoryTransport(net);
  await using b = new MemoryTransport(net);
  await a.listen("sip:10.0.0.1:0");
  const [, tcpB] = await b.listen("sip:10.0.0.2:0");
  const atB: InboundMessage[] = [];
  b.onMessage((m) => atB.push(m));
  const t1 = await a.sendRequest(makeRequest("MESSAGE", "sip:b@10.0.0.2", { body: "hi" }), {
    transport: "tcp",
    host: "10.0.0.2",
    port: tcpB!.port,
  });
  const t2 = await a.sendRequest(makeRequest("MESSAGE", "sip:b@10.0.0.2", { body: "again" }), {
    transport: "tcp",
    host: "10.0.0.2",
    port: tcpB!.port,
  });
  assert.ok(t1.flowId);
  assert.equal(t1.flowId, t2.flowId, "one connection per (transport, host, port)");
  await net.settle();
  assert.equal(atB.length, 2);
  assert.equal(atB[0]!.flowId, t1.flowId);
  assert.equal(atB[1]!.message.bodyText(), "again");
});

Deno.test("memory transport: RFC 3261 §18.1.1 large UDP request goes over TCP; the filter drops packets", async () => {
  let drop = false;
  const net = new MemoryNetwork({ filter: () => !drop });
  await using a = new MemoryTransport(net, { udpMaxSize: 500 });
  await using b = new MemoryTransport(net);
  await a.listen("sip:10.0.0.1:0");
  const [udpB] = await b.listen("sip:10.0.0.2:0");
  const atB: InboundMessage[] = [];
  b.onMessage((m) => atB.push(m));
  const used = await a.sendRequest(
    makeRequest("MESSAGE", "sip:b@10.0.0.2", { body: "x".repeat(600) }),
    {
      transport: "udp",
      host: "10.0.0.2",
      port: udpB!.port,
    },
  );
  assert.equal(used.transport, "tcp");
  await net.settle();
  assert.equal(atB[0]!.transport, "tcp");
  assert.equal(atB[0]!.message.vias[0]!.transport, "TCP");
  drop = true;
  await a.sendRequest(makeRequest("OPTIONS", "sip:b@10.0.0.2"), {
    transport: "udp",
    host: "10.0.0.2",
    port: udpB!.port,
  });
  await net.settle();
  assert.equal(atB.length, 1);
  assert.equal(net.dropped, 1);
});

Deno.test("memory transport: address in use, closed transport and refused connections are errors", async () => {
  const net = new MemoryNetwork();
  await using a = new MemoryTransport(net);
  const b = new MemoryTransport(net);
  await a.listen("sip:10.0.0.1:5060");
  await assert.rejects(() => b.listen("sip:10.0.0.1:5060;transport=udp"), /already in use/);
  await assert.rejects(
    () =>
      a.sendRequest(makeRequest("OPTIONS", "sip:x@10.0.0.9"), {
        transport: "tcp",
        host: "10.0.0.9",
        port: 5060,
      }),
    /refused/,
  );
  await b.close();
  await assert.rejects(() => b.listen("sip:10.0.0.3:0"), /closed/);
});
