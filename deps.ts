/**
 * The pinned external dependencies of sipkit's library code. Everything else is a relative
 * import, so sipkit works when imported by URL without an import map.
 *
 * @module
 */
export { parseDocument as parseYamlDocument, YAMLError } from "npm:yaml@2.9.1";
export { getLogger } from "npm:@logtape/logtape@2.4.2";
export type { Logger } from "npm:@logtape/logtape@2.4.2";
// Node built-ins used by the service layer (stable in Deno).
export { AsyncLocalStorage } from "node:async_hooks";
export { createHash } from "node:crypto";
