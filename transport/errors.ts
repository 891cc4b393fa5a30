/**
 * Error classes of the transport layer.
 *
 * @module
 */

/** A transport failure: cannot connect, no listener for a transport, connection closed,
 * bad listen URI, ... The message says what failed. */
export class TransportError extends Error {
  /** Create the error.
   * @param message what failed, in a sentence
   * @param options the underlying cause, if any
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TransportError";
  }
}
