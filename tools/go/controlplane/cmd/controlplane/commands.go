package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"syscall"
	"time"
)

// serveCommands reads one command per line from stdin and answers each with one JSON line on stdout. Tests use
// them to inject faults into the real API server:
//
//	stop-apiserver    SIGTERM the API server and wait for it to exit
//	start-apiserver   start it again with the same address, certificates and etcd; wait until ready
//	pause-apiserver   SIGSTOP: connections are accepted by the kernel but nothing answers
//	resume-apiserver  SIGCONT
//	start-sidecar NAME  start sidecar NAME (a --sidecar-manual one, or one stopped before); wait until started
//	stop-sidecar NAME   SIGTERM sidecar NAME and wait for it to exit
//
// It returns on EOF or on a signal.
func serveCommands(signals <-chan os.Signal, api *apiServer, sidecars map[string]*server) error {
	lines := make(chan string)
	go func() {
		scanner := bufio.NewScanner(os.Stdin)
		for scanner.Scan() {
			lines <- strings.TrimSpace(scanner.Text())
		}
		close(lines)
	}()
	for {
		select {
		case <-signals:
			return nil
		case line, ok := <-lines:
			if !ok {
				return nil
			}
			if line == "" {
				continue
			}
			reply := map[string]any{"command": line}
			if err := execute(line, api, sidecars); err != nil {
				reply["error"] = err.Error()
			} else {
				reply["ok"] = true
				reply["apiserverPid"] = api.pid()
				pids := map[string]int{}
				for name, side := range sidecars {
					pids[name] = side.pid()
				}
				reply["sidecarPids"] = pids
			}
			out, _ := json.Marshal(reply)
			fmt.Println(string(out))
		}
	}
}

func execute(line string, api *apiServer, sidecars map[string]*server) error {
	command, arg, _ := strings.Cut(line, " ")
	switch command {
	case "stop-apiserver":
		api.stop()
		return nil
	case "start-apiserver":
		if api.running() {
			return fmt.Errorf("kube-apiserver is already running")
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		return api.start(ctx)
	case "start-sidecar", "stop-sidecar":
		side, ok := sidecars[arg]
		if !ok {
			return fmt.Errorf("no sidecar named %q", arg)
		}
		if command == "stop-sidecar" {
			side.stop()
			return nil
		}
		if side.running() {
			return fmt.Errorf("sidecar %s is already running", arg)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		return side.start(ctx)
	case "pause-apiserver":
		return api.signal(syscall.SIGSTOP)
	case "resume-apiserver":
		return api.signal(syscall.SIGCONT)
	default:
		return fmt.Errorf("unknown command %q", command)
	}
}
