#!/usr/bin/env bash
# Negative control: bring up a deliberately broken topology, run a suite against it and
# succeed only if the suite FAILS in the expected spec with the expected reason (a check
# that cannot fail proves nothing). The topology is deleted afterwards in every case.
# Usage: scripts/negative.sh SPEC_FILE LABEL SPEC_TEXT REASON_TEXT
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
. "$here/lib/common.sh"
[ $# -eq 4 ] || die "usage: $0 SPEC_FILE LABEL SPEC_TEXT REASON_TEXT"
config=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
label=$2 spec=$3 reason=$4
bin=$repo/_output/bin/hachaos
report=$(mktemp --suffix=.json)

trap '"$bin" down --config "$config"; rm -f "$report" "$report.log"' EXIT
"$bin" down --config "$config"
"$bin" up --config "$config"
cd "$repo"
log "running the $label suite against the sabotaged topology $(basename "$config"); it must fail"
if HACHAOS_CONFIG=$config go test -tags e2e -count=1 -timeout 30m ./suites -args \
	-ginkgo.label-filter="$label" -ginkgo.json-report="$report" >"$report.log" 2>&1; then
	tail -20 "$report.log" >&2
	die "NOT DETECTED: the $label suite passed on $(basename "$config")"
fi
"$bin" expect-detected --report "$report" --spec "$spec" --reason "$reason"
log "negative control $(basename "$config") detected"
