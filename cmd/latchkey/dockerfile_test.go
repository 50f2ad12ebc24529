package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// TestDockerfile holds the Dockerfile to what the image promises, since no
// docker runs in these tests: a final stage on distroless (or scratch)
// that runs as nonroot, a cgo-free trimmed build of this command, the Go
// of go.mod, and a volume for the SQLite file; and the build it runs works.
func TestDockerfile(t *testing.T) {
	data, err := os.ReadFile("../../Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	df := string(data)
	var froms []string
	for _, m := range regexp.MustCompile(`(?m)^FROM\s+(\S+)`).FindAllStringSubmatch(df, -1) {
		froms = append(froms, m[1])
	}
	if len(froms) < 2 {
		t.Fatalf("FROM lines %v: want a build stage and a final stage", froms)
	}
	final := froms[len(froms)-1]
	if !strings.HasPrefix(final, "gcr.io/distroless/static") && final != "scratch" {
		t.Errorf("final stage %q: want gcr.io/distroless/static (or scratch)", final)
	}
	lastStage := df[strings.LastIndex(df, "\nFROM "):]
	users := regexp.MustCompile(`(?m)^USER\s+(\S+)`).FindAllStringSubmatch(lastStage, -1)
	if len(users) == 0 || strings.HasPrefix(users[len(users)-1][1], "root") || strings.HasPrefix(users[len(users)-1][1], "0") {
		t.Errorf("final stage runs as %v: want a non-root USER", users)
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-X main.version=", "./cmd/latchkey", "EXPOSE 8080",
		`ENTRYPOINT ["/latchkey"]`, `CMD ["serve"]`, `VOLUME ["/data"]`, "LATCHKEY_DATABASE=sqlite:/data/", "--chown=65532:65532"} {
		if !strings.Contains(df, want) {
			t.Errorf("the Dockerfile lacks %q", want)
		}
	}
	mod, err := os.ReadFile("../../go.mod")
	if err != nil {
		t.Fatal(err)
	}
	goLine := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(mod)
	if goLine == nil || !slices.Contains(froms, "golang:"+string(goLine[1])) {
		t.Errorf("build stage %v: want golang:%s, the go line of go.mod", froms, goLine[1])
	}

	if testing.Short() {
		t.Skip("the build itself is skipped in -short")
	}
	out := filepath.Join(t.TempDir(), "latchkey")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-X main.version=v0.0.0-docker-test", "-o", out, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("CGO_ENABLED=0 go build: %v\n%s", err, b)
	}
	v, err := exec.Command(out, "version").Output()
	if err != nil || !strings.Contains(string(v), "v0.0.0-docker-test") {
		t.Fatalf("the static binary's version: %q, %v", v, err)
	}
}
