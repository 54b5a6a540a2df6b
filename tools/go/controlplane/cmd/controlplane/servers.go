package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
)

type etcdServer struct {
	server
	clientURL string
}

func newEtcd(binDir, dir string) (*etcdServer, error) {
	clientPort, err := freePort()
	if err != nil {
		return nil, err
	}
	peerPort, err := freePort()
	if err != nil {
		return nil, err
	}
	clientURL := fmt.Sprintf("http://127.0.0.1:%d", clientPort)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", peerPort)
	e := &etcdServer{clientURL: clientURL}
	e.server = server{
		name: "etcd",
		path: filepath.Join(binDir, "etcd"),
		args: []string{
			"--name=secretwire",
			"--data-dir=" + filepath.Join(dir, "etcd"),
			"--listen-client-urls=" + clientURL,
			"--advertise-client-urls=" + clientURL,
			"--listen-peer-urls=" + peerURL,
			"--initial-advertise-peer-urls=" + peerURL,
			"--initial-cluster=secretwire=" + peerURL,
			// A throw-away store: durability buys nothing and fsync dominates its latency.
			"--unsafe-no-fsync",
			"--log-level=warn",
		},
		logPath: filepath.Join(dir, "etcd.log"),
	}
	e.healthy = func(ctx context.Context) error {
		return probe(ctx, http.DefaultClient, clientURL+"/health", `"health":"true"`)
	}
	return e, nil
}

type apiServer struct {
	server
	url string
}

// newAPIServer prepares kube-apiserver on a free loopback port. With a node (nodeIP set) it listens on every
// address of the run's network namespace, so Pods reach it at the node address (through the kubernetes
// Service's ClusterIP, which kube-proxy routes), and it reaches the kubelet with its own client certificate.
func newAPIServer(binDir, dir string, pki *pki, etcdURL, nodeIP string) (*apiServer, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	url := fmt.Sprintf("https://127.0.0.1:%d", port)
	a := &apiServer{url: url}
	a.server = server{
		name: "kube-apiserver",
		path: filepath.Join(binDir, "kube-apiserver"),
		args: []string{
			"--etcd-servers=" + etcdURL,
			fmt.Sprintf("--secure-port=%d", port),
			"--cert-dir=" + filepath.Join(dir, "apiserver"),
			"--tls-cert-file=" + pki.servingCertFile,
			"--tls-private-key-file=" + pki.servingKeyFile,
			"--client-ca-file=" + pki.caFile,
			// As kubeadm sets them: kubelets are authorized by the Node authorizer and limited to their own
			// Node and Pods by NodeRestriction; everyone else by RBAC.
			"--authorization-mode=Node,RBAC",
			"--enable-admission-plugins=NodeRestriction",
			"--service-cluster-ip-range=" + serviceCIDR,
			"--service-account-issuer=" + url,
			"--service-account-key-file=" + pki.saPublicKeyFile,
			"--service-account-signing-key-file=" + pki.saPrivateKeyFile,
			"--allow-privileged=true",
			"--profiling=false",
		},
		logPath: filepath.Join(dir, "kube-apiserver.log"),
	}
	if nodeIP == "" {
		a.args = append(a.args,
			"--bind-address=127.0.0.1",
			// Without it the server advertises a non-loopback address, or fails when there is none.
			"--advertise-address=127.0.0.1",
			// Since 1.37 a loopback address may not back the default/kubernetes Service's endpoints, and nothing
			// here routes Service addresses: no endpoint for that Service (clients are given the URL instead).
			"--endpoint-reconciler-type=none",
		)
	} else {
		a.args = append(a.args,
			"--bind-address=0.0.0.0",
			"--advertise-address="+nodeIP,
			// Webhooks registered by Service are called at an endpoint's address: no kube-proxy needed for that.
			"--enable-aggregator-routing=true",
			"--kubelet-client-certificate="+filepath.Join(dir, "pki", "apiserver-kubelet-client.crt"),
			"--kubelet-client-key="+filepath.Join(dir, "pki", "apiserver-kubelet-client.key"),
			"--kubelet-preferred-address-types=InternalIP",
		)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{
		RootCAs: pki.caPool, Certificates: []tls.Certificate{pki.adminCert},
	}}}
	a.healthy = func(ctx context.Context) error { return probe(ctx, client, url+"/readyz", "ok") }
	return a, nil
}

func probe(ctx context.Context, client *http.Client, url, want string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), want) {
		return fmt.Errorf("%s: HTTP %d: %s", url, resp.StatusCode, strings.TrimSpace(string(body)))
	}
	return nil
}

// newSidecar prepares NAME=PATH with the --sidecar-arg and --sidecar-env values given for NAME, run with
// KUBECONFIG set to the admin kubeconfig unless its environment says otherwise. "{dir}" in a value stands for
// the control plane's working directory (for files the caller writes there before a manual start).
func newSidecar(spec string, args, env []string, dir, kubeconfig string) (*server, error) {
	name, path, ok := strings.Cut(spec, "=")
	if !ok || name == "" || path == "" {
		return nil, fmt.Errorf("--sidecar %q: want NAME=PATH", spec)
	}
	own := func(values []string) []string {
		var out []string
		for _, a := range values {
			if n, value, ok := strings.Cut(a, "="); ok && n == name {
				out = append(out, strings.ReplaceAll(value, "{dir}", dir))
			}
		}
		return out
	}
	return &server{
		name:    name,
		path:    path,
		args:    own(args),
		env:     append([]string{"KUBECONFIG=" + kubeconfig}, own(env)...),
		logPath: filepath.Join(dir, name+".log"),
		// Started is enough: what it does is observed through the API server.
		healthy: func(context.Context) error { return nil },
	}, nil
}
