#!/usr/bin/env bash
# Pre-upgrade certification: runs the suites on a topology of the FROM Kubernetes version
# (or node image), then on one of TO, one cluster at a time, and compares the two runs
# guarantee by guarantee. Fails when a guarantee breaks on TO or a recovery time's p95
# regresses beyond the Spec's certification budget. Node images are built offline
# (scripts/build-images.sh) where they are missing.
# Usage: scripts/certify.sh CONFIG FROM TO ARTIFACTS TRIALS [LABEL_FILTER]
#   FROM, TO   a Kubernetes version (v1.36.3) or a node image tagged with one (repo:v1.36.3)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
. "$here/lib/common.sh"
[ $# -ge 5 ] || die "usage: $0 CONFIG FROM TO ARTIFACTS TRIALS [LABEL_FILTER]"
config=$1 from=$2 to=$3 trials=$5 labels=${6:-}
[ -n "$from" ] && [ -n "$to" ] || die "make certify needs FROM and TO: a Kubernetes version (FROM=v1.36.3 TO=v1.37.2) or node images tagged with one"
[[ $trials =~ ^[1-9][0-9]*$ ]] || die "TRIALS must be a whole number of at least 1, got '$trials'"
mkdir -p "$4" && artifacts=$(cd "$4" && pwd)
bin=$repo/_output/bin/hachaos
cd "$repo"
name=$("$bin" cluster-name --config "$config") || exit 1

# Both Specs first: a bad FROM or TO fails here, before anything is built or created.
for side in from to; do
	target=$from
	[ "$side" = to ] && target=$to
	"$bin" derive-config --config "$config" --name "$name-$side" --kubernetes "$target" --out "$artifacts/$side.yaml" || exit 1
done

current=""
trap '[ -n "$current" ] && "$bin" down --config "$current"' EXIT
for side in from to; do
	cfg=$artifacts/$side.yaml
	version=$("$bin" kubernetes-version --config "$cfg")
	step "images for $side ($version)" bash scripts/build-images.sh "$version"
	image=$("$bin" validate --config "$cfg" | sed -n 's/.*"nodeImage": "\(.\+\)".*/\1/p' | head -1)
	if [ -n "$image" ] && ! docker image inspect "$image" >/dev/null 2>&1; then
		die "node image $image for $side is not on this machine (no registry is reachable; build or load it first)"
	fi
	current=$cfg
	log "certification, $side side: Kubernetes $version"
	rc=0
	bash scripts/chaos.sh "$cfg" "$artifacts/$side" "$trials" "$labels" || rc=$?
	# 1: specs failed, which the comparison weighs; 2: the artifacts are unusable
	[ "$rc" -le 1 ] || die "$side side: artifacts hold a secret or their reports failed (see above)"
	[ "$rc" -eq 0 ] || log "$side side: some specs failed (the comparison says which)"
	"$bin" down --config "$cfg"
	current=""
done

log "comparing $from → $to"
"$bin" report --config "$config" --baseline "$artifacts/from/results.json" "$artifacts/to" | tee "$artifacts/comparison.txt"
status=${PIPESTATUS[0]}
log "certification report: $artifacts/to/report.html (comparison at the top), $artifacts/comparison.txt"
exit "$status"
