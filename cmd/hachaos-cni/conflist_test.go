package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// wantConflist is the config for 10.244.1.0/24, as ptp, host-local and
// portmap should read it.
const wantConflist = `{
  "cniVersion": "1.0.0",
  "name": "hachaos",
  "plugins": [
    {
      "type": "ptp",
      "ipMasq": false,
      "mtu": 1500,
      "ipam": {
        "type": "host-local",
        "ranges": [[{"subnet": "10.244.1.0/24"}]],
        "routes": [{"dst": "0.0.0.0/0"}],
        "dataDir": "/run/cni-ipam-state"
      }
    },
    {
      "type": "portmap",
      "capabilities": {"portMappings": true}
    }
  ]
}`

func TestConflist(t *testing.T) {
	tests := []struct {
		name    string
		podCIDR string
		want    string // compact JSON; "" when an error is expected
	}{
		{name: "network", podCIDR: "10.244.1.0/24", want: wantConflist},
		{name: "host bits are cleared", podCIDR: "10.244.1.7/24", want: wantConflist},
		{name: "empty", podCIDR: ""},
		{name: "not a CIDR", podCIDR: "10.244.1.0"},
		{name: "IPv6", podCIDR: "fd00:10:244:1::/64"},
		{name: "garbage", podCIDR: "ten/24"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := conflist(tt.podCIDR)
			if tt.want == "" {
				if err == nil {
					t.Fatalf("conflist(%q) = %s, want an error", tt.podCIDR, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("conflist(%q): %v", tt.podCIDR, err)
			}
			if !bytes.HasSuffix(got, []byte("\n")) {
				t.Errorf("conflist(%q) does not end in a newline", tt.podCIDR)
			}
			if g, w := compactJSON(t, got), compactJSON(t, []byte(tt.want)); g != w {
				t.Errorf("conflist(%q) =\n%s\nwant\n%s", tt.podCIDR, g, w)
			}
		})
	}
}

func compactJSON(t *testing.T, data []byte) string {
	t.Helper()
	var b bytes.Buffer
	if err := json.Compact(&b, data); err != nil {
		t.Fatalf("not JSON: %v\n%s", err, data)
	}
	return b.String()
}

func TestWriteFileAtomic(t *testing.T) {
	tests := []struct {
		name        string
		existing    string // "" for no file
		data        string
		wantChanged bool
	}{
		{name: "new file", data: "a\n", wantChanged: true},
		{name: "same content", existing: "a\n", data: "a\n", wantChanged: false},
		{name: "new content", existing: "a\n", data: "b\n", wantChanged: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "net.d") // created on demand
			path := filepath.Join(dir, confName)
			if tt.existing != "" {
				if err := os.MkdirAll(dir, 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(tt.existing), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			changed, err := writeFileAtomic(path, []byte(tt.data), 0o644)
			if err != nil {
				t.Fatalf("writeFileAtomic: %v", err)
			}
			if changed != tt.wantChanged {
				t.Errorf("changed = %v, want %v", changed, tt.wantChanged)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.data {
				t.Errorf("file holds %q, want %q", got, tt.data)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o644 {
				t.Errorf("mode = %v, want 0644", fi.Mode().Perm())
			}
			entries, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range entries {
				if e.Name() != confName {
					t.Errorf("left behind %s", e.Name())
				}
			}
		})
	}
}
