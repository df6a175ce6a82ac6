package reports

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/png"
	neturl "net/url"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"time"
)

// The browser check opens a report in headless Chromium (Debian's package) and checks
// what a reader would see: the DOM Chromium built (summary rows, one timeline per spec
// that recorded one, lanes in each) and, in a full-page screenshot, that the timelines
// were actually painted. The screenshot is kept next to the report.

// BrowserCheck is what Chromium showed.
type BrowserCheck struct {
	SummaryRows      int // rows of the summary table in the DOM
	Timelines        int // <svg class="timeline"> elements in the DOM
	PaintedTimelines int // timeline blocks found in the screenshot
	Screenshot       string
}

// chromiumBinary is Debian's name for the browser; CHROMIUM overrides it.
func chromiumBinary() string {
	if b := os.Getenv("CHROMIUM"); b != "" {
		return b
	}
	return "chromium"
}

// CheckInBrowser renders htmlPath in headless Chromium, writes a full-page screenshot
// to pngPath and checks the result against what res says the report holds.
func CheckInBrowser(ctx context.Context, htmlPath, pngPath string, res Results) (BrowserCheck, error) {
	bin, err := exec.LookPath(chromiumBinary())
	if err != nil {
		return BrowserCheck{}, fmt.Errorf("headless Chromium is needed to check the HTML report (Debian: apt-get install chromium): %w", err)
	}
	source, err := os.ReadFile(htmlPath)
	if err != nil {
		return BrowserCheck{}, err
	}
	profile, err := os.MkdirTemp("", "hachaos-chromium-")
	if err != nil {
		return BrowserCheck{}, err
	}
	defer os.RemoveAll(profile)
	url := (&neturl.URL{Scheme: "file", Path: htmlPath}).String()
	dom, err := runChromium(ctx, chromiumTimeout, bin, profile, "--dump-dom", url)
	if err != nil {
		return BrowserCheck{}, err
	}
	check := BrowserCheck{Screenshot: pngPath}
	check.SummaryRows, check.Timelines = countDOM(string(dom))
	// Tall enough for the whole page (evidence lists are collapsed): the tables, a
	// heading per spec, and the timelines.
	// Every table row counts (the summary's, a comparison's, the measurements').
	// A timeline is as tall as its lanes (one per series: each worker's NodePort, each
	// API server, … — counted, not assumed, or the screenshot cuts the last ones off).
	lanes := strings.Count(string(dom), `<text class="lane"`)
	// The latency charts are collapsed (<details>), like the evidence: a line each.
	height := 3000 + 60*strings.Count(string(dom), "<tr") + 250*len(res.Specs) + 200*check.Timelines + int(laneHeight+laneGap+2)*lanes + failureLines(res)*20 +
		30*strings.Count(string(dom), `<svg class="latency"`)
	// The estimate can be short (a page of long notes): a screenshot without the page's
	// end marker cut the page off, and is taken again half as tall again (doubling a
	// 60,000-pixel page overshot into a screenshot Chromium could not finish). A cut in
	// white space between two specs looks like the page's end; the marker does not.
	var img image.Image
	for try := 0; ; try++ {
		if img, err = screenshot(ctx, bin, profile, url, pngPath, height); err != nil {
			return check, err
		}
		if endMarkerShown(img) {
			break
		}
		if try == 3 {
			return check, fmt.Errorf("the HTML report does not render as it must in Chromium: screenshot %s, %d pixels tall, does not reach the end of the page", pngPath, height)
		}
		height += height / 2
	}
	check.PaintedTimelines = PaintedTimelines(img)
	_, generated := countDOM(string(source))
	return check, check.verify(res, generated)
}

// screenshot renders url in a window height pixels tall into pngPath and decodes it.
func screenshot(ctx context.Context, bin, profile, url, pngPath string, height int) (image.Image, error) {
	if _, err := runChromium(ctx, screenshotTimeout(height), bin, profile, "--hide-scrollbars", "--screenshot="+pngPath, fmt.Sprintf("--window-size=1200,%d", height), url); err != nil {
		return nil, err
	}
	data, err := os.ReadFile(pngPath)
	if err != nil {
		return nil, fmt.Errorf("Chromium wrote no screenshot: %w", err)
	}
	img, err := png.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("decode screenshot %s: %w", pngPath, err)
	}
	return img, nil
}

// endMarker is the colour of the bar that ends every report page (#end-of-report): a
// colour nothing else on the page uses, so a screenshot shows it only when it reached
// the page's end.
const endMarker = "#5b2c83"

// endMarkerShown says whether a row of the screenshot is mostly the end marker's colour.
func endMarkerShown(img image.Image) bool {
	var want [3]uint8
	fmt.Sscanf(endMarker, "#%02x%02x%02x", &want[0], &want[1], &want[2])
	b := img.Bounds()
	for y := b.Max.Y - 1; y >= b.Min.Y; y-- {
		n := 0
		for x := b.Min.X; x < b.Max.X; x += 4 {
			r, g, bl, _ := img.At(x, y).RGBA()
			if [3]uint8{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8)} == want {
				n++
			}
		}
		if 2*n > (b.Max.X-b.Min.X)/4 {
			return true
		}
	}
	return false
}

// failureLines counts the lines of failure messages the page shows uncollapsed (long
// lines wrap at about 150 characters).
func failureLines(res Results) int {
	n := 0
	for _, s := range res.Specs {
		for _, t := range s.Trials {
			for _, line := range strings.Split(t.Failure, "\n") {
				n += 1 + len(line)/150
			}
		}
	}
	return n
}

// chromiumTimeout is how long one Chromium run may take: a page dump, or a screenshot
// up to screenshotPixelsPerTimeout tall.
const chromiumTimeout = 3 * time.Minute

// screenshotPixelsPerTimeout is how tall a screenshot Chromium is given chromiumTimeout
// for: on 2 cores, a 125,000-pixel screenshot of a 3-trial report (38 specs) was still
// running when a flat 3 minutes killed it.
const screenshotPixelsPerTimeout = 50_000

// screenshotTimeout grows chromiumTimeout with the page's height.
func screenshotTimeout(height int) time.Duration {
	return chromiumTimeout * time.Duration(1+height/screenshotPixelsPerTimeout)
}

func runChromium(ctx context.Context, timeout time.Duration, bin, profile string, args ...string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	// --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
	full := append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--user-data-dir=" + profile}, args...)
	cmd := exec.CommandContext(ctx, bin, full...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s %s: %w\n%s", bin, strings.Join(full, " "), err, lastLines(stderr.String(), 10))
	}
	return stdout.Bytes(), nil
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

var (
	summaryRowRE = regexp.MustCompile(`(?s)<table id="summary-table">(.*?)</table>`)
	timelineRE   = regexp.MustCompile(`<svg class="timeline"`)
)

func countDOM(dom string) (rows, timelines int) {
	if m := summaryRowRE.FindStringSubmatch(dom); m != nil {
		rows = strings.Count(m[1], "<tr>") - 1 // minus the header
	}
	return rows, len(timelineRE.FindAllStringIndex(dom, -1))
}

// verify compares what Chromium showed with what the report must show: a summary row
// per guarantee, and every timeline the page holds (an unreadable one is reported in
// the page instead) both in the DOM and painted.
func (c BrowserCheck) verify(res Results, wantTimelines int) error {
	wantRows := 0
	for _, s := range res.Specs {
		wantRows += len(summaryRows(s))
	}
	var problems []string
	if c.SummaryRows != wantRows {
		problems = append(problems, fmt.Sprintf("summary table shows %d rows, want %d (one per guarantee)", c.SummaryRows, wantRows))
	}
	if c.Timelines != wantTimelines {
		problems = append(problems, fmt.Sprintf("DOM holds %d timelines, want %d (one per spec run that recorded one)", c.Timelines, wantTimelines))
	}
	if c.PaintedTimelines != wantTimelines {
		problems = append(problems, fmt.Sprintf("screenshot %s shows %d painted timelines, want %d", c.Screenshot, c.PaintedTimelines, wantTimelines))
	}
	if len(problems) > 0 {
		return fmt.Errorf("the HTML report does not render as it must in Chromium: %s", strings.Join(problems, "; "))
	}
	return nil
}

// PaintedTimelines counts the timelines painted in a screenshot: vertical blocks of
// pixel rows holding lane colours right of the lane labels; lanes are 4 px apart, and
// timelines are separated by text.
func PaintedTimelines(img image.Image) int {
	palette := lanePalette()
	b := img.Bounds()
	// A block counts when it is at least two lanes tall: the legend's colour squares
	// are smaller, and every timeline has more lanes than that.
	const minPixels, maxGap, minHeight = 5, 30, 2 * int(laneHeight)
	blocks, first, last := 0, -1000, -1000
	for y := b.Min.Y; y < b.Max.Y; y++ {
		n := 0
		for x := b.Min.X + int(labelWidth); x < b.Max.X && n < minPixels; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			if palette[[3]uint8{uint8(r >> 8), uint8(g >> 8), uint8(bl >> 8)}] {
				n++
			}
		}
		if n < minPixels {
			continue
		}
		if y-last > maxGap {
			if last-first >= minHeight {
				blocks++
			}
			first = y
		}
		last = y
	}
	if last-first >= minHeight {
		blocks++
	}
	return blocks
}

// lanePalette is every colour a lane is filled with.
func lanePalette() map[[3]uint8]bool {
	colours := append([]string{colorOK, colorFailed, colorChange, colorUnknown, zeroReady}, holderColors...)
	colours = append(colours, readyShades...)
	palette := map[[3]uint8]bool{}
	for _, c := range colours {
		var rgb [3]uint8
		fmt.Sscanf(c, "#%02x%02x%02x", &rgb[0], &rgb[1], &rgb[2])
		palette[rgb] = true
	}
	return palette
}
