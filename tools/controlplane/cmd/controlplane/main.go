// Command controlplane runs a real etcd and a real kube-apiserver on loopback for secretwire's tests and demo.
//
// It expects the etcd and kube-apiserver binaries built from this module next to itself, generates a throw-away
// CA, serving and client certificates, starts both servers, installs the CRDs named by --crd, writes an admin
// kubeconfig and prints one JSON line on stdout once everything answers. It then runs until SIGINT/SIGTERM or
// until its stdin reaches EOF (so a parent that dies takes the control plane with it), stops both servers and
// removes its working directory. Lines on stdin are commands (see commands.go) used by fault-injection tests.
//
// --sidecar NAME=PATH starts another program once the API server is ready, with KUBECONFIG pointing at it and
// the same lifetime guarantees (the External Secrets Operator's controller, for end-to-end tests and the demo);
// --sidecar-arg NAME=ARG passes it arguments.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

func init() {
	// Children get Pdeathsig; Linux sends it when the *thread* that forked them exits. Pinning main to its OS
	// thread, and starting every child from main, makes that thread live exactly as long as the process.
	runtime.LockOSThread()
}

type list []string

func (c *list) String() string     { return strings.Join(*c, ",") }
func (c *list) Set(v string) error { *c = append(*c, v); return nil }

// ready is the line printed on stdout once the API server serves the CRDs.
type ready struct {
	Kubeconfig   string            `json:"kubeconfig"`
	SidecarLogs  map[string]string `json:"sidecarLogs,omitempty"`
	Server       string            `json:"server"`
	CAFile       string            `json:"caFile"`
	Dir          string            `json:"dir"`
	APIServerPID int               `json:"apiserverPid"`
	EtcdPID      int               `json:"etcdPid"`
	ReadyMillis  int64             `json:"readyMillis"`
}

func main() {
	var crds, sidecars, sidecarArgs list
	dir := flag.String("dir", "", "working directory (certificates, etcd data, logs); a new temporary one when empty, removed on exit")
	keep := flag.Bool("keep", false, "keep the working directory on exit")
	timeout := flag.Duration("timeout", 90*time.Second, "how long to wait for the control plane to become ready")
	flag.Var(&crds, "crd", "a CustomResourceDefinition file to install (repeatable)")
	flag.Var(&sidecars, "sidecar", "NAME=PATH of a program to run against the control plane once it is ready (repeatable)")
	flag.Var(&sidecarArgs, "sidecar-arg", "NAME=ARG: an argument for sidecar NAME (repeatable, in order)")
	flag.Parse()

	if err := run(*dir, *keep, *timeout, crds, sidecars, sidecarArgs); err != nil {
		fmt.Fprintf(os.Stderr, "controlplane: %v\n", err)
		os.Exit(1)
	}
}

func run(dir string, keep bool, timeout time.Duration, crds, sidecars, sidecarArgs []string) (err error) {
	started := time.Now()
	if dir == "" {
		if dir, err = os.MkdirTemp("", "secretwire-controlplane-"); err != nil {
			return err
		}
	} else if err = os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if !keep {
		defer os.RemoveAll(dir)
	}
	binDir, err := executableDir()
	if err != nil {
		return err
	}

	pki, err := writePKI(filepath.Join(dir, "pki"))
	if err != nil {
		return fmt.Errorf("certificates: %w", err)
	}
	etcd, err := newEtcd(binDir, dir)
	if err != nil {
		return err
	}
	api, err := newAPIServer(binDir, dir, pki, etcd.clientURL)
	if err != nil {
		return err
	}
	defer etcd.stop()
	defer api.stop()

	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	if err = etcd.start(ctx); err != nil {
		return err
	}
	if err = api.start(ctx); err != nil {
		return err
	}
	kubeconfig := filepath.Join(dir, "kubeconfig")
	cfg, err := writeKubeconfig(kubeconfig, api.url, pki)
	if err != nil {
		return err
	}
	if err = installCRDs(ctx, cfg, crds); err != nil {
		return fmt.Errorf("installing CRDs: %w", err)
	}
	logs := map[string]string{}
	for _, spec := range sidecars {
		side, err := newSidecar(spec, sidecarArgs, dir, kubeconfig)
		if err != nil {
			return err
		}
		// Deferred after the API server's stop, so it runs first: sidecars stop before the servers they use.
		defer side.stop()
		if err = side.start(ctx); err != nil {
			return err
		}
		logs[side.name] = side.logPath
	}

	line, _ := json.Marshal(ready{
		Kubeconfig: kubeconfig, SidecarLogs: logs, Server: api.url, CAFile: pki.caFile, Dir: dir,
		APIServerPID: api.pid(), EtcdPID: etcd.pid(), ReadyMillis: time.Since(started).Milliseconds(),
	})
	fmt.Println(string(line))

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	return serveCommands(signals, api)
}

func executableDir() (string, error) {
	self, err := os.Executable()
	if err != nil {
		return "", err
	}
	self, err = filepath.EvalSymlinks(self)
	if err != nil {
		return "", err
	}
	return filepath.Dir(self), nil
}
