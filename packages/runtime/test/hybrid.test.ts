import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { generateKeyPairSync } from "node:crypto";
import { hybridDecrypt, hybridEncrypt, parsePublicKey, parseSecretKeyPair } from "../src/hybrid.js";

const pem = () =>
  generateKeyPairSync("rsa", {
    modulusLength: 2048,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
  });

describe("hybrid encryption (PipeCD's secret format)", () => {
  const a = pem();
  const b = pem();
  const pair = parseSecretKeyPair(a.privateKey, a.publicKey);

  it("round-trips any bytes; the output is base64 of uint16(256) || RSA-OAEP block || AES-GCM body", () => {
    for (const text of ["hunter2", "", "ünïcødé ✓\n", "x".repeat(100_000)]) {
      const c = hybridEncrypt(pair.publicKey, text);
      const raw = Buffer.from(c, "base64");
      assert.equal(raw.readUInt16BE(0), 256, "an RSA-2048 block");
      assert.equal(raw.length, 2 + 256 + Buffer.byteLength(text) + 16, "ciphertext || 16-byte tag");
      assert.equal(hybridDecrypt(pair.privateKey, c).toString("utf8"), text);
    }
    assert.notEqual(hybridEncrypt(pair.publicKey, "same"), hybridEncrypt(pair.publicKey, "same"));
  });

  it("says what is wrong, never what the data is", () => {
    const c = hybridEncrypt(pair.publicKey, "hunter2");
    const other = parseSecretKeyPair(b.privateKey, b.publicKey);
    assert.throws(() => hybridDecrypt(other.privateKey, c), /not made for this piped's key/);
    const raw = Buffer.from(c, "base64");
    raw[raw.length - 1] = (raw[raw.length - 1] ?? 0) ^ 1;
    assert.throws(
      () => hybridDecrypt(pair.privateKey, raw.toString("base64")),
      /corrupted \(authentication failed\)/,
    );
    assert.throws(() => hybridDecrypt(pair.privateKey, "AQA="), /too short/);
    assert.throws(() => hybridDecrypt(pair.privateKey, "not base64!"), /not base64/);
    for (const bad of [c, raw.toString("base64")])
      try {
        hybridDecrypt(other.privateKey, bad);
      } catch (err) {
        assert.ok(!(err as Error).message.includes("hunter2"));
      }
  });

  it("takes PKCS#8 and PKIX PEM keys of one pair only, as PipeCD", () => {
    const pkcs1 = generateKeyPairSync("rsa", {
      modulusLength: 2048,
      publicKeyEncoding: { type: "spki", format: "pem" },
      privateKeyEncoding: { type: "pkcs1", format: "pem" },
    });
    assert.throws(
      () => parseSecretKeyPair(pkcs1.privateKey, pkcs1.publicKey),
      /PRIVATE KEY" \(PKCS#8\)/,
    );
    assert.throws(
      () => parseSecretKeyPair(a.privateKey, b.publicKey),
      /not the private key's pair/,
    );
    assert.throws(() => parsePublicKey(a.privateKey), /PUBLIC KEY" \(PKIX\)/);
    assert.throws(
      () => parsePublicKey("-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n"),
      /not a valid PEM public key/,
    );
    assert.match(pair.publicKeyPem, /^-----BEGIN PUBLIC KEY-----/);
  });
});
