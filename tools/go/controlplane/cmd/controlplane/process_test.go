package main

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// A server whose first start loses its port (it logs what kube-scheduler logged in CI and exits) is started again
// after rebind, and one that fails for another reason is not.
func TestStartRebindsAfterLostPort(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "second")
	// The first run logs the bind error and exits 1; after rebind the script stays up and the probe passes.
	script := `if [ -e "$1" ]; then exec sleep 30; fi; echo 'E1204 run.go:72] "command failed" err="failed to listen on 127.0.0.1:19393: listen tcp 127.0.0.1:19393: bind: address already in use"'; exit 1`
	rebinds := 0
	s := &server{
		name: "fake", path: "/bin/sh", args: []string{"-c", script, "sh", marker}, logPath: filepath.Join(dir, "fake.log"),
		healthy: func(context.Context) error {
			if _, err := os.Stat(marker); err != nil {
				return errors.New("not yet")
			}
			return nil
		},
	}
	s.rebind = func() error {
		rebinds++
		return os.WriteFile(marker, nil, 0o600)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := s.start(ctx); err != nil {
		t.Fatalf("start: %v", err)
	}
	defer s.stop()
	if rebinds != 1 {
		t.Fatalf("rebinds = %d, want 1", rebinds)
	}

	other := &server{
		name: "other", path: "/bin/sh", args: []string{"-c", "echo 'something else'; exit 1"}, logPath: filepath.Join(dir, "other.log"),
		healthy: func(context.Context) error { return errors.New("never") },
		rebind:  func() error { t.Fatal("rebind called for a failure that is not a lost port"); return nil },
	}
	if err := other.start(ctx); err == nil {
		t.Fatal("a server that exits for another reason started")
	}
}
