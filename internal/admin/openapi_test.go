package admin

import (
	"encoding/json"
	"fmt"
	"os"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/heraldim/herald/internal/push"
)

// openAPI is docs/openapi.yaml, decoded.
type openAPI struct {
	root map[string]any
}

func loadOpenAPI(t *testing.T) openAPI {
	t.Helper()
	b, err := os.ReadFile("../../docs/openapi.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var root map[string]any
	if err := yaml.Unmarshal(b, &root); err != nil {
		t.Fatalf("docs/openapi.yaml: %v", err)
	}
	return openAPI{root: root}
}

func child(v any, keys ...string) map[string]any {
	for _, k := range keys {
		m, _ := v.(map[string]any)
		v = m[k]
	}
	m, _ := v.(map[string]any)
	return m
}

// resolve follows a schema's $ref.
func (o openAPI) resolve(s map[string]any) map[string]any {
	for range 10 {
		ref, _ := s["$ref"].(string)
		if ref == "" {
			return s
		}
		s = child(o.root, strings.Split(strings.TrimPrefix(ref, "#/"), "/")...)
	}
	return s
}

// properties are a schema's properties, its allOf members' included.
func (o openAPI) properties(s map[string]any) map[string]any {
	s = o.resolve(s)
	out := map[string]any{}
	for k, v := range child(s, "properties") {
		out[k] = v
	}
	all, _ := s["allOf"].([]any)
	for _, m := range all {
		sub, _ := m.(map[string]any)
		for k, v := range o.properties(sub) {
			out[k] = v
		}
	}
	return out
}

var (
	timeType = reflect.TypeFor[time.Time]()
	rawType  = reflect.TypeFor[json.RawMessage]()
	// bytesType is a base64 string in JSON, not an array.
	bytesType = reflect.TypeFor[[]byte]()
)

// mismatches compares the JSON fields of Go type t with schema s, both
// ways, and returns each field one has and the other lacks, by path.
func (o openAPI) mismatches(t reflect.Type, s map[string]any, path string) []string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	s = o.resolve(s)
	switch {
	case t == timeType || t == rawType || t == bytesType:
		return nil
	case t.Kind() == reflect.Slice:
		items, _ := s["items"].(map[string]any)
		if items == nil {
			return []string{path + ": an array in Go, no items in the doc"}
		}
		return o.mismatches(t.Elem(), items, path+"[]")
	case t.Kind() != reflect.Struct:
		return nil // scalars and maps (additionalProperties)
	}
	props := o.properties(s)
	var bad []string
	seen := map[string]bool{}
	// The fields encoding/json writes: an embedded struct without a tag
	// stands for its own fields, which VisibleFields lists too; so does an
	// embedded pointer to one (protocol.Message's RevokeFields), whose
	// fields VisibleFields does not list.
	var fields []reflect.StructField
	for _, f := range reflect.VisibleFields(t) {
		if f.Anonymous && f.Tag.Get("json") == "" && f.Type.Kind() == reflect.Pointer && f.Type.Elem().Kind() == reflect.Struct {
			fields = append(fields, reflect.VisibleFields(f.Type.Elem())...)
			continue
		}
		fields = append(fields, f)
	}
	for _, f := range fields {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if !f.IsExported() || name == "-" || f.Anonymous && name == "" && f.Type.Kind() == reflect.Struct {
			continue
		}
		if name == "" {
			name = f.Name
		}
		seen[name] = true
		ps, ok := props[name].(map[string]any)
		if !ok {
			bad = append(bad, path+"."+name+" is not documented")
			continue
		}
		bad = append(bad, o.mismatches(f.Type, ps, path+"."+name)...)
	}
	for name := range props {
		if !seen[name] {
			bad = append(bad, path+"."+name+" is documented but not in the handler's type")
		}
	}
	slices.Sort(bad)
	return bad
}

// TestOpenAPIMatchesHandlers: every route of the API is in
// docs/openapi.yaml with its method, every documented admin path is a
// route, and every field of every request body and 200 answer the handlers
// read or write is documented, and nothing more.
func TestOpenAPIMatchesHandlers(t *testing.T) {
	o := loadOpenAPI(t)
	h := &Handler{}
	paths := child(o.root, "paths")
	routed := map[string]bool{}
	for _, rt := range h.routes() {
		routed[rt.path] = true
		name := rt.method + " " + rt.path
		op := child(paths, rt.path, strings.ToLower(rt.method))
		if op == nil {
			t.Errorf("%s is not documented", name)
			continue
		}
		if rt.reply == nil {
			if child(op, "responses", "200") != nil {
				t.Errorf("%s: documented with a 200 answer, the handler answers 204", name)
			}
		} else {
			s := child(op, "responses", "200", "content", "application/json", "schema")
			if s == nil {
				t.Errorf("%s: no JSON 200 answer documented", name)
			} else {
				for _, m := range o.mismatches(reflect.TypeOf(rt.reply), s, "answer") {
					t.Errorf("%s: %s", name, m)
				}
			}
		}
		body := child(op, "requestBody", "content", "application/json", "schema")
		if len(rt.requests) > 0 && body == nil {
			t.Errorf("%s: no JSON request body documented", name)
			continue
		}
		alts := []map[string]any{body}
		if one, ok := o.resolve(body)["oneOf"].([]any); ok {
			alts = alts[:0]
			for _, a := range one {
				m, _ := a.(map[string]any)
				alts = append(alts, m)
			}
		}
		for _, req := range rt.requests {
			// A body of several shapes (one per vendor) must match one.
			var best []string
			for i, alt := range alts {
				m := o.mismatches(reflect.TypeOf(req), alt, "body")
				if i == 0 || len(m) < len(best) {
					best = m
				}
			}
			for _, m := range best {
				t.Errorf("%s (%T): %s", name, req, m)
			}
		}
	}
	for p := range paths {
		if (strings.HasPrefix(p, "/v1/apps/") || strings.HasPrefix(p, operatorPrefix)) && !routed[p] {
			t.Errorf("docs/openapi.yaml documents %s, which no route serves", p)
		}
	}
}

// TestOpenAPIOutcomes: the test push's documented outcomes are every
// outcome a provider can give, and "failed".
func TestOpenAPIOutcomes(t *testing.T) {
	o := loadOpenAPI(t)
	enum, _ := child(o.properties(child(o.root, "components", "schemas", "TestPushResult")), "outcome")["enum"].([]any)
	var got []string
	for _, e := range enum {
		got = append(got, fmt.Sprint(e))
	}
	want := []string{outcomeFailed}
	for out := push.Delivered; !strings.HasPrefix(out.String(), "outcome("); out++ {
		want = append(want, out.String())
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("TestPushResult.outcome enum %v, want %v", got, want)
	}
}
