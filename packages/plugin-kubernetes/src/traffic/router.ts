import type { ApplicationConfig, SafetySettings, TrafficPercentages } from "@pipecd-ts/config";
import type { StageLogger } from "@pipecd-ts/plugin-sdk";
import { applyVariant, errorMessage, variantValue, type KubeApi } from "../apply.js";
import { asObj } from "../json.js";
import { Annotation, type K8sObject, type Manifest } from "../manifest/manifest.js";

/** What a {@link TrafficRouter} needs to route one K8S_TRAFFIC_ROUTING stage. */
export interface RouteInput {
  /** The manifests of the target commit (deep copies: routers may mutate them). */
  manifests: Manifest[];
  /** The requested split; always sums to 100. */
  percentages: TrafficPercentages;
  config: ApplicationConfig;
  kube: KubeApi;
  signal: AbortSignal;
  /** The user-visible stage log. */
  logger: StageLogger;
  pipedId: string;
  applicationId: string;
  /** The target commit (the builtin commit-hash annotation). */
  commit: string;
  /** Our improvements' switches for this app (`verifyTraffic`, `keepDestinationFields`). */
  safety: SafetySettings;
}

/** The outcome of {@link TrafficRouter.route}: the applied routing manifest, or why nothing was. */
export type RouteResult = { ok: true; applied: K8sObject } | { ok: false; reason: string };

/**
 * One traffic routing method (`trafficRouting.method`): finds its routing manifest among the
 * target manifests, shapes it for the requested split and applies it (PipeCD §4.5
 * K8S_TRAFFIC_ROUTING). Failures are returned, not thrown.
 */
export interface TrafficRouter {
  route(input: RouteInput): Promise<RouteResult>;
  /**
   * The manifests whose state K8S_TRAFFIC_ROUTING owns, which K8S_PRIMARY_ROLLOUT must not
   * apply (so the split survives a primary rollout; PipeCD #378).
   */
  routedManifests(manifests: readonly Manifest[], config: ApplicationConfig): Manifest[];
  /**
   * Why the primary workloads cannot be routed by this method as written (K8S_PRIMARY_ROLLOUT
   * checks before applying), or undefined.
   */
  checkPrimary(
    manifests: readonly Manifest[],
    config: ApplicationConfig,
    o: { addVariantLabelToSelector: boolean },
  ): string | undefined;
}

/**
 * The routing manifest among `manifests`: those `match` accepts, narrowed to `name` when given.
 * Like PipeCD, several matches use the first one (with a log line saying so).
 */
export function pickRoutingManifest(
  manifests: readonly Manifest[],
  match: (o: K8sObject) => boolean,
  name: string,
  what: string,
  logger: StageLogger,
): Manifest | undefined {
  const found = manifests.filter(
    (m) => match(m.obj) && (name === "" || m.obj.metadata.name === name),
  );
  if (found.length > 1)
    logger.info(
      `Found ${found.length} ${what}s (${found.map((m) => m.obj.metadata.name).join(", ")}); ` +
        `only the first one will be used`,
    );
  return found[0];
}

/** The variant a traffic routing stage is about to send traffic to. */
export interface VariantTarget {
  /** Variant label value, e.g. "canary". */
  value: string;
  /** Name suffix of its workloads (the rollout stage's `suffix`). */
  suffix: string;
  /** The stage that creates its workloads. */
  rolloutStage: "K8S_CANARY_ROLLOUT" | "K8S_BASELINE_ROLLOUT";
}

/**
 * Fails when a variant about to get traffic has no available pods (our improvement over PipeCD,
 * which routes to an empty subset; Argo Rollouts' "safety reset" has the same intent): finds the
 * variant Deployments as `<workload>-<suffix>` for every workload of the app, else as this app's
 * Deployments whose selector carries `variantKey=<value>`, and checks `status.availableReplicas`.
 * Returns the reason on failure.
 */
export async function checkVariantAvailable(
  input: Pick<RouteInput, "manifests" | "config" | "kube" | "signal" | "applicationId">,
  variant: VariantTarget,
): Promise<string | undefined> {
  const { config, kube, signal } = input;
  const workloads = input.manifests.filter(
    (m) =>
      m.obj.kind === "Deployment" &&
      (config.workloads.length === 0 ||
        config.workloads.some(
          (w) => (w.kind || "Deployment") === "Deployment" && w.name === m.obj.metadata.name,
        )),
  );
  const namespaces = [...new Set(workloads.map((m) => m.obj.metadata.namespace ?? "default"))];
  if (namespaces.length === 0) namespaces.push(config.input.namespace || "default");
  let found: K8sObject[];
  try {
    found = [];
    for (const w of workloads) {
      const live = await kube.get(
        {
          apiVersion: "apps/v1",
          kind: "Deployment",
          namespace: w.obj.metadata.namespace ?? "default",
          name: `${w.obj.metadata.name}-${variant.suffix}`,
        },
        { signal },
      );
      if (live) found.push(live);
    }
    if (found.length === 0) {
      // Named differently (another suffix, renamed workload): this app's Deployments of the variant.
      for (const ns of namespaces) {
        const all = await kube.list("apps/v1", "Deployment", ns, { signal });
        found.push(
          ...all.filter((d) => {
            const sel = asObj(asObj(asObj(d.spec)?.selector)?.matchLabels);
            return (
              d.metadata.annotations?.[Annotation.APPLICATION] === input.applicationId &&
              sel?.[config.variantLabel.key] === variant.value
            );
          }),
        );
      }
    }
  } catch (err) {
    return `could not look up the ${variant.value} Deployments: ${errorMessage(err)}`;
  }
  if (found.length === 0)
    return `no ${variant.value} Deployment was found (run ${variant.rolloutStage} first); no traffic sent`;
  const empty = found.filter((d) => {
    const n = asObj(d.status)?.availableReplicas;
    return typeof n !== "number" || n <= 0;
  });
  if (empty.length)
    return (
      `the ${variant.value} has no available pods ` +
      `(Deployment ${empty.map((d) => d.metadata.name).join(", ")}); no traffic sent`
    );
  return undefined;
}

/** The name suffix of a variant's workloads: its rollout stage's `suffix`, else the variant value. */
export function variantTarget(
  config: ApplicationConfig,
  variant: "canary" | "baseline",
): VariantTarget {
  const value = variantValue(config.variantLabel, variant);
  const rolloutStage = variant === "canary" ? "K8S_CANARY_ROLLOUT" : "K8S_BASELINE_ROLLOUT";
  for (const s of config.pipeline.stages)
    if (
      (s.name === "K8S_CANARY_ROLLOUT" || s.name === "K8S_BASELINE_ROLLOUT") &&
      s.name === rolloutStage &&
      s.with.suffix
    )
      return { value, suffix: s.with.suffix, rolloutStage };
  return { value, suffix: value, rolloutStage };
}

/**
 * Applies the routing manifest with the builtin annotations as primary at the target commit
 * (PipeCD §4.5 step 6), then reads it back (our improvement: the caller compares what it wrote
 * with what is live). The API server's message is in the stage log or the reason.
 */
export async function applyAndReadBack(
  input: RouteInput,
  m: Manifest,
): Promise<{ ok: true; live: K8sObject } | { ok: false; reason: string }> {
  const where = `${m.obj.kind} ${m.obj.metadata.namespace ?? "default"}/${m.obj.metadata.name}`;
  const applied = await applyVariant(input.kube, [m], {
    pipedId: input.pipedId,
    applicationId: input.applicationId,
    commit: input.commit,
    variant: "primary",
    variantLabel: input.config.variantLabel,
    autoCreateNamespace: input.config.input.autoCreateNamespace,
    signal: input.signal,
    logger: input.logger,
  });
  if (!applied) return { ok: false, reason: `failed to apply ${where}` };
  let live: K8sObject | undefined;
  try {
    live = await input.kube.get(
      {
        apiVersion: m.obj.apiVersion,
        kind: m.obj.kind,
        namespace: m.obj.metadata.namespace ?? "default",
        name: m.obj.metadata.name,
      },
      { signal: input.signal },
    );
  } catch (err) {
    return { ok: false, reason: `could not read back ${where}: ${errorMessage(err)}` };
  }
  if (!live) return { ok: false, reason: `${where} is gone right after it was applied` };
  return { ok: true, live };
}
