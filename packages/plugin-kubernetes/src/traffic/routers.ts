import type { TrafficRoutingMethod } from "@pipecd-ts/config";
import { IstioTrafficRouter } from "./istio.js";
import { PodSelectorTrafficRouter } from "./podselector.js";
import type { TrafficRouter } from "./router.js";

/** The router of a method; undefined for methods we (like PipeCD v0) do not support. */
export function routerFor(method: TrafficRoutingMethod): TrafficRouter | undefined {
  switch (method) {
    case "istio":
      return new IstioTrafficRouter();
    case "podselector":
      return new PodSelectorTrafficRouter();
    case "smi":
      return undefined;
  }
}
