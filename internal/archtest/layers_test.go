package archtest

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/latchkey/latchkey/"

// level is each package's place in DESIGN.md's table: a package may import
// only packages of a lower level.
var level = map[string]int{
	"rs": 1, "dpop": 0, "internal/secret": 0, "internal/store": 0, "internal/config": 0, "internal/testenv": 0, "internal/clientip": 0, "internal/metrics": 0, "internal/audit": 0,
	"internal/store/sqlstore": 1, "internal/store/storetest": 1, "internal/janitor": 1, "internal/token": 1, "internal/dbtest": 2, "internal/testpg": 1,
	"internal/oidc": 2, "internal/session": 2,
	"internal/oauth": 3,
	"internal/web":   4, "internal/registration": 4, "internal/admin": 4,
	"internal/server": 5,
	"cmd/latchkey":    6, "bench": 6, "internal/archtest": 6,
}

type pkg struct {
	ImportPath string
	Imports    []string
}

// TestDataFlowsOneWay fails when a package imports one of its own or a
// higher level, or when a new package is missing from the table.
func TestDataFlowsOneWay(t *testing.T) {
	out, err := exec.Command("go", "list", "-json=ImportPath,Imports", module+"...").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	dec := json.NewDecoder(strings.NewReader(string(out)))
	for dec.More() {
		var p pkg
		if err := dec.Decode(&p); err != nil {
			t.Fatal(err)
		}
		name := strings.TrimPrefix(p.ImportPath, module)
		if strings.HasPrefix(name, "examples/") {
			for _, imp := range p.Imports {
				if strings.HasPrefix(imp, module+"internal/") {
					t.Errorf("%s imports %s: examples use public packages only", name, imp)
				}
			}
			continue
		}
		mine, ok := level[name]
		if !ok {
			t.Errorf("package %s has no level in the table; add it", name)
			continue
		}
		for _, imp := range p.Imports {
			dep, ok := strings.CutPrefix(imp, module)
			if !ok {
				continue
			}
			if name == "rs" && strings.HasPrefix(dep, "internal/") {
				t.Errorf("rs imports %s: the public resource-server package must not use internal code", dep)
			}
			if strings.HasPrefix(dep, "examples/") {
				// Only `latchkey demo` runs the story; nothing below the
				// binary depends on an example.
				if name != "cmd/latchkey" {
					t.Errorf("%s imports %s: only cmd/latchkey (latchkey demo) may run an example", name, dep)
				}
				continue
			}
			if level[dep] >= mine {
				t.Errorf("%s (level %d) imports %s (level %d): data must flow one way", name, mine, dep, level[dep])
			}
		}
	}
}
