package apicheck

import (
	"fmt"
	"math"
	"time"

	"github.com/anishathalye/porcupine"
)

// checkLinearizable runs porcupine over every object's history: creates, updates and
// deletes (of unknown outcome: open-ended, may or may not have happened) and gets. A
// read that got no answer observed nothing and is left out. Lists are held to the
// consistent-reads check alone, so that a stale list (a watch cache behind etcd) breaks
// that guarantee and not two.
func checkLinearizable(h History, timeout time.Duration) ([]Violation, []string) {
	var violations []Violation
	var inconclusive []string
	model := linearizeModel()
	for _, part := range partitionByObject(porcupineOperations(h)) {
		name := part[0].Input.(objInput).Object
		result, info := porcupine.CheckOperationsVerbose(model, part, timeout)
		switch result {
		case porcupine.Unknown:
			inconclusive = append(inconclusive, fmt.Sprintf("%s: porcupine did not finish %s within %s", Linearizable, name, timeout))
		case porcupine.Illegal:
			violations = append(violations, Violation{Guarantee: Linearizable,
				Reason:   fmt.Sprintf("%s: no order of its calls, each placed between its call and its return, explains every answer", name),
				Evidence: illegalExcerpt(part, info)})
		}
	}
	return violations, inconclusive
}

// illegalExcerpt shows where the search got stuck: the last calls of the longest order
// porcupine could explain, then the calls it could not place after them.
func illegalExcerpt(part []porcupine.Operation, info porcupine.LinearizationInfo) []string {
	var longest []int
	for _, p := range info.PartialLinearizations() {
		for _, lin := range p {
			if len(lin) > len(longest) {
				longest = lin
			}
		}
	}
	placed := map[int]bool{}
	for _, i := range longest {
		placed[i] = true
	}
	var lines []string
	for _, i := range longest[max(0, len(longest)-3):] {
		lines = append(lines, "explained: "+describe(part[i]))
	}
	unplaced := 0
	for i, op := range part {
		if !placed[i] && unplaced < 3 {
			lines = append(lines, "not explained after them: "+describe(op))
			unplaced++
		}
	}
	return lines
}

func describe(op porcupine.Operation) string {
	return op.Input.(objInput).Describe + " → " + op.Output.(objOutput).Describe
}

func porcupineOperations(h History) []porcupine.Operation {
	var ops []porcupine.Operation
	rows, next := map[int]int{}, 0
	row := func(client int) int {
		r, ok := rows[client]
		if !ok {
			r, next = next, next+1
			rows[client] = r
		}
		return r
	}
	for _, o := range h.Operations {
		switch {
		case o.IsWrite():
			ops = append(ops, writeOperation(o, row(o.Client)))
			if o.Outcome == Unknown {
				delete(rows, o.Client) // its bar stays open to the end: a new row
			}
		case o.Kind == OpGet && (o.Outcome == Acknowledged || o.Code == 404):
			ops = append(ops, readOperation(o, o.Object, o.Result, row(o.Client)))
		}
	}
	return ops
}

func writeOperation(o Operation, row int) porcupine.Operation {
	out := objOutput{Outcome: o.Outcome, Code: o.Code, Describe: string(o.Outcome)}
	if o.Result != nil {
		out.RV, out.Describe = o.Result.ResourceVersion, "ok rv="+o.Result.ResourceVersion
	}
	p := porcupine.Operation{ClientId: row, Call: int64(o.Call), Return: int64(o.Return),
		Input:  objInput{Kind: o.Kind, Object: o.Object, Value: o.Value, Precondition: o.Precondition, Describe: o.String()},
		Output: out}
	if o.Outcome == Unknown {
		p.Return = math.MaxInt64
	}
	return p
}

func readOperation(o Operation, name string, it *Item, row int) porcupine.Operation {
	out := objOutput{Outcome: Acknowledged, Describe: "absent"}
	if it != nil {
		out.Found, out.Value, out.RV = true, it.Value, it.ResourceVersion
		out.Describe = fmt.Sprintf("%q rv=%s", it.Value, it.ResourceVersion)
	}
	return porcupine.Operation{ClientId: row, Call: int64(o.Call), Return: int64(o.Return),
		Input:  objInput{Kind: OpGet, Object: name, Describe: fmt.Sprintf("client %d %s → %s", o.Client, o.Kind, name)},
		Output: out}
}
