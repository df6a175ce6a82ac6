package kind

import (
	"archive/tar"
	"io"
	"testing"
)

func TestParseEtcdVersionReadsTheVersionLine(t *testing.T) {
	got, err := parseEtcdVersion("etcd Version: 3.6.8\nGit SHA: Not provided\nGo Version: go1.26.8\n")
	if err != nil || got != "3.6.8" {
		t.Errorf("parseEtcdVersion = %q, %v; want 3.6.8", got, err)
	}
	if _, err := parseEtcdVersion("etcdctl version: 3.6.8\n"); err == nil {
		t.Error("output without an 'etcd Version:' line was accepted")
	}
}

func TestSingleFileTarHoldsTheBinaryAtItsPath(t *testing.T) {
	buf, err := singleFileTar(etcdBinaryInMember, []byte("ELF"), 0o755)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(buf)
	h, err := tr.Next()
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(tr)
	if h.Name != "usr/local/bin/etcd" || h.Mode != 0o755 || string(data) != "ELF" {
		t.Errorf("entry %s mode %o data %q", h.Name, h.Mode, data)
	}
	if _, err := tr.Next(); err != io.EOF {
		t.Errorf("more than one entry: %v", err)
	}
}
