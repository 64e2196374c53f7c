#!/usr/bin/env bash
# The real kubectl (v1.32) against `kelp server` on a random loopback port,
# over TLS with the admin kubeconfig it writes. Prints TAP.
#   test_kubectl.sh path/to/kelp
set -uo pipefail
kelp=$1
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/tap.sh"
source "$here/../lib/kelp_server.sh" kubectl
if ! kelp_server_start; then
	notok "kelp server comes up and writes its kubeconfig" "$(cat "$work/server.log")"
	tap_done
	exit 0
fi
ok "kelp server comes up and writes its kubeconfig"
export KUBECONFIG=$work/data/kubeconfig
k() { kubectl --cache-dir "$work/cache" --request-timeout=10s "$@"; }
kn() { k -n e2e "$@"; }

# --- discovery and version ---
contains "kubectl version reports the server as v1.32" "$(k version 2>&1)" "Server Version: v1.32"
res=$(k api-resources 2>&1)
matches() { if grep -qE "$3" <<<"$2"; then ok "$1"; else notok "$1" "got:  $2" "want a line matching: $3"; fi; }
matches "api-resources lists pods" "$res" "^pods +po +v1 +true +Pod$"
matches "api-resources lists deployments in apps" "$res" "^deployments +deploy +apps/v1 +true +Deployment$"
matches "api-resources lists endpointslices" "$res" "^endpointslices +discovery.k8s.io/v1 +true +EndpointSlice$"
expect "the system namespaces exist" "$(k get ns -o jsonpath='{.items[*].metadata.name}' 2>&1)" "default kube-node-lease kube-public kube-system"

# --- create through the protobuf path (kubectl create <kind>) ---
contains "create namespace (protobuf body)" "$(k create namespace e2e 2>&1)" "namespace/e2e created"
contains "create configmap (protobuf body)" "$(kn create configmap c1 --from-literal=a=b 2>&1)" "configmap/c1 created"
expect "the configmap reads back" "$(kn get cm c1 -o jsonpath='{.data.a}' 2>&1)" "b"
contains "create secret generic" "$(kn create secret generic s1 --from-literal=k=v 2>&1)" "secret/s1 created"
expect "secret data is base64" "$(kn get secret s1 -o jsonpath='{.data.k}' 2>&1)" "dg=="
expect "a secret is Opaque by default" "$(kn get secret s1 -o jsonpath='{.type}' 2>&1)" "Opaque"
contains "create deployment (apps, protobuf)" "$(kn create deployment web --image=nginx:1.25 2>&1)" "deployment.apps/web created"
expect "a deployment defaults to 1 replica" "$(kn get deploy web -o jsonpath='{.spec.replicas}' 2>&1)" "1"
expect "a deployment defaults its strategy" "$(kn get deploy web -o jsonpath='{.spec.strategy.type} {.spec.strategy.rollingUpdate.maxSurge}' 2>&1)" "RollingUpdate 25%"
svc_out=$(kn create service clusterip api --tcp=80:8080 2>&1)
contains "create service clusterip" "$svc_out" "service/api created"
ip=$(kn get svc api -o jsonpath='{.spec.clusterIP}' 2>&1)
if [[ $ip == 198.19.* ]]; then ok "the service gets a ClusterIP from 198.19.0.0/16"; else notok "the service gets a ClusterIP from 198.19.0.0/16" "got $ip"; fi
expect "the kubernetes service is 198.19.0.1" "$(k get svc kubernetes -o jsonpath='{.spec.clusterIP}' 2>&1)" "198.19.0.1"

# --- get and output formats ---
contains "get -o wide prints columns" "$(kn get deploy -o wide 2>&1)" "READY   UP-TO-DATE   AVAILABLE"
contains "get -o yaml" "$(kn get cm c1 -o yaml 2>&1)" "kind: ConfigMap"
expect "get -o name" "$(kn get cm c1 -o name 2>&1)" "configmap/c1"
matches "get cm prints DATA and AGE" "$(kn get cm 2>&1)" "^NAME +DATA +AGE$"

# --- apply, twice; server-side; diff ---
cat >"$work/app.yaml" <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata:
  name: applied
  namespace: e2e
  labels:
    tier: web
data:
  key: one
---
apiVersion: v1
kind: Service
metadata:
  name: applied-svc
  namespace: e2e
spec:
  selector:
    app: web
  ports:
  - port: 80
    targetPort: 8080
YAML
out=$(k apply -f "$work/app.yaml" 2>&1)
contains "apply creates" "$out" "configmap/applied created"
out=$(k apply -f "$work/app.yaml" 2>&1)
contains "apply again is a no-op" "$out" "configmap/applied unchanged"
sed -i 's/key: one/key: two/' "$work/app.yaml"
out=$(k diff -f "$work/app.yaml" 2>&1)
contains "diff shows the change (dry-run on the server)" "$out" "+  key: two"
expect "diff stored nothing" "$(kn get cm applied -o jsonpath='{.data.key}' 2>&1)" "one"
out=$(k apply -f "$work/app.yaml" 2>&1)
contains "apply updates with a strategic merge patch" "$out" "configmap/applied configured"
expect "the update is stored" "$(kn get cm applied -o jsonpath='{.data.key}' 2>&1)" "two"
cat >"$work/ssa.yaml" <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata:
  name: ssa
  namespace: e2e
data:
  x: "1"
YAML
contains "apply --server-side creates" "$(k apply --server-side -f "$work/ssa.yaml" 2>&1)" "configmap/ssa serverside-applied"
expect "server-side apply records its field manager" "$(kn get cm ssa -o jsonpath='{.metadata.managedFields[0].manager}' 2>&1)" "kubectl"

# --- patch, label, annotate, scale ---
contains "patch --type merge" "$(kn patch cm c1 --type merge -p '{"data":{"m":"1"}}' 2>&1)" "configmap/c1 patched"
contains "patch --type json" "$(kn patch cm c1 --type json -p '[{"op":"add","path":"/data/j","value":"2"}]' 2>&1)" "configmap/c1 patched"
expect "both patches are stored" "$(kn get cm c1 -o jsonpath='{.data.m}{.data.j}' 2>&1)" "12"
contains "label" "$(kn label cm c1 team=blue 2>&1)" "configmap/c1 labeled"
contains "annotate" "$(kn annotate cm c1 note=hi 2>&1)" "configmap/c1 annotated"
expect "label selector" "$(kn get cm -l team=blue -o name 2>&1)" "configmap/c1"
expect "field selector" "$(kn get cm --field-selector metadata.name=c1 -o name 2>&1)" "configmap/c1"
contains "set image (strategic merge patch on a list by name)" "$(kn set image deployment/web nginx=nginx:1.26 2>&1)" "deployment.apps/web image updated"
expect "the image changed" "$(kn get deploy web -o jsonpath='{.spec.template.spec.containers[0].image}' 2>&1)" "nginx:1.26"
contains "scale through the scale subresource" "$(kn scale deployment web --replicas=3 2>&1)" "deployment.apps/web scaled"
expect "scale is stored" "$(kn get deploy web -o jsonpath='{.spec.replicas}' 2>&1)" "3"

# --- watch ---
kn get cm -w --output-watch-events >"$work/watch.out" 2>&1 &
bg_pids+=("$!")
watch_pid=$!
sleep 1
kn create configmap w1 --from-literal=a=1 >/dev/null 2>&1
kn patch cm w1 --type merge -p '{"data":{"a":"2"}}' >/dev/null 2>&1
kn delete cm w1 >/dev/null 2>&1
sleep 1
kill "$watch_pid" 2>/dev/null
w=$(cat "$work/watch.out")
matches "get -w sees ADDED" "$w" "^ADDED +w1 +1 "
matches "get -w sees MODIFIED" "$w" "^MODIFIED +w1 +1 "
matches "get -w sees DELETED" "$w" "^DELETED +w1 +1 "

# --- errors, as kubectl prints them against Kubernetes ---
contains "an unknown resource type" "$(k get foos 2>&1)" 'error: the server doesn'"'"'t have a resource type "foos"'
contains "a missing object" "$(kn get cm nope 2>&1)" 'Error from server (NotFound): configmaps "nope" not found'
contains "creating twice (kubectl create <kind>)" "$(kn create configmap c1 2>&1)" 'error: failed to create configmap: configmaps "c1" already exists'
contains "creating twice (kubectl create -f)" "$(k create -f "$work/app.yaml" 2>&1)" 'Error from server (AlreadyExists): error when creating'
contains "an invalid name" "$(kn create configmap Bad_Name 2>&1)" 'ConfigMap "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name"'
cat >"$work/unknown.yaml" <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata:
  name: strict
  namespace: e2e
bogus: field
YAML
contains "an unknown field under strict validation" "$(k create -f "$work/unknown.yaml" 2>&1)" 'unknown field "bogus"'

# --- explain ---
contains "explain a nested deployment field" "$(k explain deployment.spec.strategy.rollingUpdate.maxSurge 2>&1)" "FIELD: maxSurge"
contains "explain a pod probe" "$(k explain pod.spec.containers.livenessProbe.httpGet 2>&1)" "FIELD: httpGet"

bad=
while read -r name av; do
	out=$(k explain "$name.metadata.name" --api-version="$av" 2>&1) || bad="$bad $name"
	[[ $out == *"FIELD: name"* ]] || bad="$bad $av/$name"
done < <(k api-resources --no-headers 2>/dev/null | awk '{ print $1, ($3 ~ /\// || $3 == "v1") ? $3 : $2 }')
expect "explain works on a nested field of every served kind" "${bad:-none}" "none"
contains "get -o json" "$(kn get secret s1 -o json 2>&1)" '"kind": "Secret"'

# --- the status subresource changes status only ---
out=$(kn patch deploy web --subresource=status --type=merge \
	-p '{"spec":{"replicas":7},"status":{"observedGeneration":1,"replicas":2}}' 2>&1)
contains "patch --subresource=status" "$out" "deployment.apps/web patched"
expect "status is stored, spec is not" "$(kn get deploy web -o jsonpath='{.status.replicas} {.spec.replicas}' 2>&1)" "2 3"

# --- delete ---
contains "delete" "$(kn delete cm c1 2>&1)" 'configmap "c1" deleted'
contains "delete a namespace and wait for it to go" "$(k delete ns e2e --timeout=30s 2>&1)" 'namespace "e2e" deleted'
contains "the namespace is gone" "$(k get ns e2e 2>&1)" 'namespaces "e2e" not found'

# --- metrics ---
contains "/metrics counts API requests" "$(k get --raw /metrics 2>&1)" 'apiserver_request_total{'

tap_done
