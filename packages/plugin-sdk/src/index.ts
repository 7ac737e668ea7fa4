import type { ApplicationConfig, StageOptionsByName } from "@pipecd-ts/config";
import type { Deployment, PipelineStage, StageStatus } from "@pipecd-ts/proto";
import type { Clock } from "@pipecd-ts/runtime";

/**
 * Why a stage's signal aborted (PipeCD `executor/stopsignal.go`): `terminate` — the piped is
 * stopping, the stage stays RUNNING and is re-run after restart; `cancel` — a user cancelled
 * (→ CANCELLED); `timeout` — the stage or deployment deadline passed (→ FAILURE); `skip` — a
 * user skipped the stage (→ SKIPPED).
 */
export type StopReason = "terminate" | "cancel" | "timeout" | "skip";

/** An abort reason carrying a {@link StopReason}. */
export class StopSignal extends Error {
  constructor(
    readonly reason: StopReason,
    message = `stage stopped: ${reason}`,
  ) {
    super(message);
    this.name = "StopSignal";
  }
}

/** The stop reason of an aborted signal, if it was aborted with a {@link StopSignal}. */
export function stopReasonOf(signal: AbortSignal): StopReason | undefined {
  const r: unknown = signal.reason;
  return signal.aborted && r instanceof StopSignal ? r.reason : undefined;
}

/** The log a user reads for a stage (separate from operator logs). */
export interface StageLogger {
  info(text: string): void;
  success(text: string): void;
  error(text: string): void;
}

/** One scope of key/value metadata, persisted in the control plane so stages can resume. */
export interface MetadataScope {
  get(key: string): string | undefined;
  all(): Readonly<Record<string, string>>;
  /** Merges values locally and persists them (durable when the promise resolves). */
  put(values: Record<string, string>): Promise<void>;
}

/** Deployment-wide and per-stage metadata (PipeCD `metadatastore`). */
export interface MetadataStore {
  readonly shared: MetadataScope;
  stage(stageId: string): MetadataScope;
}

/** A user decision pushed to a running stage (over the piped's Watch stream). */
export interface StageCommand {
  kind: "approve" | "reject";
  commandId: string;
  /** The user on whose behalf the command was made. */
  commander: string;
  reason?: string;
}

/** Commands addressed to the running stage, in arrival order. */
export interface StageCommandSource {
  /** The next command (already received or future); rejects when `signal` aborts. */
  next(signal: AbortSignal): Promise<StageCommand>;
  /** Reports a command handled (SUCCEEDED unless `ok` is false). */
  ack(cmd: StageCommand, ok: boolean, metadata?: Record<string, string>): Promise<void>;
}

/**
 * The `with` options of a stage name, as the config loader types and defaults them
 * (`StageOptionsByName`); undefined for predefined stages (K8S_SYNC, ROLLBACK).
 */
export type StageOptionsOf<N extends string> = N extends keyof StageOptionsByName
  ? StageOptionsByName[N]
  : undefined;

/** Everything an executor gets to run one stage; `Options` is the stage's typed `with`. */
export interface StageInput<Options = unknown> {
  readonly deployment: Deployment;
  readonly stage: PipelineStage;
  /** The stage's `with` options from the target commit's config, typed and defaulted. */
  readonly stageConfig: Options;
  /** The target commit's application config. */
  readonly appConfig: ApplicationConfig;
  /** Application directory at the target commit. */
  readonly targetDir: string;
  /** Application directory at the running (last successful) commit, if any. */
  readonly runningDir: string | undefined;
  readonly targetCommit: string;
  readonly runningCommit: string | undefined;
  readonly pipedId: string;
  /** Aborts with a {@link StopSignal}. */
  readonly signal: AbortSignal;
  readonly logger: StageLogger;
  readonly metadata: MetadataStore;
  readonly commands: StageCommandSource;
  readonly clock: Clock;
}

/**
 * Runs one stage type. Domain failure is a returned status, not an exception; executors must be
 * idempotent (a terminated stage is re-run from the start after a restart).
 */
export interface StageExecutor<Options = unknown> {
  execute(input: StageInput<Options>): Promise<StageResult>;
}

/**
 * What a stage ended with: a status, or a status with the reason users see on the stage and,
 * when it fails the deployment, on the deployment (e.g. which metric failed an analysis).
 */
export type StageResult = StageStatus | { status: StageStatus; reason: string };

/** Executors by stage name, registered explicitly by the piped's main (never at import time). */
export class ExecutorRegistry {
  private readonly executors = new Map<string, StageExecutor>();

  /**
   * Registers the executor of a stage name; a second registration is a programming error. The
   * executor is typed by the options of that name: the scheduler hands each stage the `with` the
   * config loader parsed for its name.
   */
  register<N extends string>(stageName: N, executor: StageExecutor<StageOptionsOf<N>>): this {
    if (this.executors.has(stageName))
      throw new Error(`executor for ${stageName} registered twice`);
    this.executors.set(stageName, executor);
    return this;
  }

  /** The executor of a stage name, if any. */
  get(stageName: string): StageExecutor | undefined {
    return this.executors.get(stageName);
  }

  /** Registered stage names. */
  names(): string[] {
    return [...this.executors.keys()];
  }
}

/** What a platform planner decides for one deployment. */
export interface PlanResult {
  strategy: "QUICK_SYNC" | "PIPELINE";
  summary: string;
  version: string;
  versions: { kind: "CONTAINER_IMAGE"; name: string; version: string; url: string }[];
  /** Stages to run (the Rollback stage included when auto-rollback is on). */
  stages: PipelineStage[];
}

/** Input of a platform planner. */
export interface PlannerInput {
  readonly deployment: Deployment;
  readonly appConfig: ApplicationConfig;
  readonly targetDir: string;
  readonly runningDir: string | undefined;
  readonly runningCommit: string | undefined;
  /** The commit message (for commitMatcher). */
  readonly commitMessage: string;
  readonly signal: AbortSignal;
}

/** Decides quick sync vs pipeline and builds the stages for a platform (PipeCD planner). */
export interface Planner<Input extends PlannerInput = PlannerInput> {
  plan(input: Input): Promise<PlanResult>;
}

export type { StageStatus };
export { checkoutRoot } from "./checkout.js";
export {
  MAX_TOOL_OUTPUT_BYTES,
  ToolError,
  runTool,
  toolErrorToAppError,
  type RunToolOptions,
  type ToolFailure,
  type ToolOutput,
} from "./exec.js";
