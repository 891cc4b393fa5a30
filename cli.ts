/**
 * The sipkit command line: `serve` (the main job) and small client commands.
 *
 * @module
 */
if (import.meta.main) {
  Deno.exit(0);
}
