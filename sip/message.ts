/**
 * The SIP message container (RFC 3261 §7): {@linkcode SipRequestMessage} and
 * {@linkcode SipResponseMessage} implement {@linkcode SipRequest} and {@linkcode SipResponse}
 * from `types.ts`.
 *
 * Headers are stored as a list of fields in wire order. A field keeps its original text until
 * it is changed, so an unmodified header is written back byte for byte (folding included).
 * Typed accessors (`vias`, `from`, `cseq`, ...) parse on first access and cache the result;
 * every mutation of a header drops the cache entries of that header.
 *
 * @module
 */

import type {
  Contact,
  CSeq,
  HeaderValue,
  NameAddr,
  SipRequest,
  SipResponse,
  Uri,
  Via,
} from "./types.ts";
import { SipParseError } from "./errors.ts";
import { type CharCodes, isTokenChar, isTokenCode } from "./grammar.ts";
import { parseUri } from "./uri.ts";
import {
  canonicalHeaderName,
  HEADER_ID_KEYS,
  headerId,
  headerKey,
  isMultiValued,
  keyOfName,
} from "./header_names.ts";
import {
  parseContact,
  parseContentType,
  parseCSeq,
  parseNameAddr,
  parseVia,
  SipContact,
  SipCSeq,
  SipNameAddr,
  SipVia,
  splitHeaderRanges,
  splitHeaderValues,
} from "./header_parsers.ts";

/** One header line of a message, as stored by the container. */
export interface HeaderField {
  /** The header name as written (or the canonical name for headers added by code). */
  readonly name: string;
  /** The lookup key: lower-cased long form (`v` and `Via` both give `via`). */
  readonly key: string;
  /** The value with folding undone and surrounding whitespace removed. */
  readonly value: string;
  /** The original header text (name, colon and value, folding kept with CRLF), or
   * undefined when the field was created or changed by code. */
  readonly raw: string | undefined;
  /** For a field made by the parser: the decoded header section that holds the value, so
   * that typed accessors parse it in place (`value === source.slice(start, end)`).
   * Undefined for fields created or changed by code. */
  readonly source?: string | undefined;
  /** Where the value starts in {@linkcode HeaderField.source}; 0 without a source. */
  readonly start?: number;
  /** Where the value ends in {@linkcode HeaderField.source}; 0 without a source. */
  readonly end?: number;
}

/**
 * A header field read by the parser. It keeps offsets into the decoded header section and
 * cuts the name, the value and the original text out of it on first read. Fields changed by
 * code are plain {@linkcode HeaderField} objects.
 */
export class ParsedField implements HeaderField {
  /** The lookup key: lower-cased long form. */
  readonly key: string;
  /** The decoded header section that holds the field. */
  readonly source: string;
  /** Where the value starts in {@linkcode ParsedField.source}. */
  readonly start: number;
  /** Where the value ends in {@linkcode ParsedField.source}. */
  readonly end: number;
  #lineStart: number;
  #nameEnd: number;
  #lineEnd: number;
  #name: string | undefined = undefined;
  #value: string | undefined = undefined;

  /**
   * Make a field from its position in the header section.
   * @param source the decoded header section
   * @param key the lookup key
   * @param lineStart where the header line (and its name) starts
   * @param nameEnd where the name ends
   * @param start where the value starts (after the colon and white space)
   * @param end where the value ends (trailing white space excluded)
   * @param lineEnd where the line ends (before CRLF)
   */
  constructor(
    source: string,
    key: string,
    lineStart: number,
    nameEnd: number,
    start: number,
    end: number,
    lineEnd: number,
  ) {
    this.source = source;
    this.key = key;
    this.#lineStart = lineStart;
    this.#nameEnd = nameEnd;
    this.start = start;
    this.end = end;
    this.#lineEnd = lineEnd;
  }

  /** The header name as written (cut from the source on first read). */
  get name(): string {
    return this.#name ??= this.source.slice(this.#lineStart, this.#nameEnd);
  }

  /** The value (cut from the source on first read). */
  get value(): string {
    return this.#value ??= this.source.slice(this.start, this.end);
  }

  /** The original header line, without CRLF. */
  get raw(): string {
    return this.source.slice(this.#lineStart, this.#lineEnd);
  }
}

/** The parts shared by the constructors of both message classes. */
export interface SipMessageInit {
  /** The protocol version of the start line; defaults to `SIP/2.0`. */
  version?: string;
  /** Header fields in wire order. */
  fields?: HeaderField[];
  /**
   * For `parseMessage`: the header section as it scanned it, instead of `fields` (it wins when
   * both are given); field objects are then made only for the lines that are asked for.
   * `text` is the decoded header section (or the whole decoded message), `codes` its char
   * codes (`CharCodes` in `grammar.ts`) if the parser has them. `lines` holds four numbers
   * per header line, in wire order: for a line described by offsets, where the line (and its
   * name) starts, where the value starts and ends (white space excluded), and the id of its
   * key (`headerId` in `header_names.ts`; 0 for a key without one, which is then made from
   * the name when needed); for a folded line, `-1 - k` (its field object is `extra[k]`), two
   * zeros, and the id of its key.
   */
  headerIndex?: {
    text: string;
    codes?: Uint8Array | Uint16Array;
    lines: number[];
    extra: HeaderField[];
  };
  /** The body bytes; defaults to empty. With {@linkcode SipMessageInit.bodyStart} and
   * {@linkcode SipMessageInit.bodyLength}, the bytes that hold the body (e.g. the whole
   * datagram). */
  body?: Uint8Array;
  /** Where the body starts in {@linkcode SipMessageInit.body} (default 0). The message makes
   * the view `body.subarray(bodyStart, bodyStart + bodyLength)` only when the body is first
   * read, so a parser can hand over the whole datagram without making a view that is never
   * used. */
  bodyStart?: number;
  /** The body length in bytes (default: the rest of {@linkcode SipMessageInit.body} after
   * {@linkcode SipMessageInit.bodyStart}). */
  bodyLength?: number;
}

/** Options of the {@linkcode SipRequestMessage} constructor. */
export interface SipRequestInit extends SipMessageInit {
  /** The method, case-sensitive. */
  method: string;
  /** The Request-URI, parsed or as text (parsed on first access). */
  uri: Uri | string;
}

/** Options of the {@linkcode SipResponseMessage} constructor. */
export interface SipResponseInit extends SipMessageInit {
  /** The status code, 100 to 699. */
  status: number;
  /** The reason phrase; may be empty. */
  reason?: string;
}

const TOKEN_RE: RegExp = /^[A-Za-z0-9\-.!%*_+`'~]+$/;
const CRLF_RE: RegExp = /[\r\n]/;
const DIGITS_RE: RegExp = /^\d+$/;
const UTF8_ENCODER: TextEncoder = new TextEncoder();
const UTF8_DECODER: TextDecoder = new TextDecoder();
const EMPTY_BODY: Uint8Array = new Uint8Array(0);
/** Up to this many header lines a lookup scans them; above, an index is built. */
const LINEAR_LOOKUP_MAX = 128;

/** Make a header field for a name and value given by code. Throws a `TypeError` when the
 * name is not a token or the value contains CR or LF (header injection).
 * @param name the header name, any case, compact forms allowed
 * @param value the value, or anything whose `toString()` gives it
 * @returns the field, with a canonical name and no original text
 */
export function makeHeaderField(name: string, value: HeaderValue): HeaderField {
  if (!TOKEN_RE.test(name)) {
    throw new TypeError(`Header name is not a token: ${JSON.stringify(name)}`);
  }
  const text = String(value).replace(/^[ \t]+|[ \t]+$/g, "");
  if (CRLF_RE.test(text)) {
    throw new TypeError(`Header value must not contain CR or LF: ${JSON.stringify(text)}`);
  }
  return {
    name: canonicalHeaderName(name),
    key: headerKey(name),
    value: text,
    raw: undefined,
    source: undefined,
    start: 0,
    end: 0,
  };
}

/** A copy of `field` with a value set by code (no original text, no source). */
function codeField(field: HeaderField, value: string): HeaderField {
  return {
    name: field.name,
    key: field.key,
    value,
    raw: undefined,
    source: undefined,
    start: 0,
    end: 0,
  };
}

/** Parse a Max-Forwards or other non-negative integer value, or throw SipParseError. */
function parseNonNegative(value: string, header: string): number {
  // A short value (Max-Forwards: 70) is read digit by digit; a long one by the regex.
  if (value.length > 0 && value.length <= 6) {
    let n = 0;
    for (let i = 0; i < value.length; i++) {
      const c = value.charCodeAt(i);
      if (c < 48 || c > 57) {
        throw new SipParseError(
          `${header} is not a non-negative integer: ${JSON.stringify(value)}`,
        );
      }
      n = n * 10 + (c - 48);
    }
    return n;
  }
  if (!DIGITS_RE.test(value)) {
    throw new SipParseError(`${header} is not a non-negative integer: ${JSON.stringify(value)}`);
  }
  return Number(value);
}

const NO_FIELDS: readonly HeaderField[] = Object.freeze([]);
const NO_LINES: readonly number[] = Object.freeze([]);

/** Numbers per line in a parser's header index (see `SipMessageInit.headerIndex`). */
const LINE = 4;
/** The id of Call-ID (`headerId("call-id")`). */
const ID_CALL_ID: number = headerId("call-id");

/** Call `visit` with the key and value bounds of a field. */
function visitField(
  f: HeaderField,
  visit: (key: string, text: string, start: number, end: number) => void,
): void {
  const src = f.source;
  if (src === undefined) visit(f.key, f.value, 0, f.value.length);
  else visit(f.key, src, f.start ?? 0, f.end ?? 0);
}

/** Parse every logical value of `text[s:e]` (a list header line) into `out`. */
function parseRange<T>(
  text: string,
  s: number,
  e: number,
  parse: (text: string, start: number, end: number) => T,
  out: T[],
): void {
  const comma = text.indexOf(",", s);
  if (comma < 0 || comma >= e) {
    out.push(parse(text, s, e)); // an empty value is malformed: let the parser say so
    return;
  }
  const ranges = splitHeaderRanges(text, s, e);
  for (let k = 0; k < ranges.length; k += 2) out.push(parse(text, ranges[k]!, ranges[k + 1]!));
}

/** Parse every logical value of a field into `out`, in place when it has a source. */
function parseField<T>(
  f: HeaderField,
  parse: (text: string, start: number, end: number) => T,
  out: T[],
): void {
  const src = f.source;
  if (src === undefined) parseRange(f.value, 0, f.value.length, parse, out);
  else parseRange(src, f.start ?? 0, f.end ?? 0, parse, out);
}

/**
 * A copy of `s` that shares no storage with a longer string. V8 keeps a substring of 13 or more
 * characters as a view of its parent, so a Call-ID or header value cut out of a message and kept
 * (by a dialog, or as a table key) would keep the whole message text alive; slicing a fresh
 * concatenation copies the characters into a string of their own.
 * @param s the string
 * @returns an equal string of its own
 */
export function ownString(s: string): string {
  return s.length < 13 ? s : (" " + s).slice(1);
}

/**
 * What requests and responses share: header storage, typed accessors, mutation and
 * serialization. Use {@linkcode SipRequestMessage} or {@linkcode SipResponseMessage}.
 */
export abstract class SipMessageCore {
  /** The protocol version from the start line, upper-cased, e.g. `SIP/2.0`. */
  readonly version: string;
  /** The header fields in wire order, once made (see #fields). */
  #list: HeaderField[] | undefined;
  /** The parser's header index while no field list has been made. */
  #text = "";
  #lines: number[] | undefined = undefined;
  #codes: CharCodes | undefined = undefined;
  /** The keys of index lines whose name has no id, made when first needed. */
  #keys: (string | undefined)[] | undefined = undefined;
  #extra: readonly HeaderField[] = NO_FIELDS;
  #index: Map<string, HeaderField[]> | undefined = undefined;
  #valuesCache: Map<string, string[]> | undefined = undefined;
  #via: Via[] | undefined = undefined;
  #from: NameAddr | undefined = undefined;
  #to: NameAddr | undefined = undefined;
  #cseq: CSeq | undefined = undefined;
  #contact: Contact[] | undefined = undefined;
  #route: NameAddr[] | undefined = undefined;
  #recordRoute: NameAddr[] | undefined = undefined;
  #maxForwards: number | undefined | null = null;
  #contentType: string | undefined | null = null;
  /** The body, or undefined until the view into #bodyBytes is made. */
  #body: Uint8Array | undefined;
  #bodyBytes: Uint8Array;
  #bodyStart: number;
  #bodyLength: number;

  /** Create the shared part.
   * @param init version, header fields (wire order; the message takes ownership of the
   * array) and body
   */
  constructor(init: SipMessageInit) {
    const version = init.version ?? "SIP/2.0";
    this.version = version === "SIP/2.0" ? version : version.toUpperCase();
    const index = init.headerIndex;
    if (index === undefined) {
      this.#list = init.fields ?? [];
    } else {
      this.#list = undefined;
      this.#text = index.text;
      this.#lines = index.lines;
      this.#codes = index.codes;
      this.#extra = index.extra;
    }
    const bytes = init.body ?? EMPTY_BODY;
    const start = init.bodyStart ?? 0;
    const length = init.bodyLength ?? bytes.length - start;
    if (start < 0 || length < 0 || start + length > bytes.length) {
      throw new RangeError(
        `Body range ${start}+${length} is outside the ${bytes.length} bytes given`,
      );
    }
    this.#bodyBytes = bytes;
    this.#bodyStart = start;
    this.#bodyLength = length;
    this.#body = start === 0 && length === bytes.length
      ? bytes
      : length === 0
      ? EMPTY_BODY
      : undefined;
  }

  /** The start line, without CRLF. */
  abstract startLine(): string;

  /** The header fields in wire order (a copy; use the mutation methods to change them).
   * @returns the fields
   */
  fields(): HeaderField[] {
    return this.#fields.slice();
  }

  /** The header fields in wire order. A parsed message makes them from the parser's index
   * on first use; the typed accessors and lookups below read the index without them. */
  get #fields(): HeaderField[] {
    let list = this.#list;
    if (list === undefined) {
      const lines = this.#lines ?? NO_LINES;
      list = [];
      for (let i = 0; i < lines.length; i += LINE) list.push(this.#fieldAt(lines, i));
      this.#list = list;
      this.#lines = undefined;
      this.#extra = NO_FIELDS;
    }
    return list;
  }

  set #fields(list: HeaderField[]) {
    this.#list = list;
    this.#lines = undefined;
    this.#extra = NO_FIELDS;
  }

  /** The lookup key of the index line at `lines[i]`. */
  #keyAt(lines: readonly number[], i: number): string {
    const ls = lines[i]!;
    if (ls < 0) return this.#extra[-1 - ls]!.key;
    const id = lines[i + 3]!;
    if (id !== 0) return HEADER_ID_KEYS[id] ?? "";
    // A name without an id: its key is made once.
    const keys = this.#keys ??= new Array<string | undefined>(lines.length / LINE);
    const k = i / LINE;
    return keys[k] ??= keyOfName(this.#text.slice(ls, this.#nameEnd(ls)));
  }

  /** The field of the index line at `lines[i]`. */
  #fieldAt(lines: readonly number[], i: number): HeaderField {
    const ls = lines[i]!;
    if (ls < 0) return this.#extra[-1 - ls]!;
    const vs = lines[i + 1]!;
    const ve = lines[i + 2]!;
    return new ParsedField(
      this.#text,
      this.#keyAt(lines, i),
      ls,
      this.#nameEnd(ls),
      vs,
      ve,
      this.#lineEnd(ve),
    );
  }

  /** Where the name of the index line that starts at `ls` ends: at the first character that
   * is not a token character (then white space or the colon follows). */
  #nameEnd(ls: number): number {
    const codes = this.#codes;
    const text = this.#text;
    let i = ls;
    if (codes !== undefined) {
      while (isTokenCode(codes[i])) i++;
    } else {
      while (i < text.length && isTokenChar(text.charCodeAt(i))) i++;
    }
    return i;
  }

  /** Where the line whose value ends at `ve` ends: after its trailing white space. */
  #lineEnd(ve: number): number {
    const text = this.#text;
    let i = ve;
    for (;;) {
      const c = text.charCodeAt(i);
      if (c !== 32 && c !== 9) return i; // NaN past the end
      i++;
    }
  }

  /** True when the index line at `lines[i]` carries the header `key` (whose id is `id`). */
  #matches(lines: readonly number[], i: number, key: string, id: number): boolean {
    if (id !== 0) return lines[i + 3] === id;
    return lines[i + 3] === 0 && this.#keyAt(lines, i) === key;
  }

  /** The lines of a header, in order; undefined when absent. Small messages are scanned,
   * large ones get an index built on first use. */
  #lookup(key: string): HeaderField[] | undefined {
    const lines = this.#lines;
    if (lines !== undefined && lines.length <= LINE * LINEAR_LOOKUP_MAX) {
      const id = headerId(key);
      let out: HeaderField[] | undefined;
      for (let i = 0; i < lines.length; i += LINE) {
        if (this.#matches(lines, i, key, id)) (out ??= []).push(this.#fieldAt(lines, i));
      }
      return out;
    }
    const fields = this.#fields;
    if (fields.length <= LINEAR_LOOKUP_MAX) {
      let out: HeaderField[] | undefined;
      for (let i = 0; i < fields.length; i++) {
        const f = fields[i]!;
        if (f.key === key) (out ??= []).push(f);
      }
      return out;
    }
    let index = this.#index;
    if (index === undefined) {
      index = new Map();
      for (const f of fields) {
        const list = index.get(f.key);
        if (list === undefined) index.set(f.key, [f]);
        else list.push(f);
      }
      this.#index = index;
    }
    return index.get(key);
  }

  /** The first line of a header. */
  #first(key: string): HeaderField | undefined {
    const lines = this.#lines;
    if (lines !== undefined && lines.length <= LINE * LINEAR_LOOKUP_MAX) {
      const id = headerId(key);
      for (let i = 0; i < lines.length; i += LINE) {
        if (this.#matches(lines, i, key, id)) return this.#fieldAt(lines, i);
      }
      return undefined;
    }
    const fields = this.#fields;
    if (fields.length <= LINEAR_LOOKUP_MAX) {
      for (let i = 0; i < fields.length; i++) {
        const f = fields[i]!;
        if (f.key === key) return f;
      }
      return undefined;
    }
    return this.#lookup(key)?.[0];
  }

  #changed(key: string): void {
    this.#index = undefined;
    this.#valuesCache?.delete(key);
    switch (key) {
      case "via":
        this.#via = undefined;
        break;
      case "from":
        this.#from = undefined;
        break;
      case "to":
        this.#to = undefined;
        break;
      case "cseq":
        this.#cseq = undefined;
        break;
      case "contact":
        this.#contact = undefined;
        break;
      case "route":
        this.#route = undefined;
        break;
      case "record-route":
        this.#recordRoute = undefined;
        break;
      case "max-forwards":
        this.#maxForwards = null;
        break;
      case "content-type":
        this.#contentType = null;
        break;
    }
  }

  /** The logical values of a header by key, cached. */
  #values(key: string): string[] {
    const cached = this.#valuesCache?.get(key);
    if (cached !== undefined) return cached;
    const list = this.#lookup(key);
    let out: string[];
    if (list === undefined) {
      out = [];
    } else if (!isMultiValued(key)) {
      out = list.map((f) => f.value);
    } else {
      out = [];
      for (const f of list) {
        if (f.value.indexOf(",") < 0) {
          if (f.value !== "") out.push(f.value);
          continue;
        }
        let parts: string[];
        try {
          parts = splitHeaderValues(f.value);
        } catch (e) {
          // Raw access never throws: a line that cannot be split (an unbalanced quote or
          // '<') is one value; the typed accessor reports the error.
          if (!(e instanceof SipParseError)) throw e;
          parts = [f.value];
        }
        for (const v of parts) out.push(v);
      }
    }
    (this.#valuesCache ??= new Map()).set(key, out);
    return out;
  }

  /** First value of a header (case-insensitive, compact forms understood), or undefined.
   * For headers that allow comma-separated lists this is the first list element. Never
   * throws: a list line that cannot be split counts as one value.
   * @param name the header name
   * @returns the value text
   */
  header(name: string): string | undefined {
    const key = headerKey(name);
    if (isMultiValued(key)) return this.#values(key)[0];
    return this.#first(key)?.value;
  }

  /** All values of a header, split on commas only where the header's grammar allows.
   * @param name the header name
   * @returns the values in wire order (a fresh array)
   */
  headers(name: string): string[] {
    return this.#values(headerKey(name)).slice();
  }

  /** True when the header is present at least once.
   * @param name the header name
   * @returns whether it is present
   */
  hasHeader(name: string): boolean {
    return this.#first(headerKey(name)) !== undefined;
  }

  /** Number of header lines carrying this header (before splitting comma lists).
   * @param name the header name
   * @returns the line count
   */
  headerLineCount(name: string): number {
    return this.#lookup(headerKey(name))?.length ?? 0;
  }

  /** The fields of the given headers, in wire order (a new array). Unlike
   * {@linkcode SipMessageCore.fields}, a parsed message makes field objects only for these
   * lines (e.g. the Via, From, To, Call-ID and CSeq lines a response copies).
   * @param keys lookup keys (`headerKey` form: lower-case long names)
   * @returns the matching fields
   */
  fieldsOf(keys: readonly string[]): HeaderField[] {
    const out: HeaderField[] = [];
    const lines = this.#lines;
    if (lines !== undefined) {
      for (let i = 0; i < lines.length; i += LINE) {
        if (keys.includes(this.#keyAt(lines, i))) out.push(this.#fieldAt(lines, i));
      }
      return out;
    }
    for (const f of this.#fields) if (keys.includes(f.key)) out.push(f);
    return out;
  }

  /**
   * Visit every header line in wire order with its lookup key and where its value is, without
   * making field objects or cutting strings: the value is `text.slice(start, end)` (folding
   * undone, surrounding white space removed). For a parsed message `text` is the decoded
   * header section; for a line set by code, its value.
   * @param visit called once per header line
   */
  eachHeader(visit: (key: string, text: string, start: number, end: number) => void): void {
    const lines = this.#lines;
    if (lines !== undefined) {
      const text = this.#text;
      for (let i = 0; i < lines.length; i += LINE) {
        const ls = lines[i]!;
        if (ls < 0) visitField(this.#extra[-1 - ls]!, visit);
        else visit(this.#keyAt(lines, i), text, lines[i + 1]!, lines[i + 2]!);
      }
      return;
    }
    for (const f of this.#fields) visitField(f, visit);
  }

  /** Header names in wire order, as written, including repeats.
   * @returns the names
   */
  headerNames(): string[] {
    return this.#fields.map((f) => f.name);
  }

  /** Replace every value of a header with the given value(s), at the position of the first
   * existing line (or at the end).
   * @param name the header name
   * @param value one value or a list (one header line per value)
   */
  setHeader(name: string, value: HeaderValue | HeaderValue[]): void {
    if (!Array.isArray(value)) {
      // The common case (one value; the header absent or present once) in place, without
      // copying the field list.
      const fields = this.#fields;
      const field = makeHeaderField(name, value);
      let at = -1;
      let count = 0;
      for (let i = 0; i < fields.length; i++) {
        if (fields[i]!.key !== field.key) continue;
        if (count++ === 0) at = i;
      }
      if (count <= 1) {
        if (at < 0) fields.push(field);
        else fields[at] = field;
        this.#changed(field.key);
        return;
      }
    }
    const values = Array.isArray(value) ? value : [value];
    const added = values.map((v) => makeHeaderField(name, v));
    const key = headerKey(name);
    const at = this.#fields.findIndex((f) => f.key === key);
    const rest = this.#fields.filter((f) => f.key !== key);
    const pos = at < 0 ? rest.length : at;
    rest.splice(pos, 0, ...added);
    this.#fields = rest;
    this.#changed(key);
  }

  /** Add a value before all existing values of the header (e.g. Via, Record-Route).
   * @param name the header name
   * @param value the value
   */
  prependHeader(name: string, value: HeaderValue): void {
    const field = makeHeaderField(name, value);
    const at = this.#fields.findIndex((f) => f.key === field.key);
    if (at < 0) this.#fields.push(field);
    else this.#fields.splice(at, 0, field);
    this.#changed(field.key);
  }

  /** Add a value after all existing values of the header.
   * @param name the header name
   * @param value the value
   */
  appendHeader(name: string, value: HeaderValue): void {
    const field = makeHeaderField(name, value);
    let last = -1;
    for (let i = 0; i < this.#fields.length; i++) {
      if (this.#fields[i]?.key === field.key) last = i;
    }
    if (last < 0) this.#fields.push(field);
    else this.#fields.splice(last + 1, 0, field);
    this.#changed(field.key);
  }

  /** Remove every value of a header.
   * @param name the header name
   */
  removeHeader(name: string): void {
    const key = headerKey(name);
    this.#fields = this.#fields.filter((f) => f.key !== key);
    this.#changed(key);
  }

  /** Remove the first value of a header (e.g. the top Via or Route). A comma-combined line
   * of a list header keeps its other values.
   * @param name the header name
   * @returns the removed value, or undefined when the header is absent
   */
  removeFirstValue(name: string): string | undefined {
    const key = headerKey(name);
    const at = this.#fields.findIndex((f) => f.key === key);
    const field = this.#fields[at];
    if (field === undefined) return undefined;
    this.#changed(key);
    if (isMultiValued(key)) {
      const parts = splitHeaderValues(field.value);
      if (parts.length > 1) {
        const [first, ...rest] = parts;
        this.#fields[at] = codeField(field, rest.join(", "));
        return first;
      }
      this.#fields.splice(at, 1);
      return parts[0] ?? field.value;
    }
    this.#fields.splice(at, 1);
    return field.value;
  }

  /** Replace the first value of a header (e.g. the top Via after adding `received`); adds
   * the header when absent.
   * @param name the header name
   * @param value the new value
   */
  replaceFirstValue(name: string, value: HeaderValue): void {
    const added = makeHeaderField(name, value);
    const key = added.key;
    const at = this.#fields.findIndex((f) => f.key === key);
    const field = this.#fields[at];
    this.#changed(key);
    if (field === undefined) {
      this.#fields.push(added);
      return;
    }
    if (isMultiValued(key)) {
      const parts = splitHeaderValues(field.value);
      if (parts.length > 1) {
        parts[0] = added.value;
        this.#fields[at] = codeField(field, parts.join(", "));
        return;
      }
    }
    this.#fields[at] = codeField(field, added.value);
  }

  #required(key: string, label: string): HeaderField {
    const field = this.#first(key);
    if (field === undefined) throw new SipParseError(`Missing ${label} header`);
    return field;
  }

  /** Parse every logical value of a list header, in order, in place in the parser's
   * header section when the field has one. */
  #parseList<T>(
    key: string,
    parse: (text: string, start: number, end: number) => T,
    quick?: (text: string, codes: CharCodes, start: number, end: number) => T | undefined,
  ): T[] {
    const lines = this.#lines;
    if (lines !== undefined) {
      // Straight from the parser's index: no field object for a line described by offsets.
      // The usual single value makes a one-element array (no room to grow).
      let out: T[] | undefined;
      const id = headerId(key);
      const text = this.#text;
      const codes = this.#codes;
      for (let i = 0; i < lines.length; i += LINE) {
        if (!this.#matches(lines, i, key, id)) continue;
        const ls = lines[i]!;
        if (ls < 0) {
          parseField(this.#extra[-1 - ls]!, parse, out ??= []);
        } else {
          const s = lines[i + 1]!;
          const e = lines[i + 2]!;
          // The shortcut accepts only a single value of the common shape.
          const q = quick !== undefined && codes !== undefined
            ? quick(text, codes, s, e)
            : undefined;
          if (q === undefined) parseRange(text, s, e, parse, out ??= []);
          else if (out === undefined) out = [q];
          else out.push(q);
        }
      }
      return out ?? [];
    }
    const out: T[] = [];
    const fields = this.#fields;
    for (let i = 0; i < fields.length; i++) {
      const f = fields[i]!;
      if (f.key === key) parseField(f, parse, out);
    }
    return out;
  }

  /** Parse the first value of a single-valued header in place. */
  #parseOne<T>(
    key: string,
    label: string,
    parse: (text: string, start: number, end: number) => T,
    quick?: (text: string, codes: CharCodes, start: number, end: number) => T | undefined,
  ): T {
    const lines = this.#lines;
    if (lines !== undefined) {
      const id = headerId(key);
      for (let i = 0; i < lines.length; i += LINE) {
        if (!this.#matches(lines, i, key, id)) continue;
        const ls = lines[i]!;
        if (ls >= 0) {
          const text = this.#text;
          const codes = this.#codes;
          const s = lines[i + 1]!;
          const e = lines[i + 2]!;
          const q = quick !== undefined && codes !== undefined
            ? quick(text, codes, s, e)
            : undefined;
          return q !== undefined ? q : parse(text, s, e);
        }
        break;
      }
    }
    const f = this.#required(key, label);
    const src = f.source;
    return src === undefined
      ? parse(f.value, 0, f.value.length)
      : parse(src, f.start ?? 0, f.end ?? 0);
  }

  /** The Call-ID. Throws SipParseError when the header is missing. */
  get callId(): string {
    const lines = this.#lines;
    if (lines !== undefined) {
      for (let i = 0; i < lines.length; i += LINE) {
        if (lines[i + 3] === ID_CALL_ID) {
          const ls = lines[i]!;
          return ls < 0
            ? this.#extra[-1 - ls]!.value
            : this.#text.slice(lines[i + 1], lines[i + 2]);
        }
      }
    }
    return this.#required("call-id", "Call-ID").value;
  }

  /** The CSeq (parsed on first access). Throws SipParseError when missing or malformed. */
  get cseq(): CSeq {
    return this.#cseq ??= this.#parseOne("cseq", "CSeq", parseCSeq, SipCSeq.parseQuick);
  }

  /** The From header (parsed on first access). Throws SipParseError when missing or
   * malformed. */
  get from(): NameAddr {
    return this.#from ??= this.#parseOne("from", "From", parseNameAddr, SipNameAddr.parseQuick);
  }

  /** The To header (parsed on first access). Throws SipParseError when missing or
   * malformed. */
  get to(): NameAddr {
    return this.#to ??= this.#parseOne("to", "To", parseNameAddr, SipNameAddr.parseQuick);
  }

  /** Via values, top first (parsed on first access). */
  get vias(): Via[] {
    return this.#via ??= this.#parseList("via", parseVia, SipVia.parseQuick);
  }

  /** Max-Forwards, if present. Throws SipParseError when it is not a number. */
  get maxForwards(): number | undefined {
    if (this.#maxForwards === null) {
      const v = this.#first("max-forwards")?.value;
      this.#maxForwards = v === undefined ? undefined : parseNonNegative(v, "Max-Forwards");
    }
    return this.#maxForwards;
  }

  /** Contact values in order (parsed on first access). */
  get contacts(): Contact[] {
    return this.#contact ??= this.#parseList("contact", parseContact, SipContact.parseQuick);
  }

  /** Route values in order (parsed on first access). */
  get routes(): NameAddr[] {
    return this.#route ??= this.#parseList("route", parseNameAddr, SipNameAddr.parseQuick);
  }

  /** Record-Route values in order (parsed on first access). */
  get recordRoutes(): NameAddr[] {
    return this.#recordRoute ??= this.#parseList(
      "record-route",
      parseNameAddr,
      SipNameAddr.parseQuick,
    );
  }

  /** The media type of the body, lower-cased, without parameters (`application/sdp`). */
  get contentType(): string | undefined {
    if (this.#contentType === null) {
      const v = this.#first("content-type")?.value;
      // The usual value is its own media type (no need to build the parsed value).
      this.#contentType = v === undefined
        ? undefined
        : v === "application/sdp"
        ? v
        : parseContentType(v).mediaType.toLowerCase();
    }
    return this.#contentType;
  }

  /** The body length in bytes (the actual body; the header is rewritten on output). */
  get contentLength(): number {
    return this.#bodyLength;
  }

  /** The body bytes; assign to replace (Content-Length follows on output). */
  get body(): Uint8Array {
    let b = this.#body;
    if (b === undefined) {
      const start = this.#bodyStart;
      b = this.#bodyBytes.subarray(start, start + this.#bodyLength);
      this.#body = b;
    }
    return b;
  }

  set body(value: Uint8Array) {
    this.#body = value;
    this.#bodyBytes = value;
    this.#bodyStart = 0;
    this.#bodyLength = value.length;
  }

  /** The body decoded as UTF-8 (invalid sequences become U+FFFD).
   * @returns the text
   */
  bodyText(): string {
    return this.#bodyLength === 0 ? "" : UTF8_DECODER.decode(this.body);
  }

  /** The start line and header section, ending with the empty line. Content-Length is
   * written once, with the actual body length. */
  #head(): string {
    // One join: a flat string (the encoder need not flatten a rope of concatenations) and
    // fewer intermediate strings than `+=` per line.
    const lines: string[] = [this.startLine()];
    let wroteLength = false;
    for (const f of this.#fields) {
      if (f.key === "content-length") {
        if (wroteLength) continue;
        wroteLength = true;
        const length = String(this.#bodyLength);
        lines.push(f.raw !== undefined && f.value === length ? f.raw : `${f.name}: ${length}`);
        continue;
      }
      lines.push(f.raw ?? `${f.name}: ${f.value}`);
    }
    if (!wroteLength) lines.push(`Content-Length: ${this.#bodyLength}`);
    lines.push("", "");
    return lines.join("\r\n");
  }

  /** The wire form as text; the body is decoded as UTF-8, so use
   * {@linkcode SipMessageCore.toBytes} for binary bodies.
   * @returns the message text
   */
  toString(): string {
    return this.#head() + this.bodyText();
  }

  /** The wire form as bytes (the body is copied unchanged).
   * @returns the message bytes
   */
  toBytes(): Uint8Array {
    const text = this.#head();
    if (this.#bodyLength === 0) return UTF8_ENCODER.encode(text);
    const body = this.body;
    // An ASCII head (the usual case: one byte per character) is encoded straight into the one
    // buffer for head and body.
    const out = new Uint8Array(text.length + body.length);
    const r = UTF8_ENCODER.encodeInto(text, out);
    if (r.read === text.length && r.written === text.length) {
      out.set(body, text.length);
      return out;
    }
    const head = UTF8_ENCODER.encode(text);
    const both = new Uint8Array(head.length + body.length);
    both.set(head, 0);
    both.set(body, head.length);
    return both;
  }

  /** The parts a subclass needs to make a deep copy. */
  protected copyInit(): Required<Omit<SipMessageInit, "headerIndex">> {
    const body = this.body.slice();
    return {
      version: this.version,
      fields: this.#fields.slice(),
      body,
      bodyStart: 0,
      bodyLength: body.length,
    };
  }
}

/** A SIP request (RFC 3261 §7.1). Create one with `parseMessage` or `createRequest`. */
export class SipRequestMessage extends SipMessageCore implements SipRequest {
  /** Discriminant. */
  readonly kind: "request" = "request";
  /** The method, case-sensitive (`INVITE`). */
  method: string;
  #uriText: string;
  #uri: Uri | undefined;

  /** Create a request.
   * @param init method, Request-URI, version, header fields and body
   */
  constructor(init: SipRequestInit) {
    super(init);
    this.method = init.method;
    if (typeof init.uri === "string") {
      this.#uriText = init.uri;
      this.#uri = undefined;
    } else {
      this.#uriText = String(init.uri);
      this.#uri = init.uri;
    }
  }

  /** The Request-URI (parsed on first access; throws SipParseError when malformed). */
  get uri(): Uri {
    if (this.#uri === undefined) this.#uri = parseUri(this.#uriText);
    return this.#uri;
  }

  set uri(value: Uri) {
    this.#uri = value;
    this.#uriText = String(value);
  }

  /** The Request-URI text as received (or as last assigned).
   * @returns the text
   */
  uriText(): string {
    return this.#uri === undefined ? this.#uriText : String(this.#uri);
  }

  /** The Request-Line, without CRLF.
   * @returns `METHOD uri SIP/2.0`
   */
  startLine(): string {
    return `${this.method} ${this.uriText()} ${this.version}`;
  }

  /** A deep copy.
   * @returns the copy
   */
  clone(): SipRequestMessage {
    return new SipRequestMessage({
      ...this.copyInit(),
      method: this.method,
      uri: this.#uri === undefined ? this.#uriText : this.#uri.clone(),
    });
  }
}

/** A SIP response (RFC 3261 §7.2). Create one with `parseMessage` or `createResponse`. */
export class SipResponseMessage extends SipMessageCore implements SipResponse {
  /** Discriminant. */
  readonly kind: "response" = "response";
  /** The status code, 100 to 699. */
  status: number;
  /** The reason phrase (may be empty). */
  reason: string;

  /** Create a response.
   * @param init status, reason, version, header fields and body
   */
  constructor(init: SipResponseInit) {
    super(init);
    this.status = init.status;
    this.reason = init.reason ?? "";
  }

  /** The Status-Line, without CRLF.
   * @returns `SIP/2.0 200 OK`
   */
  startLine(): string {
    return `${this.version} ${this.status} ${this.reason}`;
  }

  /** A deep copy.
   * @returns the copy
   */
  clone(): SipResponseMessage {
    return new SipResponseMessage({
      ...this.copyInit(),
      status: this.status,
      reason: this.reason,
    });
  }
}
