/**
 * SDP (RFC 4566) typed parse and serialize, and offer/answer helpers (RFC 3264).
 *
 * {@linkcode parseSdp} turns text into an {@linkcode SdpSession}; {@linkcode serializeSdp}
 * writes it back with CRLF line ends. For well-formed input (CRLF line ends, lines in the
 * RFC 4566 §5 order, canonical numbers) `serializeSdp(parseSdp(x)) === x`. Lines of unknown
 * types are kept, in place, in `extraLines`. Values are immutable in spirit: the offer/answer
 * helpers return new objects and never change their input.
 *
 * @example Put a call on hold
 * ```ts
 * import { holdOffer, parseSdp, serializeSdp } from "./sdp.ts";
 * const sdp = parseSdp(
 *   "v=0\r\no=- 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n" +
 *     "m=audio 49170 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n",
 * );
 * const held = holdOffer(sdp); // a=sendonly, o= version 2
 * console.log(serializeSdp(held));
 * ```
 *
 * @module
 */

/** Thrown by {@linkcode parseSdp} for text that is not a valid session description. */
export class SdpParseError extends SyntaxError {
  /** 1-based line number of the offending line, when known. */
  readonly line: number | undefined;

  /** Create the error.
   * @param message what is wrong, in a sentence
   * @param line the 1-based line number
   */
  constructor(message: string, line?: number) {
    super(line === undefined ? message : `${message} (line ${line})`);
    this.name = "SdpParseError";
    this.line = line;
  }
}

/** Media direction attributes (RFC 4566 §6, RFC 3264 §5.1). */
export type SdpDirection = "sendrecv" | "sendonly" | "recvonly" | "inactive";

/** The `o=` line (RFC 4566 §5.2). Session id and version are kept as digit strings
 * because they may exceed 2^53. */
export interface SdpOrigin {
  /** `-` when there is no user id. */
  username: string;
  /** sess-id. */
  sessionId: string;
  /** sess-version. */
  sessionVersion: string;
  /** Usually `IN`. */
  netType: string;
  /** `IP4` or `IP6`. */
  addrType: string;
  /** Unicast address or FQDN. */
  address: string;
}

/** A `c=` line (RFC 4566 §5.7). */
export interface SdpConnection {
  /** Usually `IN`. */
  netType: string;
  /** `IP4` or `IP6`. */
  addrType: string;
  /** The address without the `/ttl/count` suffix. */
  address: string;
  /** Multicast TTL (IP4 only). */
  ttl?: number;
  /** Number of consecutive multicast addresses. */
  count?: number;
}

/** A `b=` line (RFC 4566 §5.8). */
export interface SdpBandwidth {
  /** `CT`, `AS`, `TIAS`, ... */
  type: string;
  /** Kilobits per second (bits for TIAS). */
  value: number;
}

/** An `r=` line (RFC 4566 §5.10), typed times kept as written (`7d`, `3600`). */
export interface SdpRepeat {
  /** Repeat interval. */
  interval: string;
  /** Active duration. */
  duration: string;
  /** Offsets from the start time. */
  offsets: string[];
}

/** A `t=` line and its `r=` lines (RFC 4566 §5.9). */
export interface SdpTiming {
  /** NTP start time; 0 = unbounded. */
  start: number;
  /** NTP stop time; 0 = unbounded. */
  stop: number;
  /** Repeat times. */
  repeats: SdpRepeat[];
}

/** One adjustment of a `z=` line (RFC 4566 §5.11). */
export interface SdpZoneAdjustment {
  /** NTP time of the adjustment. */
  time: string;
  /** Offset, typed time, may be negative (`-1h`). */
  offset: string;
}

/** An `a=` line: `a=name` (property, no value) or `a=name:value`. */
export interface SdpAttribute {
  /** Attribute name. */
  name: string;
  /** Value after the first colon; absent for property attributes. */
  value?: string;
}

/** A line of a type this module does not model at that level, kept verbatim. */
export interface SdpExtraLine {
  /** The one-character type. */
  type: string;
  /** Everything after `=`. */
  value: string;
  /** How many known lines of the section (counting its `v=` or `m=` line) precede it. */
  position: number;
}

/** A media description (`m=` and the lines after it, RFC 4566 §5.14). */
export interface SdpMedia {
  /** `audio`, `video`, `application`, ... */
  type: string;
  /** Transport port; 0 marks a rejected or disabled stream (RFC 3264 §8.2). */
  port: number;
  /** The `/<number of ports>` suffix, when present. */
  numPorts?: number;
  /** `RTP/AVP`, `RTP/SAVP`, `udptl`, ... */
  proto: string;
  /** Formats: RTP payload type numbers for RTP protos. */
  formats: string[];
  /** `i=` media title. */
  information?: string;
  /** Media-level `c=` lines. */
  connections: SdpConnection[];
  /** Media-level `b=` lines. */
  bandwidths: SdpBandwidth[];
  /** `k=` (obsolete but kept). */
  key?: string;
  /** Media-level `a=` lines, in order. */
  attributes: SdpAttribute[];
  /** Unknown lines of this section. */
  extraLines: SdpExtraLine[];
}

/** A parsed session description (RFC 4566 §5). */
export interface SdpSession {
  /** `v=`, always 0 today. */
  version: number;
  /** `o=`. */
  origin: SdpOrigin;
  /** `s=` (may be empty or a single space in the wild). */
  sessionName: string;
  /** `i=`. */
  information?: string;
  /** `u=`. */
  uri?: string;
  /** `e=` lines. */
  emails: string[];
  /** `p=` lines. */
  phones: string[];
  /** Session-level `c=`. */
  connection?: SdpConnection;
  /** Session-level `b=` lines. */
  bandwidths: SdpBandwidth[];
  /** `t=` lines with their `r=` lines. */
  timing: SdpTiming[];
  /** `z=` adjustments. */
  zoneAdjustments?: SdpZoneAdjustment[];
  /** `k=`. */
  key?: string;
  /** Session-level `a=` lines. */
  attributes: SdpAttribute[];
  /** Media descriptions in order. */
  media: SdpMedia[];
  /** Unknown session-level lines. */
  extraLines: SdpExtraLine[];
}

const DIRECTIONS: readonly string[] = ["sendrecv", "sendonly", "recvonly", "inactive"];

/** An ASCII letter (the type of an SDP line). */
function isLetter(c: number): boolean {
  return (c >= 65 && c <= 90) || (c >= 97 && c <= 122);
}

function intField(text: string, what: string, line: number): number {
  // /^\d{1,15}$/, digit by digit (at most 15 digits: below 2^53, exact as a number).
  const n = text.length;
  let ok = n > 0 && n <= 15;
  let v = 0;
  for (let i = 0; ok && i < n; i++) {
    const c = text.charCodeAt(i);
    if (c < 48 || c > 57) ok = false;
    else v = v * 10 + (c - 48);
  }
  if (!ok) throw new SdpParseError(`Invalid ${what} ${JSON.stringify(text)}`, line);
  return v;
}

/** True when `fields` has an empty string. */
function hasEmpty(fields: readonly string[], from = 0, to = fields.length): boolean {
  for (let i = from; i < to; i++) if (fields[i] === "") return true;
  return false;
}

function parseConnection(value: string, line: number): SdpConnection {
  const f = value.split(" ");
  if (f.length !== 3 || hasEmpty(f)) {
    throw new SdpParseError("c= needs <nettype> <addrtype> <address>", line);
  }
  const [netType, addrType, addrText] = f as [string, string, string];
  if (addrText.indexOf("/") < 0) return { netType, addrType, address: addrText };
  const parts = addrText.split("/");
  const c: SdpConnection = { netType, addrType, address: parts[0]! };
  if (parts.length > 1) {
    if (addrType.toUpperCase() === "IP4") {
      c.ttl = intField(parts[1]!, "multicast TTL", line);
      if (parts.length > 2) c.count = intField(parts[2]!, "address count", line);
      if (parts.length > 3) throw new SdpParseError("Too many / parts in c= address", line);
    } else if (addrType.toUpperCase() === "IP6") {
      c.count = intField(parts[1]!, "address count", line);
      if (parts.length > 2) throw new SdpParseError("Too many / parts in c= address", line);
    } else {
      c.address = addrText;
    }
  }
  return c;
}

function parseBandwidth(value: string, line: number): SdpBandwidth {
  const i = value.indexOf(":");
  if (i <= 0) throw new SdpParseError("b= needs <bwtype>:<bandwidth>", line);
  return { type: value.slice(0, i), value: intField(value.slice(i + 1), "bandwidth", line) };
}

function parseAttribute(value: string): SdpAttribute {
  const i = value.indexOf(":");
  return i < 0 ? { name: value } : { name: value.slice(0, i), value: value.slice(i + 1) };
}

function newMedia(value: string, line: number): SdpMedia {
  const f = value.split(" ");
  if (f.length < 3 || hasEmpty(f, 0, 3)) {
    throw new SdpParseError("m= needs <media> <port> <proto> <fmt> ...", line);
  }
  const [type, portText, proto] = f as [string, string, string];
  const slash = portText.indexOf("/");
  const m: SdpMedia = {
    type,
    port: 0,
    proto,
    formats: f.slice(3),
    connections: [],
    bandwidths: [],
    attributes: [],
    extraLines: [],
  };
  if (slash >= 0) {
    m.port = intField(portText.slice(0, slash), "port", line);
    m.numPorts = intField(portText.slice(slash + 1), "number of ports", line);
  } else {
    m.port = intField(portText, "port", line);
  }
  if (m.port > 65535) throw new SdpParseError(`Port ${m.port} out of range`, line);
  if (hasEmpty(m.formats)) throw new SdpParseError("Empty format in m= line", line);
  return m;
}

/**
 * Parse a session description (RFC 4566 §5). Lines may end in CRLF or LF. `v=`, `o=` and
 * `s=` must come first, in that order; the other known lines are accepted in any order
 * within their section (and re-ordered by {@linkcode serializeSdp}); lines of unknown types
 * are kept in `extraLines`.
 * @param text the SDP body (UTF-8 decoded)
 * @returns the typed session
 * @throws {SdpParseError} naming the line that is malformed
 */
export function parseSdp(text: string): SdpSession {
  // The lines are read in place (no array of lines, no copy per line). Trailing blank lines
  // ("" or a lone CR, e.g. after the final newline) are dropped: `end` is where the last
  // line that is not blank ends.
  let end = text.length;
  for (;;) {
    const nl = end === 0 ? -1 : text.lastIndexOf("\n", end - 1);
    const len = end - nl - 1;
    if (len !== 0 && (len !== 1 || text.charCodeAt(end - 1) !== 13)) break;
    if (nl < 0) throw new SdpParseError("Empty session description");
    end = nl;
  }
  let session: SdpSession | undefined;
  let origin: SdpOrigin | undefined;
  let media: SdpMedia | undefined;
  let sectionCount = 0; // known lines seen in the current section
  let ranks: number[] = []; // the RFC 4566 order rank of each known line of the section
  let lastTiming: SdpTiming | undefined;
  let sawName = false;
  let next = 0; // where the next line starts
  for (let idx = 0; next <= end; idx++) {
    const lineNo = idx + 1;
    const start = next;
    const nl = text.indexOf("\n", start);
    let stop = nl < 0 || nl > end ? end : nl;
    next = stop + 1;
    if (stop > start && text.charCodeAt(stop - 1) === 13) stop--; // CRLF
    if (
      stop - start < 2 || text.charCodeAt(start + 1) !== 61 ||
      !isLetter(text.charCodeAt(start))
    ) {
      const raw = text.slice(start, stop);
      throw new SdpParseError(`Malformed line ${JSON.stringify(raw.slice(0, 40))}`, lineNo);
    }
    const type = text[start]!;
    const value = text.slice(start + 2, stop);
    if (idx === 0) {
      if (type !== "v") throw new SdpParseError("The first line must be v=", lineNo);
      const version = intField(value, "protocol version", lineNo);
      session = {
        version,
        origin: {
          username: "",
          sessionId: "",
          sessionVersion: "",
          netType: "",
          addrType: "",
          address: "",
        },
        sessionName: "",
        emails: [],
        phones: [],
        bandwidths: [],
        timing: [],
        attributes: [],
        media: [],
        extraLines: [],
      };
      sectionCount = 1;
      ranks = [0];
      continue;
    }
    const s = session!;
    if (idx === 1) {
      if (type !== "o") throw new SdpParseError("The second line must be o=", lineNo);
      const f = value.split(" ");
      if (f.length !== 6 || hasEmpty(f)) {
        throw new SdpParseError(
          "o= needs <username> <sess-id> <sess-version> <nettype> <addrtype> <address>",
          lineNo,
        );
      }
      const [username, sessionId, sessionVersion, netType, addrType, address] = f as [
        string,
        string,
        string,
        string,
        string,
        string,
      ];
      if (!isDigits(sessionId)) throw new SdpParseError("o= sess-id is not a number", lineNo);
      if (!isDigits(sessionVersion)) {
        throw new SdpParseError("o= sess-version is not a number", lineNo);
      }
      origin = { username, sessionId, sessionVersion, netType, addrType, address };
      s.origin = origin;
      sectionCount++;
      ranks.push(1);
      continue;
    }
    if (idx === 2) {
      if (type !== "s") throw new SdpParseError("The third line must be s=", lineNo);
      s.sessionName = value;
      sawName = true;
      sectionCount++;
      ranks.push(2);
      continue;
    }
    if (type === "m") {
      if (media === undefined) canonicalPositions(s.extraLines, ranks, SESSION_RANK);
      else canonicalPositions(media.extraLines, ranks, MEDIA_RANK);
      ranks = [0];
      media = newMedia(value, lineNo);
      s.media.push(media);
      sectionCount = 1;
      lastTiming = undefined;
      continue;
    }
    const pos = sectionCount;
    sectionCount++;
    ranks.push((media === undefined ? SESSION_RANK : MEDIA_RANK)[type] ?? 99);
    if (media !== undefined) {
      switch (type) {
        case "i":
          if (media.information !== undefined) break;
          media.information = value;
          continue;
        case "c":
          media.connections.push(parseConnection(value, lineNo));
          continue;
        case "b":
          media.bandwidths.push(parseBandwidth(value, lineNo));
          continue;
        case "k":
          if (media.key !== undefined) break;
          media.key = value;
          continue;
        case "a":
          media.attributes.push(parseAttribute(value));
          continue;
      }
      media.extraLines.push({ type, value, position: pos });
      sectionCount--;
      ranks.pop();
      continue;
    }
    switch (type) {
      case "i":
        if (s.information !== undefined) break;
        s.information = value;
        continue;
      case "u":
        if (s.uri !== undefined) break;
        s.uri = value;
        continue;
      case "e":
        s.emails.push(value);
        continue;
      case "p":
        s.phones.push(value);
        continue;
      case "c":
        if (s.connection !== undefined) {
          throw new SdpParseError("More than one session-level c= line", lineNo);
        }
        s.connection = parseConnection(value, lineNo);
        continue;
      case "b":
        s.bandwidths.push(parseBandwidth(value, lineNo));
        continue;
      case "t": {
        const f = value.split(" ");
        if (f.length !== 2) throw new SdpParseError("t= needs <start> <stop>", lineNo);
        lastTiming = {
          start: intField(f[0]!, "start time", lineNo),
          stop: intField(f[1]!, "stop time", lineNo),
          repeats: [],
        };
        s.timing.push(lastTiming);
        continue;
      }
      case "r": {
        if (lastTiming === undefined) throw new SdpParseError("r= without a preceding t=", lineNo);
        const f = value.split(" ");
        if (f.length < 3 || f.some((x) => !/^\d+[dhms]?$/.test(x))) {
          throw new SdpParseError("r= needs <interval> <duration> <offsets>...", lineNo);
        }
        lastTiming.repeats.push({ interval: f[0]!, duration: f[1]!, offsets: f.slice(2) });
        continue;
      }
      case "z": {
        if (s.zoneAdjustments !== undefined) break;
        const f = value.split(" ");
        if (f.length % 2 !== 0 || f.some((x) => !/^-?\d+[dhms]?$/.test(x))) {
          throw new SdpParseError("z= needs <time> <offset> pairs", lineNo);
        }
        const z: SdpZoneAdjustment[] = [];
        for (let k = 0; k < f.length; k += 2) z.push({ time: f[k]!, offset: f[k + 1]! });
        s.zoneAdjustments = z;
        continue;
      }
      case "k":
        if (s.key !== undefined) break;
        s.key = value;
        continue;
      case "a":
        s.attributes.push(parseAttribute(value));
        continue;
    }
    s.extraLines.push({ type, value, position: pos });
    sectionCount--;
    ranks.pop();
  }
  if (origin === undefined) throw new SdpParseError("Missing o= line");
  if (!sawName) throw new SdpParseError("Missing s= line");
  if (media === undefined) canonicalPositions(session!.extraLines, ranks, SESSION_RANK);
  else canonicalPositions(media.extraLines, ranks, MEDIA_RANK);
  return session!;
}

/** RFC 4566 §5 order of the known session-level lines (v, o, s are 0, 1, 2). */
const SESSION_RANK: Readonly<Record<string, number>> = Object.freeze({
  i: 3,
  u: 4,
  e: 5,
  p: 6,
  c: 7,
  b: 8,
  t: 9,
  r: 9,
  z: 10,
  k: 11,
  a: 12,
});
/** RFC 4566 §5 order of the known media-level lines (m is 0). */
const MEDIA_RANK: Readonly<Record<string, number>> = Object.freeze({
  i: 1,
  c: 2,
  b: 3,
  k: 4,
  a: 5,
});

/**
 * Known lines are written back in the RFC 4566 order. When a section had them out of that
 * order, re-anchor each unknown line after the known lines that sort up to the one it
 * followed, so that parse → serialize → parse is stable. In-order sections keep their exact
 * positions.
 */
function canonicalPositions(
  extras: SdpExtraLine[],
  ranks: readonly number[],
  rankOf: Readonly<Record<string, number>>,
): void {
  if (extras.length === 0) return;
  let ordered = true;
  for (let i = 1; i < ranks.length; i++) if (ranks[i]! < ranks[i - 1]!) ordered = false;
  if (ordered) return;
  let floor = 0; // unknown lines keep their relative order
  for (const e of extras) {
    // A repeated single-valued line (a second k=, u=, ...) stays after the one that was kept,
    // or a reparse would swap the two.
    const before = Math.max(e.position > 0 ? ranks[e.position - 1]! : -1, rankOf[e.type] ?? -1);
    floor = Math.max(floor, ranks.filter((r) => r <= before).length);
    e.position = floor;
  }
}

function attributeLine(a: SdpAttribute): string {
  return a.value === undefined ? "a=" + a.name : "a=" + a.name + ":" + a.value;
}

function connectionText(c: SdpConnection): string {
  let a = c.address;
  if (c.ttl !== undefined) a += "/" + c.ttl;
  if (c.count !== undefined) a += "/" + c.count;
  return c.netType + " " + c.addrType + " " + a;
}

/** The lines of a section are handed to `line` one by one, without their CRLF. The text is
 * built by concatenation: V8 keeps it as a rope that the UTF-8 encoder walks once, which is
 * faster than an array join or a flat string per line. */
type LineSink = (text: string) => void;

/** The session-level lines, in the RFC 4566 §5 order. */
function sessionLines(sdp: SdpSession, line: LineSink): void {
  const o = sdp.origin;
  line("v=" + sdp.version);
  line(
    "o=" + o.username + " " + o.sessionId + " " + o.sessionVersion + " " + o.netType + " " +
      o.addrType + " " + o.address,
  );
  line("s=" + sdp.sessionName);
  if (sdp.information !== undefined) line("i=" + sdp.information);
  if (sdp.uri !== undefined) line("u=" + sdp.uri);
  for (const e of sdp.emails) line("e=" + e);
  for (const p of sdp.phones) line("p=" + p);
  if (sdp.connection !== undefined) line("c=" + connectionText(sdp.connection));
  for (const b of sdp.bandwidths) line("b=" + b.type + ":" + b.value);
  for (const t of sdp.timing) {
    line("t=" + t.start + " " + t.stop);
    for (const r of t.repeats) line(`r=${r.interval} ${r.duration} ${r.offsets.join(" ")}`);
  }
  if (sdp.zoneAdjustments !== undefined) {
    line(`z=${sdp.zoneAdjustments.map((z) => `${z.time} ${z.offset}`).join(" ")}`);
  }
  if (sdp.key !== undefined) line("k=" + sdp.key);
  for (const a of sdp.attributes) line(attributeLine(a));
}

/** The lines of a media description, in the RFC 4566 §5 order. */
function mediaLines(m: SdpMedia, line: LineSink): void {
  let mline = "m=" + m.type + " " + m.port;
  if (m.numPorts !== undefined) mline += "/" + m.numPorts;
  mline += " " + m.proto;
  for (const f of m.formats) mline += " " + f;
  line(mline);
  if (m.information !== undefined) line("i=" + m.information);
  for (const c of m.connections) line("c=" + connectionText(c));
  for (const b of m.bandwidths) line("b=" + b.type + ":" + b.value);
  if (m.key !== undefined) line("k=" + m.key);
  for (const a of m.attributes) line(attributeLine(a));
}

/** A section's text, with its unknown lines re-inserted at their recorded positions. */
function withExtras(extras: readonly SdpExtraLine[], write: (line: LineSink) => void): string {
  const known: string[] = [];
  write((text) => void known.push(text));
  const sorted = [...extras].sort((a, b) => a.position - b.position);
  let out = "";
  let e = 0;
  for (let i = 0; i < known.length; i++) {
    for (; e < sorted.length && sorted[e]!.position <= i; e++) {
      out += sorted[e]!.type + "=" + sorted[e]!.value + "\r\n";
    }
    out += known[i]! + "\r\n";
  }
  for (; e < sorted.length; e++) out += sorted[e]!.type + "=" + sorted[e]!.value + "\r\n";
  return out;
}

/**
 * Serialize a session description with CRLF line ends, known lines in the RFC 4566 §5
 * order, and unknown lines re-inserted at their recorded positions.
 * @param sdp the session
 * @returns the SDP text, ending in CRLF
 */
export function serializeSdp(sdp: SdpSession): string {
  let out = "";
  const line = (text: string): void => {
    out += text + "\r\n";
  };
  if (sdp.extraLines.length === 0) sessionLines(sdp, line);
  else out += withExtras(sdp.extraLines, (l) => sessionLines(sdp, l));
  for (const m of sdp.media) {
    if (m.extraLines.length === 0) mediaLines(m, line);
    else out += withExtras(m.extraLines, (l) => mediaLines(m, l));
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Attribute helpers

/** A parsed `a=rtpmap` value (RFC 4566 §6). */
export interface SdpRtpmap {
  /** RTP payload type. */
  payloadType: number;
  /** Encoding name as written (`PCMU`, `opus`, `telephone-event`). */
  encodingName: string;
  /** Clock rate in Hz. */
  clockRate: number;
  /** Encoding parameters: the channel count for audio. */
  channels?: number;
}

/** The static RTP/AVP payload types of RFC 3551 §6 that have a fixed encoding. */
const STATIC_PAYLOAD_TYPES: Readonly<Record<string, readonly [string, number, number?]>> = {
  "0": ["PCMU", 8000, 1],
  "3": ["GSM", 8000, 1],
  "4": ["G723", 8000, 1],
  "5": ["DVI4", 8000, 1],
  "6": ["DVI4", 16000, 1],
  "7": ["LPC", 8000, 1],
  "8": ["PCMA", 8000, 1],
  "9": ["G722", 8000, 1],
  "10": ["L16", 44100, 2],
  "11": ["L16", 44100, 1],
  "12": ["QCELP", 8000, 1],
  "13": ["CN", 8000, 1],
  "14": ["MPA", 90000],
  "15": ["G728", 8000, 1],
  "16": ["DVI4", 11025, 1],
  "17": ["DVI4", 22050, 1],
  "18": ["G729", 8000, 1],
  "25": ["CelB", 90000],
  "26": ["JPEG", 90000],
  "28": ["nv", 90000],
  "31": ["H261", 90000],
  "32": ["MPV", 90000],
  "33": ["MP2T", 90000],
  "34": ["H263", 90000],
};

/**
 * Parse an `a=rtpmap` value: `<payload type> <encoding name>/<clock rate>[/<params>]`.
 * @param value the attribute value
 * @returns the rtpmap, or undefined when malformed
 */
export function parseRtpmap(value: string): SdpRtpmap | undefined {
  // /^(\d{1,3}) ([^/ ]+)\/(\d+)(?:\/(\d+))?$/ on the trimmed value, read by hand.
  const v = value.trim();
  const n = v.length;
  let i = digitsEnd(v, 0);
  if (i === 0 || i > 3 || i >= n || v.charCodeAt(i) !== 32) return undefined;
  const payloadType = Number(v.slice(0, i));
  const nameStart = ++i;
  for (; i < n; i++) {
    const c = v.charCodeAt(i);
    if (c === 47 || c === 32) break; // "/" or " "
  }
  if (i === nameStart || i >= n || v.charCodeAt(i) !== 47) return undefined;
  const encodingName = v.slice(nameStart, i);
  const rateStart = ++i;
  i = digitsEnd(v, i);
  if (i === rateStart) return undefined;
  const r: SdpRtpmap = { payloadType, encodingName, clockRate: Number(v.slice(rateStart, i)) };
  if (i === n) return r;
  if (v.charCodeAt(i) !== 47) return undefined;
  const chStart = ++i;
  i = digitsEnd(v, i);
  if (i === chStart || i !== n) return undefined;
  r.channels = Number(v.slice(chStart, i));
  return r;
}

/** Where the run of ASCII digits from `start` ends. */
function digitsEnd(s: string, start: number): number {
  let i = start;
  while (i < s.length) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) break;
    i++;
  }
  return i;
}

/** All values of the attributes named `name` (case-sensitive, as RFC 4566 says).
 * @param section a session or media
 * @param name the attribute name
 * @returns the values (`""` for property attributes)
 */
export function getAttributes(
  section: { attributes: readonly SdpAttribute[] },
  name: string,
): string[] {
  return section.attributes.filter((a) => a.name === name).map((a) => a.value ?? "");
}

/** The first value of the attribute named `name`.
 * @param section a session or media
 * @param name the attribute name
 * @returns the value (`""` for a property attribute), or undefined when absent
 */
export function getAttribute(
  section: { attributes: readonly SdpAttribute[] },
  name: string,
): string | undefined {
  const a = section.attributes.find((x) => x.name === name);
  return a === undefined ? undefined : a.value ?? "";
}

/**
 * The rtpmap of a payload type: from `a=rtpmap`, or the RFC 3551 static table for RTP/AVP
 * payload types without one.
 * @param media the media description
 * @param payloadType the format as in `m=`
 * @returns the rtpmap, or undefined when unknown
 */
export function getRtpmap(media: SdpMedia, payloadType: string | number): SdpRtpmap | undefined {
  const pt = String(payloadType);
  for (const v of getAttributes(media, "rtpmap")) {
    const r = parseRtpmap(v);
    if (r !== undefined && String(r.payloadType) === pt) return r;
  }
  return staticRtpmap(media, pt);
}

/** The RFC 3551 static rtpmap of an RTP/AVP payload type, when it has one. */
function staticRtpmap(media: SdpMedia, pt: string): SdpRtpmap | undefined {
  const st = STATIC_PAYLOAD_TYPES[pt];
  if (st === undefined || !media.proto.toUpperCase().includes("RTP/")) return undefined;
  const r: SdpRtpmap = { payloadType: Number(pt), encodingName: st[0], clockRate: st[1] };
  if (st[2] !== undefined) r.channels = st[2];
  return r;
}

/** `getRtpmap` for every format of a media description at once: each rtpmap attribute is
 * parsed once (the first one of a payload type wins, as in `getRtpmap`). */
function rtpmapLookup(media: SdpMedia): (pt: string) => SdpRtpmap | undefined {
  let maps: Map<string, SdpRtpmap> | undefined;
  for (const a of media.attributes) {
    if (a.name !== "rtpmap") continue;
    const r = parseRtpmap(a.value ?? "");
    if (r === undefined) continue;
    maps ??= new Map();
    const key = String(r.payloadType);
    if (!maps.has(key)) maps.set(key, r);
  }
  return (pt) => maps?.get(pt) ?? staticRtpmap(media, pt);
}

/**
 * The `a=fmtp` parameters of a format (RFC 4566 §6), as the raw string after the format.
 * @param media the media description
 * @param format the format as in `m=`
 * @returns e.g. `0-16` for telephone-event, or undefined
 */
export function getFmtp(media: SdpMedia, format: string | number): string | undefined {
  const prefix = `${format} `;
  for (const v of getAttributes(media, "fmtp")) {
    if (v.startsWith(prefix)) return v.slice(prefix.length).trim();
  }
  return undefined;
}

/**
 * Split fmtp parameters of the common `key=value;key2=value2` form. Keys are lower-cased;
 * a bare key maps to `""`.
 * @param params the fmtp parameter string
 * @returns the parameters in order
 */
export function parseFmtpParams(params: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of params.split(";")) {
    const p = part.trim();
    if (p === "") continue;
    const eq = p.indexOf("=");
    if (eq < 0) out.set(p.toLowerCase(), "");
    else out.set(p.slice(0, eq).trim().toLowerCase(), p.slice(eq + 1).trim());
  }
  return out;
}

/**
 * The `a=ptime` of a media description, in ms.
 * @param media the media description
 * @returns the packet time, or undefined when absent or malformed
 */
export function getPtime(media: SdpMedia): number | undefined {
  const v = getAttribute(media, "ptime");
  if (v === undefined || !/^\d+(\.\d+)?$/.test(v.trim())) return undefined;
  return Number(v.trim());
}

function directionOf(attrs: readonly SdpAttribute[]): SdpDirection | undefined {
  for (const a of attrs) {
    if (a.value === undefined && DIRECTIONS.includes(a.name)) return a.name as SdpDirection;
  }
  return undefined;
}

/**
 * The effective direction of a media stream: its own attribute, else the session-level
 * one, else `sendrecv` (RFC 3264 §5.1).
 * @param media the media description
 * @param session the session, for the session-level default
 * @returns the direction
 */
export function getDirection(media: SdpMedia, session?: SdpSession): SdpDirection {
  return directionOf(media.attributes) ??
    (session === undefined ? undefined : directionOf(session.attributes)) ?? "sendrecv";
}

/**
 * A copy of the media with exactly one direction attribute, `dir` (replacing any in place).
 * @param media the media description
 * @param dir the new direction
 * @returns the new media description
 */
export function setDirection(media: SdpMedia, dir: SdpDirection): SdpMedia {
  const copy = structuredClone(media);
  const idx = copy.attributes.findIndex((a) =>
    a.value === undefined && DIRECTIONS.includes(a.name)
  );
  copy.attributes = copy.attributes.filter((a) =>
    !(a.value === undefined && DIRECTIONS.includes(a.name))
  );
  copy.attributes.splice(idx < 0 ? copy.attributes.length : idx, 0, { name: dir });
  return copy;
}

// ---------------------------------------------------------------------------------------
// Offer/answer (RFC 3264)

/**
 * A copy with the `o=` session version incremented by one, as every new offer in a session
 * needs (RFC 3264 §8: "the version in the origin field MUST increment by one").
 * @param sdp the previous session description
 * @returns the new session description
 */
export function incrementVersion(sdp: SdpSession): SdpSession {
  const copy = structuredClone(sdp);
  copy.origin.sessionVersion = (BigInt(sdp.origin.sessionVersion) + 1n).toString();
  return copy;
}

/** Options of {@linkcode holdOffer} and {@linkcode unholdOffer}. */
export interface ReofferOptions {
  /** Increment the `o=` version (default true: the result is a new offer). */
  incrementVersion?: boolean;
}

function mapDirections(
  sdp: SdpSession,
  f: (d: SdpDirection) => SdpDirection,
  options: ReofferOptions,
): SdpSession {
  const base = options.incrementVersion === false ? structuredClone(sdp) : incrementVersion(sdp);
  const sessionDir = directionOf(sdp.attributes);
  base.attributes = base.attributes.filter((a) =>
    !(a.value === undefined && DIRECTIONS.includes(a.name))
  );
  base.media = sdp.media.map((m) => {
    if (m.port === 0) return structuredClone(m);
    const current = directionOf(m.attributes) ?? sessionDir ?? "sendrecv";
    return setDirection(m, f(current));
  });
  return base;
}

/**
 * Build a hold re-offer (RFC 3264 §8.4): each active stream that was `sendrecv` becomes
 * `sendonly` and each `recvonly` becomes `inactive`; `sendonly` and `inactive` stay. The
 * direction is written on every media line (a session-level direction is moved down).
 * Disabled streams (port 0) are left alone.
 * @param sdp the previous offer or answer this side sent
 * @param options see {@linkcode ReofferOptions}
 * @returns the new offer
 */
export function holdOffer(sdp: SdpSession, options: ReofferOptions = {}): SdpSession {
  return mapDirections(
    sdp,
    (d) => d === "sendrecv" ? "sendonly" : d === "recvonly" ? "inactive" : d,
    options,
  );
}

/**
 * Build a resume re-offer, the inverse of {@linkcode holdOffer}: `sendonly` becomes
 * `sendrecv` and `inactive` becomes `recvonly`. A stream that was `inactive` before the hold
 * comes back `recvonly`; pass `direction` to force one for every stream instead.
 * @param sdp the hold offer previously sent
 * @param options see {@linkcode ReofferOptions}; `direction` forces the result
 * @returns the new offer
 */
export function unholdOffer(
  sdp: SdpSession,
  options: ReofferOptions & { direction?: SdpDirection } = {},
): SdpSession {
  const forced = options.direction;
  return mapDirections(
    sdp,
    (d) => forced ?? (d === "sendonly" ? "sendrecv" : d === "inactive" ? "recvonly" : d),
    options,
  );
}

/**
 * True when every active stream is `sendonly` or `inactive`, or the connection address is
 * `0.0.0.0` (the RFC 2543 hold style, RFC 3264 §8.4).
 * @param sdp the session description received
 * @returns whether the sender put the call on hold
 */
export function isOnHold(sdp: SdpSession): boolean {
  const active = sdp.media.filter((m) => m.port !== 0);
  if (active.length === 0) return false;
  return active.every((m) => {
    const d = getDirection(m, sdp);
    const c = m.connections[0] ?? sdp.connection;
    return d === "sendonly" || d === "inactive" || c?.address === "0.0.0.0";
  });
}

/**
 * The answer direction for an offered direction and what this side can do (RFC 3264
 * §6.1): the answerer may send only if the offerer receives and this side sends, and
 * receive only if the offerer sends and this side receives.
 * @param offer the direction in the offer
 * @param local what this side is willing to do (default `sendrecv`)
 * @returns the direction to put in the answer
 */
export function answerDirection(
  offer: SdpDirection,
  local: SdpDirection = "sendrecv",
): SdpDirection {
  const offerSends = offer === "sendrecv" || offer === "sendonly";
  const offerRecvs = offer === "sendrecv" || offer === "recvonly";
  const localSends = local === "sendrecv" || local === "sendonly";
  const localRecvs = local === "sendrecv" || local === "recvonly";
  const send = offerRecvs && localSends;
  const recv = offerSends && localRecvs;
  return send && recv ? "sendrecv" : send ? "sendonly" : recv ? "recvonly" : "inactive";
}

/** Options of {@linkcode createAnswer}. */
export interface AnswerOptions {
  /**
   * Supported formats. For RTP protos: `encoding/clockrate[/channels]` (e.g. `PCMU/8000`,
   * `opus/48000/2`, `telephone-event/8000`), matched case-insensitively against the
   * offer's rtpmap or the RFC 3551 static table. For other protos: the format token itself
   * (e.g. `t38`).
   */
  formats: readonly string[];
  /** The address for the session-level `c=` line. */
  address: string;
  /** Port of the accepted streams: a number (the k-th accepted stream gets `port + 2k`)
   * or a function of the offered media and its index. */
  port: number | ((media: SdpMedia, index: number) => number);
  /** What this side is willing to do; default `sendrecv`. */
  direction?: SdpDirection;
  /** The answerer's `o=` fields; defaults: `-`, a random id, version `0`. */
  origin?: { username?: string; sessionId?: string; sessionVersion?: string };
  /** `s=`; default `-`. */
  sessionName?: string;
  /** Add `a=ptime` to accepted audio streams. */
  ptime?: number;
  /** Media types to accept (default: every type with a common format). */
  mediaTypes?: readonly string[];
}

function formatKey(name: string, rate: number, channels: number | undefined): string {
  return `${name.toLowerCase()}/${rate}/${channels ?? 1}`;
}

function isDigits(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

function supportedKeys(formats: readonly string[]): Set<string> {
  const keys = new Set<string>();
  for (const f of formats) {
    const p = f.split("/");
    if (p.length >= 2 && isDigits(p[1]!)) {
      keys.add(formatKey(p[0]!, Number(p[1]), p[2] === undefined ? undefined : Number(p[2])));
    } else keys.add(f.toLowerCase());
  }
  return keys;
}

function randomSessionId(): string {
  // 52 random bits from the CSPRNG behind randomUUID (no typed array per call): 13 of its
  // random hex digits.
  const u = crypto.randomUUID();
  let id = 0;
  for (let i = 0; i < 8; i++) id = id * 16 + hexValue(u.charCodeAt(i));
  for (let i = 24; i < 29; i++) id = id * 16 + hexValue(u.charCodeAt(i));
  return String(id);
}

/** The value of a lower-case hex digit. */
function hexValue(c: number): number {
  return c <= 57 ? c - 48 : c - 87;
}

function hasNonAscii(s: string, start: number, end: number): boolean {
  for (let i = start; i < end; i++) if (s.charCodeAt(i) > 127) return true;
  return false;
}

/** `a.slice(start, end).toLowerCase() === b.toLowerCase()`, without copies for ASCII. */
function sameIgnoreCase(a: string, start: number, end: number, b: string): boolean {
  if (hasNonAscii(a, start, end) || hasNonAscii(b, 0, b.length)) {
    return a.slice(start, end).toLowerCase() === b.toLowerCase();
  }
  if (end - start !== b.length) return false;
  for (let i = 0; i < b.length; i++) {
    let x = a.charCodeAt(start + i);
    let y = b.charCodeAt(i);
    if (x >= 65 && x <= 90) x += 32;
    if (y >= 65 && y <= 90) y += 32;
    if (x !== y) return false;
  }
  return true;
}

/** Whether a supported format `encoding/clockrate[/channels]` names the rtpmap `r`: the
 * test `supportedKeys` and `formatKey` make (parts after the third are ignored there too),
 * without building the keys. */
function formatNames(spec: string, r: SdpRtpmap): boolean {
  const s1 = spec.indexOf("/");
  if (s1 < 0) return false;
  const s2 = spec.indexOf("/", s1 + 1);
  const rate = spec.slice(s1 + 1, s2 < 0 ? spec.length : s2);
  if (!isDigits(rate) || Number(rate) !== r.clockRate) return false;
  if (s2 < 0) {
    if ((r.channels ?? 1) !== 1) return false;
  } else {
    const s3 = spec.indexOf("/", s2 + 1);
    if (Number(spec.slice(s2 + 1, s3 < 0 ? spec.length : s3)) !== (r.channels ?? 1)) return false;
  }
  return sameIgnoreCase(spec, 0, s1, r.encodingName);
}

/** The offered formats of `m` that `formats` supports, in the offer's order. */
function commonFormats(m: SdpMedia, isRtp: boolean, formats: readonly string[]): string[] {
  if (!isRtp) {
    const supported = supportedKeys(formats);
    return m.formats.filter((f) => supported.has(f.toLowerCase()));
  }
  const rtpmap = rtpmapLookup(m);
  return m.formats.filter((f) => {
    const r = rtpmap(f);
    if (r === undefined) return false;
    for (const spec of formats) if (formatNames(spec, r)) return true;
    return false;
  });
}

/** Copies of the `a=rtpmap` (and unless `rtpmapOnly`, `a=fmtp`) attributes of `m` that
 * name one of `formats`, in order. */
function keepAttrsFor(
  m: SdpMedia,
  formats: readonly string[],
  rtpmapOnly: boolean,
): SdpAttribute[] {
  const kept: SdpAttribute[] = [];
  for (const a of m.attributes) {
    if ((a.name !== "rtpmap" && (rtpmapOnly || a.name !== "fmtp")) || a.value === undefined) {
      continue;
    }
    const sp = a.value.indexOf(" ");
    if (formats.includes(sp < 0 ? a.value : a.value.slice(0, sp))) kept.push({ ...a });
  }
  return kept;
}

/**
 * Build an answer to an offer (RFC 3264 §6): one `m=` line per offered line, in the same
 * order. A stream is accepted when its type is allowed, its offered port is not 0 and it
 * shares a format with `formats`; it then lists the common formats in the offer's order,
 * with the offer's payload type numbers, rtpmap and fmtp lines, and the direction from
 * {@linkcode answerDirection} (written only when not `sendrecv`). A rejected stream gets
 * port 0 and the first offered format (RFC 3264 §6: at least one format must be listed).
 * The `t=` line is copied from the offer, as §6 requires.
 * @param offer the parsed offer
 * @param options local capabilities and addresses
 * @returns the answer
 */
export function createAnswer(offer: SdpSession, options: AnswerOptions): SdpSession {
  const addrType = options.address.includes(":") ? "IP6" : "IP4";
  const local = options.direction ?? "sendrecv";
  let accepted = 0;
  const media: SdpMedia[] = [];
  for (let index = 0; index < offer.media.length; index++) {
    const m = offer.media[index]!;
    const isRtp = m.proto.toUpperCase().includes("RTP/");
    const common = m.port === 0 ||
        (options.mediaTypes !== undefined && !options.mediaTypes.includes(m.type))
      ? []
      : commonFormats(m, isRtp, options.formats);
    if (common.length === 0) {
      const first = m.formats.slice(0, 1);
      media.push({
        type: m.type,
        port: 0,
        proto: m.proto,
        formats: first,
        connections: [],
        bandwidths: [],
        attributes: keepAttrsFor(m, first, true),
        extraLines: [],
      });
      continue;
    }
    const port = typeof options.port === "number"
      ? options.port + 2 * accepted
      : options.port(m, index);
    accepted++;
    const attributes = keepAttrsFor(m, common, false);
    if (options.ptime !== undefined && m.type === "audio") {
      attributes.push({ name: "ptime", value: String(options.ptime) });
    }
    const dir = answerDirection(getDirection(m, offer), local);
    if (dir !== "sendrecv") attributes.push({ name: dir });
    media.push({
      type: m.type,
      port,
      proto: m.proto,
      formats: common,
      connections: [],
      bandwidths: [],
      attributes,
      extraLines: [],
    });
  }
  return {
    version: 0,
    origin: {
      username: options.origin?.username ?? "-",
      sessionId: options.origin?.sessionId ?? randomSessionId(),
      sessionVersion: options.origin?.sessionVersion ?? "0",
      netType: "IN",
      addrType,
      address: options.address,
    },
    sessionName: options.sessionName ?? "-",
    emails: [],
    phones: [],
    connection: { netType: "IN", addrType, address: options.address },
    bandwidths: [],
    timing: offer.timing.map((t) => ({
      start: t.start,
      stop: t.stop,
      repeats: t.repeats.map((r) => ({ ...r, offsets: r.offsets.slice() })),
    })),
    attributes: [],
    media,
    extraLines: [],
  };
}
