#!/usr/bin/python3
"""python3-kubernetes scenarios against kelp: list, create, get, watch
from a resourceVersion, conflict, delete. Prints TAP."""
import sys
import threading

from kubernetes import client, config, watch
from kubernetes.client.rest import ApiException

n = 0


def ok(cond, what, detail=""):
    global n
    n += 1
    print(f"{'ok' if cond else 'not ok'} {n} - {what}")
    if not cond and detail:
        for line in str(detail).splitlines():
            print(f"# {line}")
    sys.stdout.flush()


def main():
    config.load_kube_config(config_file=sys.argv[1])
    v1 = client.CoreV1Api()
    apps = client.AppsV1Api()

    names = [ns.metadata.name for ns in v1.list_namespace().items]
    ok("default" in names and "kube-system" in names, "list_namespace sees the system namespaces", names)

    v1.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="py")))
    cm = v1.create_namespaced_config_map(
        "py", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="c1"), data={"a": "1"}))
    ok(cm.metadata.uid and cm.metadata.resource_version, "create returns uid and resourceVersion")
    got = v1.read_namespaced_config_map("c1", "py")
    ok(got.data == {"a": "1"}, "read returns the data", got.data)

    # A watch from the list's resourceVersion sees what happens next.
    lst = v1.list_namespaced_config_map("py")
    rv = lst.metadata.resource_version
    events = []

    def watcher():
        w = watch.Watch()
        for ev in w.stream(v1.list_namespaced_config_map, "py", resource_version=rv,
                           timeout_seconds=5):
            events.append((ev["type"], ev["object"].metadata.name))
            if len(events) >= 3:
                w.stop()

    t = threading.Thread(target=watcher)
    t.start()
    v1.create_namespaced_config_map(
        "py", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="c2"), data={"b": "2"}))
    v1.patch_namespaced_config_map("c2", "py", {"data": {"b": "3"}})
    v1.delete_namespaced_config_map("c2", "py")
    t.join(timeout=10)
    ok(events == [("ADDED", "c2"), ("MODIFIED", "c2"), ("DELETED", "c2")],
       "a watch from a resourceVersion sees ADDED, MODIFIED, DELETED", events)

    stale = v1.read_namespaced_config_map("c1", "py")
    v1.patch_namespaced_config_map("c1", "py", {"data": {"a": "2"}})
    stale.data = {"a": "3"}
    try:
        v1.replace_namespaced_config_map("c1", "py", stale)
        ok(False, "a stale update is refused with 409")
    except ApiException as e:
        ok(e.status == 409 and "the object has been modified" in e.body,
           "a stale update is refused with 409", e.body)

    try:
        v1.read_namespaced_config_map("nope", "py")
        ok(False, "a missing object is a 404")
    except ApiException as e:
        ok(e.status == 404, "a missing object is a 404", e.body)

    dep = apps.create_namespaced_deployment("py", {
        "apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {"selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "web", "image": "nginx"}]}}}})
    ok(dep.spec.replicas == 1, "a deployment created from a dict gets its defaults", dep.spec.replicas)

    v1.delete_namespaced_config_map("c1", "py")
    left = [c.metadata.name for c in v1.list_namespaced_config_map("py").items]
    ok("c1" not in left, "delete removes the object", left)
    print(f"1..{n}")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # a scenario broke off: report it, then the plan
        import traceback
        ok(False, "the scenarios run to the end", traceback.format_exc())
        print(f"1..{n}")
