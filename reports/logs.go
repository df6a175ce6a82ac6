package reports

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

// controlPlaneContainers are the components whose logs explain a failed guarantee.
var controlPlaneContainers = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"}

// componentLogLines returns the warnings and errors the control-plane components logged
// between from and to, oldest first, at most limit of them (the first ones: the start
// of a failure explains the rest). logsDir is the artifacts' logs folder, as the kind
// provider exports it: <node>/pods/<pod>/<container>/<n>.log in the CRI log format
// ("<RFC 3339 time> <stream> <tag> <message>").
func componentLogLines(logsDir string, from, to time.Time, limit int) string {
	type line struct {
		at   time.Time
		text string
	}
	var lines []line
	for _, c := range controlPlaneContainers {
		files, _ := filepath.Glob(filepath.Join(logsDir, "*", "pods", "*", c, "*.log"))
		for _, f := range files {
			node := strings.Split(strings.TrimPrefix(f, logsDir+string(filepath.Separator)), string(filepath.Separator))[0]
			scanLog(f, func(at time.Time, msg string) {
				if !at.Before(from) && !at.After(to) && isWarningOrError(msg) {
					lines = append(lines, line{at, fmt.Sprintf("%s %s/%s: %s", at.UTC().Format("15:04:05.000"), node, c, shorten(msg, 400))})
				}
			})
		}
	}
	sort.SliceStable(lines, func(i, j int) bool { return lines[i].at.Before(lines[j].at) })
	var b strings.Builder
	for i, l := range lines {
		if i == limit {
			fmt.Fprintf(&b, "… %d more lines in the logs folder\n", len(lines)-limit)
			break
		}
		b.WriteString(l.text + "\n")
	}
	return b.String()
}

func scanLog(path string, fn func(at time.Time, msg string)) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		fields := strings.SplitN(sc.Text(), " ", 4)
		if len(fields) < 4 {
			continue
		}
		at, err := time.Parse(time.RFC3339Nano, fields[0])
		if err != nil {
			continue
		}
		fn(at, fields[3])
	}
}

// isWarningOrError recognizes klog's W/E/F lines and zap's JSON warn/error levels.
func isWarningOrError(msg string) bool {
	if len(msg) > 1 && strings.ContainsRune("WEF", rune(msg[0])) && msg[1] >= '0' && msg[1] <= '9' {
		return true
	}
	return strings.Contains(msg, `"level":"warn"`) || strings.Contains(msg, `"level":"error"`)
}
