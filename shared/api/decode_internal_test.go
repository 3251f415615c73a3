package api

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestFieldPathsAndPointers(t *testing.T) {
	tests := []struct {
		name, path, key, field, pointer string
	}{
		{"top-level key", "", "epochs", "epochs", "/epochs"},
		{"nested key", "early_stopping", "patience", "early_stopping.patience", "/early_stopping/patience"},
		{"array element", "hidden_layers[1]", "", `hidden_layers[1][""]`, "/hidden_layers/1/"},
		{"empty key", "", "", `[""]`, "/"},
		{"dotted key", "class_weights", "a.b", `class_weights["a.b"]`, "/class_weights/a.b"},
		{"slash and tilde", "", "a/b~c", `["a/b~c"]`, "/a~1b~0c"},
		{"quote in key", "x", `say "hi"]`, `x["say \"hi\"]"]`, `/x/say "hi"]`},
		{"trailing backslash", "", `a\`, `["a\\"]`, `/a\`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			field := joinPath(tc.path, tc.key)
			assert.Equal(t, tc.field, field)
			assert.Equal(t, tc.pointer, pointerOf(field))
		})
	}
	assert.Empty(t, pointerOf("job_id"))
	assert.Empty(t, pointerOf("body"))
	assert.Equal(t, "/search_space/0/high", pointerOf("search_space[0].high"))
}
