import {
  constants,
  createCipheriv,
  createDecipheriv,
  createPrivateKey,
  createPublicKey,
  privateDecrypt,
  publicEncrypt,
  randomBytes,
  type KeyObject,
} from "node:crypto";
import { InvalidArgumentError } from "./errors.js";

// PipeCD's hybrid encryption of secrets (pkg/crypto/hybrid.go, after Bitnami sealed-secrets), so
// a ciphertext made by PipeCD's tools for a key decrypts here and the other way round:
//
//   base64std( uint16_be(len(R)) || R || G )
//     R = RSA-OAEP(SHA-256, empty label) of a random 32-byte session key K
//     G = AES-256-GCM(K, nonce = 12 zero bytes, no AAD): ciphertext || 16-byte tag
//
// A zero nonce is safe here because every message has its own random key.

const SESSION_KEY_BYTES = 32;
const TAG_BYTES = 16;
const ZERO_NONCE = Buffer.alloc(12);

/** A piped's secret key pair: the private key decrypts, the public key encrypts. */
export interface SecretKeyPair {
  readonly privateKey: KeyObject;
  readonly publicKey: KeyObject;
  /** The public key as PEM (PKIX, `BEGIN PUBLIC KEY`), the form the control plane stores. */
  readonly publicKeyPem: string;
}

/**
 * Reads a public key as PipeCD takes it: PEM, PKIX (`BEGIN PUBLIC KEY`), RSA. Throws an
 * InvalidArgument naming `what` (the key's contents are never in the message).
 */
export function parsePublicKey(pem: string, what = "public key"): KeyObject {
  if (!/-----BEGIN PUBLIC KEY-----/.test(pem))
    throw new InvalidArgumentError(
      `${what} must be a PEM "PUBLIC KEY" (PKIX), as openssl pkey -pubout writes`,
    );
  let key: KeyObject;
  try {
    key = createPublicKey({ key: pem, format: "pem" });
  } catch (err) {
    throw new InvalidArgumentError(
      `${what} is not a valid PEM public key: ${(err as Error).message}`,
    );
  }
  if (key.asymmetricKeyType !== "rsa") throw new InvalidArgumentError(`${what} must be an RSA key`);
  return key;
}

/**
 * Reads a key pair as PipeCD takes it: the private key PEM PKCS#8 (`BEGIN PRIVATE KEY`; PKCS#1
 * is refused, as PipeCD does), the public key PEM PKIX, both RSA, and the two a pair.
 */
export function parseSecretKeyPair(privatePem: string, publicPem: string): SecretKeyPair {
  if (!/-----BEGIN PRIVATE KEY-----/.test(privatePem))
    throw new InvalidArgumentError(
      'the private key must be a PEM "PRIVATE KEY" (PKCS#8), as openssl genpkey writes; convert a PKCS#1 key with openssl pkcs8 -topk8 -nocrypt',
    );
  let privateKey: KeyObject;
  try {
    privateKey = createPrivateKey({ key: privatePem, format: "pem" });
  } catch (err) {
    throw new InvalidArgumentError(
      `the private key is not a valid PEM key: ${(err as Error).message}`,
    );
  }
  if (privateKey.asymmetricKeyType !== "rsa")
    throw new InvalidArgumentError("the private key must be an RSA key");
  const publicKey = parsePublicKey(publicPem);
  const derived = createPublicKey(privateKey).export({ type: "spki", format: "der" });
  if (!derived.equals(publicKey.export({ type: "spki", format: "der" })))
    throw new InvalidArgumentError("the public key is not the private key's pair");
  return {
    privateKey,
    publicKey,
    publicKeyPem: publicKey.export({ type: "spki", format: "pem" }).toString(),
  };
}

/** Encrypts `plaintext` for the holder of the private key of `publicKey` (PipeCD's format). */
export function hybridEncrypt(publicKey: KeyObject, plaintext: Uint8Array | string): string {
  const sessionKey = randomBytes(SESSION_KEY_BYTES);
  const wrapped = publicEncrypt(
    { key: publicKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" },
    sessionKey,
  );
  const cipher = createCipheriv("aes-256-gcm", sessionKey, ZERO_NONCE);
  const body = Buffer.concat([cipher.update(plaintext), cipher.final(), cipher.getAuthTag()]);
  const len = Buffer.alloc(2);
  len.writeUInt16BE(wrapped.length);
  return Buffer.concat([len, wrapped, body]).toString("base64");
}

/**
 * Decrypts a ciphertext of {@link hybridEncrypt} (or of PipeCD). Throws an InvalidArgument that
 * says what is wrong (never the data): not base64, too short, made for another key, corrupted.
 */
export function hybridDecrypt(privateKey: KeyObject, ciphertext: string): Buffer {
  const text = ciphertext.trim();
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0)
    throw new InvalidArgumentError("the ciphertext is not base64");
  const data = Buffer.from(text, "base64");
  if (data.length < 2) throw new InvalidArgumentError("the ciphertext is too short");
  const rsaLen = data.readUInt16BE(0);
  if (data.length < 2 + rsaLen + TAG_BYTES)
    throw new InvalidArgumentError("the ciphertext is too short");
  let sessionKey: Buffer;
  try {
    sessionKey = privateDecrypt(
      { key: privateKey, padding: constants.RSA_PKCS1_OAEP_PADDING, oaepHash: "sha256" },
      data.subarray(2, 2 + rsaLen),
    );
  } catch {
    throw new InvalidArgumentError(
      "the ciphertext was not made for this piped's key (or is corrupted)",
    );
  }
  if (sessionKey.length !== SESSION_KEY_BYTES)
    throw new InvalidArgumentError("the ciphertext is corrupted (bad session key)");
  const body = data.subarray(2 + rsaLen);
  const decipher = createDecipheriv("aes-256-gcm", sessionKey, ZERO_NONCE);
  decipher.setAuthTag(body.subarray(body.length - TAG_BYTES));
  try {
    return Buffer.concat([
      decipher.update(body.subarray(0, body.length - TAG_BYTES)),
      decipher.final(),
    ]);
  } catch {
    throw new InvalidArgumentError("the ciphertext is corrupted (authentication failed)");
  }
}
