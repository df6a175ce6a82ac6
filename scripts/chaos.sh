#!/usr/bin/env bash
# Runs the suites against one topology (brought up or reused by the suite itself), TRIALS
# times on the same cluster, then builds the run's reports in ARTIFACTS: results.json,
# junit.xml (validated against the xUnit schema), report.html (checked in headless
# Chromium, screenshot.png kept) and summary.md; the reports are built whatever the
# suites' outcome. Exit status: 0 all passed, 1 a spec broke a promise (guarantee broken,
# did not recover), 3 no promise broken but a spec proved nothing (fault not in effect,
# environment not ready), 2 the artifacts hold a
# secret or a report could not be built or checked (worse: the artifacts are unusable).
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

ginkgo_minutes=${GINKGO_TIMEOUT_MINUTES:-120}
[[ $ginkgo_minutes =~ ^[1-9][0-9]*$ ]] || die "GINKGO_TIMEOUT_MINUTES must be a whole number of minutes above 0, got '$ginkgo_minutes'"
# hachaos run: the prebuilt suites (make build), TRIALS times, the secrets scan and the
# reports, its exit status by the verdicts (above). Ginkgo's own timeout
# (GINKGO_TIMEOUT_MINUTES, default 120) ends a stuck suite, with its report.
# CONFIRM_DISRUPTIVE (make chaos CONFIRM=<Spec name>): faults on a cluster hachaos did not create
"$bin" run --config "$config" --artifacts "$artifacts" --trials "$trials" --timeout "${ginkgo_minutes}m" ${labels:+--labels "$labels"} \
	${CONFIRM_DISRUPTIVE:+--confirm-disruptive "$CONFIRM_DISRUPTIVE"}
status=$?
if [ "$status" != 2 ] && [ -f "$artifacts/junit.xml" ]; then
	xmllint --noout --schema reports/schema/junit-10.xsd "$artifacts/junit.xml" || status=2
	cat "$artifacts/summary.md"
fi
exit $status
