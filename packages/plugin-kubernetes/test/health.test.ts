import { describe, it } from "node:test";
import assert from "node:assert/strict";
import type { KubeObject } from "@pipecd-ts/kube";
import { aggregateHealth, resourceHealth, type Health } from "../src/livestate/health.js";

const NOW = new Date("2025-03-01T12:00:00Z");
const LONG_AGO = "2025-03-01T11:00:00Z"; // an hour before NOW: past the grace period
const JUST_NOW = "2025-03-01T11:59:30Z"; // 30s before NOW

const obj = (apiVersion: string, kind: string, name: string, rest: object = {}): KubeObject => ({
  apiVersion,
  kind,
  metadata: { name, namespace: "default", uid: `${name}-uid` },
  ...rest,
});
const cond = (type: string, status: string, reason = "", message = "", at = LONG_AGO) => ({
  type,
  status,
  ...(reason ? { reason } : {}),
  ...(message ? { message } : {}),
  lastTransitionTime: at,
});
const running = { running: { startedAt: LONG_AGO } };
const container = (ready: boolean, state: object = running, restartCount = 0, extra = {}) => ({
  name: "web",
  image: "registry.example.com/web:v2",
  ready,
  restartCount,
  state,
  ...extra,
});
const pod = (status: object, meta: object = {}): KubeObject => {
  const o = obj("v1", "Pod", "web-7d9c5b-x2k4p", {
    spec: { restartPolicy: "Always", containers: [{ name: "web", image: "web:v2" }] },
    status,
  });
  return { ...o, metadata: { ...o.metadata, ...meta } };
};
const readyPod = (restarts = 0) =>
  pod({
    phase: "Running",
    conditions: [cond("PodScheduled", "True"), cond("Ready", "True")],
    containerStatuses: [container(true, running, restarts)],
  });
const notReadyPod = (since: string) =>
  pod({
    phase: "Running",
    conditions: [
      cond("Ready", "False", "ContainersNotReady", "containers with unready status: [web]", since),
    ],
    containerStatuses: [container(false)],
  });
const deployment = (replicas: number, status: object, generation = 4, spec: object = {}) =>
  obj("apps/v1", "Deployment", "web", {
    metadata: { name: "web", namespace: "default", generation },
    spec: { replicas, selector: { matchLabels: { app: "web" } }, ...spec },
    status: { observedGeneration: 4, ...status },
  });
const service = (type: string, ingress?: object[]) =>
  obj("v1", "Service", "web", {
    spec: { type, ports: [{ port: 80 }] },
    status: { loadBalancer: ingress ? { ingress } : {} },
  });

const cases: { name: string; obj: KubeObject; want: Health }[] = [
  {
    name: "a running pod with every container ready is healthy",
    obj: readyPod(),
    want: { status: "HEALTHY", description: "Running" },
  },
  {
    name: "a ready pod mentions its restarts",
    obj: readyPod(2),
    want: { status: "HEALTHY", description: "Running; container web restarted 2 times" },
  },
  {
    name: "a crash-looping pod is unhealthy with the back-off, last exit and restarts",
    obj: pod({
      phase: "Running",
      conditions: [
        cond("Ready", "False", "ContainersNotReady", "containers with unready status: [web]"),
      ],
      containerStatuses: [
        container(
          false,
          {
            waiting: {
              reason: "CrashLoopBackOff",
              message:
                "back-off 1m20s restarting failed container=web pod=web-7d9c5b-x2k4p_default(0c1d)",
            },
          },
          3,
          { lastState: { terminated: { reason: "Error", exitCode: 1 } } },
        ),
      ],
    }),
    want: {
      status: "UNHEALTHY",
      description:
        "container web: CrashLoopBackOff: back-off 1m20s restarting failed container=web pod=web-7d9c5b-x2k4p_default(0c1d) (last exit: Error, code 1); container web restarted 3 times",
    },
  },
  {
    name: "a pod never ready for an hour is unhealthy, naming the Ready condition",
    obj: notReadyPod(LONG_AGO),
    want: {
      status: "UNHEALTHY",
      description: "Not ready: ContainersNotReady: containers with unready status: [web]",
    },
  },
  {
    name: "a pod not ready for 30s is still starting (OTHER)",
    obj: notReadyPod(JUST_NOW),
    want: {
      status: "OTHER",
      description: "Not ready: ContainersNotReady: containers with unready status: [web]",
    },
  },
  {
    name: "an image that cannot be pulled is unhealthy with kubelet's message",
    obj: pod({
      phase: "Pending",
      containerStatuses: [
        container(false, {
          waiting: {
            reason: "ImagePullBackOff",
            message: 'Back-off pulling image "registry.example.com/web:v9"',
          },
        }),
      ],
    }),
    want: {
      status: "UNHEALTHY",
      description:
        'container web: ImagePullBackOff: Back-off pulling image "registry.example.com/web:v9"',
    },
  },
  {
    name: "ErrImagePull in an init container of a Job pod (restartPolicy Never) is unhealthy",
    obj: (() => {
      const p = pod({
        phase: "Pending",
        initContainerStatuses: [
          {
            name: "migrate",
            ready: false,
            restartCount: 0,
            state: { waiting: { reason: "ErrImagePull", message: "manifest unknown" } },
          },
        ],
      });
      return { ...p, spec: { restartPolicy: "Never" } };
    })(),
    want: { status: "UNHEALTHY", description: "container migrate: ErrImagePull: manifest unknown" },
  },
  {
    name: "a missing secret (CreateContainerConfigError) is unhealthy",
    obj: pod({
      phase: "Pending",
      containerStatuses: [
        container(false, {
          waiting: { reason: "CreateContainerConfigError", message: 'secret "db-creds" not found' },
        }),
      ],
    }),
    want: {
      status: "UNHEALTHY",
      description: 'container web: CreateContainerConfigError: secret "db-creds" not found',
    },
  },
  {
    name: "a pod still creating its containers is OTHER",
    obj: pod({
      phase: "Pending",
      containerStatuses: [container(false, { waiting: { reason: "ContainerCreating" } })],
    }),
    want: { status: "OTHER", description: "Pending: container web: ContainerCreating" },
  },
  {
    name: "a pod unschedulable for an hour is unhealthy",
    obj: pod({
      phase: "Pending",
      conditions: [
        cond(
          "PodScheduled",
          "False",
          "Unschedulable",
          "0/3 nodes are available: 3 Insufficient cpu.",
        ),
      ],
    }),
    want: {
      status: "UNHEALTHY",
      description: "Pending: Unschedulable: 0/3 nodes are available: 3 Insufficient cpu.",
    },
  },
  {
    name: "a Job's succeeded pod is healthy",
    obj: pod({
      phase: "Succeeded",
      containerStatuses: [container(false, { terminated: { reason: "Completed", exitCode: 0 } })],
    }),
    want: { status: "HEALTHY", description: "Completed" },
  },
  {
    name: "an evicted pod is OTHER (its ReplicaSet replaced it), not a fault",
    obj: pod({
      phase: "Failed",
      reason: "Evicted",
      message: "The node was low on resource: memory.",
    }),
    want: {
      status: "OTHER",
      description: "Failed: Evicted: The node was low on resource: memory.",
    },
  },
  {
    name: "a pod being deleted is Terminating even while it still runs",
    obj: pod(readyPod().status as object, { deletionTimestamp: JUST_NOW }),
    want: { status: "OTHER", description: "Terminating" },
  },
  {
    name: "a rolled-out Deployment is healthy",
    obj: deployment(2, {
      replicas: 2,
      updatedReplicas: 2,
      readyReplicas: 2,
      availableReplicas: 2,
      conditions: [
        cond("Available", "True", "MinimumReplicasAvailable"),
        cond("Progressing", "True", "NewReplicaSetAvailable"),
      ],
    }),
    want: { status: "HEALTHY", description: "All 2 replicas are updated and available" },
  },
  {
    name: "a rolling Deployment waits for updated replicas to become available (kubectl wording)",
    obj: deployment(2, {
      replicas: 2,
      updatedReplicas: 2,
      readyReplicas: 1,
      availableReplicas: 1,
      conditions: [cond("Progressing", "True", "ReplicaSetUpdated")],
    }),
    want: {
      status: "OTHER",
      description:
        'Waiting for deployment "web" rollout to finish: 1 of 2 updated replicas are available...',
    },
  },
  {
    name: "a Deployment part-way through replacing pods counts the updated ones",
    obj: deployment(3, { replicas: 4, updatedReplicas: 1, availableReplicas: 3 }),
    want: {
      status: "OTHER",
      description:
        'Waiting for deployment "web" rollout to finish: 1 out of 3 new replicas have been updated...',
    },
  },
  {
    name: "a Deployment whose new spec is not yet observed is OTHER",
    obj: deployment(2, { replicas: 2, updatedReplicas: 2, availableReplicas: 2 }, 5),
    want: { status: "OTHER", description: "Waiting for deployment spec update to be observed..." },
  },
  {
    name: "a Deployment past its progress deadline is unhealthy",
    obj: deployment(2, {
      replicas: 3,
      updatedReplicas: 1,
      availableReplicas: 2,
      conditions: [
        cond(
          "Progressing",
          "False",
          "ProgressDeadlineExceeded",
          'ReplicaSet "web-5d8f" has timed out progressing.',
        ),
      ],
    }),
    want: {
      status: "UNHEALTHY",
      description:
        'Deployment "web" exceeded its progress deadline: ReplicaSet "web-5d8f" has timed out progressing.',
    },
  },
  {
    name: "a Deployment whose pods are forbidden by a quota is unhealthy",
    obj: deployment(2, {
      replicas: 1,
      updatedReplicas: 1,
      conditions: [
        cond(
          "ReplicaFailure",
          "True",
          "FailedCreate",
          'pods "web-5d8f-abcde" is forbidden: exceeded quota: compute',
        ),
      ],
    }),
    want: {
      status: "UNHEALTHY",
      description:
        'ReplicaFailure: FailedCreate: pods "web-5d8f-abcde" is forbidden: exceeded quota: compute',
    },
  },
  {
    name: "a paused Deployment is OTHER (PipeCD)",
    obj: deployment(2, { replicas: 2, updatedReplicas: 2, availableReplicas: 2 }, 4, {
      paused: true,
    }),
    want: { status: "OTHER", description: "Deployment is paused" },
  },
  {
    name: "an old ReplicaSet scaled to 0 is healthy",
    obj: obj("apps/v1", "ReplicaSet", "web-6b7f", {
      metadata: { name: "web-6b7f", generation: 3 },
      spec: { replicas: 0 },
      status: { replicas: 0, observedGeneration: 3 },
    }),
    want: { status: "HEALTHY", description: "Scaled to 0 replicas" },
  },
  {
    name: "a ReplicaSet with too few available pods is OTHER (PipeCD wording)",
    obj: obj("apps/v1", "ReplicaSet", "web-5d8f", {
      metadata: { name: "web-5d8f", generation: 1 },
      spec: { replicas: 2 },
      status: { replicas: 2, readyReplicas: 1, availableReplicas: 1, observedGeneration: 1 },
    }),
    want: {
      status: "OTHER",
      description: "Waiting for rollout to finish because only 1/2 replicas are available",
    },
  },
  {
    name: "a StatefulSet mid partitioned roll out is OTHER",
    obj: obj("apps/v1", "StatefulSet", "db", {
      metadata: { name: "db", generation: 2 },
      spec: {
        replicas: 3,
        updateStrategy: { type: "RollingUpdate", rollingUpdate: { partition: 0 } },
      },
      status: { observedGeneration: 2, replicas: 3, readyReplicas: 3, updatedReplicas: 1 },
    }),
    want: {
      status: "OTHER",
      description:
        "Waiting for partitioned roll out to finish because 1 out of 3 new pods have been updated",
    },
  },
  {
    name: "a DaemonSet on every node is healthy",
    obj: obj("apps/v1", "DaemonSet", "agent", {
      metadata: { name: "agent", generation: 1 },
      status: {
        observedGeneration: 1,
        desiredNumberScheduled: 3,
        updatedNumberScheduled: 3,
        numberAvailable: 3,
        numberReady: 3,
      },
    }),
    want: { status: "HEALTHY", description: "3 nodes running the daemon pod" },
  },
  {
    name: "a failed Job is unhealthy with its condition",
    obj: obj("batch/v1", "Job", "migrate", {
      status: {
        failed: 7,
        conditions: [
          cond(
            "Failed",
            "True",
            "BackoffLimitExceeded",
            "Job has reached the specified backoff limit",
          ),
        ],
      },
    }),
    want: {
      status: "UNHEALTHY",
      description: "Job failed: BackoffLimitExceeded: Job has reached the specified backoff limit",
    },
  },
  {
    name: "a running Job is healthy (PipeCD)",
    obj: obj("batch/v1", "Job", "migrate", { status: { active: 1 } }),
    want: { status: "HEALTHY", description: "Job is in progress" },
  },
  {
    name: "a LoadBalancer Service without an address is OTHER",
    obj: service("LoadBalancer"),
    want: { status: "OTHER", description: "Ingress points for the load-balancer are in progress" },
  },
  {
    name: "a LoadBalancer Service with an address is healthy",
    obj: service("LoadBalancer", [{ ip: "203.0.113.10" }]),
    want: { status: "HEALTHY", description: "Load balancer ready: 203.0.113.10" },
  },
  {
    name: "a ClusterIP Service is healthy once it exists",
    obj: service("ClusterIP"),
    want: { status: "HEALTHY", description: '"web" was applied successfully' },
  },
  {
    name: "an Ingress without an address is OTHER",
    obj: obj("networking.k8s.io/v1", "Ingress", "web", { status: { loadBalancer: {} } }),
    want: { status: "OTHER", description: "Ingress points for the load-balancer are in progress" },
  },
  {
    name: "a ConfigMap is healthy once it exists",
    obj: obj("v1", "ConfigMap", "web-config", { data: { "app.yaml": "port: 8080" } }),
    want: { status: "HEALTHY", description: '"web-config" was applied successfully' },
  },
  {
    name: "a Secret known by its metadata only is healthy",
    obj: obj("v1", "Secret", "db-creds"),
    want: { status: "HEALTHY", description: '"db-creds" was applied successfully' },
  },
  {
    name: "a built-in kind without a status (NetworkPolicy) is healthy",
    obj: obj("networking.k8s.io/v1", "NetworkPolicy", "deny-all", { spec: { podSelector: {} } }),
    want: { status: "HEALTHY", description: '"deny-all" was applied successfully' },
  },
  {
    name: "a pending PVC is OTHER (PipeCD)",
    obj: obj("v1", "PersistentVolumeClaim", "data", { status: { phase: "Pending" } }),
    want: { status: "OTHER", description: "Being not yet bound" },
  },
  {
    name: "a bound PVC is healthy",
    obj: obj("v1", "PersistentVolumeClaim", "data", {
      spec: { volumeName: "pvc-1f2e" },
      status: { phase: "Bound" },
    }),
    want: { status: "HEALTHY", description: "Bound to pvc-1f2e" },
  },
  {
    name: "an HPA that cannot read its metrics for an hour is unhealthy",
    obj: obj("autoscaling/v2", "HorizontalPodAutoscaler", "web", {
      spec: { minReplicas: 2, maxReplicas: 10 },
      status: {
        currentReplicas: 2,
        conditions: [
          cond("AbleToScale", "True", "SucceededGetScale"),
          cond(
            "ScalingActive",
            "False",
            "FailedGetResourceMetric",
            "the HPA was unable to compute the replica count",
          ),
        ],
      },
    }),
    want: {
      status: "UNHEALTHY",
      description:
        "ScalingActive=False: FailedGetResourceMetric: the HPA was unable to compute the replica count",
    },
  },
  {
    name: "a working HPA is healthy with its size",
    obj: obj("autoscaling/v2", "HorizontalPodAutoscaler", "web", {
      spec: { minReplicas: 2, maxReplicas: 10 },
      status: {
        currentReplicas: 3,
        conditions: [cond("AbleToScale", "True"), cond("ScalingActive", "True")],
      },
    }),
    want: { status: "HEALTHY", description: "3 replicas (min 2, max 10)" },
  },
  {
    name: "an Istio VirtualService is UNKNOWN with PipeCD's not-supported text",
    obj: obj("networking.istio.io/v1beta1", "VirtualService", "web", { spec: { hosts: ["web"] } }),
    want: {
      status: "UNKNOWN",
      description:
        '"networking.istio.io/v1beta1/VirtualService" was applied successfully but its health status couldn\'t be determined exactly. (Because tracking status for this kind of resource is not supported yet.)',
    },
  },
];

describe("resourceHealth", () => {
  for (const c of cases) {
    it(c.name, () => {
      assert.deepEqual(resourceHealth(c.obj, NOW), c.want);
    });
  }
});

describe("aggregateHealth", () => {
  const node = (kind: string, name: string, status: Health["status"], description = "") => ({
    kind,
    name,
    health: { status, description },
  });
  const cases: { name: string; nodes: ReturnType<typeof node>[]; want: Health }[] = [
    {
      name: "one unhealthy node makes the application unhealthy, naming it and counting the rest",
      nodes: [
        node("Deployment", "web", "OTHER", "Waiting for rollout"),
        node("Pod", "web-1", "UNHEALTHY", "container web: CrashLoopBackOff"),
        node("Pod", "web-2", "UNHEALTHY", "container web: CrashLoopBackOff"),
        node("Pod", "web-3", "UNHEALTHY", "Not ready"),
      ],
      want: {
        status: "UNHEALTHY",
        description: "Pod web-1: container web: CrashLoopBackOff (and 2 more)",
      },
    },
    {
      name: "a rollout in progress without faults is OTHER",
      nodes: [
        node("ConfigMap", "cfg", "HEALTHY"),
        node("Deployment", "web", "OTHER", "Waiting for rollout"),
      ],
      want: { status: "OTHER", description: "Deployment web: Waiting for rollout" },
    },
    {
      name: "all healthy is healthy",
      nodes: [node("Service", "web", "HEALTHY"), node("ConfigMap", "cfg", "HEALTHY")],
      want: { status: "HEALTHY", description: "All 2 resources are healthy" },
    },
    {
      name: "kinds we cannot evaluate do not spoil a healthy application (PipeCD v0)",
      nodes: [node("Service", "web", "HEALTHY"), node("VirtualService", "web", "UNKNOWN")],
      want: { status: "HEALTHY", description: "1 resource healthy; 1 not evaluated" },
    },
    {
      name: "only unevaluated kinds is UNKNOWN",
      nodes: [node("VirtualService", "web", "UNKNOWN")],
      want: { status: "UNKNOWN", description: "1 resource not evaluated" },
    },
    {
      name: "no nodes is UNKNOWN",
      nodes: [],
      want: { status: "UNKNOWN", description: "No resources" },
    },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.deepEqual(aggregateHealth(c.nodes), c.want);
    });
  }

  it("feeds on resourceHealth: a crash-looping pod under a rolling Deployment is reported first", () => {
    const crash = pod({
      phase: "Running",
      containerStatuses: [container(false, { waiting: { reason: "CrashLoopBackOff" } }, 5)],
    });
    const got = aggregateHealth([
      {
        kind: "Deployment",
        name: "web",
        health: resourceHealth(
          deployment(2, { replicas: 2, updatedReplicas: 2, availableReplicas: 1 }),
          NOW,
        ),
      },
      { kind: "Pod", name: "web-7d9c5b-x2k4p", health: resourceHealth(crash, NOW) },
    ]);
    assert.deepEqual(got, {
      status: "UNHEALTHY",
      description:
        "Pod web-7d9c5b-x2k4p: container web: CrashLoopBackOff; container web restarted 5 times",
    });
  });
});
