#!/usr/bin/env bash
# The existing-cluster provider against a kind cluster, with Docker out of the harness'
# reach: the suites see only a kubeconfig, as they would a cluster on VMs.
#   1. KIND_SPEC's topology up (or reused) — the cluster under test;
#   2. a Spec of provider "existing" for it, written into ARTIFACTS: a copy of its
#      kubeconfig, its HAProxy's stats address, no CPU limit (not hachaos' machines);
#   3. the node agent's image loaded into every node (what `kind load docker-image`
#      does; a cluster that pulls from a registry gets it from a mirror instead);
#   4. hachaos run on that Spec with DOCKER_HOST pointing nowhere, the disruptive specs
#      confirmed by name;
#   5. nothing left behind: the ledger empty, no agent namespace, no harness iptables
#      chain, no parked manifest in any node;
#   6. a run SIGKILLed during a partition: the next start (hachaos up) recovers it through
#      the agent, hachaos down removes the agent, and 5's checks pass again.
# Steps 1–3, 5 and 6's checks use Docker (they set up and inspect the cluster from outside); step 4,
# the run, cannot.
# Usage: scripts/existing-demo.sh KIND_SPEC ARTIFACTS [LABEL_FILTER]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
. "$here/lib/common.sh"
[ $# -ge 2 ] || die "usage: $0 KIND_SPEC ARTIFACTS [LABEL_FILTER]"
kind_spec=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
mkdir -p "$2" && artifacts=$(cd "$2" && pwd)
labels=${3:-}
bin=$repo/_output/bin/hachaos
name=$("$bin" cluster-name --config "$kind_spec")
agent_image=hachaos/agent:v1

log "1. the cluster under test: $name"
"$bin" up --config "$kind_spec"

log "2. a Spec of provider existing for it"
cp "${HACHAOS_STATE:-$HOME/.cache/hachaos/clusters}/$name/kubeconfig" "$artifacts/kubeconfig"
chmod 600 "$artifacts/kubeconfig"
stats=$(docker port "$name-external-load-balancer" 8404/tcp | head -1)
existing=$artifacts/existing.yaml
cat >"$existing" <<EOF
# written by scripts/existing-demo.sh: the kind cluster "$name" as a cluster hachaos did
# not create, reached through its kubeconfig alone
apiVersion: hachaos.dev/v1alpha1
kind: Topology
name: $name
provider: existing
kubeconfig: $artifacts/kubeconfig
isolatedNodeCPUs: 0
agent:
  image: $agent_image
loadBalancer:
  statsAddress: $stats
EOF
# the rest of the Spec (counts, etcd layout, profile, LB settings) is the kind Spec's
"$bin" explain --config "$kind_spec" -o json >/dev/null # the kind Spec is valid
python3 - "$kind_spec" "$existing" <<'PY'
import sys, re
kind, existing = sys.argv[1], sys.argv[2]
keep = []
skip = {"apiVersion", "kind", "name", "provider", "kubeconfig", "context", "agent", "isolatedNodeCPUs", "loadBalancer"}
block = None
for line in open(kind):
    m = re.match(r"^([A-Za-z]+):", line)
    if m:
        block = m.group(1)
    if block and block not in skip and not line.startswith("#"):
        keep.append(line)
with open(existing, "a") as f:
    f.write("".join(keep))
PY
"$bin" validate --config "$existing"

log "3. the agent image $agent_image into every node of $name"
for node in $(docker ps --filter "label=io.x-k8s.kind.cluster=$name" --filter label=io.x-k8s.kind.role --format '{{.Names}}'); do
	[ "$(docker inspect -f '{{index .Config.Labels "io.x-k8s.kind.role"}}' "$node")" = external-load-balancer ] && continue
	docker save "$agent_image" | docker exec -i "$node" ctr -n k8s.io images import --all-platforms - >/dev/null
done

log "4. hachaos run on the existing Spec, Docker out of reach (DOCKER_HOST=unix:///nonexistent)"
status=0
DOCKER_HOST=unix:///nonexistent "$bin" run --config "$existing" --artifacts "$artifacts/run" \
	--confirm-disruptive "$name" ${labels:+--labels "$labels"} || status=$?

# nodes NAME: the cluster's node containers (the load balancer is not a node)
nodes() {
	local node
	for node in $(docker ps --filter "label=io.x-k8s.kind.cluster=$1" --filter label=io.x-k8s.kind.role --format '{{.Names}}'); do
		[ "$(docker inspect -f '{{index .Config.Labels "io.x-k8s.kind.role"}}' "$node")" = external-load-balancer ] || echo "$node"
	done
}

# expect_clean WHAT: the ledger is empty, and no agent namespace, harness iptables chain
# or parked manifest is left in the cluster.
expect_clean() {
	local problems=() node
	[ -z "$("$bin" faults --config "$existing")" ] || problems+=("ledger: $("$bin" faults --config "$existing" | tr '\n' ';')")
	if docker exec "$name-control-plane" kubectl --kubeconfig /etc/kubernetes/admin.conf get namespace hachaos-agent >/dev/null 2>&1; then
		problems+=("namespace hachaos-agent")
	fi
	for node in $(nodes "$name"); do
		if docker exec "$node" iptables -w -S | grep -q '^-N HACHAOS'; then problems+=("harness chain on $node"); fi
		if docker exec "$node" sh -c 'ls /etc/kubernetes/hachaos-parked/*.orig' >/dev/null 2>&1; then problems+=("parked manifest on $node"); fi
	done
	[ ${#problems[@]} -eq 0 ] || die "$1: left behind: ${problems[*]}"
	log "$1: nothing left behind (ledger empty, no agent namespace, harness chain or parked manifest)"
}

expect_clean "5. after the run"

log "6. SIGKILL of a run during a partition, Docker out of its reach"
work=$(mktemp -d)
(cd "$repo/suites" && DOCKER_HOST=unix:///nonexistent HACHAOS_CONFIG=$existing ARTIFACTS=$work/artifacts \
	HACHAOS_PROBE=$repo/_output/bin/hachaos-probe exec "$repo/_output/bin/hachaos-suites" \
	-ginkgo.focus='partitioned \(both\)') >"$work/run.log" 2>&1 &
run_pid=$!
waited=0
until target=$("$bin" faults --config "$existing" | awk -F'\t' '$1 == "partition" {print $2; exit}') && [ -n "$target" ] &&
	docker exec "$target" iptables -w -S | grep -q '^-N HACHAOS'; do
	kill -0 "$run_pid" 2>/dev/null || { tail -30 "$work/run.log" >&2; die "the run ended before its partition was in effect"; }
	[ $waited -lt 600 ] || die "no partition in effect after 600s"
	sleep 1 && waited=$((waited + 1))
done
log "partition of $target in effect after ${waited}s; SIGKILL"
kill -KILL "$run_pid"; wait "$run_pid" || true
docker exec "$target" iptables -w -S | grep -q '^-N HACHAOS' || die "after SIGKILL the partition is gone already: this case shows nothing"
DOCKER_HOST=unix:///nonexistent "$bin" up --config "$existing"
DOCKER_HOST=unix:///nonexistent "$bin" down --config "$existing"
rm -rf "$work"
expect_clean "6. after SIGKILL during a partition, the next start and down"
exit $status
