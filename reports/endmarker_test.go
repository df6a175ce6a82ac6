package reports

import (
	"image"
	"image/color"
	"testing"
)

// A screenshot reached the page's end only if it shows the end marker: one cut in the
// white space between two specs (as a CI run's was, 2 of 14 timelines missing) does not.
func TestScreenshotReachesTheEndOnlyWithTheEndMarker(t *testing.T) {
	img := image.NewRGBA(image.Rect(0, 0, 200, 100))
	for y := 0; y < 100; y++ {
		for x := 0; x < 200; x++ {
			img.Set(x, y, color.White)
		}
	}
	if endMarkerShown(img) {
		t.Error("a blank page counts as reaching the end")
	}
	for y := 60; y < 72; y++ {
		for x := 0; x < 200; x++ {
			img.Set(x, y, color.RGBA{0x5b, 0x2c, 0x83, 0xff})
		}
	}
	if !endMarkerShown(img) {
		t.Error("the end marker is not seen")
	}
}
