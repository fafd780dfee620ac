package console_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

const (
	webDir  = "web"
	distDir = "dist"
)

// sourcesManifest is what web/build.mjs writes into dist/.sources.sha256:
// the SHA-256 of every input of the build, "<hex>  <path>" by path.
func sourcesManifest(t *testing.T) string {
	t.Helper()
	files := []string{"build.mjs", "package.json", "package-lock.json", "tsconfig.json"}
	err := filepath.WalkDir(filepath.Join(webDir, "src"), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			rel, err := filepath.Rel(webDir, p)
			if err != nil {
				return err
			}
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(files)
	var b strings.Builder
	for _, f := range files {
		data, err := os.ReadFile(filepath.Join(webDir, filepath.FromSlash(f)))
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(data)
		fmt.Fprintf(&b, "%s  %s\n", hex.EncodeToString(sum[:]), f)
	}
	return b.String()
}

// The committed dist/ was built from the sources as they are: a change of
// web/src (or of the build) without `npm run build` fails here, on any
// clone, npm or not.
func TestDistBuiltFromTheseSources(t *testing.T) {
	recorded, err := os.ReadFile(filepath.Join(distDir, ".sources.sha256"))
	if err != nil {
		t.Fatalf("dist/.sources.sha256: %v (run npm run build in internal/console/web)", err)
	}
	if got := sourcesManifest(t); got != string(recorded) {
		t.Fatalf("internal/console/dist is stale: the sources changed since it was built; run `npm ci && npm run build` in internal/console/web and commit dist/.\nbuilt from:\n%s\nsources now:\n%s", recorded, got)
	}
}

// Rebuilding the sources gives the committed dist/ byte for byte (the
// build is deterministic, and nobody edited dist/ by hand). It needs node
// and the front-end's node_modules (npm ci in internal/console/web, as
// .ci/run does); without them it skips.
func TestDistRebuildsIdentically(t *testing.T) {
	if testing.Short() {
		t.Skip("-short: the rebuild of the console is skipped")
	}
	node, err := exec.LookPath("node")
	if err != nil {
		t.Skip("node is not installed: the rebuild of the console is not compared (TestDistBuiltFromTheseSources still checks the sources)")
	}
	if _, err := os.Stat(filepath.Join(webDir, "node_modules", "esbuild")); err != nil {
		t.Skip("internal/console/web/node_modules is missing (run npm ci there): the rebuild of the console is not compared")
	}
	out := t.TempDir()
	cmd := exec.Command(node, "build.mjs", "--outdir", out)
	cmd.Dir = webDir
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("node build.mjs: %v\n%s", err, b)
	}
	want := dirFiles(t, distDir)
	got := dirFiles(t, out)
	for name, b := range got {
		w, ok := want[name]
		switch {
		case !ok:
			t.Errorf("a rebuild writes %s, which dist/ lacks: dist/ is stale (npm run build)", name)
		case !bytes.Equal(w, b):
			t.Errorf("a rebuild changes %s: dist/ is stale or was edited (npm run build)", name)
		}
	}
	for name := range want {
		if _, ok := got[name]; !ok {
			t.Errorf("dist/%s is not what a build writes: remove it (npm run build empties dist/ first)", name)
		}
	}
}

func dirFiles(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := map[string][]byte{}
	for _, e := range entries {
		if e.IsDir() {
			t.Errorf("%s/%s: the console's build writes no directory", dir, e.Name())
			continue
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		m[e.Name()] = b
	}
	return m
}
