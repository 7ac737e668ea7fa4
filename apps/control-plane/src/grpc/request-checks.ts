import type { DescMessage } from "@bufbuild/protobuf";
import { PipedService, undecodableRequest } from "@pipecd-ts/proto";
import { InvalidArgumentError } from "@pipecd-ts/runtime";
import { validateMessage } from "../wire.js";

/** The request descriptor of a PipedService method, by its proto name. */
export function inputOf(method: string): DescMessage {
  const m = PipedService.methods.find((x) => x.name === method);
  if (!m) throw new Error(`PipedService has no method ${method}`);
  return m.input;
}

/** Refuses a request that could not be decoded or breaks a wire rule (INVALID_ARGUMENT). */
export function checkRequest(input: DescMessage, request: unknown): void {
  const undecodable = undecodableRequest(request);
  if (undecodable !== undefined)
    throw new InvalidArgumentError(`request is not a valid ${input.typeName}: ${undecodable}`);
  validateMessage(input, request);
}
