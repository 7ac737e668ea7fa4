import type { KubernetesDeploymentInput } from "@pipecd-ts/config";

/** How an app's manifests are produced (PipeCD `determineTemplatingMethod`, features §1.1). */
export type RenderMethod = "plain" | "kustomize" | "helm";

/** One application at one commit, checked out. */
export interface RenderRequest {
  /** The application id (cache key) and its registered name (helm's default release name). */
  readonly appId: string;
  readonly appName: string;
  /** Absolute path of the application directory in a checkout of the commit. */
  readonly appDir: string;
  /**
   * Absolute path of the checkout's root: local charts, value files and kustomize bases must
   * stay inside it.
   */
  readonly repoDir: string;
  readonly input: KubernetesDeploymentInput;
  readonly signal: AbortSignal;
  /** A line for the user (stage log or plan reason): tool versions, warnings. */
  readonly note: (line: string) => void;
}

/** Rendered YAML text and where it came from (a file name, or the command that printed it). */
export interface RenderedText {
  readonly source: string;
  readonly text: string;
}

/**
 * One way to render an app's manifests. Errors are thrown as `InvalidArgumentError` with the
 * tool's own message; every external process runs with a deadline and `signal`.
 */
export interface Renderer {
  readonly method: RenderMethod;
  render(req: RenderRequest): Promise<RenderedText[]>;
}
