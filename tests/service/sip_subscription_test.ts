// Subscription dialogs (RFC 6665, RFC 3515 implicit subscriptions, RFC 5057 dialog usages):
// a subscription ends on a NOTIFY with `Subscription-State: terminated` and when its Expires
// runs out, on both sides, and the dialog ends with its last usage.
import { assert } from "../test_deps.ts";
import { createSipStack, type DialogHandle, type SipStack } from "../../service/sip_stack.ts";
import type { DialogStatus } from "../../service/sip_callbacks.ts";

const FAST = { t1: 20, t2: 160, t4: 200 };

async function waitFor(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error("condition not met in time");
    await new Promise((r) => setTimeout(r, 5));
  }
}

interface Pair {
  notifier: SipStack;
  subscriber: SipStack;
  /** Dialogs the notifier got (from SUBSCRIBE/REFER callbacks). */
  served: DialogHandle[];
  /** `stop` reasons seen by each side's sipDialogUpdate. */
  stops: { notifier: string[]; subscriber: string[] };
  target: string;
  [Symbol.asyncDispose](): Promise<void>;
}

async function pair(): Promise<Pair> {
  const served: DialogHandle[] = [];
  const stops = { notifier: [] as string[], subscriber: [] as string[] };
  const onStop = (list: string[]) => (status: DialogStatus): void => {
    if (typeof status === "object" && "stop" in status) list.push(status.stop);
  };
  const notifier: SipStack = await createSipStack({
    name: "notifier",
    listen: ["sip:127.0.0.1:0;transport=udp"],
    timers: FAST,
    events: ["presence"],
    callbacks: {
      // X-Cap: the notifier shortens the subscription in its 2xx Expires.
      sipSubscribe: (req) => {
        const cap = req.header("X-Cap");
        return cap === undefined ? "ok" : { status: 200, headers: { Expires: cap } };
      },
      sipRefer: () => "accepted",
      sipDialogUpdate: (status, info) => {
        if (status === "start") {
          const d = notifier.dialogs().find((x) => x.id === info.id);
          if (d !== undefined) served.push(d);
        }
        onStop(stops.notifier)(status);
      },
      sipInvite: () => ({ answer: "v=0\r\n" }),
    },
  });
  const subscriber = await createSipStack({
    name: "subscriber",
    listen: ["sip:127.0.0.1:0;transport=udp"],
    timers: FAST,
    callbacks: { sipDialogUpdate: onStop(stops.subscriber) },
  });
  return {
    notifier,
    subscriber,
    served,
    stops,
    target: `sip:alice@127.0.0.1:${notifier.transports[0]!.port}`,
    async [Symbol.asyncDispose]() {
      await subscriber.close(0);
      await notifier.close(0);
    },
  };
}

Deno.test("RFC 6665 §4.1.3/§4.2.2: a NOTIFY with Subscription-State terminated ends the subscription dialog on both sides", async () => {
  await using p = await pair();
  const r = await p.subscriber.subscribe(p.target, { event: "presence", expires: 600 });
  assert.equal(r.status, 200);
  await waitFor(() => p.served.length === 1);
  assert.equal(p.subscriber.counts.dialogs, 1);
  assert.equal(p.notifier.counts.dialogs, 1);
  const dialog = p.served[0]!;
  // An `active` NOTIFY keeps it.
  assert.equal(
    (await dialog.notify({ event: "presence", subscriptionState: "active;expires=600" })).status,
    200,
  );
  assert.equal(p.subscriber.counts.dialogs, 1);
  assert.equal(p.notifier.counts.dialogs, 1);
  // The final NOTIFY ends it: at the notifier when sent, at the subscriber when accepted.
  const last = await dialog.notify({
    event: "presence",
    subscriptionState: "terminated;reason=noresource",
  });
  assert.equal(last.status, 200);
  await waitFor(() => p.subscriber.counts.dialogs === 0 && p.notifier.counts.dialogs === 0);
  await waitFor(() => p.stops.subscriber.length === 1 && p.stops.notifier.length === 1);
  assert.deepEqual(p.stops.subscriber, ["no-usage"]);
  assert.deepEqual(p.stops.notifier, ["no-usage"]);
  assert.equal(dialog.state, "terminated");
});

Deno.test("RFC 6665 §4.1.2.1/§4.2.2: a subscription not refreshed ends when its Expires runs out (2xx Expires wins)", async () => {
  await using p = await pair();
  const t0 = Date.now();
  const r = await p.subscriber.subscribe(p.target, {
    event: "presence",
    expires: 600,
    headers: { "X-Cap": "1" },
  });
  assert.equal(r.response?.header("Expires"), "1");
  assert.equal(r.status, 200);
  await waitFor(() => p.served.length === 1);
  await new Promise((res) => setTimeout(res, 300));
  assert.equal(p.subscriber.counts.dialogs, 1, "still subscribed before the expiry");
  assert.equal(p.notifier.counts.dialogs, 1);
  await waitFor(() => p.subscriber.counts.dialogs === 0 && p.notifier.counts.dialogs === 0);
  assert.ok(Date.now() - t0 >= 900, "not before Expires");
  assert.deepEqual(p.stops.subscriber, ["no-usage"]);
});

Deno.test("RFC 6665 §4.1.2.3: unsubscribing (Expires 0) then the final NOTIFY ends the subscription; a NOTIFY expires=N re-arms it", async () => {
  await using p = await pair();
  assert.equal(
    (await p.subscriber.subscribe(p.target, { event: "presence", expires: 600 })).status,
    200,
  );
  await waitFor(() => p.served.length === 1);
  const sub = p.subscriber.dialogs()[0]!;
  // Refresh to Expires 0: the notifier answers and sends the final NOTIFY.
  const un = await sub.request("SUBSCRIBE", { event: "presence", expires: 0 });
  assert.equal(un.status, 200);
  assert.equal(p.subscriber.counts.dialogs, 1, "waiting for the final NOTIFY");
  await p.served[0]!.notify({ event: "presence", subscriptionState: "terminated;reason=timeout" });
  await waitFor(() => p.subscriber.counts.dialogs === 0 && p.notifier.counts.dialogs === 0);

  // A NOTIFY `active;expires=1` shortens a 600 s subscription to 1 s, on both sides.
  assert.equal(
    (await p.subscriber.subscribe(p.target, { event: "presence", expires: 600 })).status,
    200,
  );
  await waitFor(() => p.served.length === 2);
  await p.served[1]!.notify({ event: "presence", subscriptionState: "active;expires=1" });
  await waitFor(() => p.subscriber.counts.dialogs === 0 && p.notifier.counts.dialogs === 0, 3000);
});

Deno.test("RFC 3515 §2.4.5: the implicit REFER subscription ends with a terminated NOTIFY; inside an INVITE dialog only that usage ends (RFC 5057)", async () => {
  await using p = await pair();
  // Out of dialog: the REFER creates a dialog that lives as long as its subscription.
  const r = await p.subscriber.refer(p.target, { referTo: "<sip:carol@127.0.0.1>" });
  assert.equal(r.status, 202);
  await waitFor(() => p.served.length === 1);
  assert.equal(p.subscriber.counts.dialogs, 1);
  await p.served[0]!.notify({
    event: "refer",
    subscriptionState: "terminated;reason=noresource",
    contentType: "message/sipfrag",
    body: "SIP/2.0 200 OK\r\n",
  });
  await waitFor(() => p.subscriber.counts.dialogs === 0 && p.notifier.counts.dialogs === 0);

  // Inside an INVITE dialog: the REFER usage ends, the call goes on.
  const call = await p.subscriber.invite(p.target, { body: "v=0\r\n" });
  assert.equal(call.status, 200);
  const d = call.dialog!;
  assert.equal((await d.refer({ referTo: "<sip:carol@127.0.0.1>" })).status, 202);
  const served = p.served[p.served.length - 1]!;
  assert.equal(
    (await served.notify({ event: "refer", subscriptionState: "terminated" })).status,
    200,
  );
  await new Promise((res) => setTimeout(res, 50));
  assert.equal(d.state, "confirmed");
  assert.equal(served.state, "confirmed");
  assert.equal((await d.bye()).status, 200);
  await waitFor(() => p.subscriber.counts.dialogs === 0 && p.notifier.counts.dialogs === 0);
});
