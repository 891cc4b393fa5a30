import { assert } from "./test_deps.ts";
import { SipParseError } from "../sip/errors.ts";

Deno.test("SipParseError is a SyntaxError with its own name", () => {
  const e = new SipParseError("bad start line");
  assert.ok(e instanceof SyntaxError);
  assert.equal(e.name, "SipParseError");
});
