#!/usr/bin/env bash
# Integration test of one topology: create it fresh, run the topology suite against it,
# delete it — the delete also runs when the suite fails or is interrupted. Prints the
# measured create+readiness, suite and delete times.
# Usage: scripts/integration.sh SPEC_FILE
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
. "$here/lib/common.sh"
config=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
bin=$repo/_output/bin/hachaos

teardown() {
	local t=$(date +%s)
	"$bin" down --config "$config" && log "delete took $(($(date +%s) - t))s"
}
trap teardown EXIT

# a leftover cluster from an interrupted run is not what this test is about
"$bin" down --config "$config"
t=$(date +%s)
"$bin" up --config "$config"
log "create + readiness ($(basename "$config")) took $(($(date +%s) - t))s"
t=$(date +%s)
cd "$repo"
HACHAOS_CONFIG=$config run_suites -test.v -test.timeout 30m -ginkgo.v -ginkgo.label-filter="topology || security"
log "topology and security suites ($(basename "$config")) took $(($(date +%s) - t))s"
