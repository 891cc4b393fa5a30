import { assert, fc } from "../test_deps.ts";
import {
  answerDirection,
  createAnswer,
  getAttribute,
  getDirection,
  getFmtp,
  getPtime,
  getRtpmap,
  holdOffer,
  incrementVersion,
  isOnHold,
  parseFmtpParams,
  parseRtpmap,
  parseSdp,
  type SdpDirection,
  type SdpExtraLine,
  SdpParseError,
  type SdpSession,
  serializeSdp,
  setDirection,
  unholdOffer,
} from "../../sip/sdp.ts";

const crlf = (s: string): string => s.replace(/\r?\n/g, "\r\n");

// RFC 4566 §5: the example session description (copied from the RFC).
const RFC4566_EXAMPLE = crlf(`v=0
o=jdoe 2890844526 2890842807 IN IP4 10.47.16.5
s=SDP Seminar
i=A Seminar on the session description protocol
u=http://www.example.com/seminars/sdp.pdf
e=j.doe@example.com (Jane Doe)
c=IN IP4 224.2.17.12/127
t=2873397496 2873404696
a=recvonly
m=audio 49170 RTP/AVP 0
m=video 51372 RTP/AVP 99
a=rtpmap:99 h263-1998/90000
`);

// RFC 4317 §2.1 (= RFC 3264 §10.1 first exchange): offer and answer, copied from the RFC.
const RFC4317_2_1_OFFER = crlf(`v=0
o=alice 2890844526 2890844526 IN IP4 host.atlanta.example.com
s=
c=IN IP4 host.atlanta.example.com
t=0 0
m=audio 49170 RTP/AVP 0 8 97
a=rtpmap:0 PCMU/8000
a=rtpmap:8 PCMA/8000
a=rtpmap:97 iLBC/8000
m=video 51372 RTP/AVP 31 32
a=rtpmap:31 H261/90000
a=rtpmap:32 MPV/90000
`);
const RFC4317_2_1_ANSWER = crlf(`v=0
o=bob 2808844564 2808844564 IN IP4 host.biloxi.example.com
s=
c=IN IP4 host.biloxi.example.com
t=0 0
m=audio 49174 RTP/AVP 0
a=rtpmap:0 PCMU/8000
m=video 49170 RTP/AVP 32
a=rtpmap:32 MPV/90000
`);

// RFC 4317 §2.4: two audio streams, the second sendonly; answer recvonly.
const RFC4317_2_4_OFFER = crlf(`v=0
o=alice 2890844526 2890844526 IN IP4 host.atlanta.example.com
s=
c=IN IP4 host.atlanta.example.com
t=0 0
m=audio 49170 RTP/AVP 0 97
a=rtpmap:0 PCMU/8000
a=rtpmap:97 iLBC/8000
m=audio 49172 RTP/AVP 98
a=rtpmap:98 telephone-event/8000
a=sendonly
`);
const RFC4317_2_4_ANSWER = crlf(`v=0
o=bob 2808844564 2808844564 IN IP4 host.biloxi.example.com
s=
c=IN IP4 host.biloxi.example.com
t=0 0
m=audio 49172 RTP/AVP 97
a=rtpmap:97 iLBC/8000
m=audio 49174 RTP/AVP 98
a=rtpmap:98 telephone-event/8000
a=recvonly
`);

// RFC 4317 §2.6: Bob declines the first stream (port 0) and accepts the second.
const RFC4317_2_6_OFFER = crlf(`v=0
o=alice 2890844526 2890844526 IN IP4 host.atlanta.example.com
s=
c=IN IP4 host.atlanta.example.com
t=0 0
m=audio 49170 RTP/AVP 0
a=rtpmap:0 PCMU/8000
m=audio 51372 RTP/AVP 97 101
a=rtpmap:97 iLBC/8000
a=rtpmap:101 telephone-event/8000
`);
const RFC4317_2_6_ANSWER = crlf(`v=0
o=bob 2808844564 2808844564 IN IP4 host.biloxi.example.com
s=
c=IN IP4 host.biloxi.example.com
t=0 0
m=audio 0 RTP/AVP 0
a=rtpmap:0 PCMU/8000
m=audio 49170 RTP/AVP 97 101
a=rtpmap:97 iLBC/8000
a=rtpmap:101 telephone-event/8000
`);

// RFC 4317 §5.2: hold the RFC 2543 way, c=0.0.0.0.
const RFC4317_5_2_OFFER = crlf(`v=0
o=alice 2890844526 2890844526 IN IP4 host.atlanta.example.com
s=
c=IN IP4 0.0.0.0
t=0 0
m=audio 23442 RTP/AVP 97
a=rtpmap:97 iLBC/8000
`);

const BOB = { username: "bob", sessionId: "2808844564", sessionVersion: "2808844564" };

Deno.test("RFC 4566 §5 example parses into typed fields", () => {
  const s = parseSdp(RFC4566_EXAMPLE);
  assert.equal(s.version, 0);
  assert.deepEqual(s.origin, {
    username: "jdoe",
    sessionId: "2890844526",
    sessionVersion: "2890842807",
    netType: "IN",
    addrType: "IP4",
    address: "10.47.16.5",
  });
  assert.equal(s.sessionName, "SDP Seminar");
  assert.equal(s.information, "A Seminar on the session description protocol");
  assert.equal(s.uri, "http://www.example.com/seminars/sdp.pdf");
  assert.deepEqual(s.emails, ["j.doe@example.com (Jane Doe)"]);
  assert.deepEqual(s.connection, {
    netType: "IN",
    addrType: "IP4",
    address: "224.2.17.12",
    ttl: 127,
  });
  assert.deepEqual(s.timing, [{ start: 2873397496, stop: 2873404696, repeats: [] }]);
  assert.deepEqual(s.attributes, [{ name: "recvonly" }]);
  assert.equal(s.media.length, 2);
  const [audio, video] = s.media as [typeof s.media[0], typeof s.media[0]];
  assert.equal(audio.type, "audio");
  assert.equal(audio.port, 49170);
  assert.equal(audio.proto, "RTP/AVP");
  assert.deepEqual(audio.formats, ["0"]);
  // Session-level a=recvonly applies to media without their own direction (RFC 4566 §6).
  assert.equal(getDirection(audio, s), "recvonly");
  assert.deepEqual(getRtpmap(audio, 0), {
    payloadType: 0,
    encodingName: "PCMU",
    clockRate: 8000,
    channels: 1,
  });
  assert.deepEqual(getRtpmap(video, "99"), {
    payloadType: 99,
    encodingName: "h263-1998",
    clockRate: 90000,
  });
});

Deno.test("Round-trip: serializeSdp(parseSdp(x)) === x for the RFC examples", () => {
  for (
    const x of [
      RFC4566_EXAMPLE,
      RFC4317_2_1_OFFER,
      RFC4317_2_1_ANSWER,
      RFC4317_2_4_OFFER,
      RFC4317_2_6_ANSWER,
      RFC4317_5_2_OFFER,
    ]
  ) {
    assert.equal(serializeSdp(parseSdp(x)), x);
  }
});

Deno.test("All line types round-trip: p=, b=, r=, z=, k=, IPv6/multicast c=, numPorts, unknown lines", () => {
  const x = crlf(`v=0
o=- 3724394400 3724394405 IN IP6 2001:db8::1
s= 
i=info
u=http://example.com/
e=a@example.com
e=b@example.com
p=+1 617 555-6011
c=IN IP6 FF15::101/3
b=CT:1000
b=AS:256
t=2873397496 2873404696
r=7d 1h 0 25h
r=604800 3600 0 90000
t=0 0
z=2882844526 -1h 2898848070 0
k=clear:password
a=tool:sipkit
a=group:BUNDLE 0 1
y=0100000001
m=audio 49170/2 RTP/AVP 0 101
i=audio title
c=IN IP4 224.2.1.1/127/3
c=IN IP4 224.2.1.4/127
b=AS:64
k=prompt
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-16
a=ptime:20
a=sendonly
a=x-empty:
f=v/2/5/25/1/4000a/1/8/1
m=application 9 TCP/MRCPv2 1
a=setup:active
m=image 0 udptl t38
`);
  const s = parseSdp(x);
  assert.equal(serializeSdp(s), x);
  assert.equal(s.sessionName, " ");
  assert.deepEqual(s.connection, {
    netType: "IN",
    addrType: "IP6",
    address: "FF15::101",
    count: 3,
  });
  assert.deepEqual(s.bandwidths, [{ type: "CT", value: 1000 }, { type: "AS", value: 256 }]);
  assert.deepEqual(s.timing[0]?.repeats[0], {
    interval: "7d",
    duration: "1h",
    offsets: ["0", "25h"],
  });
  assert.deepEqual(s.zoneAdjustments, [{ time: "2882844526", offset: "-1h" }, {
    time: "2898848070",
    offset: "0",
  }]);
  assert.equal(s.key, "clear:password");
  assert.deepEqual(s.extraLines, [{ type: "y", value: "0100000001", position: 19 }]);
  const m = s.media[0]!;
  assert.equal(m.numPorts, 2);
  assert.deepEqual(m.connections[0], {
    netType: "IN",
    addrType: "IP4",
    address: "224.2.1.1",
    ttl: 127,
    count: 3,
  });
  assert.equal(getFmtp(m, 101), "0-16");
  assert.deepEqual([
    ...parseFmtpParams("profile-level-id=42e01f; packetization-mode=1;x").entries(),
  ], [
    ["profile-level-id", "42e01f"],
    ["packetization-mode", "1"],
    ["x", ""],
  ]);
  assert.equal(getPtime(m), 20);
  assert.equal(getAttribute(m, "x-empty"), "");
  assert.equal(m.attributes.find((a) => a.name === "x-empty")?.value, "");
  assert.equal(getDirection(m), "sendonly");
  assert.deepEqual(m.extraLines, [{ type: "f", value: "v/2/5/25/1/4000a/1/8/1", position: 11 }]);
  assert.deepEqual(s.media[2]?.formats, ["t38"]);
  assert.equal(getRtpmap(s.media[2]!, "t38"), undefined);
});

Deno.test("Unknown lines keep their place between known lines", () => {
  const x = crlf(`v=0
o=- 1 1 IN IP4 h
x=first
s=-
t=0 0
m=audio 1 RTP/AVP 0
y=one
y=two
a=sendrecv
z=misplaced
`);
  // x= before s= is not well-formed (s= must be third): it is rejected.
  assert.throws(() => parseSdp(x), SdpParseError);
  const y = x.replace("x=first\r\n", "");
  const s = parseSdp(y);
  assert.equal(serializeSdp(s), y);
  // A known session-level type inside a media section is kept as an extra line.
  assert.deepEqual(s.media[0]?.extraLines.map((l) => l.type), ["y", "y", "z"]);
});

Deno.test("LF-only input and trailing blank lines are accepted; output uses CRLF", () => {
  const lf = RFC4317_2_1_OFFER.replace(/\r\n/g, "\n") + "\n\n";
  assert.equal(serializeSdp(parseSdp(lf)), RFC4317_2_1_OFFER);
});

Deno.test("Malformed SDP throws SdpParseError (a SyntaxError) naming the line", () => {
  const cases: [string, RegExp][] = [
    ["", /Empty/],
    ["o=- 1 1 IN IP4 h\r\n", /first line must be v=/],
    ["v=x\r\n", /protocol version/],
    ["v=0\r\ns=-\r\n", /second line must be o=/],
    ["v=0\r\no=- 1 1 IN IP4\r\ns=-\r\n", /o= needs/],
    ["v=0\r\no=- a 1 IN IP4 h\r\ns=-\r\n", /sess-id/],
    ["v=0\r\no=- 1 b IN IP4 h\r\ns=-\r\n", /sess-version/],
    ["v=0\r\no=- 1 1 IN IP4 h\r\n", /Missing s=/],
    ["v=0\r\no=- 1 1 IN IP4 h\r\nt=0 0\r\n", /third line must be s=/],
    ["v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4\r\n", /c= needs/],
    ["v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 h\r\nc=IN IP4 h\r\n", /More than one/],
    ["v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 224.0.0.1/x\r\n", /multicast TTL/],
    ["v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP4 224.0.0.1/1/2/3\r\n", /Too many/],
    ["v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nc=IN IP6 ff::1/1/2\r\n", /Too many/],
    ["v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nb=AS\r\n", /b= needs/],
    ["v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nb=AS:fast\r\n", /bandwidth/],
    ["v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0\r\n", /t= needs/],
    ["v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=now 0\r\n", /start time/],
    ["v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nr=7d 1h 0\r\n", /r= without/],
    ["v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\nr=7d 1h\r\n", /r= needs/],
    ["v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nz=1 -1h 2\r\n", /z= needs/],
    ["v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nm=audio\r\n", /m= needs/],
    ["v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nm=audio x RTP/AVP 0\r\n", /Invalid port/],
    ["v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nm=audio 70000 RTP/AVP 0\r\n", /out of range/],
    ["v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nm=audio 1/x RTP/AVP 0\r\n", /number of ports/],
    ["v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nm=audio 1 RTP/AVP 0  8\r\n", /Empty format/],
    ["v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nnot a line\r\n", /Malformed line/],
    ["v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\n\r\nt=0 0\r\n", /Malformed line/],
    ["v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nab=c\r\n", /Malformed line/],
  ];
  for (const [text, re] of cases) {
    assert.throws(
      () => parseSdp(text),
      (e: unknown) => e instanceof SdpParseError && e instanceof SyntaxError && re.test(e.message),
      JSON.stringify(text),
    );
  }
  assert.throws(
    () => parseSdp("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nt=0 0\r\nm=audio x RTP/AVP 0\r\n"),
    (e: unknown) => e instanceof SdpParseError && e.line === 5 && e.name === "SdpParseError",
  );
});

Deno.test("RFC 4317 §2.1 / RFC 3264 §10.1: createAnswer reproduces Bob's answer exactly", () => {
  const ports: Record<string, number> = { audio: 49174, video: 49170 };
  const answer = createAnswer(parseSdp(RFC4317_2_1_OFFER), {
    formats: ["PCMU/8000", "MPV/90000"],
    address: "host.biloxi.example.com",
    port: (m) => ports[m.type]!,
    origin: BOB,
    sessionName: "",
  });
  assert.equal(serializeSdp(answer), RFC4317_2_1_ANSWER);
});

Deno.test("RFC 4317 §2.4: offer sendonly → answer recvonly (RFC 3264 §6.1), numeric port + 2k", () => {
  const answer = createAnswer(parseSdp(RFC4317_2_4_OFFER), {
    formats: ["iLBC/8000", "telephone-event/8000"],
    address: "host.biloxi.example.com",
    port: 49172,
    origin: BOB,
    sessionName: "",
  });
  assert.equal(serializeSdp(answer), RFC4317_2_4_ANSWER);
});

Deno.test("RFC 4317 §2.6: a declined stream gets port 0 and keeps m-line order (RFC 3264 §6)", () => {
  const answer = createAnswer(parseSdp(RFC4317_2_6_OFFER), {
    formats: ["iLBC/8000", "telephone-event/8000"],
    address: "host.biloxi.example.com",
    port: 49170,
    origin: BOB,
    sessionName: "",
  });
  assert.equal(serializeSdp(answer), RFC4317_2_6_ANSWER);
});

Deno.test("createAnswer: fmtp copied, static PTs matched without rtpmap, t= copied, options", () => {
  const offer = parseSdp(crlf(`v=0
o=- 1 1 IN IP4 192.0.2.1
s=-
c=IN IP4 192.0.2.1
t=3000 4000
m=audio 5000 RTP/AVP 18 0 101
a=fmtp:18 annexb=no
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=recvonly
m=video 5002 RTP/AVP 96
a=rtpmap:96 H264/90000
m=image 5004 udptl t38
m=audio 0 RTP/AVP 0
`));
  const answer = createAnswer(offer, {
    formats: ["pcmu/8000", "G729/8000", "TELEPHONE-EVENT/8000", "T38"],
    address: "2001:db8::2",
    port: 7000,
    ptime: 20,
    direction: "sendrecv",
    origin: { sessionId: "42" },
  });
  const text = serializeSdp(answer);
  assert.equal(
    text,
    crlf(`v=0
o=- 42 0 IN IP6 2001:db8::2
s=-
c=IN IP6 2001:db8::2
t=3000 4000
m=audio 7000 RTP/AVP 18 0 101
a=fmtp:18 annexb=no
a=rtpmap:101 telephone-event/8000
a=fmtp:101 0-15
a=ptime:20
a=sendonly
m=video 0 RTP/AVP 96
a=rtpmap:96 H264/90000
m=image 7002 udptl t38
m=audio 0 RTP/AVP 0
`),
  );
  // The answer parses back to itself.
  assert.equal(serializeSdp(parseSdp(text)), text);
  // A random session id when none is given; mediaTypes restricts what is accepted.
  const a2 = createAnswer(offer, {
    formats: ["PCMU/8000", "t38"],
    address: "h",
    port: 1,
    mediaTypes: ["image"],
  });
  assert.match(a2.origin.sessionId, /^\d+$/);
  assert.deepEqual(a2.media.map((m) => m.port), [0, 0, 1, 0]);
  // The offer is not modified.
  assert.equal(offer.media[0]?.port, 5000);
});

Deno.test("answerDirection follows RFC 3264 §6.1 for every offer/local pair", () => {
  const dirs: SdpDirection[] = ["sendrecv", "sendonly", "recvonly", "inactive"];
  // RFC 3264 §6.1: "If a stream is offered as sendonly, the corresponding stream MUST be
  // marked as recvonly or inactive in the answer. If ... recvonly, ... MUST be marked as
  // sendonly or inactive ... If an offered media stream is listed as inactive, it MUST be
  // marked as inactive in the answer."
  const allowed: Record<SdpDirection, SdpDirection[]> = {
    sendrecv: dirs,
    sendonly: ["recvonly", "inactive"],
    recvonly: ["sendonly", "inactive"],
    inactive: ["inactive"],
  };
  for (const offer of dirs) {
    for (const local of dirs) {
      const a = answerDirection(offer, local);
      assert.ok(allowed[offer].includes(a), `${offer}/${local} -> ${a}`);
      // Never more than the local side allows.
      if (local === "recvonly" || local === "inactive") {
        assert.ok(a === "recvonly" || a === "inactive");
      }
      if (local === "sendonly" || local === "inactive") {
        assert.ok(a === "sendonly" || a === "inactive");
      }
    }
  }
  assert.equal(answerDirection("sendrecv"), "sendrecv");
  assert.equal(answerDirection("sendonly"), "recvonly");
  assert.equal(answerDirection("recvonly"), "sendonly");
  assert.equal(answerDirection("sendrecv", "recvonly"), "recvonly");
});

Deno.test("holdOffer: sendrecv→sendonly, recvonly→inactive, version +1 (RFC 3264 §8.4)", () => {
  const offer = parseSdp(crlf(`v=0
o=alice 2890844526 2890844526 IN IP4 host.atlanta.example.com
s=
c=IN IP4 host.atlanta.example.com
t=0 0
a=recvonly
m=audio 49170 RTP/AVP 0
a=rtpmap:0 PCMU/8000
a=sendrecv
a=ptime:20
m=audio 49172 RTP/AVP 98
a=rtpmap:98 telephone-event/8000
m=audio 49174 RTP/AVP 0
a=sendonly
m=audio 49176 RTP/AVP 0
a=inactive
m=video 0 RTP/AVP 31
`));
  const held = holdOffer(offer);
  assert.equal(held.origin.sessionVersion, "2890844527");
  // Session-level direction moved to the media lines.
  assert.deepEqual(held.attributes, []);
  assert.deepEqual(held.media.map((m) => getDirection(m, held)), [
    "sendonly",
    "inactive", // was recvonly through the session-level attribute
    "sendonly",
    "inactive",
    "sendrecv", // port 0: untouched
  ]);
  // The direction attribute is replaced in place, other attributes kept in order.
  assert.deepEqual(held.media[0]?.attributes.map((a) => a.name), ["rtpmap", "sendonly", "ptime"]);
  assert.equal(held.media[4]?.attributes.length, 0);
  assert.ok(isOnHold(held));
  assert.ok(!isOnHold(offer));
  // The input is unchanged.
  assert.equal(offer.origin.sessionVersion, "2890844526");
  assert.equal(getDirection(offer.media[0]!, offer), "sendrecv");
  assert.equal(holdOffer(offer, { incrementVersion: false }).origin.sessionVersion, "2890844526");
  // unhold: the inverse for sendonly; inactive comes back recvonly.
  const resumed = unholdOffer(held);
  assert.equal(resumed.origin.sessionVersion, "2890844528");
  assert.deepEqual(resumed.media.map((m) => getDirection(m, resumed)), [
    "sendrecv",
    "recvonly",
    "sendrecv",
    "recvonly",
    "sendrecv",
  ]);
  const forced = unholdOffer(held, { direction: "sendrecv" });
  assert.deepEqual(forced.media.slice(0, 4).map((m) => getDirection(m)), [
    "sendrecv",
    "sendrecv",
    "sendrecv",
    "sendrecv",
  ]);
  assert.ok(!isOnHold(forced));
});

Deno.test("RFC 4317 §5.2: c=0.0.0.0 counts as hold; a hold of the §2.1 answer serializes", () => {
  assert.ok(isOnHold(parseSdp(RFC4317_5_2_OFFER)));
  const held = serializeSdp(holdOffer(parseSdp(RFC4317_2_1_ANSWER)));
  assert.equal(
    held,
    crlf(`v=0
o=bob 2808844564 2808844565 IN IP4 host.biloxi.example.com
s=
c=IN IP4 host.biloxi.example.com
t=0 0
m=audio 49174 RTP/AVP 0
a=rtpmap:0 PCMU/8000
a=sendonly
m=video 49170 RTP/AVP 32
a=rtpmap:32 MPV/90000
a=sendonly
`),
  );
});

Deno.test("incrementVersion works past 2^53; setDirection adds when absent", () => {
  const s = parseSdp(
    "v=0\r\no=- 1 9007199254740993 IN IP4 h\r\ns=-\r\nt=0 0\r\nm=audio 1 RTP/AVP 0\r\n",
  );
  assert.equal(incrementVersion(s).origin.sessionVersion, "9007199254740994");
  const m = setDirection(s.media[0]!, "inactive");
  assert.deepEqual(m.attributes, [{ name: "inactive" }]);
  assert.deepEqual(s.media[0]?.attributes, []);
});

Deno.test("parseRtpmap and getPtime edge cases", () => {
  assert.deepEqual(parseRtpmap("111 opus/48000/2"), {
    payloadType: 111,
    encodingName: "opus",
    clockRate: 48000,
    channels: 2,
  });
  assert.equal(parseRtpmap("x PCMU/8000"), undefined);
  assert.equal(parseRtpmap("0 PCMU"), undefined);
  const s = parseSdp("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nm=audio 1 RTP/AVP 0\r\na=ptime:abc\r\n");
  assert.equal(getPtime(s.media[0]!), undefined);
  assert.equal(getFmtp(s.media[0]!, 0), undefined);
  // Missing t= is tolerated and round-trips.
  assert.equal(
    serializeSdp(s),
    "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nm=audio 1 RTP/AVP 0\r\na=ptime:abc\r\n",
  );
});

// ---- property tests -------------------------------------------------------------------

const tokenArb = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9.\-_]{0,10}$/);
const textArb = fc.stringMatching(/^[^\r\n\0]{0,20}$/);
const digitsArb = fc.bigInt({ min: 0n, max: 2n ** 64n }).map((b) => b.toString());
const attrArb = fc.record(
  { name: tokenArb, value: fc.option(textArb, { nil: undefined }) },
  { requiredKeys: ["name"] },
).map((a) => (a.value === undefined ? { name: a.name } : { name: a.name, value: a.value }));
const connArb = fc.oneof(
  fc.record({ netType: fc.constant("IN"), addrType: fc.constant("IP4"), address: fc.ipV4() }),
  fc.record({
    netType: fc.constant("IN"),
    addrType: fc.constant("IP4"),
    address: fc.ipV4(),
    ttl: fc.integer({ min: 0, max: 255 }),
  }),
  fc.record({ netType: fc.constant("IN"), addrType: fc.constant("IP6"), address: fc.ipV6() }),
);
const bwArb = fc.record({
  type: fc.constantFrom("AS", "CT", "TIAS"),
  value: fc.nat({ max: 100000 }),
});
const typedTimeArb = fc.tuple(fc.nat({ max: 99999 }), fc.constantFrom("", "d", "h", "m", "s"))
  .map(([n, u]) => `${n}${u}`);
const repeatArb = fc.record({
  interval: typedTimeArb,
  duration: typedTimeArb,
  offsets: fc.array(typedTimeArb, { minLength: 1, maxLength: 3 }),
});
const mediaArb = fc.record({
  type: fc.constantFrom("audio", "video", "application", "image"),
  port: fc.integer({ min: 0, max: 65535 }),
  proto: fc.constantFrom("RTP/AVP", "RTP/SAVP", "udptl", "TCP/MRCPv2"),
  formats: fc.array(fc.integer({ min: 0, max: 127 }).map(String), { minLength: 1, maxLength: 5 }),
  connections: fc.array(connArb, { maxLength: 2 }),
  bandwidths: fc.array(bwArb, { maxLength: 2 }),
  attributes: fc.array(attrArb, { maxLength: 5 }),
  extraLines: fc.constant(null).map((): SdpExtraLine[] => []),
});
const sessionArb: fc.Arbitrary<SdpSession> = fc.record({
  version: fc.constant(0),
  origin: fc.record({
    username: tokenArb,
    sessionId: digitsArb,
    sessionVersion: digitsArb,
    netType: fc.constant("IN"),
    addrType: fc.constant("IP4"),
    address: fc.ipV4(),
  }),
  sessionName: textArb,
  emails: fc.array(textArb, { maxLength: 2 }),
  phones: fc.array(textArb, { maxLength: 2 }),
  bandwidths: fc.array(bwArb, { maxLength: 2 }),
  timing: fc.array(
    fc.record({ start: fc.nat(), stop: fc.nat(), repeats: fc.array(repeatArb, { maxLength: 2 }) }),
    { minLength: 1, maxLength: 2 },
  ),
  attributes: fc.array(attrArb, { maxLength: 4 }),
  media: fc.array(mediaArb, { maxLength: 4 }),
  extraLines: fc.constant(null).map((): SdpExtraLine[] => []),
  connection: connArb,
});

Deno.test("fast-check: parseSdp(serializeSdp(x)) equals x, and text round-trips", () => {
  fc.assert(
    fc.property(sessionArb, (s) => {
      const text = serializeSdp(s);
      const parsed = parseSdp(text);
      assert.deepEqual(parsed, JSON.parse(JSON.stringify(s)));
      assert.equal(serializeSdp(parsed), text);
    }),
    { numRuns: 500 },
  );
});

Deno.test("fast-check: random line soups only ever throw SdpParseError", () => {
  const lineArb = fc.oneof(
    fc.string({ maxLength: 30 }),
    fc.tuple(fc.constantFrom(..."vosiuepcbtrzkamxy"), fc.string({ maxLength: 30 })).map(([t, v]) =>
      `${t}=${v}`
    ),
  );
  fc.assert(
    fc.property(fc.array(lineArb, { maxLength: 12 }), fc.boolean(), (lines, prefix) => {
      const head = prefix ? ["v=0", "o=- 1 1 IN IP4 h", "s=-"] : [];
      try {
        const s = parseSdp([...head, ...lines].join("\r\n"));
        // Whatever parses must serialize and parse again to the same structure.
        assert.deepEqual(parseSdp(serializeSdp(s)), s);
      } catch (e) {
        if (!(e instanceof SdpParseError)) throw e;
      }
    }),
    { numRuns: 1500 },
  );
});

Deno.test("out-of-order known lines: unknown lines keep a stable place (parse∘serialize is idempotent)", () => {
  // Found by the line-soup property (seed -1256303757): a duplicate u= kept as an unknown
  // line, then an i= that the serializer moves before u=.
  const text = "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nu=\r\nu=\r\ni=\r\n";
  const once = parseSdp(text);
  const twice = parseSdp(serializeSdp(once));
  assert.deepEqual(twice, once);
  assert.equal(serializeSdp(twice), serializeSdp(once));
  // A repeated k= stays after the kept one when p= moves ahead of both.
  const dup = parseSdp("v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\nk=a\r\np=1\r\nk=b\r\n");
  assert.equal(dup.key, "a");
  assert.deepEqual(parseSdp(serializeSdp(dup)), dup);
  // In-order input keeps its exact positions.
  const inOrder = "v=0\r\no=- 1 1 IN IP4 h\r\ns=-\r\ni=x\r\ny=1\r\nu=http://a\r\nt=0 0\r\n";
  assert.equal(serializeSdp(parseSdp(inOrder)), inOrder);
});

Deno.test("createAnswer: property — an RTP format is kept iff name (any case), rate and channels match a supported format", () => {
  // The reference: keys `name/rate/channels` (channels default 1), as RFC 3264 §6 matching by
  // encoding and clock rate needs; extra `/` parts of a supported format are ignored.
  const key = (name: string, rate: number, ch: number | undefined): string =>
    `${name.toLowerCase()}/${rate}/${ch ?? 1}`;
  const reference = (formats: string[], name: string, rate: number, ch: number | undefined) =>
    formats.some((f) => {
      const p = f.split("/");
      if (p.length < 2 || !/^\d+$/.test(p[1]!)) return f.toLowerCase() === key(name, rate, ch);
      return key(p[0]!, Number(p[1]), p[2] === undefined ? undefined : Number(p[2])) ===
        key(name, rate, ch);
    });
  const name = fc.constantFrom("PCMU", "pcmu", "opus", "OPUS", "G722", "telephone-event", "Ä");
  const spec = fc.tuple(
    name,
    fc.constantFrom("8000", "48000", "08000", "x", ""),
    fc.option(fc.constantFrom("1", "2", "", "z", "1/extra"), { nil: undefined }),
  ).map(([n, r, c]) => c === undefined ? `${n}/${r}` : `${n}/${r}/${c}`);
  fc.assert(
    fc.property(
      fc.array(fc.oneof(spec, name), { maxLength: 4 }),
      name,
      fc.constantFrom(8000, 48000),
      fc.option(fc.constantFrom(1, 2), { nil: undefined }),
      (formats, enc, rate, ch) => {
        const offer = parseSdp(
          "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n" +
            `m=audio 4000 RTP/AVP 96\r\na=rtpmap:96 ${enc}/${rate}${
              ch === undefined ? "" : `/${ch}`
            }\r\n`,
        );
        const answer = createAnswer(offer, { formats, address: "192.0.2.2", port: 5000 });
        assert.equal(answer.media[0]!.port !== 0, reference(formats, enc, rate, ch));
      },
    ),
    { numRuns: 500 },
  );
});
