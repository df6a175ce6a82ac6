#!/usr/bin/env bash
# Interrupt test: a chaos run stopped in the middle of a fault leaves no fault behind.
#   1. Ctrl-C (SIGINT) during a partition: the run recovers before it exits.
#   2. SIGKILL during a partition, 3. during an etcd majority stop, 4. during a worker
#      loss (paused container): the fault stays, and the next start (hachaos up)
#      recovers it from the ledger.
# After each: the ledger is empty, no node has a harness iptables chain or a paused
# kubelet (a stacked member stop pauses it), every
# container of the topology is running (none stopped or paused), no ConfigMap of the
# killed run's API traffic is left after the next start, and the readiness gate
# passes on the same cluster (etcd back to full membership with one leader) — `up`
# must reuse it: a recreated cluster would hide a leftover fault.
# Usage: scripts/interrupt-test.sh SPEC_FILE
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
. "$here/lib/common.sh"
[ $# -eq 1 ] || die "usage: $0 SPEC_FILE"
config=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
bin=$repo/_output/bin/hachaos
suite=$repo/_output/bin/hachaos-suites # make build compiled it
name=$("$bin" cluster-name --config "$config")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"$bin" up --config "$config"

# start_run FOCUS KIND COUNT: runs the spec matching FOCUS in the background and returns
# once COUNT faults of KIND are in the ledger and in effect.
start_run() {
	local focus=$1 kind=$2 count=$3 waited=0
	(cd "$repo/suites" && HACHAOS_CONFIG=$config ARTIFACTS=$work/artifacts HACHAOS_PROBE=$repo/_output/bin/hachaos-probe exec "$suite" \
		-ginkgo.focus="$focus" -ginkgo.v) >"$work/run.log" 2>&1 &
	run_pid=$!
	log "run $run_pid: waiting for $count $kind fault(s) to be injected"
	until [ "$("$bin" faults --config "$config" | grep -c "^$kind	")" -ge "$count" ]; do
		kill -0 "$run_pid" 2>/dev/null || { tail -30 "$work/run.log" >&2; die "the run ended before injecting $kind"; }
		[ $waited -lt 600 ] || die "no $kind fault after 600s"
		sleep 1 && waited=$((waited + 1))
	done
	# the ledger entry is written just before Inject; give Inject its moment
	until fault_in_effect "$kind"; do
		[ $waited -lt 630 ] || die "$kind is in the ledger but not in effect"
		sleep 1 && waited=$((waited + 1))
	done
	log "run $run_pid: $kind in effect after ${waited}s"
}

fault_in_effect() {
	local target
	target=$("$bin" faults --config "$config" | awk -v k="$1" -F'\t' '$1 == k {print $2; exit}')
	case $1 in
	partition) docker exec "$target" iptables -w -S | grep -q '^-N HACHAOS' ;;
	worker-loss) [ "$(docker inspect -f '{{.State.Paused}}' "$target")" = true ] ;;
	# a stopped member's process is gone (a stacked member's kubelet paused meanwhile; an
	# external member's container stopped, where docker exec fails too)
	etcd-member-stop) ! docker exec "$target" pgrep -f '^etcd( |$)' >/dev/null ;;
	esac
}

# expect_clean WHAT: nothing of any fault is left.
expect_clean() {
	local what=$1 problems=() node state cpus
	[ -z "$("$bin" faults --config "$config")" ] || problems+=("ledger: $("$bin" faults --config "$config" | tr '\n' ';')")
	while read -r node state; do
		[ "$state" = running ] || problems+=("container $node is $state")
	done < <(docker ps -a --filter "label=io.x-k8s.kind.cluster=$name" --format '{{.Names}} {{.State}}'
		docker ps -a --filter "label=io.hachaos.cluster=$name" --format '{{.Names}} {{.State}}')
	for node in $(docker ps --filter "label=io.x-k8s.kind.cluster=$name" --filter label=io.x-k8s.kind.role --format '{{.Names}}'); do
		[ "$(docker inspect -f '{{index .Config.Labels "io.x-k8s.kind.role"}}' "$node")" = external-load-balancer ] && continue
		if docker exec "$node" iptables -w -S | grep -q '^-N HACHAOS'; then problems+=("harness chain left on $node"); fi
		# the isolated node's CPU limit is lifted to the host's core count (or never set)
		# a stacked member's stop pauses the node's kubelet (SIGSTOP): recovery resumes it
		if docker exec "$node" sh -c 'for p in $(pgrep -x kubelet); do grep -q "^State:[[:space:]]*T" /proc/$p/status && exit 0; done; exit 1'; then problems+=("kubelet paused on $node"); fi
		cpus=$(docker inspect -f '{{.HostConfig.NanoCpus}}' "$node")
		[ "$cpus" -eq 0 ] || [ "$cpus" -ge "$(($(nproc) * 1000000000))" ] || problems+=("CPU limit left on $node ($cpus nano-CPUs)")
	done
	[ ${#problems[@]} -eq 0 ] || die "$what: fault left behind: ${problems[*]}"
	log "$what: no fault left (ledger empty, no harness chains, CPU limits or paused kubelets, every container running)"
}

# next_start: `hachaos up` must recover the leftovers and reuse the same cluster, and
# remove the ConfigMaps the killed run's API traffic left.
next_start() {
	local cp left
	"$bin" up --config "$config" 2>&1 | tee "$work/up.log" >&2
	grep -q "reused and ready" "$work/up.log" || die "up recreated the cluster instead of recovering it"
	cp=$(docker ps --filter "label=io.x-k8s.kind.cluster=$name" --filter label=io.x-k8s.kind.role=control-plane --format '{{.Names}}' | head -1)
	left=$(docker exec "$cp" kubectl --kubeconfig /etc/kubernetes/admin.conf get configmaps -n hachaos-apicheck -l hachaos.dev/api-traffic -o name)
	[ -z "$left" ] || die "the next start left the API traffic's ConfigMaps: $left"
}

log "1. Ctrl-C during a partition"
start_run "partitioned \(both\)" partition 1
kill -INT "$run_pid"
wait "$run_pid" && die "the interrupted run exited 0"
expect_clean "after Ctrl-C, before any new start"
next_start
expect_clean "after Ctrl-C and the next start"

log "2. SIGKILL during a partition"
start_run "partitioned \(both\)" partition 1
kill -KILL "$run_pid"; wait "$run_pid" || true
fault_in_effect partition || die "after SIGKILL the partition is gone already: this case shows nothing"
next_start
expect_clean "after SIGKILL during a partition and the next start"

log "3. SIGKILL during an etcd majority stop"
start_run "majority of members stopped" etcd-member-stop 2
kill -KILL "$run_pid"; wait "$run_pid" || true
next_start
expect_clean "after SIGKILL during an etcd majority stop and the next start"

log "4. SIGKILL during a worker loss"
start_run "a worker is lost" worker-loss 1
kill -KILL "$run_pid"; wait "$run_pid" || true
next_start
expect_clean "after SIGKILL during a worker loss and the next start"
"$bin" status --config "$config"
log "interrupt test passed"
