# TAP helpers for shell tests: source it, then
#   check "what a user sees" command args...     # ok when the command succeeds
#   expect "what" "$actual" "$wanted"             # ok when equal
#   contains "what" "$haystack" "needle"          # ok when it contains it
#   skip "what" "why"
#   tap_done                                       # prints the plan
tap_n=0
tap_failed=0
ok() { tap_n=$((tap_n + 1)); echo "ok $tap_n - $1"; }
notok() {
	tap_n=$((tap_n + 1))
	tap_failed=$((tap_failed + 1))
	echo "not ok $tap_n - $1"
	shift
	local l
	for l in "$@"; do printf '%s\n' "$l" | sed 's/^/# /'; done
}
check() {
	local name=$1
	shift
	local out
	if out=$("$@" 2>&1); then ok "$name"; else notok "$name" "command: $*" "$out"; fi
}
expect() {
	if [[ $2 == "$3" ]]; then ok "$1"; else notok "$1" "got:  $2" "want: $3"; fi
}
contains() {
	if [[ $2 == *"$3"* ]]; then ok "$1"; else notok "$1" "got:  $2" "want it to contain: $3"; fi
}
skip() { tap_n=$((tap_n + 1)); echo "ok $tap_n - $1 # SKIP $2"; }
tap_done() { echo "1..$tap_n"; }
