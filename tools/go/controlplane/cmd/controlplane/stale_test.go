package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// The directory of a launcher that is gone is removed; its own, a live owner's, a fresh one without an owner and
// anything not named like a launcher's are kept; an ownerless one a day old is removed.
func TestRemoveStale(t *testing.T) {
	parent := t.TempDir()
	mk := func(name string) string {
		dir := filepath.Join(parent, name)
		if err := os.Mkdir(dir, 0o700); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	// A process that has exited: its pid and start time, as its launcher would have written them.
	gone := exec.Command("true")
	if err := gone.Start(); err != nil {
		t.Fatal(err)
	}
	pid := gone.Process.Pid
	start := processStart(pid)
	if err := gone.Wait(); err != nil {
		t.Fatal(err)
	}
	dead := mk("secretwire-controlplane-dead")
	if err := os.WriteFile(filepath.Join(dead, ownerFile), []byte(fmt.Sprintf("%d %s\n", pid, start)), 0o600); err != nil {
		t.Fatal(err)
	}
	live := mk("secretwire-controlplane-live")
	if err := writeOwner(live); err != nil {
		t.Fatal(err)
	}
	fresh := mk("secretwire-controlplane-fresh")
	old := mk("secretwire-controlplane-old")
	dayAgo := time.Now().Add(-25 * time.Hour)
	if err := os.Chtimes(old, dayAgo, dayAgo); err != nil {
		t.Fatal(err)
	}
	other := mk("someone-else")
	if err := os.Chtimes(other, dayAgo, dayAgo); err != nil {
		t.Fatal(err)
	}

	removed, err := removeStale(parent, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if len(removed) != 2 || removed[0] != dead || removed[1] != old {
		t.Errorf("removed %v, want [%s %s]", removed, dead, old)
	}
	for _, kept := range []string{live, fresh, other} {
		if _, err := os.Stat(kept); err != nil {
			t.Errorf("%s: %v", kept, err)
		}
	}
}
