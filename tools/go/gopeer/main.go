// Command gopeer is a bench fixture (bench/run.ts), never shipped: the injection half of secretwire written the way
// Go admission webhooks are usually written (vault-k8s, bank-vaults and most operators: controller-runtime's webhook
// server, typed objects, the patch computed by diffing the JSON before and after). It is the Go peer secretwire's
// CPU per admission, latency, memory and time to ready are measured against.
//
// It does what secretwire's webhook does to a Pod or a Deployment annotated with `secretwire.io/shared-secret`
// (entries NAME[:raw|url][=ENV_VAR]) and optionally `secretwire.io/containers`: it prepends, to each selected
// container (init containers when named), the env vars with secretKeyRef to Secret secretwire-NAME, and marks the
// object as a consumer (label secretwire.io/consumer, annotation secretwire.io/consumes). An env var already there
// with the same reference is left alone (reinvocation). What it does not do, and secretwire does: the `file` form
// and `secretwire.io/secret` (denied here), the policy of which namespace may use which NAME, the ESO objects (their
// cache lookup), and the limits of the contract. bench/run.ts checks that its patch and secretwire's give the same
// object before it measures.
//
// Flags: -port (default $PORT), -cert-dir (tls.crt and tls.key, as the bench writes them). Logs go to stderr through zap at info,
// as controller-runtime's own defaults; its webhook metrics are recorded as in any controller-runtime server.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/webhook"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

const (
	sharedSecretKey = "secretwire.io/shared-secret"
	containersKey   = "secretwire.io/containers"
	secretKey       = "secretwire.io/secret"
	consumerLabel   = "secretwire.io/consumer"
	consumesKey     = "secretwire.io/consumes"
)

type entry struct{ name, form, env string }

// The forms this fixture knows: the env var's default suffix and the Secret's key (contract.ts passwordForms).
var forms = map[string]struct{ suffix, key string }{
	"raw": {suffix: "", key: "password"},
	"url": {suffix: "_URLENCODED", key: "password-url"},
}

// parse reads NAME[:FORM][=ENV_VAR], comma-separated, as secretwire does for the forms this fixture knows.
func parse(value string) ([]entry, error) {
	var out []entry
	for _, raw := range strings.Split(value, ",") {
		item := strings.TrimSpace(raw)
		if item == "" {
			continue
		}
		env := ""
		if i := strings.IndexByte(item, '='); i >= 0 {
			item, env = strings.TrimSpace(item[:i]), strings.TrimSpace(item[i+1:])
		}
		name, form := item, "raw"
		if i := strings.IndexByte(item, ':'); i >= 0 {
			name, form = item[:i], item[i+1:]
		}
		f, ok := forms[form]
		if !ok {
			return nil, fmt.Errorf("%s: form %q is not supported by this fixture", sharedSecretKey, form)
		}
		if env == "" {
			env = strings.ReplaceAll(strings.ToUpper(name), "-", "_") + f.suffix
		}
		out = append(out, entry{name: name, form: form, env: env})
	}
	return out, nil
}

func envVar(e entry) corev1.EnvVar {
	key := forms[e.form].key
	return corev1.EnvVar{Name: e.env, ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
		LocalObjectReference: corev1.LocalObjectReference{Name: "secretwire-" + e.name}, Key: key,
	}}}
}

// inject wires one pod template (or Pod) in place; annotations are the ones that count for it.
func inject(meta *metav1.ObjectMeta, spec *corev1.PodSpec, annotations []map[string]string) (bool, error) {
	var value, containers string
	for _, a := range annotations {
		if v, ok := a[sharedSecretKey]; ok {
			value = v
		}
		if v, ok := a[containersKey]; ok {
			containers = v
		}
		if _, ok := a[secretKey]; ok {
			return false, fmt.Errorf("%s is not supported by this fixture", secretKey)
		}
	}
	if value == "" {
		return false, nil
	}
	entries, err := parse(value)
	if err != nil {
		return false, err
	}
	var targets []*corev1.Container
	if containers == "" {
		for i := range spec.Containers {
			targets = append(targets, &spec.Containers[i])
		}
	} else {
		for _, name := range strings.Split(containers, ",") {
			name = strings.TrimSpace(name)
			found := false
			for _, list := range [][]corev1.Container{spec.Containers, spec.InitContainers} {
				for i := range list {
					if list[i].Name == name && !found {
						targets, found = append(targets, &list[i]), true
					}
				}
			}
			if !found {
				return false, fmt.Errorf("%s: no container or init container named %q", containersKey, name)
			}
		}
	}
	for _, c := range targets {
		var missing []corev1.EnvVar
		for _, e := range entries {
			want := envVar(e)
			present := false
			for _, have := range c.Env {
				if have.Name != want.Name {
					continue
				}
				if have.ValueFrom == nil || have.ValueFrom.SecretKeyRef == nil || *have.ValueFrom.SecretKeyRef != *want.ValueFrom.SecretKeyRef {
					return false, fmt.Errorf("container %q already sets %s", c.Name, want.Name)
				}
				present = true
			}
			if !present {
				missing = append(missing, want)
			}
		}
		c.Env = append(missing, c.Env...)
	}
	names := make([]string, 0, len(entries))
	seen := map[string]bool{}
	for _, e := range entries {
		if !seen[e.name] {
			seen[e.name] = true
			names = append(names, e.name)
		}
	}
	sort.Strings(names)
	if meta.Labels == nil {
		meta.Labels = map[string]string{}
	}
	meta.Labels[consumerLabel] = "true"
	if meta.Annotations == nil {
		meta.Annotations = map[string]string{}
	}
	meta.Annotations[consumesKey] = strings.Join(names, ",")
	return true, nil
}

type injector struct{ decoder admission.Decoder }

func (h *injector) Handle(_ context.Context, req admission.Request) admission.Response {
	switch req.Kind.Kind {
	case "Pod":
		var pod corev1.Pod
		if err := h.decoder.Decode(req, &pod); err != nil {
			return admission.Errored(http.StatusBadRequest, err)
		}
		return h.respond(req, &pod, func() (bool, error) { return inject(&pod.ObjectMeta, &pod.Spec, []map[string]string{pod.Annotations}) })
	case "Deployment":
		var d appsv1.Deployment
		if err := h.decoder.Decode(req, &d); err != nil {
			return admission.Errored(http.StatusBadRequest, err)
		}
		// As secretwire: the workload's own annotations and its template's count, the workload is marked.
		return h.respond(req, &d, func() (bool, error) {
			return inject(&d.ObjectMeta, &d.Spec.Template.Spec, []map[string]string{d.Annotations, d.Spec.Template.Annotations})
		})
	}
	return admission.Allowed("not a kind this fixture wires")
}

func (h *injector) respond(req admission.Request, obj any, mutate func() (bool, error)) admission.Response {
	wired, err := mutate()
	if err != nil {
		return admission.Denied(err.Error())
	}
	if !wired {
		return admission.Allowed("not annotated")
	}
	out, err := json.Marshal(obj)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, err)
	}
	return admission.PatchResponseFromRaw(req.Object.Raw, out)
}

func envInt(name string, fallback int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil {
		return n
	}
	return fallback
}

func main() {
	port := flag.Int("port", envInt("PORT", 9443), "HTTPS port on 127.0.0.1 (default $PORT)")
	certDir := flag.String("cert-dir", "", "directory holding tls.crt and tls.key")
	flag.Parse()
	ctrl.SetLogger(zap.New(zap.UseDevMode(false)))

	server := webhook.NewServer(webhook.Options{Host: "127.0.0.1", Port: *port, CertDir: *certDir, CertName: "tls.crt", KeyName: "tls.key"})
	server.Register("/mutate", &webhook.Admission{Handler: &injector{decoder: admission.NewDecoder(scheme.Scheme)}})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := server.Start(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
}
