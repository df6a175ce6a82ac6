#!/usr/bin/env bash
# Pre-upgrade certification of the upgrade itself (`hachaos certify`, whose --help says
# what it runs and how it judges), with the images it needs built first: FROM's node
# image and TO's binaries and images, offline (scripts/build-images.sh), where missing.
# The flags are checked first (`hachaos certify --preflight`): a bad FROM, TO, TRIALS or
# PATCHES fails before anything is built or created.
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
bin=$repo/_output/bin/hachaos
flags=(--config "$1" --from "$2" --to "$3" --artifacts "$4" --trials "$5")
[ -n "${6:-}" ] && flags+=(--labels "$6")
[ -n "${7:-}" ] && flags+=(--patches "$7")
cd "$repo"

versions=$("$bin" certify "${flags[@]}" --preflight) || exit $?
read -r from_version to_version <<<"$versions"
step "images for FROM ($from_version)" bash scripts/build-images.sh "$from_version"
step "images and binaries for TO ($to_version)" bash scripts/build-images.sh "$to_version"
exec "$bin" certify "${flags[@]}"
