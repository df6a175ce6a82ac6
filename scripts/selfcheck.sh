#!/usr/bin/env bash
# The self-check of the verdicts: runs every fault spec (label "disruptive") once on the
# running topology with every fault's Inject turned into a no-op (HACHAOS_DISABLE_FAULTS=all)
# and succeeds only if each of them ends "fault not in effect" — not passed, and not a
# broken guarantee for a fault that never happened. Each spec stops at its effect check,
# so the run is short. The topology is brought up or reused by the suite, and kept.
# Usage: scripts/selfcheck.sh CONFIG [ARTIFACTS]
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
. "$here/lib/common.sh"
[ $# -ge 1 ] || die "usage: $0 CONFIG [ARTIFACTS]"
config=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
artifacts=${2:-$repo/_artifacts/selfcheck-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$artifacts" && artifacts=$(cd "$artifacts" && pwd)
bin=$repo/_output/bin/hachaos
cd "$repo"
log "self-check: every fault spec with its fault disabled must end \"fault not in effect\" → $artifacts"
if HACHAOS_CONFIG=$config HACHAOS_DISABLE_FAULTS=all ARTIFACTS=$artifacts run_suites -test.v -test.timeout 60m \
	-ginkgo.v -ginkgo.label-filter=disruptive "-ginkgo.json-report=$artifacts/report.json" >"$artifacts/run.log" 2>&1; then
	die "the fault specs PASSED with every fault disabled: see $artifacts/run.log"
fi
"$bin" expect-not-in-effect --report "$artifacts/report.json" || { tail -40 "$artifacts/run.log" >&2; exit 1; }
