/**
 * Test-only: a private CA and a server certificate for `localhost`, 127.0.0.1 and ::1,
 * generated with openssl into a temporary directory that {@linkcode TestCerts.cleanup}
 * removes.
 *
 * @module
 */

/** PEM texts and file paths of the generated certificates. */
export interface TestCerts {
  /** The CA certificate (PEM), to pin with `caCerts`. */
  caCert: string;
  /** The server certificate chain (PEM). */
  cert: string;
  /** The server private key (PEM). */
  key: string;
  /** Path of the server certificate file. */
  certFile: string;
  /** Path of the server key file. */
  keyFile: string;
  /** Remove the temporary directory. */
  cleanup(): Promise<void>;
}

async function openssl(dir: string, args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", {
    args,
    cwd: dir,
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  if (!out.success) {
    throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** Generate a CA and a server certificate signed by it (EC P-256, valid 2 days). */
export async function makeTestCerts(): Promise<TestCerts> {
  const dir = await Deno.makeTempDir({ prefix: "sipkit-certs-" });
  try {
    await Deno.writeTextFile(
      `${dir}/server.ext`,
      "basicConstraints=critical,CA:FALSE\n" +
        "keyUsage=critical,digitalSignature,keyEncipherment\n" +
        "extendedKeyUsage=serverAuth\n" +
        "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\n",
    );
    await openssl(dir, ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ca.key"]);
    await openssl(dir, [
      "req",
      "-x509",
      "-new",
      "-key",
      "ca.key",
      "-sha256",
      "-days",
      "2",
      "-subj",
      "/CN=sipkit test CA",
      "-addext",
      "basicConstraints=critical,CA:TRUE",
      "-addext",
      "keyUsage=critical,keyCertSign,cRLSign",
      "-out",
      "ca.pem",
    ]);
    await openssl(dir, ["ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", "ec.key"]);
    await openssl(dir, ["pkcs8", "-topk8", "-nocrypt", "-in", "ec.key", "-out", "server.key"]);
    await openssl(dir, [
      "req",
      "-new",
      "-key",
      "server.key",
      "-subj",
      "/CN=localhost",
      "-out",
      "server.csr",
    ]);
    await openssl(dir, [
      "x509",
      "-req",
      "-in",
      "server.csr",
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-days",
      "2",
      "-sha256",
      "-extfile",
      "server.ext",
      "-out",
      "server.pem",
    ]);
    return {
      caCert: await Deno.readTextFile(`${dir}/ca.pem`),
      cert: await Deno.readTextFile(`${dir}/server.pem`),
      key: await Deno.readTextFile(`${dir}/server.key`),
      certFile: `${dir}/server.pem`,
      keyFile: `${dir}/server.key`,
      cleanup: () => Deno.remove(dir, { recursive: true }),
    };
  } catch (e) {
    await Deno.remove(dir, { recursive: true });
    throw e;
  }
}
