package main

import (
	"context"
	"fmt"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// writeKubeconfig writes a self-contained admin kubeconfig (system:masters, certificates inline).
func writeKubeconfig(path, server string, p *pki) (*rest.Config, error) {
	return writeClientKubeconfig(path, server, p, clientCert{p.adminCertPEM, p.adminKeyPEM})
}

// writeClientKubeconfig writes a self-contained kubeconfig that authenticates with the given client certificate.
func writeClientKubeconfig(path, server string, p *pki, client clientCert) (*rest.Config, error) {
	const name = "secretwire-local"
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters[name] = &clientcmdapi.Cluster{Server: server, CertificateAuthorityData: p.caPEM}
	cfg.AuthInfos[name] = &clientcmdapi.AuthInfo{ClientCertificateData: client.certPEM, ClientKeyData: client.keyPEM}
	cfg.Contexts[name] = &clientcmdapi.Context{Cluster: name, AuthInfo: name, Namespace: "default"}
	cfg.CurrentContext = name
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return nil, err
	}
	return clientcmd.NewDefaultClientConfig(*cfg, nil).ClientConfig()
}

// installCRDs creates the CRDs, waits until the API server serves them (envtest polls discovery), then until
// each can be listed: a CRD's watch cache answers 429 "storage is (re)initializing" for a moment after that.
func installCRDs(ctx context.Context, cfg *rest.Config, files []string) error {
	if len(files) == 0 {
		return nil
	}
	maxTime := time.Minute
	if deadline, ok := ctx.Deadline(); ok {
		maxTime = time.Until(deadline)
	}
	crds, err := envtest.InstallCRDs(cfg, envtest.CRDInstallOptions{
		Paths: files, ErrorIfPathMissing: true, MaxTime: maxTime, PollInterval: 50 * time.Millisecond,
	})
	if err != nil {
		return err
	}
	client, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return err
	}
	for _, crd := range crds {
		for _, version := range crd.Spec.Versions {
			if !version.Served {
				continue
			}
			gvr := schema.GroupVersionResource{Group: crd.Spec.Group, Version: version.Name, Resource: crd.Spec.Names.Plural}
			for {
				_, err := client.Resource(gvr).List(ctx, v1.ListOptions{Limit: 1})
				if err == nil {
					break
				}
				select {
				case <-ctx.Done():
					return fmt.Errorf("%s not listable in time: %w", gvr, err)
				case <-time.After(50 * time.Millisecond):
				}
			}
		}
	}
	return nil
}
