import type { ApplicationConfig } from "@pipecd-ts/config";
import { errorMessage } from "../apply.js";
import { asArr, asObj, type Json } from "../json.js";
import type { K8sObject, Manifest } from "../manifest/manifest.js";
import {
  applyAndReadBack,
  checkVariantAvailable,
  pickRoutingManifest,
  variantTarget,
  type RouteInput,
  type RouteResult,
  type TrafficRouter,
} from "./router.js";

/** Options of {@link computeVirtualServiceRoutes}. */
export interface VirtualServiceRouteOptions {
  /** `trafficRouting.istio.host`: the destination host whose subsets are the variants. */
  host: string;
  /** HTTP route names that may be rewritten; empty means every route. */
  editableRoutes: readonly string[];
  /** Requested canary and baseline percentages (primary gets the remainder). */
  canary: number;
  baseline: number;
  /** The variant values, which are also the DestinationRule subset names. */
  variantLabel: { primaryValue: string; canaryValue: string; baselineValue: string };
  /**
   * Keep the other fields of the existing destination (`port`…) on the rebuilt ones (default;
   * `safety.keepDestinationFields`). false: only host and subset, as PipeCD writes them.
   */
  keepDestinationFields?: boolean;
}

/** A VirtualService spec with its `http[].route` rewritten, and which routes were. */
export interface ComputedVirtualService {
  /** A copy of the input spec; only `http[i].route` of the rewritten routes differs. */
  spec: Json;
  /** Indices into `spec.http` of the rewritten routes. */
  rewritten: number[];
}

/** An HTTP route that delegates, redirects or answers directly: it has no weighted destinations. */
function isNonForwardingRoute(r: Json): boolean {
  return r.redirect !== undefined || r.directResponse !== undefined || r.delegate !== undefined;
}

/**
 * PipeCD's `generateVirtualServiceManifest` (behaviour §4.6): for every `spec.http` route (or
 * only those named in `editableRoutes`), keep the destinations of other hosts with their weights,
 * give the variants `100 − Σother`: canary and baseline `floor(p × variantsWeight / 100)`,
 * primary the remainder; write primary (always), canary and baseline (when > 0), then the other
 * hosts. Deliberate differences: the rebuilt destinations keep the fields of the existing
 * destination of that host (`port`, `headers`…; the same subset's, else the primary one's)
 * where PipeCD keeps only host and subset; and routes that redirect, answer directly or delegate
 * are left alone, where PipeCD would add destinations Istio rejects next to them.
 * `keepDestinationFields: false` restores PipeCD's bare destinations.
 */
export function computeVirtualServiceRoutes(
  vsSpec: unknown,
  o: VirtualServiceRouteOptions,
): ComputedVirtualService {
  const spec = structuredClone(asObj(vsSpec) ?? {});
  const rewritten: number[] = [];
  const { primaryValue, canaryValue, baselineValue } = o.variantLabel;
  asArr(spec.http).forEach((raw, i) => {
    const route = asObj(raw);
    if (!route || isNonForwardingRoute(route)) return;
    const name = typeof route.name === "string" ? route.name : "";
    if (o.editableRoutes.length > 0 && !o.editableRoutes.includes(name)) return;
    const dests = asArr(route.route).map((d) => asObj(d) ?? {});
    const hostOf = (d: Json): unknown => asObj(d.destination)?.host;
    const others = dests.filter((d) => hostOf(d) !== o.host);
    const mine = dests.filter((d) => hostOf(d) === o.host);
    const otherHostWeight = others.reduce((n, d) => n + weightOf(d), 0);
    const variantsWeight = 100 - otherHostWeight;
    const canaryWeight = Math.floor((o.canary * variantsWeight) / 100);
    const baselineWeight = Math.floor((o.baseline * variantsWeight) / 100);
    const primaryWeight = variantsWeight - canaryWeight - baselineWeight;
    const subsetOf = (d: Json): unknown => asObj(d.destination)?.subset;
    const primaryTemplate = mine.find((d) => subsetOf(d) === primaryValue) ?? mine[0];
    const build = (subset: string, weight: number): Json => {
      if (o.keepDestinationFields === false)
        return { destination: { host: o.host, subset }, weight };
      const template = mine.find((d) => subsetOf(d) === subset) ?? primaryTemplate ?? {};
      const { destination, weight: _w, ...rest } = structuredClone(template);
      return {
        destination: { ...asObj(destination), host: o.host, subset },
        weight,
        ...rest,
      };
    };
    const next = [build(primaryValue, primaryWeight)];
    if (canaryWeight > 0) next.push(build(canaryValue, canaryWeight));
    if (baselineWeight > 0) next.push(build(baselineValue, baselineWeight));
    route.route = [...next, ...others];
    rewritten.push(i);
  });
  return { spec, rewritten };
}

/** A destination's weight as Istio reads it (unset counts as 0, like PipeCD's int32). */
function weightOf(d: Json): number {
  return typeof d.weight === "number" ? d.weight : 0;
}

/** How logs and errors name an HTTP route. */
function routeLabel(route: unknown, i: number): string {
  const name = asObj(route)?.name;
  return typeof name === "string" && name ? `route "${name}"` : `route #${i}`;
}

/**
 * Problems that would make Istio reject or misroute the rewritten routes (our improvement over
 * PipeCD, which applies whatever it computed): every weight an integer ≥ 0 and each rewritten
 * route summing to 100. Empty when the spec is safe to write.
 */
export function validateRewrittenRoutes(c: ComputedVirtualService): string[] {
  const problems: string[] = [];
  const http = asArr(c.spec.http);
  for (const i of c.rewritten) {
    const dests = asArr(asObj(http[i])?.route).map((d) => asObj(d) ?? {});
    const label = routeLabel(http[i], i);
    const bad = dests
      .map((d) => d.weight)
      .filter((w) => w !== undefined && !(Number.isInteger(w) && (w as number) >= 0));
    if (bad.length)
      problems.push(`${label}: weights must be integers ≥ 0, got ${bad.map(String).join(", ")}`);
    const sum = dests.reduce((n, d) => n + weightOf(d), 0);
    if (sum !== 100) problems.push(`${label}: weights sum to ${sum}, not 100`);
  }
  return problems;
}

/** The weights Istio gives each variant subset of `host` in one route (unset: 100 if alone). */
function variantWeights(
  route: unknown,
  host: string,
  subsets: readonly string[],
): Map<string, number> {
  const dests = asArr(asObj(route)?.route).map((d) => asObj(d) ?? {});
  const out = new Map(subsets.map((s) => [s, 0]));
  for (const d of dests) {
    const dest = asObj(d.destination);
    const subset = dest?.subset;
    if (dest?.host !== host || typeof subset !== "string" || !out.has(subset)) continue;
    const w = d.weight === undefined && dests.length === 1 ? 100 : weightOf(d);
    out.set(subset, (out.get(subset) ?? 0) + w);
  }
  return out;
}

/** The weights of every HTTP route, in order (unset weights as null), for the read-back check. */
function routeWeightLists(spec: unknown): (number | null)[][] {
  return asArr(asObj(spec)?.http).map((r) =>
    asArr(asObj(r)?.route).map((d) => {
      const w = asObj(d)?.weight;
      return typeof w === "number" ? w : null;
    }),
  );
}

/** The first route whose weights differ between what was written and what is live, if any. */
export function firstWeightMismatch(written: unknown, live: unknown): string | undefined {
  const want = routeWeightLists(written);
  const got = routeWeightLists(live);
  const http = asArr(asObj(written)?.http);
  for (let i = 0; i < Math.max(want.length, got.length); i++) {
    const a = JSON.stringify(want[i] ?? []);
    const b = JSON.stringify(got[i] ?? []);
    if (a !== b) return `${routeLabel(http[i], i)}: wrote weights ${a} but the live ones are ${b}`;
  }
  return undefined;
}

/** An Istio VirtualService (any `networking.istio.io/*` version), as PipeCD finds it. */
export const isVirtualService = (o: K8sObject): boolean =>
  o.apiVersion.startsWith("networking.istio.io/") && o.kind === "VirtualService";

/**
 * The `istio` method (PipeCD §4.5 K8S_TRAFFIC_ROUTING step 5): applies the Git VirtualService
 * as is for `primary: 100`, otherwise one with its HTTP routes re-weighted by
 * {@link computeVirtualServiceRoutes}. Our improvements: the weights are validated before
 * writing, a variant with no available pods gets no traffic, and the live VirtualService is read
 * back and compared with what was written.
 */
export class IstioTrafficRouter implements TrafficRouter {
  /** The VirtualService: its split is set by K8S_TRAFFIC_ROUTING, not by rollouts. */
  routedManifests(manifests: readonly Manifest[], config: ApplicationConfig): Manifest[] {
    const name = config.trafficRouting.istio.virtualService.name;
    const vs = manifests.find(
      (m) => isVirtualService(m.obj) && (!name || m.obj.metadata.name === name),
    );
    return vs ? [vs] : [];
  }

  checkPrimary(): string | undefined {
    return undefined;
  }

  async route(input: RouteInput): Promise<RouteResult> {
    const { config, percentages: pc, logger, kube, signal, safety } = input;
    const istio = config.trafficRouting.istio;
    const vs = pickRoutingManifest(
      input.manifests,
      isVirtualService,
      istio.virtualService.name,
      "VirtualService",
      logger,
    );
    if (!vs)
      return {
        ok: false,
        reason: istio.virtualService.name
          ? `VirtualService ${istio.virtualService.name} was not found among the manifests`
          : "no VirtualService (networking.istio.io) was found among the manifests",
      };
    const ref = {
      apiVersion: vs.obj.apiVersion,
      kind: vs.obj.kind,
      namespace: vs.obj.metadata.namespace ?? "default",
      name: vs.obj.metadata.name,
    };
    const where = `VirtualService ${ref.namespace}/${ref.name}`;

    let liveBefore: K8sObject | undefined;
    try {
      liveBefore = await kube.get(ref, { signal });
    } catch (err) {
      logger.info(`Could not read the live ${where} (${errorMessage(err)}); comparing with Git`);
    }
    const before = liveBefore ?? structuredClone(vs.obj);

    if (pc.primary !== 100) {
      if (!istio.host)
        return { ok: false, reason: "trafficRouting.istio.host is required to split traffic" };
      const computed = computeVirtualServiceRoutes(vs.obj.spec, {
        host: istio.host,
        editableRoutes: istio.editableRoutes,
        canary: pc.canary,
        baseline: pc.baseline,
        variantLabel: config.variantLabel,
        keepDestinationFields: safety.keepDestinationFields,
      });
      if (computed.rewritten.length === 0)
        return {
          ok: false,
          reason:
            istio.editableRoutes.length > 0
              ? `${where} has no HTTP route named ${istio.editableRoutes.join(", ")}`
              : `${where} has no HTTP route to re-weight`,
        };
      if (safety.verifyTraffic) {
        const problems = validateRewrittenRoutes(computed);
        if (problems.length)
          return {
            ok: false,
            reason: `refusing to write ${where}: ${problems.join("; ")}`,
          };
        for (const v of ["canary", "baseline"] as const) {
          if (pc[v] <= 0) continue;
          const why = await checkVariantAvailable(input, variantTarget(config, v));
          if (why) return { ok: false, reason: why };
        }
      }
      vs.obj.spec = computed.spec;
    } else {
      logger.info(`Primary gets all traffic: applying ${where} as written in Git`);
    }

    const res = await applyAndReadBack(input, vs);
    if (!res.ok) return res;
    this.logChanges(input, before, vs.obj);
    if (!safety.verifyTraffic) {
      logger.info("Weights not validated or read back: safety.verifyTraffic is off");
      return { ok: true, applied: vs.obj };
    }
    const mismatch = firstWeightMismatch(vs.obj.spec, res.live.spec);
    if (mismatch) return { ok: false, reason: `${where} does not hold the weights: ${mismatch}` };
    return { ok: true, applied: vs.obj };
  }

  /** Logs, per HTTP route, the variant weights before → after (e.g. `primary 100 → 90`). */
  private logChanges(input: RouteInput, before: K8sObject, after: K8sObject): void {
    const { host } = input.config.trafficRouting.istio;
    const { primaryValue, canaryValue, baselineValue } = input.config.variantLabel;
    const subsets = [primaryValue, canaryValue, baselineValue];
    const prev = asArr(asObj(before.spec)?.http);
    const touchesHost = (route: unknown): boolean =>
      asArr(asObj(route)?.route).some((d) => asObj(asObj(d)?.destination)?.host === host);
    asArr(asObj(after.spec)?.http).forEach((route, i) => {
      if (!touchesHost(route) && !touchesHost(prev[i])) return;
      const was = variantWeights(prev[i], host, subsets);
      const now = variantWeights(route, host, subsets);
      const parts = subsets
        .filter((s) => s === primaryValue || (was.get(s) ?? 0) > 0 || (now.get(s) ?? 0) > 0)
        .map((s) => `${s} ${was.get(s) ?? 0} → ${now.get(s) ?? 0}`);
      input.logger.info(`${routeLabel(route, i)}: ${parts.join(", ")}`);
    });
  }
}
