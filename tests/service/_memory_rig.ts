// Two or more SIP stacks on an in-memory network under a sinon fake clock: every packet is
// logged with its fake time and start line.
import { FakeTimers } from "../test_deps.ts";
import { createSipStack, type SipStack, type SipStackOptions } from "../../service/sip_stack.ts";
import { type FakeClock, fakeClockOf } from "./_helpers.ts";
import { MemoryNetwork, type MemoryPacket, MemoryTransport } from "../../transport/memory.ts";

function startLine(p: MemoryPacket): string {
  const text = new TextDecoder().decode(p.data);
  return text.slice(0, text.indexOf("\r\n"));
}

/** A fake clock, the packet log, and a factory of stacks on one memory network. */
export interface Rig {
  fake: FakeClock;
  /** Every packet on the network: when, and its start line. */
  log: { at: number; line: string }[];
  mk(name: string, host: string, options?: Partial<SipStackOptions>): Promise<SipStack>;
}

/** A new rig: fake time 0, an empty network. */
export function rig(): Rig {
  const fake = FakeTimers.createClock(0);
  const clock = fakeClockOf(fake);
  const log: { at: number; line: string }[] = [];
  const net = new MemoryNetwork({
    filter: (p) => {
      log.push({ at: fake.now, line: startLine(p) });
      return true;
    },
  });
  return {
    fake,
    log,
    mk: async (name, host, options = {}) =>
      await createSipStack({
        name,
        transport: new MemoryTransport(net, { now: () => fake.now }),
        listen: [`sip:${host}:5060;transport=udp`],
        clock,
        closeTimeout: 0,
        ...options,
      }),
  };
}

/** Advance fake time in steps until `done` or `limitMs` of fake time passed. */
export async function runUntil(
  fake: FakeClock,
  done: () => boolean,
  limitMs: number,
): Promise<void> {
  for (let t = 0; t < limitMs && !done(); t += 250) await fake.tickAsync(250);
}

/** What a UAC request resolves with. */
export type UacResult = Awaited<ReturnType<SipStack["message"]>>;

/** A MESSAGE from `uac` to bob at 10.0.0.1, its result once fake time brought one. */
export async function messageResult(
  fake: FakeClock,
  uac: SipStack,
  limitMs: number,
): Promise<UacResult> {
  let res: UacResult | undefined;
  const p = uac.message("sip:bob@10.0.0.1:5060", { body: "hi" }).then((r) => {
    res = r;
  });
  await runUntil(fake, () => res !== undefined, limitMs);
  await p;
  return res!;
}
