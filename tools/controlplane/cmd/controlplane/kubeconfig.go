package main

import (
	"context"
	"time"

	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// writeKubeconfig writes a self-contained admin kubeconfig (system:masters, certificates inline).
func writeKubeconfig(path, server string, p *pki) (*rest.Config, error) {
	const name = "secretwire-local"
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[name] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: p.caPEM}
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{ClientCertificateData: p.adminCertPEM, ClientKeyData: p.adminKeyPEM}
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name, Namespace: "default"}
	cfg.CurrentContext = name
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return nil, err
	}
	return clientcmd.NewDefaultClientConfig(*cfg, nil).ClientConfig()
}

// installCRDs creates the CRDs and waits until the API server serves them (envtest polls discovery).
func installCRDs(ctx context.Context, cfg *rest.Config, files []string) error {
	if len(files) == 0 {
		return nil
	}
	maxTime := time.Minute
	if deadline, ok := ctx.Deadline(); ok {
		maxTime = time.Until(deadline)
	}
	_, err := envtest.InstallCRDs(cfg, envtest.CRDInstallOptions{
		Paths: files, ErrorIfPathMissing: true, MaxTime: maxTime, PollInterval: 50 * time.Millisecond,
	})
	return err
}
