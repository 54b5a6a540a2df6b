// Command passwordforms is a test fixture (test/core/password-forms.test.ts), never shipped: it makes passwords with
// ESO's own Password generator, renders each through ESO's own template engine (engine v2, the scope and target an
// ExternalSecret's target.template uses) and parses a URL built from the rendered value with Go's net/url, the
// parser Go programs (Grafana among them) use. One JSON line per password:
//
//	{"password": "...", "rendered": {"password": "...", "password-url": "..."}, "url": "...", "goUserinfo": "...", "goError": ""}
//
// goUserinfo is the password Go's net/url finds in the URL, to compare with "password".
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"net/url"
	"os"
	"strings"

	esapi "github.com/external-secrets/external-secrets/apis/externalsecrets/v1"
	"github.com/external-secrets/external-secrets/pkg/generator/password"
	template "github.com/external-secrets/external-secrets/pkg/template/v2"
	corev1 "k8s.io/api/core/v1"
	apiextensions "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
)

type line struct {
	Password   string            `json:"password"`
	Rendered   map[string]string `json:"rendered"`
	URL        string            `json:"url"`
	GoUserinfo string            `json:"goUserinfo"`
	GoError    string            `json:"goError"`
}

func main() {
	n := flag.Int("n", 100, "how many passwords")
	spec := flag.String("generator", "", "the Password generator object as JSON ({\"spec\": {...}})")
	templates := flag.String("template", "", "target.template.data as JSON: key to template")
	urlPattern := flag.String("url", "", "a URL in which {KEY} stands for the rendered value of KEY")
	flag.Parse()

	var data map[string]string
	if err := json.Unmarshal([]byte(*templates), &data); err != nil {
		fail("-template: %v", err)
	}
	tpl := map[string][]byte{}
	for k, v := range data {
		tpl[k] = []byte(v)
	}
	gen := &password.Generator{}
	out := json.NewEncoder(os.Stdout)
	for i := 0; i < *n; i++ {
		generated, _, err := gen.Generate(context.Background(), &apiextensions.JSON{Raw: []byte(*spec)}, nil, "")
		if err != nil {
			fail("generator: %v", err)
		}
		secret := &corev1.Secret{Data: map[string][]byte{}}
		if err := template.Execute(tpl, generated, esapi.TemplateScopeValues, esapi.TemplateTargetData, secret); err != nil {
			fail("template: %v", err)
		}
		l := line{Password: string(generated["password"]), Rendered: map[string]string{}}
		u := *urlPattern
		for k, v := range secret.Data {
			l.Rendered[k] = string(v)
			u = strings.ReplaceAll(u, "{"+k+"}", string(v))
		}
		l.URL = u
		if parsed, err := url.Parse(u); err != nil {
			l.GoError = err.Error()
		} else if p, ok := parsed.User.Password(); ok {
			l.GoUserinfo = p
		}
		if err := out.Encode(l); err != nil {
			fail("stdout: %v", err)
		}
	}
}

func fail(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "passwordforms: "+format+"\n", args...)
	os.Exit(1)
}
