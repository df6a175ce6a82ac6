#!/usr/bin/env bash
# The existing-cluster provider against a kind cluster, with Docker out of the harness'
# reach: the suites see only a kubeconfig, as they would a cluster on VMs.
#   1. the cluster under test: KIND_SPEC's topology brought up (or reused) by hachaos,
#      or, with --kind-cli, one made by the kind CLI itself (`kind create cluster` with
#      scripts/existing/kind-cli-cluster.yaml: kubeadm's own timeouts, kind's own LB);
#   2. a Spec of provider "existing" for it, written into ARTIFACTS: its kubeconfig, its
#      HAProxy's stats address, no CPU limit (not hachaos' machines); for hachaos' own
#      cluster the rest is KIND_SPEC's, for the kind CLI's it is
#      scripts/existing/kind-cli-spec.yaml (kubeadm's defaults, kind's LB settings);
#   3. the node agent's image loaded into every node (what `kind load docker-image` does;
#      a cluster that pulls from a registry gets it from a mirror instead);
#   4. hachaos run on that Spec with DOCKER_HOST pointing nowhere, the disruptive specs
#      confirmed by name;
#   5. nothing left behind: the ledger empty, no agent namespace, no harness iptables
#      chain, no parked manifest in any node, every kubelet and containerd running;
#   6. a run SIGKILLed during a partition: the next start (hachaos up) recovers it through
#      the agent, hachaos down removes the agent, and 5's checks pass again;
#   7. the same during a worker's loss (cut off: its traffic dropped, its kubelet and
#      container runtime stopped);
#   8. (--kind-cli) a negative control on that cluster, made as its owner could: kind's
#      LB reloaded without health checks, which the frozen-API-server spec must catch
#      ("more than the detection window"); the checks put back after.
# Steps 1–3 and the checks of 5–7 use Docker (they set up and inspect the cluster from
# outside); step 4, the run, cannot. The kind CLI's cluster is deleted at the end.
# Usage: scripts/existing-demo.sh KIND_SPEC ARTIFACTS [LABEL_FILTER]
#        scripts/existing-demo.sh --kind-cli ARTIFACTS [LABEL_FILTER]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
. "$here/lib/common.sh"
[ $# -ge 2 ] || die "usage: $0 KIND_SPEC|--kind-cli ARTIFACTS [LABEL_FILTER]"
source=$1
mkdir -p "$2" && artifacts=$(cd "$2" && pwd)
labels=${3:-}
bin=$repo/_output/bin/hachaos
agent_image=hachaos/agent:v1
existing=$artifacts/existing.yaml
kind_cli=$repo/_output/bin/kind

# from_hachaos KIND_SPEC: steps 1 and 2 for a topology hachaos brings up.
from_hachaos() {
	local kind_spec stats
	kind_spec=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
	name=$("$bin" cluster-name --config "$kind_spec")
	log "1. the cluster under test: $name, brought up by hachaos"
	"$bin" up --config "$kind_spec"
	log "2. a Spec of provider existing for it"
	cp "${HACHAOS_STATE:-$HOME/.cache/hachaos/clusters}/$name/kubeconfig" "$artifacts/kubeconfig"
	chmod 600 "$artifacts/kubeconfig"
	stats=$(docker port "$name-external-load-balancer" 8404/tcp | head -1)
	printf '%s\n' "# written by scripts/existing-demo.sh: the kind cluster \"$name\" as a cluster hachaos did" \
		"# not create, reached through its kubeconfig alone" \
		"apiVersion: hachaos.dev/v1alpha1" "kind: Topology" "name: $name" "provider: existing" \
		"kubeconfig: $artifacts/kubeconfig" "isolatedNodeCPUs: 0" "agent:" "  image: $agent_image" \
		"loadBalancer:" "  statsAddress: $stats" >"$existing"
	# the rest of the Spec (counts, etcd layout, profile, timeouts) is the kind Spec's
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
}

# from_kind_cli: steps 1 and 2 for a cluster the kind CLI makes (named kindcli), with the
# kind version hachaos is built with.
from_kind_cli() {
	local lb version
	name=kindcli
	version=$(awk '$1 == "sigs.k8s.io/kind" {print $2}' "$repo/go.mod")
	[ -x "$kind_cli" ] || GOBIN=$repo/_output/bin go install "sigs.k8s.io/kind@$version"
	log "1. the cluster under test: $name, made by the kind CLI ($("$kind_cli" version))"
	"$kind_cli" delete cluster --name "$name" >/dev/null 2>&1 || true
	"$kind_cli" create cluster --name "$name" --image "hachaos/node:$("$bin" kubernetes-version --config "$repo/hachaos.yaml")" \
		--config "$here/existing/kind-cli-cluster.yaml" --kubeconfig "$artifacts/kubeconfig"
	trap '"$kind_cli" delete cluster --name "$name" >/dev/null 2>&1 || true' EXIT
	log "2. a Spec of provider existing for it"
	lb=$(docker inspect -f '{{range .NetworkSettings.Networks}}{{.IPAddress}}{{end}}' "$name-external-load-balancer")
	sed -e "s|@KUBECONFIG@|$artifacts/kubeconfig|" -e "s|@STATS@|$lb:8404|" -e "s|@AGENT@|$agent_image|" \
		"$here/existing/kind-cli-spec.yaml" >"$existing"
}

if [ "$source" = --kind-cli ]; then from_kind_cli; else from_hachaos "$source"; fi
"$bin" validate --config "$existing" >/dev/null

log "3. the agent image $agent_image into every node of $name"
if [ "$source" = --kind-cli ]; then
	"$kind_cli" load docker-image "$agent_image" --name "$name"
else
	for node in $(docker ps --filter "label=io.x-k8s.kind.cluster=$name" --filter label=io.x-k8s.kind.role --format '{{.Names}}'); do
		[ "$(docker inspect -f '{{index .Config.Labels "io.x-k8s.kind.role"}}' "$node")" = external-load-balancer ] && continue
		docker save "$agent_image" | docker exec -i "$node" ctr -n k8s.io images import --all-platforms - >/dev/null
	done
fi

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
		if ! docker exec "$node" systemctl is-active --quiet kubelet containerd; then problems+=("kubelet or containerd stopped on $node"); fi
	done
	[ ${#problems[@]} -eq 0 ] || die "$1: left behind: ${problems[*]}"
	log "$1: nothing left behind (ledger empty, no agent namespace, harness chain or parked manifest; every kubelet and containerd running)"
}

expect_clean "5. after the run"

# sigkill_during STEP FOCUS KIND: a run of the spec FOCUS SIGKILLed while its fault of
# KIND is in effect (the harness chain on its target), the next start recovers it
# through the agent, down removes the agent, and nothing is left behind.
sigkill_during() {
	local step=$1 focus=$2 kind=$3 work run_pid waited=0 target
	log "$step. SIGKILL of a run during a $kind, Docker out of its reach"
	work=$(mktemp -d)
	(cd "$repo/suites" && DOCKER_HOST=unix:///nonexistent HACHAOS_CONFIG=$existing ARTIFACTS=$work/artifacts \
		HACHAOS_PROBE=$repo/_output/bin/hachaos-probe exec "$repo/_output/bin/hachaos-suites" \
		-ginkgo.focus="$focus") >"$work/run.log" 2>&1 &
	run_pid=$!
	until target=$("$bin" faults --config "$existing" | awk -F'\t' -v k="$kind" '$1 == k {print $2; exit}') && [ -n "$target" ] &&
		docker exec "$target" iptables -w -S | grep -q '^-N HACHAOS'; do
		kill -0 "$run_pid" 2>/dev/null || { tail -30 "$work/run.log" >&2; die "the run ended before its $kind was in effect"; }
		[ $waited -lt 600 ] || die "no $kind in effect after 600s"
		sleep 1 && waited=$((waited + 1))
	done
	# a cut-off stops the kubelet after the chain: wait until it has
	[ "$kind" != worker-loss ] || until ! docker exec "$target" systemctl is-active --quiet kubelet; do sleep 1; done
	log "$kind of $target in effect after ${waited}s; SIGKILL"
	kill -KILL "$run_pid"; wait "$run_pid" || true
	docker exec "$target" iptables -w -S | grep -q '^-N HACHAOS' || die "after SIGKILL the $kind is gone already: this case shows nothing"
	DOCKER_HOST=unix:///nonexistent "$bin" up --config "$existing"
	DOCKER_HOST=unix:///nonexistent "$bin" down --config "$existing"
	rm -rf "$work"
	expect_clean "$step. after SIGKILL during a $kind, the next start and down"
}

# owner_control: a negative control made the way the cluster's owner could break it, not
# by hachaos (which may not reconfigure a load balancer it did not create): kind's LB
# reloaded without health checks while the Spec still states them. The frozen-API-server
# spec must end "guarantee broken" for that reason; the LB's configuration is put back
# (and checked) after.
owner_control() {
	local lb=$name-external-load-balancer dir=$artifacts/control-lb-without-checks status=0
	log "8. negative control on the existing cluster: its owner turns the LB's health checks off"
	docker exec "$lb" sh -c 'cp /tmp/haproxy.cfg /tmp/haproxy.cfg.with-checks &&
		sed -i "s/ check check-ssl verify none inter [^ ]* fall [0-9]* rise [0-9]*//" /tmp/haproxy.cfg &&
		! grep -q " check" /tmp/haproxy.cfg && kill -USR2 "$(pgrep -o -x haproxy)"' || die "could not reload kind's LB without health checks"
	DOCKER_HOST=unix:///nonexistent "$bin" run --config "$existing" --artifacts "$dir" --confirm-disruptive "$name" \
		--focus 'one API server is frozen' || status=$?
	docker exec "$lb" sh -c 'cp /tmp/haproxy.cfg.with-checks /tmp/haproxy.cfg && kill -USR2 "$(pgrep -o -x haproxy)"' ||
		die "could not put kind's LB configuration back"
	[ "$status" -eq 1 ] || die "the control ended with exit $status, not 1 (a guarantee broken)"
	"$bin" expect-detected --report "$dir/report.json" --spec 'one API server is frozen' --reason 'more than the detection window'
	log "8. the LB without health checks detected for its reason; its checks are back"
}

sigkill_during 6 'partitioned \(both\)' partition
sigkill_during 7 'when a worker is lost' worker-loss
if [ "$source" = --kind-cli ]; then owner_control; fi
exit $status
