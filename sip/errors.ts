/**
 * Error classes of the message layer.
 *
 * @module
 */

/** Thrown when bytes or text cannot be parsed as SIP (message, header, URI). The message
 * says specifically what is wrong. */
export class SipParseError extends SyntaxError {
  /** Create the error.
   * @param message what is wrong, in a sentence
   */
  constructor(message: string) {
    super(message);
    this.name = "SipParseError";
  }
}

/**
 * `read()`, or undefined when it throws a {@linkcode SipParseError}: for a header of the
 * peer's that does not parse where the caller can do without it. Other errors are rethrown.
 *
 * @param read the read that may fail to parse
 * @returns its value, or undefined
 */
export function parsedOrUndefined<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch (error) {
    if (error instanceof SipParseError) return undefined;
    throw error;
  }
}
