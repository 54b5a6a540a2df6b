package main

// Working directories of runs that were killed outright. A launcher that gets SIGINT/SIGTERM or loses its stdin
// removes its directory on the way out; one killed with SIGKILL, or a machine restarted under it, cannot, and each
// such run left ~130 MiB in $TMPDIR (etcd's data, logs, certificates). Every directory now records its owner (the
// launcher's pid and that process's start time, so a reused pid is not taken for it), and each launcher removes
// the directories whose owner is gone before it makes its own. A directory with no owner file (made before this)
// is left alone unless it has not changed for a day, and one with a mount beneath it is always left alone:
// removing it would reach into whatever is mounted there.

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

const (
	dirPattern    = "secretwire-controlplane-*"
	ownerFile     = "owner"
	legacyMaxIdle = 24 * time.Hour
)

// processStart is a process's start time in clock ticks since boot (field 22 of /proc/PID/stat), or "" when the
// process does not exist.
func processStart(pid int) string {
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return ""
	}
	// The command name (field 2) is in parentheses and may hold spaces: the fields after it follow the last ')'.
	s := string(stat)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(fields) < 20 {
		return ""
	}
	return fields[19]
}

// writeOwner records this process as the owner of dir.
func writeOwner(dir string) error {
	pid := os.Getpid()
	return os.WriteFile(filepath.Join(dir, ownerFile), []byte(fmt.Sprintf("%d %s\n", pid, processStart(pid))), 0o600)
}

// ownerAlive says whether the process recorded in dir's owner file still runs; known is false without the file.
func ownerAlive(dir string) (alive, known bool) {
	text, err := os.ReadFile(filepath.Join(dir, ownerFile))
	if err != nil {
		return false, false
	}
	var pid int
	var start string
	if _, err := fmt.Sscanf(string(text), "%d %s", &pid, &start); err != nil {
		// Unreadable: treated as alive, so nothing is removed on a guess.
		return true, true
	}
	return processStart(pid) == start, true
}

// removeStale removes the launcher directories under parent whose owner is gone, and returns them.
func removeStale(parent string, now time.Time) ([]string, error) {
	dirs, err := filepath.Glob(filepath.Join(parent, dirPattern))
	if err != nil {
		return nil, err
	}
	mounted, err := mounts()
	if err != nil {
		return nil, err
	}
	var removed []string
	for _, dir := range dirs {
		info, err := os.Lstat(dir)
		if err != nil || !info.IsDir() {
			continue
		}
		alive, known := ownerAlive(dir)
		if alive || (!known && now.Sub(info.ModTime()) < legacyMaxIdle) {
			continue
		}
		if hasMountBeneath(mounted, dir) {
			continue
		}
		if err := os.RemoveAll(dir); err != nil {
			return removed, err
		}
		removed = append(removed, dir)
	}
	return removed, nil
}

func hasMountBeneath(mounted map[string]string, dir string) bool {
	for m := range mounted {
		if m == dir || strings.HasPrefix(m, dir+"/") {
			return true
		}
	}
	return false
}
