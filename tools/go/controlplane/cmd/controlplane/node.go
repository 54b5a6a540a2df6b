package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// A node on this machine, so Pods run: containerd (with runc and the CNI bridge), the kubelet and kube-proxy.
// It runs inside the network, mount and PID namespaces that tools/node/with-node.ts creates for the whole run:
// every address is the run's own (the node IP is on a veth pair inside it), /run, /var/lib and /var/log are
// tmpfs there (the paths containerd and the kubelet insist on), and when the run ends the kernel kills whatever
// is left in its PID namespace. The launcher refuses --node-ip anywhere else (checkNodeNamespaces).

// nodeOptions come from the command line.
type nodeOptions struct {
	ip           string // the node's address, on an interface of the run's network namespace
	sandboxImage string // the pause image, imported from one of images
	cniBinDir    string
	images       list // OCI image tars to import before the kubelet starts
}

// checkNodeNamespaces refuses to run a node on the machine itself: containerd and the kubelet would write to
// the host's /run, /var/lib and /var/log.
func checkNodeNamespaces() error {
	fsTypes, err := mounts()
	if err != nil {
		return err
	}
	for _, path := range []string{"/run", "/var/lib", "/var/log"} {
		if fsTypes[path] != "tmpfs" {
			return fmt.Errorf("--node-ip: %s is not a tmpfs of this run's own mount namespace; start the node with tools/node/with-node.ts", path)
		}
	}
	return nil
}

// mounts maps each mount point this process sees to its filesystem type (/proc/self/mountinfo: the mount point is
// the fifth field, the type the one after the "-" separator).
func mounts() (map[string]string, error) {
	data, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	fsTypes := map[string]string{}
	scanner := bufio.NewScanner(strings.NewReader(string(data)))
	for scanner.Scan() {
		fields := strings.Fields(scanner.Text())
		for i, f := range fields {
			if f == "-" && i+1 < len(fields) && len(fields) > 4 {
				fsTypes[fields[4]] = fields[i+1]
			}
		}
	}
	return fsTypes, scanner.Err()
}

func newContainerd(dir string, o nodeOptions) (*server, error) {
	config := filepath.Join(dir, "containerd.toml")
	cniDir := filepath.Join(dir, "cni")
	if err := os.MkdirAll(cniDir, 0o755); err != nil {
		return nil, err
	}
	// containerd 1.6's CRI plugin. restrict_oom_score_adj: this VM denies raising oom_score_adj (no
	// CAP_SYS_RESOURCE), which every sandbox would otherwise fail on.
	toml := fmt.Sprintf(`version = 2
root = "/var/lib/containerd"
state = "/run/containerd"
[grpc]
  address = "/run/containerd/containerd.sock"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = %q
  restrict_oom_score_adj = true
  disable_apparmor = true
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = %q
    conf_dir = %q
`, o.sandboxImage, o.cniBinDir, cniDir)
	if err := os.WriteFile(config, []byte(toml), 0o644); err != nil {
		return nil, err
	}
	return &server{
		name:    "containerd",
		path:    "containerd",
		args:    []string{"--config", config},
		logPath: filepath.Join(dir, "containerd.log"),
		healthy: func(ctx context.Context) error {
			return exec.CommandContext(ctx, "ctr", "--address", containerdSocket, "version").Run()
		},
	}, nil
}

const containerdSocket = "/run/containerd/containerd.sock"

// importImages loads the OCI image tars into containerd's k8s.io namespace, where the kubelet looks for them.
func importImages(ctx context.Context, images []string) error {
	for _, image := range images {
		out, err := exec.CommandContext(ctx, "ctr", "--address", containerdSocket, "-n", "k8s.io", "images", "import", image).CombinedOutput()
		if err != nil {
			return fmt.Errorf("importing %s: %v: %s", image, err, out)
		}
	}
	return nil
}

func newKubelet(kubeBinDir, dir, apiURL string, p *pki, o nodeOptions) (*server, error) {
	kubeconfig := filepath.Join(dir, "kubelet.kubeconfig")
	if _, err := writeClientKubeconfig(kubeconfig, apiURL, p, p.clients["kubelet"]); err != nil {
		return nil, err
	}
	// No DNS server runs here: Pods get an empty resolv.conf, so nothing they do can reach the machine's resolver.
	resolv := filepath.Join(dir, "resolv.conf")
	if err := os.WriteFile(resolv, nil, 0o644); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	config := filepath.Join(dir, "kubelet.yaml")
	yaml := fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This machine has cgroup v1 and no systemd; the kubelet warns that v1 is deprecated, and runs.
cgroupDriver: cgroupfs
failCgroupV1: false
failSwapOn: false
containerRuntimeEndpoint: unix://%s
podLogsDir: /var/log/pods
address: %s
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: %d
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: %s}
authorization: {mode: Webhook}
resolvConf: %s
# Mounted Secrets and ConfigMaps reach Pods at the next sync of each Pod: every 10 s here (a cluster's 1 min),
# so a rotated certificate or an edited policy reaches secretwire's Pods within the tests' patience.
syncFrequency: 10s
# The kubelet sets kernel.panic, kernel.panic_on_oops and vm.overcommit_memory as a node needs them;
# tools/node/with-node.ts restores the machine's values when the run ends.
protectKernelDefaults: false
`, containerdSocket, o.ip, port, p.caFile, resolv)
	if err := os.WriteFile(config, []byte(yaml), 0o644); err != nil {
		return nil, err
	}
	return &server{
		name: "kubelet",
		path: filepath.Join(kubeBinDir, "kubelet"),
		// The node is named by its address: this machine's hostname resolves to 127.0.0.1, and the API server
		// reaches a kubelet by its node name first.
		args:    []string{"--config=" + config, "--kubeconfig=" + kubeconfig, "--node-ip=" + o.ip, "--hostname-override=" + o.ip},
		logPath: filepath.Join(dir, "kubelet.log"),
		healthy: func(ctx context.Context) error {
			return probe(ctx, http.DefaultClient, fmt.Sprintf("http://127.0.0.1:%d/healthz", port), "ok")
		},
	}, nil
}

func newKubeProxy(binDir, dir, apiURL string, p *pki, o nodeOptions) (*server, error) {
	kubeconfig := filepath.Join(dir, "kube-proxy.kubeconfig")
	if _, err := writeClientKubeconfig(kubeconfig, apiURL, p, p.clients["kube-proxy"]); err != nil {
		return nil, err
	}
	healthPort, err := freePort()
	if err != nil {
		return nil, err
	}
	metricsPort, err := freePort()
	if err != nil {
		return nil, err
	}
	return &server{
		name: "kube-proxy",
		path: filepath.Join(binDir, "kube-proxy"),
		args: []string{
			"--kubeconfig=" + kubeconfig,
			"--hostname-override=" + o.ip,
			"--cluster-cidr=" + clusterCIDR,
			// Rules in the run's network namespace only: Service addresses (the API server's 10.0.0.1 for Pods
			// using in-cluster configuration) route to their endpoints.
			"--proxy-mode=iptables",
			// nf_conntrack_max is machine-wide: left as it is.
			"--conntrack-max-per-core=0",
			fmt.Sprintf("--healthz-bind-address=127.0.0.1:%d", healthPort),
			fmt.Sprintf("--metrics-bind-address=127.0.0.1:%d", metricsPort),
			"--profiling=false",
		},
		logPath: filepath.Join(dir, "kube-proxy.log"),
		healthy: func(ctx context.Context) error {
			return probe(ctx, http.DefaultClient, fmt.Sprintf("http://127.0.0.1:%d/healthz", healthPort), "lastUpdated")
		},
	}, nil
}

// untilNodeRegistered waits for the kubelet's Node and the Pod CIDR the controller manager gives it, and writes
// the CNI configuration for that range: the bridge plugin with host-local addresses, no masquerading (nothing
// leaves the run's network namespace).
func untilNodeRegistered(ctx context.Context, cfg *rest.Config, dir, name string) error {
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	for {
		node, err := client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err == nil && node.Spec.PodCIDR != "" {
			conf, _ := json.Marshal(map[string]any{
				"cniVersion": "0.4.0",
				"name":       "secretwire",
				"plugins": []any{map[string]any{
					"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false,
					"ipam": map[string]any{
						"type": "host-local", "ranges": [][]map[string]string{{{"subnet": node.Spec.PodCIDR}}},
						"routes": []map[string]string{{"dst": "0.0.0.0/0"}},
					},
				}},
			})
			return os.WriteFile(filepath.Join(dir, "cni", "10-secretwire.conflist"), conf, 0o644)
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("node %s not registered with a Pod CIDR in time (last: %v)", name, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// untilNodeReady waits until the Node reports Ready (the runtime and its network are up).
func untilNodeReady(ctx context.Context, cfg *rest.Config, name string) error {
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	last := "not registered"
	for {
		node, err := client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			for _, c := range node.Status.Conditions {
				if c.Type == "Ready" {
					if c.Status == "True" {
						return nil
					}
					last = c.Message
				}
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("node %s not Ready in time: %s", name, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// nodeProcesses are the node's processes, stopped kubelet first (it stops no containers on exit; the PID
// namespace's end does), then kube-proxy and containerd.
type nodeProcesses struct {
	containerd, kubelet, kubeProxy *server
}

func (n *nodeProcesses) servers() []*server {
	return []*server{n.containerd, n.kubelet, n.kubeProxy}
}

func (n *nodeProcesses) stop() {
	n.kubelet.stop()
	n.kubeProxy.stop()
	n.containerd.stop()
}

// startNode brings the node up in order: containerd and the images, the kubelet, the network for the Pod CIDR
// the controller manager assigns, kube-proxy; it returns once the Node is Ready. On error the processes started
// so far are in the returned value, for the caller to stop.
func startNode(ctx context.Context, binDir, kubeBinDir, dir, apiURL string, cfg *rest.Config, p *pki, o nodeOptions) (*nodeProcesses, error) {
	if _, err := os.Stat(filepath.Join(kubeBinDir, "kubelet")); err != nil {
		return nil, fmt.Errorf("no kubelet for this Kubernetes version in %s: a node runs only with the newest", kubeBinDir)
	}
	containerd, err := newContainerd(dir, o)
	if err != nil {
		return nil, err
	}
	kubelet, err := newKubelet(kubeBinDir, dir, apiURL, p, o)
	if err != nil {
		return nil, err
	}
	kubeProxy, err := newKubeProxy(binDir, dir, apiURL, p, o)
	if err != nil {
		return nil, err
	}
	n := &nodeProcesses{containerd: containerd, kubelet: kubelet, kubeProxy: kubeProxy}
	if err := containerd.start(ctx); err != nil {
		return n, err
	}
	if err := importImages(ctx, o.images); err != nil {
		return n, err
	}
	if err := kubelet.start(ctx); err != nil {
		return n, err
	}
	if err := untilNodeRegistered(ctx, cfg, dir, o.ip); err != nil {
		return n, fmt.Errorf("%w; end of %s:\n%s", err, kubelet.logPath, tail(kubelet.logPath))
	}
	if err := kubeProxy.start(ctx); err != nil {
		return n, err
	}
	if err := untilNodeReady(ctx, cfg, o.ip); err != nil {
		return n, fmt.Errorf("%w; end of %s:\n%s", err, kubelet.logPath, tail(kubelet.logPath))
	}
	return n, nil
}
