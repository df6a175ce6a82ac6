package reports

// pageHTML is the report's template: inline CSS only, no script.
const pageHTML = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>hachaos report: {{.Res.Run.Topology.Name}}</title>
<style>
body { font: 14px/1.45 system-ui, sans-serif; margin: 24px; color: #1d1d1f; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 18px; margin-top: 32px; } h3 { font-size: 15px; }
table { border-collapse: collapse; margin: 8px 0; }
th, td { border: 1px solid #d6d6d6; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f3f3f3; }
td.num { text-align: right; white-space: nowrap; }
.v-passed { color: #1e7b3a; font-weight: 600; } .v-failed { color: #c0281d; font-weight: 600; } .v-skipped { color: #777; }
.v-guarantee-broken, .v-did-not-recover, .v-bound-broken { color: #c0281d; font-weight: 600; } .v-fault-not-in-effect, .v-environment-not-ready { color: #a15c00; font-weight: 600; }
.muted { color: #666; } .formula { color: #555; font-size: 12px; }
section.spec { border-top: 2px solid #ddd; margin-top: 28px; }
pre { background: #f7f7f7; border: 1px solid #e1e1e1; padding: 8px; overflow-x: auto; font-size: 12px; white-space: pre-wrap; }
svg.timeline { display: block; margin: 8px 0; background: #fff; }
svg text { font: 11px system-ui, sans-serif; } svg text.seg { fill: #fff; } svg text.event { fill: #333; } svg text.tick { fill: #666; }
.legend span { display: inline-block; margin-right: 14px; } .legend i { display: inline-block; width: 12px; height: 12px; margin-right: 4px; vertical-align: -2px; }
</style>
</head>
<body>
<header>
<h1>hachaos report: {{.Res.Run.Topology.Name}}</h1>
<p id="verdict" class="{{if .Failed}}v-failed{{else}}v-passed{{end}}">{{.Passed}} passed, {{.Failed}} failed of {{len .Res.Specs}} specs{{if gt .Res.Run.Trials 1}} ({{.Res.Run.Trials}} trials each){{end}}{{with .Verdicts}} — {{.}}{{end}}</p>
{{with .Res.Run.Conditions}}{{if .Deliberate}}<p id="conditions" class="v-failed">NOT A REAL RUN: {{.}}. Its verdicts say nothing about the cluster's promises.</p>{{end}}{{end}}
<table id="run">
<tr><th>topology</th><td>{{.Res.Run.Topology.Describe}}</td></tr>
<tr><th>versions</th><td>Kubernetes {{.Res.Run.Versions.Kubernetes}}, etcd {{.Res.Run.Versions.Etcd}}</td></tr>
<tr><th>profile</th><td>{{.Res.Run.Profile}}</td></tr>
<tr><th>hachaos</th><td>{{with .Res.Run.Harness}}{{.Version}}{{with .Commit}}, commit {{.}}{{end}}{{if .Modified}} (modified){{end}}{{end}}{{with .Res.Run.SpecSHA256}}; Spec sha256 {{.}}{{end}}</td></tr>
<tr><th>wall time</th><td>{{printf "%.0f" .Res.Duration}} s: bring-up {{printf "%.0f" .Res.WallTime.BringUp}} s, faults {{printf "%.0f" .Res.WallTime.Faults}} s (holding faults and waiting on Kubernetes' and etcd's own timeouts), harness {{printf "%.0f" .Res.WallTime.Harness}} s</td></tr>
<tr><th>run</th><td>started {{.Res.Started.UTC.Format "2006-01-02 15:04:05"}} UTC, {{printf "%.0f" .Res.Duration}} s; seed {{.Res.Run.Seed}}{{with .Res.Run.LabelFilter}}; labels {{.}}{{end}}; report generated {{.Generated}}</td></tr>
</table>
</header>

{{with .Comparison}}
<h2 id="comparison">Comparison: {{.Baseline}} → {{.Candidate}}</h2>
{{if .Passed}}<p id="comparison-verdict" class="v-passed">{{.Verdict}}</p>{{else}}<p id="comparison-verdict" class="v-failed">FAIL: {{len .Problems}} problem(s) going from {{.Baseline}} to {{.Candidate}}</p>
<ul class="problems">{{range .Problems}}<li>{{.}}</li>{{end}}</ul>{{end}}
<table>
<tr><th>guarantee</th><th>{{.Baseline}}</th><th>{{.Candidate}}</th><th>p95 baseline</th><th>p95 candidate</th><th>change</th><th>finding</th></tr>
{{range .Rows}}<tr><td>{{.Spec}}<br><span class="muted">{{.Guarantee}}</span></td><td class="{{verdictClass .BaselineVerdict}}">{{.BaselineVerdict}}</td><td class="{{verdictClass .CandidateVerdict}}">{{.CandidateVerdict}}</td><td class="num">{{.BaselineP95}}</td><td class="num">{{.CandidateP95}}</td><td class="num">{{.Change}}</td><td class="{{if .Problem}}v-failed{{end}}">{{.Finding}}</td></tr>
{{end}}</table>
{{end}}

<h2 id="summary">Guarantees</h2>
<table id="summary-table">
<tr><th>spec</th><th>guarantee</th><th>verdict</th><th>measured</th><th>bound</th><th>margin</th></tr>
{{range .Rows}}<tr>{{if .First}}<td rowspan="{{.Span}}"><a href="#{{.Anchor}}">{{.Spec}}</a></td>{{end}}<td>{{.Guarantee}}</td><td class="{{verdictClass .Verdict}}">{{verdictText .Verdict}}</td><td class="num">{{.Measured}}</td><td class="num">{{.Bound}}{{with .Formula}}<br><span class="formula">= {{.}}</span>{{end}}</td><td class="num">{{.Margin}}</td></tr>
{{end}}</table>

<p class="legend"><span><i style="background:#2e9d4f"></i>ok / UP</span><span><i style="background:#d1352b"></i>failed / DOWN / unreachable / nobody</span><span><i style="background:#e8a317"></i>changing (failing checks, no leader)</span><span><i style="background:#9aa0a6"></i>not observed</span><span><i style="background:#f6d5d3"></i>fault window</span> Lease holders and etcd leaders keep one colour per node.</p>

{{range .Specs}}
<section class="spec" id="{{.Anchor}}">
<h2>{{.Name}} <span class="{{verdictClass .Verdict}}">{{verdictText .Verdict}}</span></h2>
<p class="muted">labels: {{range $i, $l := .Labels}}{{if $i}}, {{end}}{{$l}}{{end}}</p>
{{range .Distributions}}<p>{{.Name}}: {{.Stats}}<br>{{.SVG}}</p>{{end}}
{{range .Trials}}
<h3>{{if gt $.Res.Run.Trials 1}}trial {{.N}}: {{end}} <span class="{{verdictClass .Verdict}}">{{verdictText .Verdict}}</span> <span class="muted">({{.Duration}})</span></h3>
{{if .Failure}}<pre class="failure">{{.Failure}}
at {{.Location}}</pre>{{end}}
{{if .Measurements}}<table class="measurements"><tr><th>measured</th><th>value</th><th>bound</th></tr>
{{range .Measurements}}<tr><td>{{.Name}}</td><td class="num {{if .Within}}v-passed{{else}}v-failed{{end}}">{{num .Value}} {{.Unit}}</td><td class="num">{{.BoundText}}{{with .Formula}}<br><span class="formula">= {{.}}</span>{{end}}</td></tr>
{{end}}</table>{{end}}
{{if .Notes}}<details class="notes"><summary>{{len .Notes}} observations and evidence</summary><ul>{{range .Notes}}<li>{{.Name}}: {{.Value}}</li>{{end}}</ul></details>{{end}}
{{if .Timeline}}<div class="timeline-box">{{.Timeline}}</div><p class="muted">timeline data: {{.TimelinePath}}</p>{{end}}
{{if .Requests}}<p class="requests">requests: {{.Requests}}</p>{{end}}
{{if .Latency}}<details class="latency-box"><summary>latency of the answered requests over time (p50 line, p50–p99 band; failed requests ticked)</summary>{{.Latency}}</details>{{end}}
{{range .Diagnostics}}<details class="diagnostic"><summary>{{.Title}}</summary><pre>{{.Text}}</pre></details>{{end}}
{{end}}
</section>
{{end}}
<div id="end-of-report" style="height:12px;background:` + endMarker + `"></div>
</body>
</html>
`
