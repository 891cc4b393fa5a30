/**
 * Folder-private: the stateless `400 Bad Request` for a message the parser rejected
 * (RFC 3261 §8.1.3.1 / §16.3 spirit, DESIGN "Bad input"), built with minimal string work from
 * the raw bytes. It never throws: anything it cannot make sense of gives `undefined` (drop).
 *
 * @module
 */

const latin1 = new TextDecoder("latin1");
const REQUEST_LINE = /^[A-Za-z][A-Za-z0-9.!%*_+`'~-]* \S+ SIP\/\d+\.\d+$/;
const TOP_VIA =
  /^\s*SIP\s*\/\s*\d+\.\d+\s*\/\s*([A-Za-z]+)\s+(\[[0-9A-Fa-f:.]+\]|[^\s;:,]+)(?:\s*:\s*(\d{1,5}))?([^,]*)/;
const COPY: ReadonlyMap<string, string> = new Map([
  ["via", "Via"],
  ["v", "Via"],
  ["from", "From"],
  ["f", "From"],
  ["to", "To"],
  ["t", "To"],
  ["call-id", "Call-ID"],
  ["i", "Call-ID"],
  ["cseq", "CSeq"],
]);

/** A 400 ready to send, and where the top Via says to send it. */
export interface BadRequestReply {
  /** The response bytes. */
  bytes: Uint8Array;
  /** Upper-cased transport of the top Via. */
  viaTransport: string;
  /** True when the top Via has `rport` (answer to the source port). */
  rport: boolean;
  /** The top Via port, if any. */
  viaPort: number | undefined;
}

/**
 * Build a `400` answering unparseable bytes that look like a request with a readable Via.
 *
 * @param data the raw message
 * @param reason the parse error message, put in the reason phrase
 * @param toTag tag to add to To when it has none
 * @returns the reply, or undefined when the input is not a request or has no usable Via
 */
export function buildBadRequest(
  data: Uint8Array,
  reason: string,
  toTag: string,
): BadRequestReply | undefined {
  try {
    let end = data.length;
    for (let i = 0; i + 3 < data.length; i++) {
      if (data[i] === 13 && data[i + 1] === 10 && data[i + 2] === 13 && data[i + 3] === 10) {
        end = i;
        break;
      }
    }
    const head = latin1.decode(data.subarray(0, Math.min(end, 65536)));
    const lines = head.split(/\r?\n/);
    let first = 0;
    while (first < lines.length && lines[first] === "") first++;
    if (!REQUEST_LINE.test(lines[first] ?? "")) return undefined;
    const out: string[] = [];
    let topVia: string | undefined;
    let current: string | undefined;
    const flush = (): void => {
      if (current === undefined) return;
      const colon = current.indexOf(":");
      const name = current.slice(0, colon).trim().toLowerCase();
      const canonical = COPY.get(name);
      if (canonical !== undefined) {
        let value = current.slice(colon + 1).trim();
        if (canonical === "Via") topVia ??= value;
        if (canonical === "To" && !/;\s*tag\s*=/i.test(value)) value += `;tag=${toTag}`;
        out.push(`${canonical}: ${value}`);
      }
      current = undefined;
    };
    for (let i = first + 1; i < lines.length; i++) {
      const line = lines[i]!;
      if (line.startsWith(" ") || line.startsWith("\t")) {
        if (current !== undefined) current += " " + line.trim();
        continue;
      }
      flush();
      if (line.indexOf(":") > 0) current = line;
    }
    flush();
    if (topVia === undefined) return undefined;
    const m = TOP_VIA.exec(topVia);
    if (!m) return undefined;
    const phrase = printable("Bad Request - " + reason).slice(0, 120);
    const text = `SIP/2.0 400 ${phrase}\r\n${out.join("\r\n")}\r\nContent-Length: 0\r\n\r\n`;
    const port = m[3] === undefined ? undefined : Number(m[3]);
    return {
      bytes: latin1Bytes(text),
      viaTransport: m[1]!.toUpperCase(),
      rport: /;\s*rport\b/i.test(m[4] ?? ""),
      viaPort: port !== undefined && port > 0 && port < 65536 ? port : undefined,
    };
  } catch {
    return undefined;
  }
}

/** Encode text that was decoded as latin1 back to the same bytes. */
function latin1Bytes(text: string): Uint8Array {
  const out = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) out[i] = text.charCodeAt(i) & 0xff;
  return out;
}

/** Replace control characters (CR, LF, ...) so the text is safe in a reason phrase. */
function printable(s: string): string {
  let out = "";
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    out += c < 32 || c === 127 ? " " : s[i];
  }
  return out.replace(/ {2,}/g, " ");
}
