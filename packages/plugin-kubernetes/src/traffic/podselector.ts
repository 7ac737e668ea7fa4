import { hasStage, type ApplicationConfig } from "@pipecd-ts/config";
import { asObj } from "../json.js";
import type { Manifest } from "../manifest/manifest.js";
import { checkVariantSelector, findWorkloads } from "../variant/variant.js";
import {
  applyAndReadBack,
  checkVariantAvailable,
  pickRoutingManifest,
  variantTarget,
  type RouteInput,
  type RouteResult,
  type TrafficRouter,
} from "./router.js";

/**
 * The `podselector` method (PipeCD §4.5 K8S_TRAFFIC_ROUTING step 4, §4.7): all traffic to one
 * variant by switching the Service selector's variant label — `primary: 100` applies the Git
 * Service unchanged, `canary: 100` sets the selector's variant to canary; any split is refused.
 * Our improvements: no switch to a canary without available pods, and the live selector is read
 * back after applying.
 */
export class PodSelectorTrafficRouter implements TrafficRouter {
  /** The Service is applied by every rollout as written in Git (it selects primary). */
  routedManifests(): Manifest[] {
    return [];
  }

  /**
   * With a K8S_TRAFFIC_ROUTING stage and no `addVariantLabelToSelector`, every workload must
   * already carry the primary variant label in its selector and pod labels.
   */
  checkPrimary(
    manifests: readonly Manifest[],
    config: ApplicationConfig,
    o: { addVariantLabelToSelector: boolean },
  ): string | undefined {
    if (o.addVariantLabelToSelector || !hasStage(config, "K8S_TRAFFIC_ROUTING")) return undefined;
    const { key, primaryValue } = config.variantLabel;
    const problems = findWorkloads(manifests, config.workloads).flatMap((w) => {
      const why = checkVariantSelector(w.obj, key, primaryValue);
      return why ? [`${w.obj.kind} ${w.obj.metadata.name}: ${why}`] : [];
    });
    if (problems.length === 0) return undefined;
    return (
      `Traffic routing by podselector needs the ${key}=${primaryValue} label in ` +
      `every workload's selector and pod template labels (or addVariantLabelToSelector: true): ${problems.join("; ")}`
    );
  }

  async route(input: RouteInput): Promise<RouteResult> {
    const { config, percentages: pc, logger, safety } = input;
    const { key, primaryValue, canaryValue } = config.variantLabel;
    if (pc.primary !== 100 && pc.canary !== 100)
      return {
        ok: false,
        reason:
          `podselector routing requires either PRIMARY or CANARY must be 100 ` +
          `(got primary ${pc.primary}, canary ${pc.canary}, baseline ${pc.baseline})`,
      };
    const svc = pickRoutingManifest(
      input.manifests,
      (o) => o.kind === "Service" && o.apiVersion === "v1",
      config.service.name,
      "Service",
      logger,
    );
    if (!svc)
      return {
        ok: false,
        reason: config.service.name
          ? `Service ${config.service.name} was not found among the manifests`
          : "no Service was found among the manifests",
      };
    const where = `Service ${svc.obj.metadata.namespace ?? "default"}/${svc.obj.metadata.name}`;
    const spec = asObj(svc.obj.spec) ?? (svc.obj.spec = {});
    const selector = (asObj(spec.selector) ?? {}) as Record<string, string>;
    if (selector[key] !== primaryValue)
      return {
        ok: false,
        reason: `${where} must select ${key}: ${primaryValue} in Git to be routed by podselector`,
      };
    if (pc.canary === 100) {
      if (safety.verifyTraffic) {
        const why = await checkVariantAvailable(input, variantTarget(config, "canary"));
        if (why) return { ok: false, reason: why };
      }
      spec.selector = { ...selector, [key]: canaryValue };
      logger.info(`${where}: selector ${key} ${primaryValue} → ${canaryValue}`);
    } else {
      logger.info(`${where}: applying as written in Git (selector ${key}: ${primaryValue})`);
    }
    const res = await applyAndReadBack(input, svc);
    if (!res.ok) return res;
    if (!safety.verifyTraffic) {
      logger.info("Selector not read back: safety.verifyTraffic is off");
      return { ok: true, applied: svc.obj };
    }
    const want = asObj(spec.selector)?.[key];
    const got = asObj(asObj(res.live.spec)?.selector)?.[key];
    if (got !== want)
      return {
        ok: false,
        reason: `${where} does not hold the selector: wrote ${key}=${String(want)}, live is ${String(got)}`,
      };
    return { ok: true, applied: svc.obj };
  }
}
