import { webcrypto } from "node:crypto";
import * as x509 from "@peculiar/x509";

/** A CA and a server certificate signed by it, all PEM. */
export interface ServingCerts {
  caCert: string;
  cert: string;
  key: string;
}

const ALG = { name: "ECDSA", namedCurve: "P-256", hash: "SHA-256" } as const;

async function exportKeyPem(key: CryptoKey): Promise<string> {
  const der = Buffer.from(await webcrypto.subtle.exportKey("pkcs8", key));
  const b64 = der
    .toString("base64")
    .replace(/(.{64})/g, "$1\n")
    .trimEnd();
  return `-----BEGIN PRIVATE KEY-----\n${b64}\n-----END PRIVATE KEY-----\n`;
}

/**
 * Generates a throwaway CA and a server certificate for 127.0.0.1 and localhost (ECDSA P-256,
 * valid for a year), in-process with WebCrypto: no openssl subprocess.
 */
export async function generateServingCerts(
  hosts: string[] = ["127.0.0.1", "localhost"],
): Promise<ServingCerts> {
  x509.cryptoProvider.set(webcrypto as unknown as Crypto);
  const notBefore = new Date(Date.now() - 60_000);
  const notAfter = new Date(Date.now() + 365 * 24 * 3_600_000);
  const caKeys = await webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"]);
  const ca = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: "01",
    name: "CN=kube-sim-ca",
    notBefore,
    notAfter,
    signingAlgorithm: ALG,
    keys: caKeys,
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign,
        true,
      ),
    ],
  });
  const keys = await webcrypto.subtle.generateKey(ALG, true, ["sign", "verify"]);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: "02",
    subject: "CN=kube-sim",
    issuer: ca.subject,
    notBefore,
    notAfter,
    signingAlgorithm: ALG,
    publicKey: keys.publicKey,
    signingKey: caKeys.privateKey,
    extensions: [
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.KeyUsagesExtension(
        x509.KeyUsageFlags.digitalSignature | x509.KeyUsageFlags.keyEncipherment,
        true,
      ),
      new x509.ExtendedKeyUsageExtension([x509.ExtendedKeyUsage.serverAuth]),
      new x509.SubjectAlternativeNameExtension(
        hosts.map((h): x509.JsonGeneralName => ({
          type: /^[\d.]+$|:/.test(h) ? "ip" : "dns",
          value: h,
        })),
      ),
    ],
  });
  return {
    caCert: ca.toString("pem") + "\n",
    cert: cert.toString("pem") + "\n",
    key: await exportKeyPem(keys.privateKey),
  };
}
