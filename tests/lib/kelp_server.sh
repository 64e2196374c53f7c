# `kelp server` for a shell test, on a random loopback port with its data in a
# scratch directory that goes away on exit. Set kelp (the binary), then
#   source kelp_server.sh NAME    # work=/tmp/kelp-e2e-NAME.XXXXXX, removed on exit
#   kelp_server_start             # 0 once it has written $work/data/kubeconfig
#   bg_pids+=("$!")               # other background processes to end on exit
# The server's PID is in pid, its log in $work/server.log.
work=$(mktemp -d "/tmp/kelp-e2e-$1.XXXXXX")
pid=
bg_pids=()
kelp_server_cleanup() {
	local p
	for p in "${bg_pids[@]}"; do
		kill "$p" 2>/dev/null
	done
	[[ -n $pid ]] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	rm -rf "$work"
}
trap kelp_server_cleanup EXIT

kelp_server_start() {
	"$kelp" server --data-dir "$work/data" --listen 127.0.0.1:0 >"$work/server.log" 2>&1 &
	pid=$!
	for _ in $(seq 200); do
		[[ -s $work/data/kubeconfig ]] && return 0
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	[[ -s $work/data/kubeconfig ]]
}
