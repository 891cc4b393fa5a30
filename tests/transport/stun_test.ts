import { assert } from "../test_deps.ts";
import {
  isStunBindingRequest,
  parseIp,
  parseStunXorMappedAddress,
  STUN_MAGIC_COOKIE,
  stunBindingSuccess,
} from "../../transport/stun.ts";

function bindingRequest(txid: number[]): Uint8Array {
  const b = new Uint8Array(20);
  b.set([0x00, 0x01, 0x00, 0x00, 0x21, 0x12, 0xa4, 0x42]);
  b.set(txid, 8);
  return b;
}

Deno.test("RFC 5389 §6: a Binding request is recognised by type, length and magic cookie", () => {
  const req = bindingRequest([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  assert.equal(isStunBindingRequest(req), true);
  const noCookie = req.slice();
  noCookie[4] = 0;
  assert.equal(isStunBindingRequest(noCookie), false, "RFC 3489 style without cookie");
  const badLen = req.slice();
  badLen[3] = 4;
  assert.equal(isStunBindingRequest(badLen), false);
  assert.equal(
    isStunBindingRequest(new TextEncoder().encode("OPTIONS sip:x SIP/2.0\r\n\r\n")),
    false,
  );
  assert.equal(STUN_MAGIC_COOKIE, 0x2112a442);
});

Deno.test("RFC 5389 §7.3.1/§15.2: success response carries XOR-MAPPED-ADDRESS (IPv4)", () => {
  const txid = [9, 8, 7, 6, 5, 4, 3, 2, 1, 0, 11, 12];
  const res = stunBindingSuccess(bindingRequest(txid), "192.0.2.33", 54321);
  assert.equal((res[0]! << 8) | res[1]!, 0x0101, "Binding success response");
  assert.deepEqual([...res.subarray(8, 20)], txid, "same transaction id");
  assert.equal((res[2]! << 8) | res[3]!, res.length - 20);
  // The attribute: type 0x0020, family 1, X-Port = port ^ 0x2112.
  assert.equal((res[20]! << 8) | res[21]!, 0x0020);
  assert.equal(res[25], 0x01);
  assert.equal(((res[26]! << 8) | res[27]!) ^ 0x2112, 54321);
  assert.deepEqual(parseStunXorMappedAddress(res), { host: "192.0.2.33", port: 54321 });
});

Deno.test("RFC 5389 §15.2: IPv6 X-Address is XORed with cookie and transaction id", () => {
  const txid = [1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144];
  const res = stunBindingSuccess(bindingRequest(txid), "2001:db8::1", 5060);
  assert.equal(res[25], 0x02);
  assert.deepEqual(parseStunXorMappedAddress(res), { host: "2001:db8:0:0:0:0:0:1", port: 5060 });
});

Deno.test("parseIp handles IPv4, IPv6 compression, embedded IPv4, and rejects names", () => {
  assert.deepEqual([...parseIp("10.1.2.3")!], [10, 1, 2, 3]);
  assert.equal(parseIp("::1")![15], 1);
  assert.equal(parseIp("[::ffff:1.2.3.4]")![12], 1);
  assert.equal(parseIp("example.com"), undefined);
  assert.equal(parseIp("1.2.3.256"), undefined);
  assert.equal(parseIp("1::2::3"), undefined);
  assert.equal(parseIp("1:2:3:4:5:6:7:8:9"), undefined);
});
