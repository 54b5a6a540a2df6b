package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
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

func newAPIServer(binDir, dir string, pki *pki, etcdURL string) (*apiServer, error) {
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
			"--bind-address=127.0.0.1",
			// Without it the server advertises a non-loopback address, or fails when there is none.
			"--advertise-address=127.0.0.1",
			fmt.Sprintf("--secure-port=%d", port),
			"--cert-dir=" + filepath.Join(dir, "apiserver"),
			"--tls-cert-file=" + pki.servingCertFile,
			"--tls-private-key-file=" + pki.servingKeyFile,
			"--client-ca-file=" + pki.caFile,
			"--authorization-mode=RBAC",
			"--service-cluster-ip-range=10.0.0.0/24",
			"--service-account-issuer=" + url,
			"--service-account-key-file=" + pki.saPublicKeyFile,
			"--service-account-signing-key-file=" + pki.saPrivateKeyFile,
			// No controller-manager runs here to create each namespace's "default" ServiceAccount, which this
			// plugin would demand of every Pod.
			"--disable-admission-plugins=ServiceAccount",
			"--allow-privileged=true",
			"--profiling=false",
		},
		logPath: filepath.Join(dir, "kube-apiserver.log"),
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

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// newSidecar prepares NAME=PATH with the --sidecar-arg values given for NAME, run with KUBECONFIG set.
func newSidecar(spec string, args []string, dir, kubeconfig string) (*server, error) {
	name, path, ok := strings.Cut(spec, "=")
	if !ok || name == "" || path == "" {
		return nil, fmt.Errorf("--sidecar %q: want NAME=PATH", spec)
	}
	var own []string
	for _, a := range args {
		if n, arg, ok := strings.Cut(a, "="); ok && n == name {
			own = append(own, arg)
		}
	}
	return &server{
		name:    name,
		path:    path,
		args:    own,
		env:     []string{"KUBECONFIG=" + kubeconfig},
		logPath: filepath.Join(dir, name+".log"),
		// Started is enough: what it does is observed through the API server.
		healthy: func(context.Context) error { return nil },
	}, nil
}
