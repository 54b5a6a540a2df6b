package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// The controller manager and the scheduler, as a real cluster runs them: each with its own identity (a client
// certificate for the user the bootstrap RBAC policy grants its rights to), every controller with its own
// ServiceAccount (--use-service-account-credentials, as kubeadm sets it), no leader election (one replica).

// Pod and Service address ranges. Nothing routes them: the API server allocates Service ClusterIPs from one and
// the node IPAM controller hands out Pod CIDRs from the other; only network namespaces a run creates use them.
const (
	serviceCIDR = "10.0.0.0/24"
	clusterCIDR = "10.244.0.0/16"
)

func newControllerManager(binDir, dir, apiURL string, p *pki) (*server, error) {
	return newComponent("kube-controller-manager", binDir, dir, apiURL, p,
		"--use-service-account-credentials=true",
		"--service-account-private-key-file="+p.saPrivateKeyFile,
		// Publishes kube-root-ca.crt in every namespace, as the ESO store's caProvider expects.
		"--root-ca-file="+p.caFile,
		"--cluster-signing-cert-file="+p.caFile,
		"--cluster-signing-key-file="+p.caKeyFile,
		"--service-cluster-ip-range="+serviceCIDR,
		"--cluster-cidr="+clusterCIDR,
		"--allocate-node-cidrs=true",
	)
}

func newScheduler(binDir, dir, apiURL string, p *pki) (*server, error) {
	return newComponent("kube-scheduler", binDir, dir, apiURL, p)
}

// newComponent prepares a control-plane component that authenticates with its own client certificate (the
// kubeconfig is written here), serves /healthz on a free loopback port and does not elect a leader.
func newComponent(name, binDir, dir, apiURL string, p *pki, extra ...string) (*server, error) {
	kubeconfig := filepath.Join(dir, name+".kubeconfig")
	if _, err := writeClientKubeconfig(kubeconfig, apiURL, p, p.clients[name]); err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	args := append([]string{
		"--kubeconfig=" + kubeconfig,
		"--authentication-kubeconfig=" + kubeconfig,
		"--authorization-kubeconfig=" + kubeconfig,
		"--bind-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", port),
		"--cert-dir=" + filepath.Join(dir, name),
		"--leader-elect=false",
		"--profiling=false",
	}, extra...)
	srv := &server{
		name:    name,
		path:    filepath.Join(binDir, name),
		args:    args,
		logPath: filepath.Join(dir, name+".log"),
		healthy: healthz(port),
	}
	srv.rebind = func() error {
		port, err := freePort()
		if err != nil {
			return err
		}
		srv.args[slices.IndexFunc(srv.args, func(a string) bool { return strings.HasPrefix(a, "--secure-port=") })] = fmt.Sprintf("--secure-port=%d", port)
		srv.healthy = healthz(port)
		return nil
	}
	return srv, nil
}

// healthz probes a component's /healthz on loopback. Its serving certificate is self-signed and made at start,
// so it is not verified: the probe only asks whether the process is up.
func healthz(port int) func(context.Context) error {
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	return func(ctx context.Context) error {
		return probe(ctx, client, fmt.Sprintf("https://127.0.0.1:%d/healthz", port), "ok")
	}
}

// untilControllersAct waits until the controllers have done what every namespace needs before Pods can be
// created in it: the ServiceAccount controller's "default" ServiceAccount (the ServiceAccount admission plugin
// refuses Pods without it) and the root CA publisher's kube-root-ca.crt, in the default namespace.
func untilControllersAct(ctx context.Context, cfg *rest.Config) error {
	client, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return err
	}
	for {
		_, saErr := client.CoreV1().ServiceAccounts("default").Get(ctx, "default", metav1.GetOptions{})
		_, cmErr := client.CoreV1().ConfigMaps("default").Get(ctx, "kube-root-ca.crt", metav1.GetOptions{})
		if saErr == nil && cmErr == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("the controllers did not act in time (default ServiceAccount: %v; kube-root-ca.crt: %v)", saErr, cmErr)
		case <-time.After(50 * time.Millisecond):
		}
	}
}
