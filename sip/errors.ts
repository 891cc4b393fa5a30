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
