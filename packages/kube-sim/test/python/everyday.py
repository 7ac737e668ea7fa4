"""The official Kubernetes Python client (Debian's python3-kubernetes) against kube-sim.

Usage: python3 everyday.py KUBECONFIG. Prints one JSON object of what it saw; exits non-zero
(with the client's exception) on any error.
"""
import json
import sys

from kubernetes import client, config, watch

config.load_kube_config(config_file=sys.argv[1])
core = client.CoreV1Api()
apps = client.AppsV1Api()
ns = "py"
seen = {}

core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
core.create_namespaced_config_map(
    ns, client.V1ConfigMap(metadata=client.V1ObjectMeta(name="cfg", labels={"app": "py"}), data={"a": "1"})
)
seen["read"] = core.read_namespaced_config_map("cfg", ns).data
core.patch_namespaced_config_map("cfg", ns, {"data": {"b": "2"}})
seen["patched"] = core.read_namespaced_config_map("cfg", ns).data
seen["listed"] = [c.metadata.name for c in core.list_namespaced_config_map(ns, label_selector="app=py").items]

deployment = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web"},
    "spec": {
        "replicas": 1,
        "selector": {"matchLabels": {"app": "web"}},
        "template": {
            "metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "web", "image": "nginx:1.25"}]},
        },
    },
}
apps.create_namespaced_deployment(ns, deployment)

# watch=True on the wire: a stream of events, until a pod of the deployment runs.
running = None
w = watch.Watch()
for event in w.stream(core.list_namespaced_pod, ns, label_selector="app=web", timeout_seconds=20):
    pod = event["object"]
    if pod.status.phase == "Running":
        running = pod.metadata.name
        seen["watchEvent"] = event["type"]
        w.stop()
if running is None:
    raise SystemExit("no pod became Running in 20 s")

scale = apps.read_namespaced_deployment_scale("web", ns)
seen["scaleBefore"] = scale.spec.replicas
apps.patch_namespaced_deployment_scale("web", ns, {"spec": {"replicas": 2}})
seen["scaleAfter"] = apps.read_namespaced_deployment_scale("web", ns).spec.replicas
status = apps.read_namespaced_deployment_status("web", ns)
seen["statusReplicas"] = status.spec.replicas
seen["observedGeneration"] = status.status.observed_generation is not None
seen["log"] = core.read_namespaced_pod_log(running, ns, tail_lines=1).strip()
core.delete_namespaced_config_map("cfg", ns)
seen["afterDelete"] = [c.metadata.name for c in core.list_namespaced_config_map(ns).items]
print(json.dumps(seen))
