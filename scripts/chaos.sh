#!/usr/bin/env bash
# Runs the suites against one topology (brought up or reused by the suite itself), TRIALS
# times on the same cluster, then builds the run's reports in ARTIFACTS: results.json,
# junit.xml (validated against the xUnit schema), report.html (checked in headless
# Chromium, screenshot.png kept) and summary.md. Fails when a spec failed or a report
# cannot be built; the reports are built in both cases.
# Usage: scripts/chaos.sh CONFIG ARTIFACTS TRIALS [LABEL_FILTER]
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
. "$here/lib/common.sh"
[ $# -ge 3 ] || die "usage: $0 CONFIG ARTIFACTS TRIALS [LABEL_FILTER]"
config=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
mkdir -p "$2" && artifacts=$(cd "$2" && pwd)
trials=$3 labels=${4:-}
[[ $trials =~ ^[1-9][0-9]*$ ]] || die "TRIALS must be a whole number of at least 1, got '$trials'"
bin=$repo/_output/bin/hachaos
cd "$repo"

status=0
for i in $(seq 1 "$trials"); do
	dir=$artifacts
	[ "$trials" -gt 1 ] && dir=$artifacts/trial-$i
	mkdir -p "$dir"
	log "trial $i of $trials: suites${labels:+ with labels '$labels'} → $dir"
	HACHAOS_CONFIG=$config ARTIFACTS=$dir go test -v -tags e2e -count=1 -timeout 120m ./suites -args -ginkgo.v \
		${labels:+"-ginkgo.label-filter=$labels"} "-ginkgo.json-report=$dir/report.json" || status=1
done
"$bin" scan-secrets "$artifacts" || status=1
if "$bin" report --config "$config" "$artifacts"; then
	xmllint --noout --schema reports/schema/junit-10.xsd "$artifacts/junit.xml" || status=1
	cat "$artifacts/summary.md"
else
	status=1
fi
log "artifacts: $artifacts (report.html, results.json, junit.xml)"
exit $status
