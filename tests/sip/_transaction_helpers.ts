// Test helpers shared by the transaction, dialog and session tests: a fake clock wrapped as a
// Clock, messages built by parsing text, and a TransactionLayer harness that records
// everything it sends and reports.
import { assert, FakeTimers } from "../test_deps.ts";
import type { Clock } from "../../sip/clock.ts";
import { parseMessage } from "../../sip/parser.ts";
import { createResponse } from "../../sip/builders.ts";
import {
  type IncomingRequestInfo,
  type Transaction,
  TransactionLayer,
  type TransactionLayerOptions,
  type TransactionTimeout,
} from "../../sip/transaction_layer.ts";
import type { ClientTransaction } from "../../sip/transaction_client.ts";
import type { ServerTransaction } from "../../sip/transaction_server.ts";
import type { SipMessage, SipRequest, SipResponse } from "../../sip/types.ts";

export interface FakeClock {
  clock: Clock;
  tick(ms: number): void;
  countTimers(): number;
  now(): number;
}

export function fakeClock(): FakeClock {
  const fake = FakeTimers.createClock(0);
  const clock: Clock = {
    now: () => fake.now,
    setTimeout: (fn, ms) => fake.setTimeout(fn, ms),
    clearTimeout: (id) => fake.clearTimeout(id as ReturnType<typeof fake.setTimeout>),
  };
  return {
    clock,
    tick: (ms) => {
      fake.tick(ms);
    },
    countTimers: () => fake.countTimers(),
    now: () => fake.now,
  };
}

export interface RequestSpec {
  method?: string;
  uri?: string;
  branch?: string;
  via?: string;
  callId?: string;
  fromTag?: string;
  toTag?: string | undefined;
  cseq?: number;
  cseqMethod?: string;
  contact?: string;
  recordRoute?: string[];
  route?: string[];
  body?: string;
  headers?: string[];
  maxForwards?: number;
}

export function request(spec: RequestSpec = {}): SipRequest {
  const method = spec.method ?? "INVITE";
  const lines = [
    `${method} ${spec.uri ?? "sip:bob@example.com"} SIP/2.0`,
    `Via: ${spec.via ?? "SIP/2.0/UDP pc33.example.com:5060"};branch=${
      spec.branch ?? "z9hG4bK776asdhds"
    }`,
    `Max-Forwards: ${spec.maxForwards ?? 70}`,
    `From: Alice <sip:alice@example.com>;tag=${spec.fromTag ?? "1928301774"}`,
    `To: Bob <sip:bob@example.com>${spec.toTag === undefined ? "" : `;tag=${spec.toTag}`}`,
    `Call-ID: ${spec.callId ?? "a84b4c76e66710@pc33.example.com"}`,
    `CSeq: ${spec.cseq ?? 314159} ${spec.cseqMethod ?? method}`,
  ];
  if (spec.contact !== undefined) lines.push(`Contact: ${spec.contact}`);
  for (const r of spec.recordRoute ?? []) lines.push(`Record-Route: ${r}`);
  for (const r of spec.route ?? []) lines.push(`Route: ${r}`);
  for (const h of spec.headers ?? []) lines.push(h);
  const body = spec.body ?? "";
  if (body !== "") lines.push("Content-Type: application/sdp");
  lines.push(`Content-Length: ${new TextEncoder().encode(body).length}`);
  const msg = parseMessage(lines.join("\r\n") + "\r\n\r\n" + body);
  if (msg.kind !== "request") throw new Error("not a request");
  return msg;
}

export interface ResponseSpec {
  toTag?: string | undefined;
  contact?: string;
  recordRoute?: string[];
  body?: string;
  headers?: string[];
  reason?: string;
}

/** A response to `req` as the peer would send it (re-parsed from text, like the wire). */
export function response(req: SipRequest, status: number, spec: ResponseSpec = {}): SipResponse {
  const res = status === 100 || (req.to.tag === undefined && spec.toTag === undefined)
    ? createResponse(req, status, spec.reason)
    : createResponse(req, status, spec.reason, { toTag: spec.toTag ?? req.to.tag ?? "x" });
  if (spec.contact !== undefined) res.setHeader("Contact", spec.contact);
  for (const r of spec.recordRoute ?? []) res.appendHeader("Record-Route", r);
  for (const h of spec.headers ?? []) {
    const i = h.indexOf(":");
    res.appendHeader(h.slice(0, i), h.slice(i + 1).trim());
  }
  if (spec.body !== undefined) {
    res.setHeader("Content-Type", "application/sdp");
    res.body = new TextEncoder().encode(spec.body);
  }
  const parsed = parseMessage(res.toString());
  if (parsed.kind !== "response") throw new Error("not a response");
  return parsed;
}

/** Re-parse a message as it would look after crossing the wire. */
export function wire<T extends SipMessage>(msg: T): T {
  return parseMessage(msg.toString()) as T;
}

export interface Harness {
  fc: FakeClock;
  layer: TransactionLayer<string>;
  sent: SipMessage[];
  requests: Array<
    {
      req: SipRequest;
      tx: ServerTransaction<string> | undefined;
      info: IncomingRequestInfo<string>;
    }
  >;
  responses: Array<{ res: SipResponse; tx: ClientTransaction<string> | undefined }>;
  timeouts: Array<{ tx: Transaction<string>; timer: TransactionTimeout }>;
  transportErrors: Transaction<string>[];
  cancels: SipRequest[];
  terminated: Transaction<string>[];
  errors: unknown[];
}

export function harness(
  options: Partial<TransactionLayerOptions<string>> & { failSend?: () => boolean } = {},
): Harness {
  const fc = fakeClock();
  const h: Harness = {
    fc,
    layer: undefined as unknown as TransactionLayer<string>,
    sent: [],
    requests: [],
    responses: [],
    timeouts: [],
    transportErrors: [],
    cancels: [],
    terminated: [],
    errors: [],
  };
  const { failSend, ...rest } = options;
  h.layer = new TransactionLayer<string>({
    clock: fc.clock,
    timers: { t1: 500, t2: 4000, t4: 5000 },
    send: (msg) => {
      if (failSend?.() === true) throw new Error("send failed");
      h.sent.push(msg);
    },
    onRequest: (req, tx, info) => h.requests.push({ req, tx, info }),
    onResponse: (res, tx) => h.responses.push({ res, tx }),
    onTimeout: (tx, timer) => h.timeouts.push({ tx, timer }),
    onTransportError: (tx) => h.transportErrors.push(tx),
    onTerminated: (tx) => h.terminated.push(tx),
    onCallbackError: (e) => h.errors.push(e),
    ...rest,
  });
  return h;
}

/** After every scenario: no transaction, no layer timer, no fake timer left. */
export function assertClean(h: Harness): void {
  assert.deepEqual(h.errors, [], "a TU callback threw");
  assert.equal(h.layer.transactionCount, 0, "transactions left");
  assert.equal(h.layer.timerCount, 0, "layer timers left");
  assert.equal(h.layer.mergedIndexSize, 0, "merged index entries left");
  assert.equal(h.fc.countTimers(), 0, "fake timers left");
}

/** Times (ms since start) at which messages matching `pred` were sent; recorded by
 * wrapping the harness send log with the clock. */
export function sentTimes(h: Harness, times: number[], pred: (m: SipMessage) => boolean): void {
  const push = h.sent.push.bind(h.sent);
  h.sent.push = (...items: SipMessage[]) => {
    for (const m of items) if (pred(m)) times.push(h.fc.now());
    return push(...items);
  };
}
