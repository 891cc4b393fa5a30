/**
 * Incremental message framing for stream transports (TCP, TLS), RFC 3261 §18.3.
 *
 * On a stream, the end of a SIP message is found from the `Content-Length` header, which is
 * therefore mandatory. {@linkcode StreamFramer} takes the bytes as they arrive, in chunks
 * split anywhere, and returns whole messages (header section plus exactly Content-Length
 * body bytes), the RFC 5626 §3.5.1 keep-alives (`ping` = CRLFCRLF, `pong` = CRLF) and
 * framing errors. After an error the stream cannot be resynchronised: the transport must
 * close the connection (RFC 3261 §18.3).
 *
 * The framer is pure (no I/O, no timers) and O(n) in the bytes pushed: each byte is
 * scanned once and copied at most twice, however the input is chunked.
 *
 * @example
 * ```ts
 * import { StreamFramer } from "./framer.ts";
 * const framer = new StreamFramer();
 * const bytes = new TextEncoder().encode(
 *   "\r\n\r\nOPTIONS sip:a@b SIP/2.0\r\nContent-Length: 2\r\n\r\nhi",
 * );
 * const events = [...framer.push(bytes.subarray(0, 10)), ...framer.push(bytes.subarray(10))];
 * console.log(events.map((e) => e.type)); // ["ping", "message"]
 * ```
 *
 * @module
 */

/** Why the framer gave up on a stream. */
export type FramingErrorReason =
  | "missing-content-length"
  | "invalid-content-length"
  | "negative-content-length"
  | "conflicting-content-length"
  | "headers-too-large"
  | "message-too-large"
  | "truncated";

/** A whole message: the header section (start line, headers, blank line) and the body. */
export interface FramedMessage {
  /** Discriminant. */
  type: "message";
  /** The message bytes: exactly `headerLength + contentLength` of them. */
  data: Uint8Array;
  /** Length of the header section including the blank line. */
  headerLength: number;
  /** The body length taken from Content-Length. */
  contentLength: number;
}

/** A framing error: the connection must be closed. */
export interface FramingError {
  /** Discriminant. */
  type: "error";
  /** Machine-readable cause. */
  reason: FramingErrorReason;
  /** A sentence saying what was wrong. */
  message: string;
}

/** What {@linkcode StreamFramer.push} yields: a message, an RFC 5626 keep-alive
 * (`ping`: answer with CRLF; `pong`: the answer to our ping), or an error. */
export type FramerEvent = FramedMessage | { type: "ping" } | { type: "pong" } | FramingError;

/** Options of the {@linkcode StreamFramer} constructor. */
export interface StreamFramerOptions {
  /** Largest whole message (header section + body) in bytes; default 65535, the largest
   * UDP datagram, so a message that fits one transport fits all. */
  maxMessageSize?: number;
  /** Largest header section in bytes; default 16384. Bounds the memory a peer can make
   * us hold before any Content-Length is known. */
  maxHeaderSize?: number;
  /**
   * Which keep-alive this side expects to receive (RFC 5626 §3.5.1):
   * - `"ping"` (default, the accepting side): CRLFCRLF between messages is a `ping`; a
   *   lone CRLF is reported as a `pong` once the next byte shows it is not a ping.
   * - `"pong"` (the side that opened the connection and sends pings): every CRLF between
   *   messages is reported at once as a `pong`, so the answer is never delayed.
   */
  keepAlive?: "ping" | "pong";
}

const CR = 13;
const LF = 10;

// Framer states.
const IDLE = 0;
const HEADERS = 1;
const BODY = 2;
const FAILED = 3;

/**
 * Incremental framer for one stream connection. Feed it every chunk read from the socket
 * with {@linkcode StreamFramer.push}; act on the events in order.
 */
export class StreamFramer {
  readonly #maxMessage: number;
  readonly #maxHeader: number;
  readonly #pongMode: boolean;
  readonly #decoder = new TextDecoder("latin1");
  #state = IDLE;
  /** Idle sub-state: 0 nothing, 1 CR, 2 CRLF, 3 CRLF CR. */
  #crlf = 0;
  /** Header bytes of the current message carried over from earlier chunks (grows by
   * doubling, never beyond maxHeaderSize). */
  #hbuf: Uint8Array = new Uint8Array(0);
  #hlen = 0;
  /** The message being completed: allocated once its size is known. */
  #msg: Uint8Array = new Uint8Array(0);
  #filled = 0;
  /** Header scan: bytes scanned, and non-CR bytes since the last LF. */
  #headerSize = 0;
  #lineLen = 0;
  #headerLength = 0;
  #contentLength = 0;
  #remaining = 0;
  #error: FramingError | undefined;

  /** Create a framer.
   * @param options limits and keep-alive mode
   */
  constructor(options: StreamFramerOptions = {}) {
    this.#maxMessage = options.maxMessageSize ?? 65535;
    this.#maxHeader = Math.min(options.maxHeaderSize ?? 16384, this.#maxMessage);
    this.#pongMode = options.keepAlive === "pong";
  }

  /** The error that stopped the framer, if any. */
  get error(): FramingError | undefined {
    return this.#error;
  }

  /** Bytes held for a message not yet complete. */
  get bufferedBytes(): number {
    return this.#state === BODY ? this.#filled : this.#hlen;
  }

  /**
   * Feed the next chunk. The chunk is not retained: the caller may reuse its buffer.
   * After an error every call returns that error again and consumes nothing.
   * @param chunk bytes read from the stream
   * @returns the events completed by this chunk, in stream order
   */
  push(chunk: Uint8Array): FramerEvent[] {
    if (this.#error !== undefined) return [this.#error];
    const events: FramerEvent[] = [];
    const n = chunk.length;
    let i = 0;
    let start = 0; // where the current message's bytes begin in this chunk
    while (i < n) {
      if (this.#state === IDLE) {
        const b = chunk[i]!;
        switch (this.#crlf) {
          case 0:
            if (b === CR) {
              this.#crlf = 1;
              i++;
            } else if (b === LF) {
              i++; // a bare LF between messages is ignored
            } else {
              this.#state = HEADERS;
              this.#headerSize = 0;
              this.#lineLen = 0;
              start = i;
            }
            break;
          case 1:
            if (b === LF) {
              i++;
              if (this.#pongMode) {
                events.push({ type: "pong" });
                this.#crlf = 0;
              } else this.#crlf = 2;
            } else this.#crlf = 0; // a stray CR is dropped; look at b again
            break;
          case 2:
            if (b === CR) {
              this.#crlf = 3;
              i++;
            } else {
              events.push({ type: "pong" });
              this.#crlf = 0;
            }
            break;
          default: // 3
            if (b === LF) {
              i++;
              events.push({ type: "ping" });
            } else events.push({ type: "pong" });
            this.#crlf = 0;
            break;
        }
        continue;
      }
      if (this.#state === HEADERS) {
        let end = -1;
        const limit = this.#maxHeader - this.#headerSize; // bytes we may still scan
        const stop = Math.min(n, i + limit);
        let lineLen = this.#lineLen;
        let j = i;
        for (; j < stop; j++) {
          const b = chunk[j]!;
          if (b === LF) {
            if (lineLen === 0) {
              end = j + 1;
              break;
            }
            lineLen = 0;
          } else if (b !== CR) lineLen++;
        }
        this.#lineLen = lineLen;
        if (end < 0) {
          this.#headerSize += j - i;
          i = j;
          if (this.#headerSize >= this.#maxHeader) {
            return this.#fail(
              events,
              "headers-too-large",
              `Header section exceeds ${this.#maxHeader} bytes`,
            );
          }
          break; // chunk exhausted
        }
        this.#headerSize += end - i;
        i = end;
        let header: Uint8Array;
        if (this.#hlen === 0) header = chunk.subarray(start, end);
        else {
          this.#append(chunk.subarray(start, end));
          header = this.#hbuf.subarray(0, this.#hlen);
        }
        const cl = this.#contentLengthOf(header);
        if (typeof cl !== "number") return this.#fail(events, cl[0], cl[1]);
        if (header.length + cl > this.#maxMessage) {
          return this.#fail(
            events,
            "message-too-large",
            `Message of ${header.length + cl} bytes exceeds ${this.#maxMessage}`,
          );
        }
        this.#headerLength = header.length;
        this.#contentLength = cl;
        this.#remaining = cl;
        this.#msg = new Uint8Array(header.length + cl);
        this.#msg.set(header);
        this.#filled = header.length;
        this.#hlen = 0;
        this.#state = BODY;
        start = i;
        if (cl === 0) this.#emit(events);
        continue;
      }
      // Body
      const take = Math.min(this.#remaining, n - i);
      this.#msg.set(chunk.subarray(i, i + take), this.#filled);
      this.#filled += take;
      i += take;
      this.#remaining -= take;
      if (this.#remaining === 0) this.#emit(events);
    }
    // Keep the start of unfinished headers, as a copy (the caller may reuse its buffer).
    if (this.#state === HEADERS && start < n) this.#append(chunk.subarray(start, n));
    return events;
  }

  /**
   * The stream ended (the peer closed). Returns a `pong` for a pending lone CRLF and a
   * `truncated` error when a message was cut short, then resets the framer.
   * @returns the final events
   */
  finish(): FramerEvent[] {
    const events: FramerEvent[] = [];
    if (this.#error !== undefined) events.push(this.#error);
    else if (this.#state === IDLE) {
      if (this.#crlf >= 2) events.push({ type: "pong" });
    } else {
      events.push({
        type: "error",
        reason: "truncated",
        message: `Stream ended inside a message (${this.bufferedBytes} bytes buffered)`,
      });
    }
    this.#reset();
    this.#error = undefined;
    return events;
  }

  #reset(): void {
    this.#state = IDLE;
    this.#crlf = 0;
    this.#hlen = 0;
    if (this.#hbuf.length > 4096) this.#hbuf = new Uint8Array(0); // do not pin big buffers
    this.#msg = new Uint8Array(0);
    this.#filled = 0;
    this.#headerSize = 0;
    this.#lineLen = 0;
  }

  #fail(events: FramerEvent[], reason: FramingErrorReason, message: string): FramerEvent[] {
    const e: FramingError = { type: "error", reason, message };
    this.#reset();
    this.#state = FAILED;
    this.#error = e;
    events.push(e);
    return events;
  }

  /** Append header bytes to the carry-over buffer, doubling its capacity as needed. */
  #append(bytes: Uint8Array): void {
    const need = this.#hlen + bytes.length;
    if (need > this.#hbuf.length) {
      const grown = new Uint8Array(
        Math.max(need, Math.min(2 * this.#hbuf.length, this.#maxHeader), 256),
      );
      grown.set(this.#hbuf.subarray(0, this.#hlen));
      this.#hbuf = grown;
    }
    this.#hbuf.set(bytes, this.#hlen);
    this.#hlen = need;
  }

  #emit(events: FramerEvent[]): void {
    events.push({
      type: "message",
      data: this.#msg,
      headerLength: this.#headerLength,
      contentLength: this.#contentLength,
    });
    this.#reset();
  }

  /** Find Content-Length (or compact `l`) in a header section, unfolding continuation
   * lines (RFC 3261 §7.3.1). Only the value bytes of matching lines are decoded; the other
   * lines are skipped with native `indexOf`. */
  #contentLengthOf(h: Uint8Array): number | [FramingErrorReason, string] {
    const n = h.length;
    let value: number | undefined;
    let pos = h.indexOf(LF) + 1; // skip the start line
    while (pos > 0 && pos < n) {
      const first = h[pos]!;
      if (first === CR || first === LF) break; // the blank line
      let end = h.indexOf(LF, pos);
      if (end < 0) end = n;
      // Continuation lines (starting with SP or HTAB) belong to this header.
      while (end + 1 < n && (h[end + 1] === 32 || h[end + 1] === 9)) {
        end = h.indexOf(LF, end + 1);
        if (end < 0) end = n;
      }
      const colon = contentLengthColon(h, pos, end);
      if (colon >= 0) {
        const v = this.#decoder.decode(h.subarray(colon + 1, end)).replace(/[\r\n]/g, " ").trim();
        let num: number;
        if (/^\d+$/.test(v)) num = Number(v);
        else if (/^-\d+$/.test(v)) {
          return ["negative-content-length", `Negative Content-Length ${JSON.stringify(v)}`];
        } else {
          return ["invalid-content-length", `Content-Length ${JSON.stringify(v)} is not a number`];
        }
        if (value !== undefined && value !== num) {
          return [
            "conflicting-content-length",
            `Content-Length values ${value} and ${num} conflict`,
          ];
        }
        value = num;
      }
      pos = end + 1;
    }
    if (value === undefined) {
      return ["missing-content-length", "Content-Length is required on stream transports"];
    }
    return value;
  }
}

const CONTENT_LENGTH = "content-length";

/** If the header line `h[pos, end)` is named Content-Length or `l` (any case, optional white
 * space before the colon), the index of its colon; otherwise -1. */
function contentLengthColon(h: Uint8Array, pos: number, end: number): number {
  const c0 = h[pos]!;
  let i: number;
  if (c0 === 0x6c || c0 === 0x4c) i = pos + 1; // l, L
  else if ((c0 === 0x63 || c0 === 0x43) && end - pos > CONTENT_LENGTH.length) {
    for (let k = 1; k < CONTENT_LENGTH.length; k++) {
      const b = h[pos + k]!;
      const t = CONTENT_LENGTH.charCodeAt(k);
      // Case-insensitive for letters only ('-' must match exactly).
      if (b !== t && !(t >= 0x61 && t <= 0x7a && b === t - 0x20)) return -1;
    }
    i = pos + CONTENT_LENGTH.length;
  } else return -1;
  while (i < end && (h[i] === 32 || h[i] === 9)) i++;
  return i < end && h[i] === 0x3a /* : */ ? i : -1;
}
