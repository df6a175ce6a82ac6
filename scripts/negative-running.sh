#!/usr/bin/env bash
# Negative control on the running topology: apply one sabotage (HACHAOS_SABOTAGE, shown
# in effect before any spec runs, undone after the suite and by the next run if this one
# dies), run the suite's spec named SPEC_TEXT (only it: the others of the label prove
# nothing about this sabotage, and cost CI minutes), and succeed only if it FAILS with
# the expected reason and a broken promise's verdict ("guarantee broken", or "did not
# recover" for a recovery guarantee). The topology is brought up or
# reused by the suite, and kept.
# Usage: scripts/negative-running.sh CONFIG SABOTAGE LABEL SPEC_TEXT REASON_TEXT
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/.." && pwd)
. "$here/lib/common.sh"
[ $# -eq 5 ] || die "usage: $0 CONFIG SABOTAGE LABEL SPEC_TEXT REASON_TEXT"
config=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
sabotage=$2 label=$3 spec=$4 reason=$5
bin=$repo/_output/bin/hachaos
report=$(mktemp --suffix=.json)
trap 'rm -f "$report" "$report.log" "$report.why"' EXIT
cd "$repo"
log "negative control $sabotage on the running topology: the $label suite must fail"
specs=()
rest=$spec
while [[ $rest == *" || "* ]]; do specs+=("${rest%% || *}"); rest=${rest#* || }; done
specs+=("$rest")
focus=""
for s in "${specs[@]}"; do # each SPEC_TEXT as a literal regular expression
	focus+=${focus:+|}$(printf '%s' "$s" | sed 's/[][\.*^$(){}+?|]/\\&/g')
done
if HACHAOS_CONFIG=$config HACHAOS_SABOTAGE=$sabotage run_suites -test.timeout 30m \
	-ginkgo.label-filter="$label" -ginkgo.focus="$focus" -ginkgo.json-report="$report" >"$report.log" 2>&1; then
	tail -20 "$report.log" >&2
	die "NOT DETECTED: \"$spec\" ($label) passed with the sabotage $sabotage"
fi
for s in "${specs[@]}"; do
	# the log's tail first, the verdict check's reason last: a CI excerpt shows the end
	"$bin" expect-detected --report "$report" --spec "$s" --reason "$reason" 2>"$report.why" ||
		{ tail -40 "$report.log" >&2; cat "$report.why" >&2; exit 1; }
done
log "negative control $sabotage detected (${#specs[@]} spec(s))"
