import { assert } from "../test_deps.ts";
import { listenerUri, parseListenUri } from "../../transport/listen_uri.ts";
import { TransportError } from "../../transport/errors.ts";

Deno.test("listen URI: sip:host:port opens UDP and TCP on the same port", () => {
  assert.deepEqual(parseListenUri("sip:127.0.0.1:5060"), [
    { transport: "udp", host: "127.0.0.1", port: 5060 },
    { transport: "tcp", host: "127.0.0.1", port: 5060 },
  ]);
});

Deno.test("listen URI: TLS with certificate files, sips: means TLS, default ports", () => {
  assert.deepEqual(
    parseListenUri("<sip:0.0.0.0:5061;transport=tls;tls_certfile=cert.pem;tls_keyfile=key.pem>"),
    [{ transport: "tls", host: "0.0.0.0", port: 5061, certFile: "cert.pem", keyFile: "key.pem" }],
  );
  assert.deepEqual(parseListenUri("sips:10.0.0.1"), [
    { transport: "tls", host: "10.0.0.1", port: 5061 },
  ]);
  assert.deepEqual(parseListenUri("sip:10.0.0.1;transport=TCP"), [
    { transport: "tcp", host: "10.0.0.1", port: 5060 },
  ]);
});

Deno.test("listen URI: WS on IPv6 with a path; sips: + ws = WSS", () => {
  assert.deepEqual(parseListenUri("<sip:[::1]:8080;transport=ws;path=/sip>"), [
    { transport: "ws", host: "::1", port: 8080, path: "/sip" },
  ]);
  assert.deepEqual(parseListenUri("<sips:[::1]:0;transport=ws>"), [
    { transport: "wss", host: "::1", port: 0, path: "/" },
  ]);
  assert.deepEqual(parseListenUri("<sip:127.0.0.1:0;transport=wss;advertise=sip.example.com>"), [
    { transport: "wss", host: "127.0.0.1", port: 0, path: "/", advertisedHost: "sip.example.com" },
  ]);
});

Deno.test("listen URI: bad input gives a TransportError that says what is wrong", () => {
  for (
    const [bad, why] of [
      ["http://x", /sip: or sips:/],
      ["sip:127.0.0.1:99999", /bad port/],
      ["sip:[::1:5060", /unclosed IPv6/],
      ["<sip:127.0.0.1", /unclosed/],
      ["sip:127.0.0.1;transport=sctp", /SCTP is not available in Deno/],
      ["sip:127.0.0.1;transport=foo", /unknown transport foo/],
      ["sips:127.0.0.1;transport=udp", /cannot use transport udp/],
      ["sip::5060", /no host/],
      ["127.0.0.1", /no scheme/],
    ] as const
  ) {
    assert.throws(
      () => parseListenUri(bad),
      (e: unknown) => e instanceof TransportError && why.test(e.message),
      bad,
    );
  }
});

Deno.test("listenerUri writes brackets for IPv6 and sips: for secure transports", () => {
  assert.equal(listenerUri("udp", "::1", 5060), "sip:[::1]:5060");
  assert.equal(listenerUri("tcp", "127.0.0.1", 5060), "sip:127.0.0.1:5060;transport=tcp");
  assert.equal(listenerUri("tls", "127.0.0.1", 5061), "sips:127.0.0.1:5061;transport=tls");
  assert.equal(listenerUri("wss", "::1", 443), "sips:[::1]:443;transport=ws");
});
