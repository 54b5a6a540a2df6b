// Command controlplane runs a real Kubernetes control plane on loopback for secretwire's tests and demo: etcd,
// kube-apiserver, kube-controller-manager and kube-scheduler.
//
// It expects the binaries built from this module next to itself, generates a throw-away CA, serving and client
// certificates, starts the servers, installs the CRDs named by --crd, writes an admin kubeconfig and prints one
// JSON line on stdout once everything answers and the controllers act. It then runs until SIGINT/SIGTERM or
// until its stdin reaches EOF (so a parent that dies takes the control plane with it), stops every process and
// removes its working directory. Lines on stdin are commands (see commands.go) used by fault-injection tests.
//
// --sidecar NAME=PATH runs another program against the control plane with the same lifetime guarantees (the
// External Secrets Operator's controller, for end-to-end tests and the demo); --sidecar-arg NAME=ARG passes it
// arguments and --sidecar-env NAME=KEY=VALUE environment (KUBECONFIG defaults to the admin kubeconfig). A sidecar
// starts once the control plane is ready, or with --sidecar-manual NAME only on the start-sidecar command (so
// the caller can first create the identity it runs as).
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
	"slices"
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
	// The other processes this control plane runs, by name (kube-controller-manager, kube-scheduler, sidecars).
	PIDs        map[string]int `json:"pids"`
	ReadyMillis int64          `json:"readyMillis"`
	// How long each step took, in order (etcd, kube-apiserver, crds, ...): where a slow start went.
	Steps map[string]int64 `json:"stepMillis"`
}

type options struct {
	dir, kubeBinDir                                        string
	keep                                                   bool
	timeout                                                time.Duration
	crds, sidecars, sidecarArgs, sidecarEnv, sidecarManual list
	node                                                   nodeOptions
}

func main() {
	var o options
	flag.StringVar(&o.dir, "dir", "", "working directory (certificates, etcd data, logs); a new temporary one when empty, removed on exit")
	flag.BoolVar(&o.keep, "keep", false, "keep the working directory on exit")
	flag.StringVar(&o.kubeBinDir, "kube-bin-dir", "", "where kube-apiserver, kube-controller-manager and kube-scheduler are (another Kubernetes version); default next to this binary")
	flag.DurationVar(&o.timeout, "timeout", 120*time.Second, "how long to wait for the control plane to become ready")
	flag.Var(&o.crds, "crd", "a CustomResourceDefinition file to install (repeatable)")
	flag.Var(&o.sidecars, "sidecar", "NAME=PATH of a program to run against the control plane (repeatable)")
	flag.Var(&o.sidecarArgs, "sidecar-arg", "NAME=ARG: an argument for sidecar NAME (repeatable, in order)")
	flag.Var(&o.sidecarEnv, "sidecar-env", "NAME=KEY=VALUE: an environment variable for sidecar NAME (repeatable)")
	flag.Var(&o.sidecarManual, "sidecar-manual", "NAME: start sidecar NAME only on the start-sidecar command")
	flag.StringVar(&o.node.ip, "node-ip", "", "run a node with this address (inside tools/node/with-node.ts only): containerd, kubelet, kube-proxy")
	flag.StringVar(&o.node.sandboxImage, "sandbox-image", "", "with --node-ip: the pause image (imported with --image)")
	flag.StringVar(&o.node.cniBinDir, "cni-bin-dir", "/usr/lib/cni", "with --node-ip: where the CNI plugins are")
	flag.Var(&o.node.images, "image", "with --node-ip: an OCI image tar to import into the node's containerd (repeatable)")
	flag.Parse()

	if err := run(o); err != nil {
		fmt.Fprintf(os.Stderr, "controlplane: %v\n", err)
		os.Exit(1)
	}
}

func run(o options) (err error) {
	started := time.Now()
	dir := o.dir
	if dir == "" {
		// What runs killed outright left behind (stale.go); a failure here is said, not fatal.
		removed, sweepErr := removeStale(os.TempDir(), time.Now())
		if len(removed) > 0 {
			fmt.Fprintf(os.Stderr, "controlplane: removed %d working directories of runs that were killed: %s\n", len(removed), strings.Join(removed, " "))
		}
		if sweepErr != nil {
			fmt.Fprintf(os.Stderr, "controlplane: removing the working directories of killed runs: %v\n", sweepErr)
		}
		if dir, err = os.MkdirTemp("", strings.TrimSuffix(dirPattern, "*")); err != nil {
			return err
		}
		if err = writeOwner(dir); err != nil {
			return err
		}
	} else if err = os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	if !o.keep {
		defer os.RemoveAll(dir)
	}
	binDir, err := executableDir()
	if err != nil {
		return err
	}
	kubeBinDir := binDir
	if o.kubeBinDir != "" {
		kubeBinDir = o.kubeBinDir
	}

	if o.node.ip != "" {
		if err := checkNodeNamespaces(); err != nil {
			return err
		}
	}
	pki, err := writePKI(filepath.Join(dir, "pki"), o.node.ip)
	if err != nil {
		return fmt.Errorf("certificates: %w", err)
	}
	etcd, err := newEtcd(binDir, dir)
	if err != nil {
		return err
	}
	api, err := newAPIServer(kubeBinDir, dir, pki, etcd.clientURL, o.node.ip)
	if err != nil {
		return err
	}
	controllerManager, err := newControllerManager(kubeBinDir, dir, api.url, pki)
	if err != nil {
		return err
	}
	scheduler, err := newScheduler(kubeBinDir, dir, api.url, pki)
	if err != nil {
		return err
	}
	// Deferred calls run last-in first-out: every process stops before the servers it uses.
	defer etcd.stop()
	defer api.stop()
	defer controllerManager.stop()
	defer scheduler.stop()

	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	steps := map[string]int64{}
	last := time.Now()
	step := func(name string) {
		steps[name] = time.Since(last).Milliseconds()
		last = time.Now()
	}
	step("pki")
	if err = etcd.start(ctx); err != nil {
		return err
	}
	step("etcd")
	if err = api.start(ctx); err != nil {
		return err
	}
	step("kube-apiserver")
	kubeconfig := filepath.Join(dir, "kubeconfig")
	cfg, err := writeKubeconfig(kubeconfig, api.url, pki)
	if err != nil {
		return err
	}
	// CRDs before the controller manager: its quota and garbage-collector controllers discover resources at start
	// and then only every 30 s, and until then a ResourceQuota counting a custom resource refuses every create.
	if err = installCRDs(ctx, cfg, o.crds); err != nil {
		return fmt.Errorf("installing CRDs: %w", err)
	}
	step("crds")
	if err = controllerManager.start(ctx); err != nil {
		return err
	}
	step("kube-controller-manager")
	if err = scheduler.start(ctx); err != nil {
		return err
	}
	step("kube-scheduler")
	if err = untilControllersAct(ctx, cfg); err != nil {
		return fmt.Errorf("%w; end of %s:\n%s", err, controllerManager.logPath, tail(controllerManager.logPath))
	}
	step("controllers")
	pids := map[string]int{controllerManager.name: controllerManager.pid(), scheduler.name: scheduler.pid()}
	if o.node.ip != "" {
		node, err := startNode(ctx, binDir, kubeBinDir, dir, api.url, cfg, pki, o.node)
		if node != nil {
			defer node.stop()
		}
		if err != nil {
			return err
		}
		for _, s := range node.servers() {
			pids[s.name] = s.pid()
		}
		step("node")
	}

	sidecars := map[string]*server{}
	logs := map[string]string{}
	for _, spec := range o.sidecars {
		side, err := newSidecar(spec, o.sidecarArgs, o.sidecarEnv, dir, kubeconfig)
		if err != nil {
			return err
		}
		defer side.stop()
		sidecars[side.name], logs[side.name] = side, side.logPath
		if slices.Contains(o.sidecarManual, side.name) {
			continue
		}
		if err = side.start(ctx); err != nil {
			return err
		}
		step(side.name)
	}

	for name, side := range sidecars {
		pids[name] = side.pid()
	}
	line, _ := json.Marshal(ready{
		Kubeconfig: kubeconfig, SidecarLogs: logs, Server: api.url, CAFile: pki.caFile, Dir: dir,
		APIServerPID: api.pid(), EtcdPID: etcd.pid(), PIDs: pids, ReadyMillis: time.Since(started).Milliseconds(), Steps: steps,
	})
	fmt.Println(string(line))

	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM)
	return serveCommands(signals, api, sidecars)
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
