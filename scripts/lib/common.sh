# Shared helpers for hachaos' shell scripts: logging with elapsed time, and step timing.
# Sourced, never executed.

HACHAOS_SCRIPT_START=${HACHAOS_SCRIPT_START:-$(date +%s)}
export HACHAOS_SCRIPT_START

# log prints a line prefixed with the seconds since the first script started, so a
# long build shows which step runs and how long it has taken so far.
log() {
	printf '[%4ss] %s\n' "$(($(date +%s) - HACHAOS_SCRIPT_START))" "$*" >&2
}

die() {
	log "ERROR: $*"
	exit 1
}

# step NAME CMD... runs CMD, printing when it starts, a heartbeat every 30 s while it
# runs (a cold Kubernetes compile is silent for many minutes), and how long it took.
step() {
	local name=$1 started rc=0 beat
	shift
	started=$(date +%s)
	log "▶ $name"
	# the heartbeat ends with this shell too: a die inside CMD exits it without the kill below
	(while sleep 30 && kill -0 $$ 2>/dev/null; do log "… $name: still running, $(($(date +%s) - started))s so far"; done) &
	beat=$!
	"$@" || rc=$?
	kill "$beat" 2>/dev/null
	wait "$beat" 2>/dev/null || true
	[ "$rc" -eq 0 ] || die "$name failed (exit $rc)"
	log "✔ $name ($(($(date +%s) - started))s)"
}

# as_root runs a command as root, through sudo when the caller is not root.
as_root() {
	if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# run_suites ARG... runs the suites' test binary make build compiled, as go test would
# run it (from the suites folder, only the Ginkgo suite), with the probe make build
# wrote: no compile per run. Needs $repo; paths in ARGs must be absolute.
run_suites() {
	(cd "$repo/suites" && HACHAOS_PROBE=$repo/_output/bin/hachaos-probe "$repo/_output/bin/hachaos-suites" -test.run '^TestE2E$' "$@")
}
