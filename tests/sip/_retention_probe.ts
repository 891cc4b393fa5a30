// Run by retention_test.ts in a child process with --v8-flags=--expose-gc: checks what server
// and client transactions keep reachable after a final response, with WeakRefs and forced
// collections.
// Prints one JSON object: true means "was collected".
import { createResponse } from "../../sip/builders.ts";
import { parseMessage } from "../../sip/parser.ts";
import { TransactionLayer } from "../../sip/transaction_layer.ts";
import type { Clock } from "../../sip/clock.ts";
import type { SipRequest } from "../../sip/types.ts";

const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error("run with --v8-flags=--expose-gc");

/** A collection after the current job, so WeakRefs made in it may be cleared. */
async function collect(): Promise<void> {
  await new Promise((r) => setTimeout(r, 0));
  gc!();
  await new Promise((r) => setTimeout(r, 0));
  gc!();
}

// A stand-in clock: the timers are never run here (the transactions stay where they are).
const clock: Clock = { now: () => 0, setTimeout: () => 0, clearTimeout: () => {} };
let sent = 0;
const requests: SipRequest[] = [];
const layer = new TransactionLayer<string>({
  clock,
  send: () => {
    sent++;
  },
  onRequest: (req) => {
    requests.push(req);
  },
  onResponse: () => {},
});

function request(method: string, branch: string): SipRequest {
  return parseMessage(
    `${method} sip:b@h SIP/2.0\r\nVia: SIP/2.0/UDP h;branch=${branch}\r\n` +
      `From: <sip:a@h>;tag=1\r\nTo: <sip:b@h>\r\nCall-ID: ${branch}\r\nCSeq: 1 ${method}\r\n` +
      "Content-Length: 0\r\n\r\n",
  ) as SipRequest;
}

/** Answer a new server transaction with `status`; watch the response object. */
function answered(method: string, branch: string, status: number) {
  layer.receive(request(method, branch), "peer", false);
  const tx = layer.findServer(requests.at(-1)!)!;
  const res = createResponse(requests.at(-1)!, status, undefined, { toTag: `t-${branch}` });
  tx.respond(res);
  return { tx, res: new WeakRef(res) };
}

/** Send a request through a new client transaction and feed it a `status` response; watch
 * both. */
function sentAndAnswered(method: string, branch: string, status: number) {
  const req = request(method, branch);
  const tx = layer.sendRequest(req, { ctx: "peer" });
  const bytes = createResponse(req, status, undefined, { toTag: `u-${branch}` }).toBytes();
  const res = parseMessage(bytes); // as from the transport
  layer.receive(res, "peer", false);
  return { tx, req: new WeakRef(req), res: new WeakRef(res), retransmit: () => bytes };
}

const completed = answered("MESSAGE", "z9hG4bKm", 200); // Completed (UDP): keeps the bytes
const accepted = answered("INVITE", "z9hG4bKi", 200); // Accepted: keeps nothing
const provisional = answered("INVITE", "z9hG4bKp", 180); // Proceeding: keeps the 180
const clientDone = sentAndAnswered("MESSAGE", "z9hG4bKcm", 200); // Completed: keeps nothing
const clientAccepted = sentAndAnswered("INVITE", "z9hG4bKca", 200); // Accepted: its wire form
const clientRejected = sentAndAnswered("INVITE", "z9hG4bKcr", 486); // Completed: the ACK
const rejectedFinal = parseMessage(clientRejected.retransmit());
requests.length = 0;

await collect();
const before = sent;
layer.receive(request("MESSAGE", "z9hG4bKm"), "peer", false); // a retransmission
Deno.stdout.writeSync(new TextEncoder().encode(JSON.stringify({
  completedResponse: completed.res.deref() === undefined,
  acceptedResponse: accepted.res.deref() === undefined,
  provisionalResponse: provisional.res.deref() === undefined,
  completedResent: sent === before + 1,
  states: [completed.tx.state, accepted.tx.state, provisional.tx.state],
  tags: [completed.tx.lastToTag, accepted.tx.lastToTag, provisional.tx.lastToTag],
  client: {
    states: [clientDone.tx.state, clientAccepted.tx.state, clientRejected.tx.state],
    doneRequest: clientDone.req.deref() === undefined,
    doneResponse: clientDone.res.deref() === undefined,
    acceptedRequest: clientAccepted.req.deref() === undefined,
    acceptedResponse: clientAccepted.res.deref() === undefined,
    acceptedRequestReadable: clientAccepted.tx.request.method === "INVITE" &&
      clientAccepted.tx.request.cseq.method === "INVITE",
    rejectedRequest: clientRejected.req.deref() === undefined,
    rejectedResponse: clientRejected.res.deref() === undefined,
    ackResent: ((): boolean => {
      const n = sent;
      layer.receive(rejectedFinal, "peer", false);
      return sent === n + 1;
    })(),
  },
})));
