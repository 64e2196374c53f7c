# Helpers for shell tests of `kelp proxy` started on 127.0.0.1:0 with its log
# in a file. After
#   proxy_wait_port LOG && url=http://127.0.0.1:$port
# scrape, metric NAME and wait_metric NAME VALUE read its /metrics.

# Wait (5 s at most) for the proxy's "serving" log line; port= its port.
proxy_wait_port() {
	port=
	for _ in $(seq 100); do
		port=$(sed -n 's/.*serving.*address=[^ ]*:\([0-9][0-9]*\).*/\1/p' "$1" | head -1)
		[[ -n $port ]] && return 0
		sleep 0.05
	done
	return 1
}

scrape() { curl -s "$url/metrics"; }
metric() { scrape | awk -v m="$1" '$1 == m { print $2 }'; }

# wait_metric NAME VALUE: until the gauge reads VALUE (10 s at most); prints
# the last value read.
wait_metric() {
	local v
	for _ in $(seq 200); do
		v=$(metric "$1")
		[[ $v == "$2" ]] && break
		sleep 0.05
	done
	echo "$v"
}
