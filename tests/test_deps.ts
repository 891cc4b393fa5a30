// Pinned external packages used only by tests and benchmarks (never by library code).
export { default as fc } from "npm:fast-check@4.10.2";
export { default as FakeTimers } from "npm:@sinonjs/fake-timers@15.5.0";
export { default as assert } from "node:assert/strict";
// Bench-only: the parsers bench/parser_bench.ts compares against.
export { default as kirmSip } from "npm:sip@0.0.6";
export { default as JsSipParser } from "npm:jssip@3.13.8/lib/Parser.js";
// Interop: JsSIP as an independent SIP-over-WebSocket client (tests/interop/jssip_test.ts).
export { default as JsSIP } from "npm:jssip@3.13.8";
// Log capture in tests: the library logs through logtape; tests configure an in-memory sink.
export { configure as configureLogs, reset as resetLogs } from "npm:@logtape/logtape@2.4.2";
export type { LogRecord } from "npm:@logtape/logtape@2.4.2";
