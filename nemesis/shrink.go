package nemesis

// Shrink looks for a smallest sub-schedule that still fails, by delta debugging
// (Zeller's ddmin, complements only): start with every failing step index; split it in
// n chunks and try each chunk's complement; where one still fails, keep it and split
// coarser again; otherwise split finer, until chunks are single steps. fails replays a
// sub-schedule — a whole monitored run each time — so at most maxRuns replays are made;
// the smallest failing set found by then is returned with the number of runs made.
func Shrink(steps []int, maxRuns int, fails func(keep []int) (bool, error)) ([]int, int, error) {
	current := append([]int(nil), steps...)
	runs, n := 0, 2
	for len(current) > 1 && runs < maxRuns {
		chunks := split(current, n)
		reduced := false
		for i := range chunks {
			if runs >= maxRuns {
				break
			}
			complement := without(chunks, i)
			runs++
			failed, err := fails(complement)
			if err != nil {
				return current, runs, err
			}
			if failed {
				current, n, reduced = complement, max(n-1, 2), true
				break
			}
		}
		if !reduced {
			if n >= len(current) {
				break // single steps, none removable: 1-minimal
			}
			n = min(2*n, len(current))
		}
	}
	return current, runs, nil
}

// split cuts s into n chunks of near-equal length, in order.
func split(s []int, n int) [][]int {
	var out [][]int
	for i := 0; i < n; i++ {
		lo, hi := i*len(s)/n, (i+1)*len(s)/n
		if hi > lo {
			out = append(out, s[lo:hi])
		}
	}
	return out
}

// without is every chunk but the i-th, concatenated.
func without(chunks [][]int, i int) []int {
	var out []int
	for j, c := range chunks {
		if j != i {
			out = append(out, c...)
		}
	}
	return out
}
