#!/usr/bin/env bash
# Pre-upgrade certification of the upgrade itself, on one topology:
#   1. the suites on a FROM topology (TRIALS times),
#   2. the rolling upgrade to TO in place (`hachaos upgrade`: kubeadm upgrade apply on the
#      first control plane, upgrade node on the others, kubelets, then each worker
#      drained, upgraded, uncordoned) under the disruption monitor, judged against the
#      Spec's disruption budgets, the etcd guarantees and the version-skew policy,
#   3. the suites again on the upgraded cluster (TRIALS times) — after a failed upgrade
#      too, which fails the certification whatever they show,
#   4. the comparison, guarantee by guarantee: a guarantee broken on TO fails it, and so
#      does a recovery time that regressed beyond the certification budget *and* is
#      significantly slower (one-sided Mann–Whitney, p ≤ 0.05, at least 3 trials a side;
#      a value whose FROM spread exceeds the budget is "too noisy to judge").
# Node images and TO's binaries are built offline (scripts/build-images.sh) where missing.
# The cluster is deleted at the end.
# Usage: scripts/certify.sh CONFIG FROM TO ARTIFACTS TRIALS [LABEL_FILTER [PATCHES]]
#   FROM    a Kubernetes version (v1.36.3) or a node image tagged with one (repo:v1.36.3)
#   TO      a Kubernetes version, one minor above FROM at most (kubeadm's rule)
#   PATCHES a folder of kubeadm patch files the upgrade applies (TO only): a platform
#           team's own, or controls/certify-slower-etcd-election, the control that makes
#           TO really slower and must make the certification fail naming the regression
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
. "$here/lib/common.sh"
[ $# -ge 5 ] || die "usage: $0 CONFIG FROM TO ARTIFACTS TRIALS [LABEL_FILTER [PATCHES]]"
config=$1 from=$2 to=$3 trials=$5 labels=${6:-} patches=${7:-}
[ -n "$from" ] && [ -n "$to" ] || die "make certify needs FROM and TO: FROM=v1.36.3 (or a node image tagged with one) TO=v1.37.2"
[[ $to =~ ^v[0-9]+\.[0-9]+\.[0-9]+$ ]] || die "TO must be a Kubernetes version like v1.37.2 (the upgrade installs its kubeadm and kubelet), got '$to'"
[[ $trials =~ ^[1-9][0-9]*$ ]] || die "TRIALS must be a whole number of at least 1, got '$trials'"
upgrade_flags=() patched=""
if [ -n "$patches" ]; then
	[ -d "$patches" ] || die "PATCHES must be a folder of kubeadm patch files, got '$patches'"
	upgrade_flags=(--patches "$(cd "$patches" && pwd)") patched=" with the kubeadm patches of $patches"
fi
mkdir -p "$4" && artifacts=$(cd "$4" && pwd)
bin=$repo/_output/bin/hachaos
cd "$repo"
name=$("$bin" cluster-name --config "$config") || exit 1

# The Spec first: a bad FROM fails here, before anything is built or created.
cfg=$artifacts/from.yaml
"$bin" derive-config --config "$config" --name "$name-cert" --kubernetes "$from" --out "$cfg" || exit 1
version=$("$bin" kubernetes-version --config "$cfg")
step "images for FROM ($version)" bash scripts/build-images.sh "$version"
step "images and binaries for TO ($to)" bash scripts/build-images.sh "$to"
trap '"$bin" down --config "$cfg"' EXIT

log "certification 1/3: the suites on Kubernetes $version"
rc=0
bash scripts/chaos.sh "$cfg" "$artifacts/from" "$trials" "$labels" || rc=$?
# 1: specs failed, which the comparison weighs; 2: the artifacts are unusable
[ "$rc" -le 1 ] || die "FROM side: artifacts hold a secret or their reports failed (see above)"

log "certification 2/3: rolling upgrade $version → $to$patched under the disruption monitor"
# TO's binaries and images in every node first, before the monitor: what an operator
# pre-pulls and kinder bakes into its node image, not a step of the upgrade.
"$bin" upgrade --config "$cfg" --to "$to" --stage-only || die "staging $to in the nodes failed (above)"
upgrade=0
"$bin" monitor --config "$cfg" --artifacts "$artifacts/upgrade" --name "rolling upgrade $version → $to$patched" -- \
	"$bin" upgrade --config "$cfg" --to "$to" --staged "${upgrade_flags[@]}" || upgrade=$?
if [ "$upgrade" -ne 0 ]; then
	# the certification has failed; the suites still run on what the upgrade left, so
	# one report shows what else changed (a slower TO's regression, named by the comparison)
	log "the upgrade did not pass (exit $upgrade; $artifacts/upgrade/report.html): the certification fails; the suites run on the upgraded cluster all the same"
fi

log "certification 3/3: the suites on the upgraded cluster"
rc=0
bash scripts/chaos.sh "$cfg" "$artifacts/to" "$trials" "$labels" || rc=$?
[ "$rc" -le 1 ] || die "TO side: artifacts hold a secret or their reports failed (see above)"

log "comparing $version → $to"
"$bin" report --config "$config" --baseline "$artifacts/from/results.json" "$artifacts/to" | tee "$artifacts/comparison.txt"
status=${PIPESTATUS[0]}
if [ "$upgrade" -ne 0 ]; then
	log "certification FAILED: the upgrade broke its budgets or guarantees ($artifacts/upgrade/report.html)"
	status=1
fi
log "certification reports: the upgrade $artifacts/upgrade/report.html (each step's disruption beside its budget), the suites after it $artifacts/to/report.html (comparison at the top), $artifacts/comparison.txt"
exit "$status"
