#!/usr/bin/env bash
# Bad requests to `kelp server`, straight over HTTPS with the admin
# certificate: each gets a Kubernetes Status with the right code, and
# nothing is stored. Prints TAP.
#   test_bad_input.sh path/to/kelp
set -uo pipefail
kelp=$1
here=$(cd "$(dirname "$0")" && pwd)
source "$here/../lib/tap.sh"
source "$here/../lib/kelp_server.sh" bad
if ! kelp_server_start; then
	notok "kelp server comes up and writes its kubeconfig" "$(cat "$work/server.log")"
	tap_done
	exit 0
fi
kc() { kubectl --kubeconfig "$work/data/kubeconfig" config view --raw -o jsonpath="$1"; }
server=$(kc '{.clusters[0].cluster.server}')
kc '{.users[0].user.client-certificate-data}' | base64 -d >"$work/cert.pem"
kc '{.users[0].user.client-key-data}' | base64 -d >"$work/key.pem"
cm=$server/api/v1/namespaces/default/configmaps

# call METHOD URL CONTENT-TYPE BODY-FILE -> "code reason"
call() {
	local out
	out=$(curl -s --path-as-is --cacert "$work/data/pki/ca.crt" --cert "$work/cert.pem" --key "$work/key.pem" \
		-X "$1" -H "Content-Type: $3" --data-binary "@$4" "$2")
	/usr/bin/python3 -c 'import json,sys
try:
    s = json.loads(sys.argv[1]); print(s.get("code"), s.get("reason"), s.get("kind"))
except Exception as e:
    print("not-json", sys.argv[1][:200])' "$out"
}

printf '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"x"' >"$work/truncated"
expect "malformed JSON is a 400 Status" "$(call POST "$cm" application/json "$work/truncated")" "400 BadRequest Status"
printf '{"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"x"}}' >"$work/wrongkind"
expect "the wrong kind is a 400 Status" "$(call POST "$cm" application/json "$work/wrongkind")" "400 BadRequest Status"
/usr/bin/python3 -c 'import json; print(json.dumps({"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"big"},"data":{"a":"x"*(4<<20)}}))' >"$work/big"
expect "a body over 3 MiB is a 413 Status" "$(call POST "$cm" application/json "$work/big")" "413 RequestEntityTooLarge Status"
/usr/bin/python3 -c 'print("{\"apiVersion\":\"v1\",\"kind\":\"ConfigMap\",\"metadata\":{\"name\":\"deep\"},\"data\":{\"a\":" + "["*5000 + "]"*5000 + "}}")' >"$work/deep"
got=$(call POST "$cm" application/json "$work/deep")
[[ $got == 400\ * ]] && ok "deep nesting is a 400 Status" || notok "deep nesting is a 400 Status" "$got"
printf '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"u"},"spec":{"x":1}}' >"$work/unknown"
expect "an unknown field under fieldValidation=Strict is a 400" "$(call POST "$cm?fieldValidation=Strict" application/json "$work/unknown")" "400 BadRequest Status"
printf '{}' >"$work/empty"
expect "a name that is a path segment is refused" "$(call GET "$cm/.." application/json "$work/empty")" "400 BadRequest Status"
printf 'a=b' >"$work/form"
expect "an unsupported media type is a 415 Status" "$(call POST "$cm" application/x-www-form-urlencoded "$work/form")" "415 UnsupportedMediaType Status"
printf '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"Not_Valid"}}' >"$work/invalid"
expect "an invalid object is a 422 Status" "$(call POST "$cm" application/json "$work/invalid")" "422 Invalid Status"
expect "an unknown resource is a 404 Status" "$(call GET "$server/api/v1/namespaces/default/nothings" application/json "$work/empty")" "404 NotFound Status"
printf 'not json' >"$work/garbage"
expect "a garbage patch is a 400 Status" "$(call PATCH "$cm/none" application/merge-patch+json "$work/garbage")" "400 BadRequest Status"
printf '\x6b\x38\x73\x00\x0a\xff' >"$work/pb"
expect "a broken protobuf body is a 400 Status" "$(call POST "$cm" application/vnd.kubernetes.protobuf "$work/pb")" "400 BadRequest Status"
n=$(kubectl --kubeconfig "$work/data/kubeconfig" get cm -n default --no-headers 2>/dev/null | grep -c . || true)
expect "nothing bad was stored" "$n" "0"
kill -0 "$pid" && ok "the server is still up" || notok "the server is still up" "$(tail -20 "$work/server.log")"
tap_done
