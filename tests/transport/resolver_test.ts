import { assert } from "../test_deps.ts";
import { Rfc3263Resolver } from "../../transport/resolver.ts";
import type { DnsRecord, DnsRecordType, DnsResolver } from "../../transport/types.ts";

/** A fake zone: records keyed by "TYPE name", with a query log. */
class FakeZone implements DnsResolver {
  readonly queries: string[] = [];
  constructor(readonly records: Record<string, DnsRecord[]>) {}
  resolve(name: string, type: DnsRecordType): Promise<DnsRecord[]> {
    this.queries.push(`${type} ${name}`);
    return Promise.resolve(this.records[`${type} ${name}`] ?? []);
  }
}

function uri(scheme: string, host: string, port?: number, params: [string, string][] = []) {
  return { scheme, host, port, params: new Map<string, string | null>(params) };
}

function naptr(
  order: number,
  preference: number,
  services: string,
  replacement: string,
): DnsRecord {
  return { type: "NAPTR", order, preference, flags: "s", services, regexp: "", replacement };
}

function srv(
  priority: number,
  weight: number,
  port: number,
  target: string,
  ttl?: number,
): DnsRecord {
  const r: DnsRecord = { type: "SRV", priority, weight, port, target };
  if (ttl !== undefined) r.ttl = ttl;
  return r;
}

function a(address: string, ttl?: number): DnsRecord {
  const r: DnsRecord = { type: "A", address };
  if (ttl !== undefined) r.ttl = ttl;
  return r;
}

const ZONE: Record<string, DnsRecord[]> = {
  "NAPTR example.com": [
    // Deliberately out of order; SCTP (D2S) must be ignored (no SCTP in Deno).
    naptr(20, 10, "SIP+D2U", "_sip._udp.example.com"),
    naptr(10, 20, "SIP+D2T", "_sip._tcp.example.com"),
    naptr(10, 10, "SIP+D2S", "_sip._sctp.example.com"),
    naptr(10, 15, "SIPS+D2T", "_sips._tcp.example.com"),
    naptr(30, 10, "SIP+D2W", "_sip._ws.example.com"),
  ],
  "SRV _sip._udp.example.com": [srv(10, 1, 5060, "udp1.example.com")],
  "SRV _sip._tcp.example.com": [
    srv(20, 1, 5062, "tcp-backup.example.com"),
    srv(10, 1, 5060, "tcp1.example.com"),
  ],
  "SRV _sips._tcp.example.com": [srv(10, 1, 5061, "tls1.example.com")],
  "SRV _sip._sctp.example.com": [srv(10, 1, 5060, "sctp.example.com")],
  "SRV _sip._ws.example.com": [srv(10, 1, 8080, "ws1.example.com")],
  "A udp1.example.com": [a("192.0.2.1")],
  "A tcp1.example.com": [a("192.0.2.2")],
  "AAAA tcp1.example.com": [{ type: "AAAA", address: "2001:db8::2" }],
  "A tcp-backup.example.com": [a("192.0.2.3")],
  "A tls1.example.com": [a("192.0.2.4")],
  "A ws1.example.com": [a("192.0.2.5")],
  "A sctp.example.com": [a("192.0.2.99")],
  "A plain.example.org": [a("198.51.100.7")],
  "SRV _sip._udp.srvonly.example.net": [srv(0, 0, 5070, "s.example.net")],
  "SRV _sip._tcp.srvonly.example.net": [srv(0, 0, 5071, "s.example.net")],
  "A s.example.net": [a("203.0.113.9")],
};

Deno.test("RFC 3263 §4.1: NAPTR ordered by order then preference, SRV by priority, SCTP skipped", async () => {
  const resolver = new Rfc3263Resolver({ dns: new FakeZone(ZONE), random: () => 0 });
  const got = await resolver.resolve(uri("sip", "example.com"));
  assert.deepEqual(
    got.map((t) => `${t.transport} ${t.host}:${t.port}`),
    [
      "tls 192.0.2.4:5061", // order 10 pref 15 (SIPS+D2T usable for sip: too)
      "tcp 192.0.2.2:5060", // order 10 pref 20, SRV priority 10 first
      "tcp 2001:db8::2:5060",
      "tcp 192.0.2.3:5062", // SRV priority 20: failover after priority 10
      "udp 192.0.2.1:5060", // order 20
      "ws 192.0.2.5:8080", // order 30
    ],
  );
  assert.ok(!got.some((t) => t.host === "192.0.2.99"), "SCTP target must not be used");
});

Deno.test("RFC 3263 §4.1: a sips: URI only uses SIPS+ NAPTR services; TLS names the URI domain", async () => {
  const resolver = new Rfc3263Resolver({ dns: new FakeZone(ZONE) });
  const got = await resolver.resolve(uri("sips", "example.com"));
  assert.equal(got.length, 1);
  assert.equal(got[0]!.transport, "tls");
  assert.equal(got[0]!.host, "192.0.2.4");
  // RFC 5922 §4.1: the server identity is the domain of the URI, not the SRV target.
  assert.equal(got[0]!.tlsServerName, "example.com");
});

Deno.test("RFC 3263 §4.1: numeric host short-circuits DNS; no port → 5060 UDP / 5061 TLS", async () => {
  const zone = new FakeZone({});
  const resolver = new Rfc3263Resolver({ dns: zone });
  assert.deepEqual(await resolver.resolve(uri("sip", "192.0.2.10")), [
    { transport: "udp", host: "192.0.2.10", port: 5060 },
  ]);
  assert.deepEqual(await resolver.resolve(uri("sips", "[2001:db8::1]")), [
    { transport: "tls", host: "2001:db8::1", port: 5061 },
  ]);
  assert.deepEqual(
    await resolver.resolve(uri("sip", "192.0.2.10", 5080, [["transport", "tcp"]])),
    [{ transport: "tcp", host: "192.0.2.10", port: 5080 }],
  );
  assert.deepEqual(zone.queries, [], "a numeric host MUST NOT be looked up");
});

Deno.test("RFC 3263 §4.2: explicit transport uses that SRV; explicit port goes straight to A", async () => {
  const zone = new FakeZone(ZONE);
  const resolver = new Rfc3263Resolver({ dns: zone, random: () => 0 });
  const tcp = await resolver.resolve(uri("sip", "example.com", undefined, [["transport", "tcp"]]));
  assert.deepEqual(tcp.map((t) => t.port), [5060, 5060, 5062]);
  assert.ok(tcp.every((t) => t.transport === "tcp"));
  assert.ok(!zone.queries.includes("NAPTR example.com"), "transport= skips NAPTR");
  const withPort = await resolver.resolve(uri("sip", "plain.example.org", 5090));
  assert.deepEqual(withPort, [{ transport: "udp", host: "198.51.100.7", port: 5090 }]);
  // sips: with transport=tcp means TLS.
  const sipsTcp = await resolver.resolve(
    uri("sips", "example.com", undefined, [["transport", "tcp"]]),
  );
  assert.ok(sipsTcp.every((t) => t.transport === "tls"));
  // sips: with transport=udp is impossible.
  assert.deepEqual(
    await resolver.resolve(uri("sips", "example.com", 5061, [["transport", "udp"]])),
    [],
  );
});

Deno.test("RFC 3263 §4.1: no NAPTR → SRV per transport; no SRV → A record on 5060/UDP", async () => {
  const resolver = new Rfc3263Resolver({ dns: new FakeZone(ZONE) });
  const srvOnly = await resolver.resolve(uri("sip", "srvonly.example.net"));
  assert.deepEqual(srvOnly.map((t) => `${t.transport}:${t.port}`), ["udp:5070", "tcp:5071"]);
  const plain = await resolver.resolve(uri("sip", "plain.example.org"));
  assert.deepEqual(plain, [{ transport: "udp", host: "198.51.100.7", port: 5060 }]);
  assert.deepEqual(await resolver.resolve(uri("sip", "nowhere.invalid")), []);
});

Deno.test("RFC 3263 §4: maddr overrides the host", async () => {
  const resolver = new Rfc3263Resolver({ dns: new FakeZone(ZONE) });
  const got = await resolver.resolve(uri("sip", "example.com", 5060, [["maddr", "192.0.2.77"]]));
  assert.deepEqual(got, [{ transport: "udp", host: "192.0.2.77", port: 5060 }]);
});

Deno.test("RFC 2782: SRV weights give a proportional distribution over many picks", () => {
  // A seeded LCG so the test is deterministic but exercises the weighted choice.
  let seed = 12345;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  const resolver = new Rfc3263Resolver({ dns: new FakeZone({}), random });
  const records = [
    { priority: 1, weight: 60, name: "a" },
    { priority: 1, weight: 30, name: "b" },
    { priority: 1, weight: 10, name: "c" },
    { priority: 0, weight: 0, name: "first" },
  ];
  const firstPick = new Map<string, number>();
  const N = 10000;
  for (let i = 0; i < N; i++) {
    const order = resolver.orderSrv(records);
    assert.equal(order[0]!.name, "first", "lower priority value MUST be tried first");
    assert.equal(order.length, 4);
    const top = order[1]!.name;
    firstPick.set(top, (firstPick.get(top) ?? 0) + 1);
  }
  const share = (n: string) => (firstPick.get(n) ?? 0) / N;
  assert.ok(Math.abs(share("a") - 0.6) < 0.03, `a picked ${share("a")}`);
  assert.ok(Math.abs(share("b") - 0.3) < 0.03, `b picked ${share("b")}`);
  assert.ok(Math.abs(share("c") - 0.1) < 0.03, `c picked ${share("c")}`);
});

Deno.test("RFC 2782: zero-weight records are picked rarely but never lost", () => {
  let r = 0;
  const seq = [0.999, 0.0, 0.5];
  const resolver = new Rfc3263Resolver({ dns: new FakeZone({}), random: () => seq[r++ % 3]! });
  const order = resolver.orderSrv([
    { priority: 5, weight: 0, n: "zero" },
    { priority: 5, weight: 10, n: "ten" },
  ]);
  assert.equal(order.length, 2);
  assert.equal(order[0]!.n, "ten");
});

Deno.test("RFC 3263: the cache honours TTLs (injectable clock)", async () => {
  let now = 1_000_000;
  const zone = new FakeZone({
    "SRV _sip._tcp.ttl.example": [srv(0, 0, 5060, "h.ttl.example", 30)],
    "A h.ttl.example": [a("192.0.2.50", 60)],
  });
  const resolver = new Rfc3263Resolver({ dns: zone, now: () => now, defaultTtl: 300 });
  const u = uri("sip", "ttl.example", undefined, [["transport", "tcp"]]);
  await resolver.resolve(u);
  const first = zone.queries.length;
  now += 29_000;
  await resolver.resolve(u);
  assert.equal(zone.queries.length, first, "within the TTL nothing is asked again");
  now += 2_000; // SRV (30 s) expired, A (60 s) not
  await resolver.resolve(u);
  assert.deepEqual(zone.queries.slice(first), ["SRV _sip._tcp.ttl.example"]);
  now += 30_000; // A expired now too
  await resolver.resolve(u);
  assert.ok(zone.queries.slice(first + 1).includes("A h.ttl.example"));
  zone.records["A h.ttl.example"] = [a("192.0.2.51", 60)];
  now += 61_000;
  const after = await resolver.resolve(u);
  assert.equal(after[0]!.host, "192.0.2.51", "an expired record is fetched again");
});

Deno.test("RFC 3263: records without a TTL use the configured default; negative answers are cached", async () => {
  let now = 0;
  const zone = new FakeZone({ "A notl.example": [a("192.0.2.60")] });
  const resolver = new Rfc3263Resolver({ dns: zone, now: () => now, defaultTtl: 10 });
  await resolver.resolve(uri("sip", "notl.example", 5060));
  await resolver.resolve(uri("sip", "notl.example", 5060));
  const n = zone.queries.length;
  assert.equal(zone.queries.filter((q) => q === "A notl.example").length, 1);
  now += 10_001;
  await resolver.resolve(uri("sip", "notl.example", 5060));
  assert.ok(zone.queries.length > n);
});
