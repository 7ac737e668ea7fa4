/** One entry of a Status `details.causes` list (`type` is sent as `reason` on the wire). */
export interface PatchErrorCause {
  type: string;
  message: string;
  field: string;
}

/**
 * A patch the server must refuse. The HTTP layer turns it into a Status body: 400 BadRequest,
 * 409 Conflict (server-side apply field conflicts, causes typed `FieldManagerConflict`),
 * 413 RequestEntityTooLarge or 422 Invalid.
 */
export class PatchError extends Error {
  constructor(
    readonly code: 400 | 409 | 413 | 422,
    message: string,
    readonly causes?: PatchErrorCause[],
  ) {
    super(message);
    this.name = "PatchError";
  }
}

/** The fixed message k8s sends for 422s built by `NewGenericServerResponse` (json-patch failures). */
export const GENERIC_422_MESSAGE = "the server rejected our request due to an error in our request";

/** A 422 like apiserver's `patch.go` returns when a patch cannot be applied; `detail` goes in causes. */
export function unprocessable(detail: string): PatchError {
  return new PatchError(422, GENERIC_422_MESSAGE, [
    { type: "UnexpectedServerResponse", message: detail, field: "" },
  ]);
}
