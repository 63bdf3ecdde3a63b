/**
 * A throwaway TLS certificate for the tests, made with Debian's openssl: an EC
 * key, valid one day, for localhost and 127.0.0.1, and marked as not a CA
 * (Deno refuses a CA certificate as a server's own). Without openssl the TLS
 * tests are skipped with one line, or fail under `CI=true` (`.ci/run` installs it).
 *
 * @module
 */

/** PEM texts of a certificate and its key. */
export interface TestCertificate {
  cert: string;
  key: string;
  /** The files, in a temporary folder the caller removes with {@link TestCertificate.remove}. */
  certFile: string;
  keyFile: string;
  remove(): Promise<void>;
}

/** Whether openssl can be run here. */
export async function haveOpenssl(): Promise<boolean> {
  try {
    const { success } = await new Deno.Command("openssl", {
      args: ["version"],
      stdout: "null",
      stderr: "null",
    })
      .output();
    return success;
  } catch {
    return false;
  }
}

/** Makes a certificate for localhost and 127.0.0.1 in a new temporary folder. */
export async function makeCertificate(): Promise<TestCertificate> {
  const dir = await Deno.makeTempDir({ prefix: "tuerca-tls-" });
  const certFile = `${dir}/cert.pem`;
  const keyFile = `${dir}/key.pem`;
  const out = await new Deno.Command("openssl", {
    args: [
      "req",
      "-x509",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:prime256v1",
      "-nodes",
      "-days",
      "1",
      "-subj",
      "/CN=localhost",
      "-addext",
      "subjectAltName=DNS:localhost,IP:127.0.0.1",
      "-addext",
      "basicConstraints=critical,CA:FALSE",
      "-keyout",
      keyFile,
      "-out",
      certFile,
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) {
    await Deno.remove(dir, { recursive: true });
    throw new Error(`openssl failed: ${new TextDecoder().decode(out.stderr)}`);
  }
  return {
    cert: await Deno.readTextFile(certFile),
    key: await Deno.readTextFile(keyFile),
    certFile,
    keyFile,
    remove: () => Deno.remove(dir, { recursive: true }),
  };
}
