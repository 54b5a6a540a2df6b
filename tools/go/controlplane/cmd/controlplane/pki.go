package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// pki is a throw-away certificate authority with the serving, client and service-account keys the API server
// needs. Everything lives for a day: a control plane here lives for one test run or one demo.
type pki struct {
	caFile, caKeyFile, servingCertFile, servingKeyFile, saPublicKeyFile, saPrivateKeyFile string
	caPEM, adminCertPEM, adminKeyPEM                                                      []byte
	caPool                                                                                *x509.CertPool
	adminCert                                                                             tls.Certificate
	// Client certificates of the components that talk to the API server, by component name.
	clients map[string]clientCert
}

type clientCert struct{ certPEM, keyPEM []byte }

// identity is a client certificate's subject: the user and groups the API server authenticates it as.
type identity struct {
	user   string
	groups []string
}

// components are the identities the bootstrap RBAC policy of kube-apiserver already knows: each gets its own
// client certificate, as kubeadm gives them, so the controllers act with their real rights and not as admin.
// With a node (nodeIP set) there are three more: the kubelet (authorized by the Node authorizer), kube-proxy,
// and the API server's own client certificate for the kubelet (logs, exec).
func components(nodeIP string) map[string]identity {
	c := map[string]identity{
		"kube-controller-manager": {user: "system:kube-controller-manager"},
		"kube-scheduler":          {user: "system:kube-scheduler"},
	}
	if nodeIP != "" {
		c["kubelet"] = identity{user: "system:node:" + nodeIP, groups: []string{"system:nodes"}}
		c["kube-proxy"] = identity{user: "system:kube-proxy"}
		c["apiserver-kubelet-client"] = identity{user: "kube-apiserver-kubelet-client", groups: []string{"system:masters"}}
	}
	return c
}

// writePKI makes the certificates; nodeIP, when set, is added to the API server's serving certificate (Pods
// reach it there) and gets the node's identities.
func writePKI(dir, nodeIP string) (*pki, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTemplate := template("secretwire-controlplane-ca")
	caTemplate.IsCA = true
	caTemplate.BasicConstraintsValid = true
	caTemplate.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
	caDER, err := x509.CreateCertificate(rand.Reader, caTemplate, caTemplate, caKey.Public(), caKey)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}

	serving := template("kube-apiserver")
	serving.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	serving.DNSNames = []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"}
	serving.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback, net.IPv4(10, 0, 0, 1)}
	if nodeIP != "" {
		serving.IPAddresses = append(serving.IPAddresses, net.ParseIP(nodeIP))
	}
	servingCert, servingKey, err := issue(serving, ca, caKey)
	if err != nil {
		return nil, err
	}

	admin := template("secretwire-admin")
	admin.Subject.Organization = []string{"system:masters"}
	admin.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	adminCert, adminKey, err := issue(admin, ca, caKey)
	if err != nil {
		return nil, err
	}

	clients := map[string]clientCert{}
	for name, id := range components(nodeIP) {
		t := template(id.user)
		t.Subject.Organization = id.groups
		t.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
		certPEM, keyPEM, err := issue(t, ca, caKey)
		if err != nil {
			return nil, err
		}
		clients[name] = clientCert{certPEM, keyPEM}
	}
	caKeyDER, err := x509.MarshalECPrivateKey(caKey)
	if err != nil {
		return nil, err
	}

	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	saPublic, err := x509.MarshalPKIXPublicKey(saKey.Public())
	if err != nil {
		return nil, err
	}

	p := &pki{
		caFile:           filepath.Join(dir, "ca.crt"),
		caKeyFile:        filepath.Join(dir, "ca.key"),
		servingCertFile:  filepath.Join(dir, "apiserver.crt"),
		servingKeyFile:   filepath.Join(dir, "apiserver.key"),
		saPublicKeyFile:  filepath.Join(dir, "sa.pub"),
		saPrivateKeyFile: filepath.Join(dir, "sa.key"),
		caPEM:            pemBlock("CERTIFICATE", caDER),
		adminCertPEM:     adminCert,
		adminKeyPEM:      adminKey,
		caPool:           x509.NewCertPool(),
		clients:          clients,
	}
	p.caPool.AddCert(ca)
	if p.adminCert, err = tls.X509KeyPair(adminCert, adminKey); err != nil {
		return nil, err
	}
	files := map[string][]byte{
		p.caFile: p.caPEM,
		// The controller manager signs certificate requests (the test node's kubelet) with the cluster CA.
		p.caKeyFile:        pemBlock("EC PRIVATE KEY", caKeyDER),
		p.servingCertFile:  servingCert,
		p.servingKeyFile:   servingKey,
		p.saPublicKeyFile:  pemBlock("PUBLIC KEY", saPublic),
		p.saPrivateKeyFile: pemBlock("RSA PRIVATE KEY", x509.MarshalPKCS1PrivateKey(saKey)),
	}
	for name, c := range clients {
		files[filepath.Join(dir, name+".crt")] = c.certPEM
		files[filepath.Join(dir, name+".key")] = c.keyPEM
	}
	for path, data := range files {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func template(commonName string) *x509.Certificate {
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	now := time.Now()
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: commonName},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
}

// issue signs a new ECDSA key's certificate with the CA and returns both as PEM.
func issue(t *x509.Certificate, ca *x509.Certificate, caKey crypto.Signer) (certPEM, keyPEM []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.CreateCertificate(rand.Reader, t, ca, key.Public(), caKey)
	if err != nil {
		return nil, nil, err
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		return nil, nil, err
	}
	return pemBlock("CERTIFICATE", der), pemBlock("EC PRIVATE KEY", keyDER), nil
}

func pemBlock(kind string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: kind, Bytes: der})
}
