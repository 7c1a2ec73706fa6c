package anp_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// caseLists are the members whose elements are test cases: each element
// that is an object must carry expect.
var caseLists = map[string]bool{
	"cases": true, "vectors": true, "refused": true, "keys": true,
	"roots": true, "inclusion": true, "consistency": true,
	"bindings": true, "tree_heads": true, "countersignatures": true, "tokens": true, "current_heads": true, "head_pairs": true,
}

var expectName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// TestEveryVectorHasExpect: every vector file holds cases with expect, and
// every case — an element of a case list, or an object with a signature —
// carries expect: "valid" or a snake_case failure name.
func TestEveryVectorHasExpect(t *testing.T) {
	entries, err := os.ReadDir(vectorDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(vectorDir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		var v any
		if err := json.Unmarshal(data, &v); err != nil {
			t.Fatalf("%s: %v", e.Name(), err)
		}
		n := 0
		var walk func(path string, v any, isCase bool)
		walk = func(path string, v any, isCase bool) {
			switch v := v.(type) {
			case map[string]any:
				_, signed := v["signature"]
				if ex, ok := v["expect"]; ok {
					n++
					if s, _ := ex.(string); !expectName.MatchString(s) {
						t.Errorf("%s %s: expect %v is not a name", e.Name(), path, ex)
					}
				} else if isCase || signed {
					t.Errorf("%s %s: case without expect", e.Name(), path)
				}
				for k, x := range v {
					walk(path+"."+k, x, false)
				}
			case []any:
				list := caseLists[path[strings.LastIndexByte(path, '.')+1:]]
				for i, x := range v {
					walk(path+"["+strconv.Itoa(i)+"]", x, list)
				}
			}
		}
		walk("", v, false)
		if n == 0 {
			t.Errorf("%s has no case with expect", e.Name())
		}
	}
}
