package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"
)

// server is one child process (etcd or kube-apiserver) with its log file and a readiness probe.
type server struct {
	name    string
	path    string
	args    []string
	env     []string // added to this process's environment
	logPath string
	healthy func(context.Context) error
	// rebind, when set, moves the server to another free port. A port is checked free and then bound by the
	// server a moment later (ports.go); a concurrent launcher or test server can take it in between, which CI saw
	// (kube-scheduler: "bind: address already in use"). Such a start is tried again, on a new port.
	rebind func() error

	cmd     *exec.Cmd
	exited  chan struct{}
	waitErr error
}

// start launches the process and waits until its probe passes, it exits, or ctx ends; a server that lost the race
// for its port is started again on another (at most 3 times). Call it only from the main goroutine (see init in
// main.go).
func (s *server) start(ctx context.Context) error {
	for attempt := 1; ; attempt++ {
		var logged int64
		if info, err := os.Stat(s.logPath); err == nil {
			logged = info.Size()
		}
		err := s.startOnce(ctx)
		if err == nil || s.rebind == nil || attempt == 3 || !s.lostPort(logged) {
			return err
		}
		if err := s.rebind(); err != nil {
			return err
		}
	}
}

// lostPort reports whether the log written since offset says the port was taken.
func (s *server) lostPort(offset int64) bool {
	data, err := os.ReadFile(s.logPath)
	if err != nil || int64(len(data)) < offset {
		return false
	}
	return bytes.Contains(data[offset:], []byte("bind: address already in use"))
}

func (s *server) startOnce(ctx context.Context) error {
	logFile, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(s.path, s.args...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if len(s.env) > 0 {
		cmd.Env = append(os.Environ(), s.env...)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return fmt.Errorf("starting %s: %w", s.name, err)
	}
	s.cmd, s.exited = cmd, make(chan struct{})
	go func() {
		s.waitErr = cmd.Wait()
		logFile.Close()
		close(s.exited)
	}()

	var last error
	for {
		if last = s.healthy(ctx); last == nil {
			return nil
		}
		select {
		case <-s.exited:
			return fmt.Errorf("%s exited before it was ready (%v); end of %s:\n%s", s.name, s.waitErr, s.logPath, tail(s.logPath))
		case <-ctx.Done():
			return fmt.Errorf("%s not ready in time (last probe: %v); end of %s:\n%s", s.name, last, s.logPath, tail(s.logPath))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// stop sends SIGTERM, and SIGKILL if the process has not exited after 15 s.
func (s *server) stop() {
	if !s.running() {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	_ = s.cmd.Process.Signal(syscall.SIGCONT) // a paused process would never see the SIGTERM
	select {
	case <-s.exited:
	case <-time.After(15 * time.Second):
		_ = s.cmd.Process.Kill()
		<-s.exited
	}
}

func (s *server) running() bool {
	if s.exited == nil {
		return false
	}
	select {
	case <-s.exited:
		return false
	default:
		return true
	}
}

func (s *server) signal(sig syscall.Signal) error {
	if !s.running() {
		return errors.New(s.name + " is not running")
	}
	return s.cmd.Process.Signal(sig)
}

func (s *server) pid() int {
	if !s.running() {
		return 0
	}
	return s.cmd.Process.Pid
}

// tail returns the last lines of a log, enough to say why a server did not start.
func tail(path string) string {
	data, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) > 30 {
		lines = lines[len(lines)-30:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}
