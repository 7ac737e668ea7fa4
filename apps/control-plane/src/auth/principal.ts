import type { Role } from "@pipecd-ts/proto";

/** Who is calling the REST API. */
export interface Principal {
  /** The user on whose behalf the call is made (an API key acts as its creator). */
  readonly username: string;
  readonly role: Role;
  /** Set when authenticated with an API key. */
  readonly apiKeyId?: string;
  /** Set when authenticated with a web session. */
  readonly sessionHash?: string;
}

/** An authenticated piped. */
export interface PipedPrincipal {
  readonly projectId: string;
  readonly pipedId: string;
}

/** Parses `PIPED-TOKEN <projectId>,<pipedId>,<pipedKey>`; undefined if malformed. */
export function parsePipedToken(
  header: string | undefined,
): { projectId: string; pipedId: string; key: string } | undefined {
  if (!header?.startsWith("PIPED-TOKEN ")) return undefined;
  const parts = header.slice("PIPED-TOKEN ".length).trim().split(",");
  if (parts.length !== 3) return undefined;
  const [projectId, pipedId, key] = parts.map((p) => p.trim());
  if (!projectId || !pipedId || !key) return undefined;
  return { projectId, pipedId, key };
}

/** Formats the PIPED-TOKEN authorization value. */
export function formatPipedToken(projectId: string, pipedId: string, key: string): string {
  return `PIPED-TOKEN ${projectId},${pipedId},${key}`;
}

/** Parses an API key `<keyId>.<secret>`; undefined if malformed. */
export function parseApiKey(key: string): { id: string; secret: string } | undefined {
  const dot = key.indexOf(".");
  if (dot <= 0 || dot === key.length - 1) return undefined;
  return { id: key.slice(0, dot), secret: key.slice(dot + 1) };
}
