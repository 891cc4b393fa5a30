// Pinned external packages used only by tests and benchmarks (never by library code).
export { default as fc } from "npm:fast-check@4.10.2";
export { default as FakeTimers } from "npm:@sinonjs/fake-timers@15.5.0";
export { default as assert } from "node:assert/strict";
