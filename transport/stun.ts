/**
 * The STUN Binding exchange (RFC 5389) that SIP UDP ports answer so clients can learn their
 * public address (RFC 5626 §4.4.2 keep-alives use it too). Pure byte work, no I/O.
 *
 * @module
 */

/** RFC 5389 §6: the magic cookie, fixed in every message. */
export const STUN_MAGIC_COOKIE = 0x2112a442;

const BINDING_REQUEST = 0x0001;
const BINDING_SUCCESS = 0x0101;
const ATTR_XOR_MAPPED_ADDRESS = 0x0020;

/**
 * True when the datagram is a STUN Binding request: the two top bits are zero (RFC 5389 §6),
 * it carries the magic cookie, the length field matches and is a multiple of 4.
 *
 * @example
 * ```ts
 * import { isStunBindingRequest } from "./stun.ts";
 * const req = new Uint8Array(20);
 * req.set([0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42]);
 * if (!isStunBindingRequest(req)) throw new Error("should be a binding request");
 * ```
 *
 * @param data the datagram
 * @returns whether it is a Binding request
 */
export function isStunBindingRequest(data: Uint8Array): boolean {
  if (data.length < 20) return false;
  const type = (data[0]! << 8) | data[1]!;
  if (type !== BINDING_REQUEST) return false;
  const length = (data[2]! << 8) | data[3]!;
  if (length % 4 !== 0 || length + 20 !== data.length) return false;
  return readU32(data, 4) === STUN_MAGIC_COOKIE;
}

/** True when the first byte says "not SIP, maybe STUN" (SIP text never starts with 0x00-0x03). */
export function looksLikeStun(data: Uint8Array): boolean {
  return data.length >= 20 && data[0]! < 4;
}

/**
 * Build the Binding success response (RFC 5389 §7.3.1) for a request, carrying the
 * XOR-MAPPED-ADDRESS (§15.2) of the source the request came from.
 *
 * @param request the Binding request (see {@linkcode isStunBindingRequest})
 * @param host the source IP address (IPv4 dotted or IPv6 without brackets)
 * @param port the source port
 * @returns the response datagram
 * @throws {RangeError} when `host` is not an IP address
 */
export function stunBindingSuccess(request: Uint8Array, host: string, port: number): Uint8Array {
  const ip = parseIp(host);
  if (!ip) throw new RangeError(`STUN mapped address ${host} is not an IP address`);
  const attrLen = 4 + ip.length;
  const out = new Uint8Array(20 + 4 + attrLen);
  out[0] = BINDING_SUCCESS >> 8;
  out[1] = BINDING_SUCCESS & 0xff;
  out[2] = (4 + attrLen) >> 8;
  out[3] = (4 + attrLen) & 0xff;
  out.set(request.subarray(4, 20), 4); // magic cookie + transaction id
  let o = 20;
  out[o++] = ATTR_XOR_MAPPED_ADDRESS >> 8;
  out[o++] = ATTR_XOR_MAPPED_ADDRESS & 0xff;
  out[o++] = attrLen >> 8;
  out[o++] = attrLen & 0xff;
  out[o++] = 0;
  out[o++] = ip.length === 4 ? 0x01 : 0x02;
  const xport = port ^ (STUN_MAGIC_COOKIE >>> 16);
  out[o++] = (xport >> 8) & 0xff;
  out[o++] = xport & 0xff;
  // X-Address: the address XOR the cookie (IPv4) or cookie || transaction id (IPv6).
  for (let i = 0; i < ip.length; i++) out[o + i] = ip[i]! ^ request[4 + i]!;
  return out;
}

/** A decoded XOR-MAPPED-ADDRESS. */
export interface StunMappedAddress {
  /** The IP address (IPv6 in full, lower-case, without brackets). */
  host: string;
  /** The port. */
  port: number;
}

/**
 * Read the XOR-MAPPED-ADDRESS from a Binding success response (the client side, for tests
 * and keep-alive users).
 *
 * @param response the response datagram
 * @returns the mapped address, or undefined when absent or malformed
 */
export function parseStunXorMappedAddress(response: Uint8Array): StunMappedAddress | undefined {
  if (response.length < 20 || readU32(response, 4) !== STUN_MAGIC_COOKIE) return undefined;
  const end = Math.min(response.length, 20 + ((response[2]! << 8) | response[3]!));
  let o = 20;
  while (o + 4 <= end) {
    const type = (response[o]! << 8) | response[o + 1]!;
    const len = (response[o + 2]! << 8) | response[o + 3]!;
    const v = o + 4;
    if (v + len > end) return undefined;
    if (type === ATTR_XOR_MAPPED_ADDRESS && len >= 8) {
      const family = response[v + 1];
      const port = (((response[v + 2]! << 8) | response[v + 3]!) ^ (STUN_MAGIC_COOKIE >>> 16)) &
        0xffff;
      const n = family === 0x01 ? 4 : family === 0x02 ? 16 : 0;
      if (n === 0 || len < 4 + n) return undefined;
      const ip = new Uint8Array(n);
      for (let i = 0; i < n; i++) ip[i] = response[v + 4 + i]! ^ response[4 + i]!;
      return { host: formatIp(ip), port };
    }
    o = v + ((len + 3) & ~3);
  }
  return undefined;
}

function readU32(b: Uint8Array, o: number): number {
  return ((b[o]! << 24) | (b[o + 1]! << 16) | (b[o + 2]! << 8) | b[o + 3]!) >>> 0;
}

/** Parse an IPv4 or IPv6 address to bytes; undefined when it is not one. */
export function parseIp(host: string): Uint8Array | undefined {
  const h = host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
  const v4 = parseIpv4(h);
  if (v4) return v4;
  if (!h.includes(":")) return undefined;
  const zone = h.indexOf("%");
  const addr = zone >= 0 ? h.slice(0, zone) : h;
  const halves = addr.split("::");
  if (halves.length > 2) return undefined;
  const words = (part: string): number[] | undefined => {
    if (part === "") return [];
    const out: number[] = [];
    const groups = part.split(":");
    for (let i = 0; i < groups.length; i++) {
      const g = groups[i]!;
      if (i === groups.length - 1 && g.includes(".")) {
        const b = parseIpv4(g);
        if (!b) return undefined;
        out.push((b[0]! << 8) | b[1]!, (b[2]! << 8) | b[3]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
        out.push(parseInt(g, 16));
      }
    }
    return out;
  };
  const head = words(halves[0]!);
  const tail = halves.length === 2 ? words(halves[1]!) : [];
  if (!head || !tail) return undefined;
  const fill = 8 - head.length - tail.length;
  if (halves.length === 2 ? fill < 1 : fill !== 0) return undefined;
  const all = [...head, ...new Array<number>(fill).fill(0), ...tail];
  const out = new Uint8Array(16);
  all.forEach((w, i) => {
    out[2 * i] = w >> 8;
    out[2 * i + 1] = w & 0xff;
  });
  return out;
}

function parseIpv4(h: string): Uint8Array | undefined {
  const out = new Uint8Array(4);
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = 0; i <= h.length; i++) {
    const c = i < h.length ? h.charCodeAt(i) : 46; // a final "."
    if (c === 46) {
      if (digits === 0 || part > 3) return undefined;
      out[part++] = value;
      value = 0;
      digits = 0;
    } else if (c >= 48 && c <= 57 && digits < 3) {
      value = value * 10 + (c - 48);
      digits++;
      if (value > 255) return undefined;
    } else {
      return undefined;
    }
  }
  return part === 4 ? out : undefined;
}

function formatIp(b: Uint8Array): string {
  if (b.length === 4) return Array.from(b).join(".");
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push(((b[i]! << 8) | b[i + 1]!).toString(16));
  return words.join(":");
}
