import { CommandStatus, DeploymentStatus, StageStatus } from "@pipecd-ts/proto";
import { FailedPreconditionError } from "@pipecd-ts/runtime";

/** Whether a deployment has reached a final status (SUCCESS, FAILURE, CANCELLED). */
export function isDeploymentCompleted(status: DeploymentStatus): boolean {
  return (
    status === DeploymentStatus.DEPLOYMENT_SUCCESS ||
    status === DeploymentStatus.DEPLOYMENT_FAILURE ||
    status === DeploymentStatus.DEPLOYMENT_CANCELLED
  );
}

/** Statuses of deployments a piped must resume after a restart. */
export const NOT_COMPLETED_DEPLOYMENT_STATUSES: readonly DeploymentStatus[] = [
  DeploymentStatus.DEPLOYMENT_PENDING,
  DeploymentStatus.DEPLOYMENT_PLANNED,
  DeploymentStatus.DEPLOYMENT_RUNNING,
  DeploymentStatus.DEPLOYMENT_ROLLING_BACK,
];

/** Whether a stage has reached a final status. */
export function isStageCompleted(status: StageStatus): boolean {
  return (
    status === StageStatus.STAGE_SUCCESS ||
    status === StageStatus.STAGE_FAILURE ||
    status === StageStatus.STAGE_CANCELLED ||
    status === StageStatus.STAGE_SKIPPED ||
    status === StageStatus.STAGE_EXITED
  );
}

/** Whether a command has been handled (successfully or not). */
export function isCommandHandled(status: CommandStatus): boolean {
  return status !== CommandStatus.COMMAND_NOT_HANDLED_YET;
}

/** The enum value name of a deployment status, e.g. "DEPLOYMENT_RUNNING". */
export function deploymentStatusName(s: DeploymentStatus): string {
  return DeploymentStatus[s] ?? `DeploymentStatus(${s})`;
}

/** The enum value name of a stage status, e.g. "STAGE_RUNNING". */
export function stageStatusName(s: StageStatus): string {
  return StageStatus[s] ?? `StageStatus(${s})`;
}

/**
 * Whether a deployment may move from `from` to `to`. The lifecycle is monotonic (PipeCD's
 * `CanUpdateDeploymentStatus`, which PipeCD's server never enforces — we do):
 * PENDING → PLANNED → RUNNING → ROLLING_BACK → {SUCCESS, FAILURE, CANCELLED}, where any
 * not-completed status may jump forward (a planner error goes PENDING → FAILURE, a cancel while
 * planning PENDING → CANCELLED), and ROLLING_BACK can only end in FAILURE or CANCELLED.
 * Re-reporting the current status is allowed (reports are retried and must be idempotent).
 */
export function canTransitionDeployment(from: DeploymentStatus, to: DeploymentStatus): boolean {
  if (from === to) return true;
  if (isDeploymentCompleted(from)) return false;
  if (from === DeploymentStatus.DEPLOYMENT_ROLLING_BACK) {
    return (
      to === DeploymentStatus.DEPLOYMENT_FAILURE || to === DeploymentStatus.DEPLOYMENT_CANCELLED
    );
  }
  return to > from;
}

/** Throws FailedPrecondition (naming both statuses) unless {@link canTransitionDeployment}. */
export function assertDeploymentTransition(
  deploymentId: string,
  from: DeploymentStatus,
  to: DeploymentStatus,
): void {
  if (!canTransitionDeployment(from, to)) {
    throw new FailedPreconditionError(
      `deployment ${deploymentId}: illegal status transition ${deploymentStatusName(from)} → ${deploymentStatusName(to)}`,
    );
  }
}

/**
 * Whether a stage may move from `from` to `to`. NOT_STARTED_YET may go anywhere; RUNNING may be
 * re-reported or complete; a completed stage only re-reports its own status — unless the stage is
 * retried (`retried` true: its retried count went up), which restarts it as RUNNING.
 */
export function canTransitionStage(from: StageStatus, to: StageStatus, retried: boolean): boolean {
  if (from === to) return true;
  if (from === StageStatus.STAGE_NOT_STARTED_YET) return true;
  if (from === StageStatus.STAGE_RUNNING) return to !== StageStatus.STAGE_NOT_STARTED_YET;
  return retried && to === StageStatus.STAGE_RUNNING;
}

/** Throws FailedPrecondition unless {@link canTransitionStage}. */
export function assertStageTransition(
  deploymentId: string,
  stageId: string,
  from: StageStatus,
  to: StageStatus,
  retried: boolean,
): void {
  if (!canTransitionStage(from, to, retried)) {
    throw new FailedPreconditionError(
      `deployment ${deploymentId} stage ${stageId}: illegal status transition ${stageStatusName(from)} → ${stageStatusName(to)}`,
    );
  }
}
