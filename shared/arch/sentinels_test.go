package arch

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const faultPath = module + "/shared/fault"

// faultCodes are the names of shared/fault's codes.
var faultCodes = map[string]bool{
	"Invalid": true, "NotFound": true, "Conflict": true, "Cancelled": true,
	"Diverged": true, "DataChanged": true, "Unavailable": true, "Internal": true,
}

// sentinelExempt are the packages whose sentinels declare no fault code:
// the ASL engine imports nothing of Orrery (shared/pipeline maps its
// errors).
var sentinelExempt = []string{"shared/pipeline/asl"}

// sentinelProblems checks one file's package-level error variables: every
// exported Err* variable is fault.New(fault.<Code>, ...), and no variable is
// an errors.New sentinel without a code. It returns a line per problem and
// the number of exported sentinels it checked.
func sentinelProblems(fset *token.FileSet, f *ast.File) (problems []string, checked int) {
	faultName, errorsName := "", ""
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		name := p[strings.LastIndex(p, "/")+1:]
		if imp.Name != nil {
			name = imp.Name.Name
		}
		switch p {
		case faultPath:
			faultName = name
		case "errors":
			errorsName = name
		}
	}
	isCall := func(e ast.Expr, pkg, fn string) (*ast.CallExpr, bool) {
		call, ok := e.(*ast.CallExpr)
		if !ok || pkg == "" {
			return nil, false
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		if !ok {
			return nil, false
		}
		x, ok := sel.X.(*ast.Ident)
		return call, ok && x.Name == pkg && sel.Sel.Name == fn
	}
	for _, decl := range f.Decls {
		gd, ok := decl.(*ast.GenDecl)
		if !ok || gd.Tok != token.VAR {
			continue
		}
		for _, spec := range gd.Specs {
			vs := spec.(*ast.ValueSpec)
			for i, name := range vs.Names {
				var value ast.Expr
				if len(vs.Values) == len(vs.Names) {
					value = vs.Values[i]
				}
				where := fset.Position(name.Pos()).String() + ": " + name.Name
				exported := len(name.Name) > 3 && strings.HasPrefix(name.Name, "Err") && ast.IsExported(name.Name[3:])
				if exported {
					checked++
					call, ok := isCall(value, faultName, "New")
					if !ok {
						problems = append(problems, where+" is not declared with fault.New(fault.<Code>, msg)")
						continue
					}
					if len(call.Args) != 2 {
						problems = append(problems, where+": fault.New takes a code and a message")
						continue
					}
					if !isCode(call.Args[0], faultName) {
						problems = append(problems, where+": the code is not one of fault's codes")
					}
					continue
				}
				if _, ok := isCall(value, errorsName, "New"); ok {
					problems = append(problems, where+" is an errors.New sentinel without a fault code")
				}
			}
		}
	}
	return problems, checked
}

// isCode reports whether e is fault.<Code> with faultName the file's name
// of shared/fault.
func isCode(e ast.Expr, faultName string) bool {
	sel, ok := e.(*ast.SelectorExpr)
	if !ok {
		return false
	}
	x, ok := sel.X.(*ast.Ident)
	return ok && x.Name == faultName && faultCodes[sel.Sel.Name]
}

// TestEverySentinelDeclaresItsCode reads the module's source (every
// package, whatever its build tags) and checks every package-level
// sentinel error.
func TestEverySentinelDeclaresItsCode(t *testing.T) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	require.NoError(t, err)
	root := strings.TrimSpace(string(out))
	fset := token.NewFileSet()
	checked := 0
	require.NoError(t, filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			base := d.Name()
			if rel != "." && (strings.HasPrefix(base, ".") || base == "testdata" || base == "node_modules" ||
				base == "cdk.out" || base == "vendor" || under(module+"/"+rel, sentinelExempt)) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		problems, n := sentinelProblems(fset, f)
		checked += n
		for _, p := range problems {
			t.Error(p)
		}
		return nil
	}))
	t.Logf("%d exported sentinels checked", checked)
	assert.Greater(t, checked, 80, "the walk found the module's sentinels")
}

// TestSentinelCheck: the check refuses what it should.
func TestSentinelCheck(t *testing.T) {
	for _, tc := range []struct {
		name     string
		src      string
		problems int
	}{
		{"declared", `var ErrX = fault.New(fault.NotFound, "p: x")`, 0},
		{"declared in a block", `var (
	// ErrX is x.
	ErrX = fault.New(fault.Invalid, "p: x")
	ErrY = fault.New(fault.Internal, "p: y")
)`, 0},
		{"errors.New", `var ErrX = errors.New("p: x")`, 1},
		{"fmt.Errorf", `var ErrX = fmt.Errorf("p: x")`, 1},
		{"no value", `var ErrX error`, 1},
		{"not a code", `var ErrX = fault.New(fault.Teapot, "p: x")`, 1},
		{"a code of another package", `var ErrX = fault.New(other.Invalid, "p: x")`, 1},
		{"an unexported errors.New sentinel", `var errX = errors.New("p: x")`, 1},
		{"an unexported sentinel wrapping a coded one", `var errX = fmt.Errorf("x: %w", ErrY)`, 0},
		{"not an error variable", `var Errata = []string{"a"}`, 0},
		{"a constant", `const ErrorAll = "States.ALL"`, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := "package p\n\nimport (\n\t\"errors\"\n\t\"fmt\"\n\n\t\"" + faultPath + "\"\n)\n\n" + tc.src + "\n"
			fset := token.NewFileSet()
			f, err := parser.ParseFile(fset, "p.go", src, parser.SkipObjectResolution)
			require.NoError(t, err)
			problems, _ := sentinelProblems(fset, f)
			assert.Len(t, problems, tc.problems, "%v", problems)
		})
	}
	t.Run("an aliased import", func(t *testing.T) {
		src := "package p\n\nimport flt \"" + faultPath + "\"\n\nvar ErrX = flt.New(flt.Conflict, \"p: x\")\n"
		fset := token.NewFileSet()
		f, err := parser.ParseFile(fset, "p.go", src, parser.SkipObjectResolution)
		require.NoError(t, err)
		problems, checked := sentinelProblems(fset, f)
		assert.Empty(t, problems)
		assert.Equal(t, 1, checked)
	})
}

// TestFaultImportsOnlyTheStandardLibrary: every package may import
// shared/fault, so it depends on nothing but the standard library.
func TestFaultImportsOnlyTheStandardLibrary(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", faultPath).Output()
	require.NoError(t, err)
	assert.Equal(t, []string{faultPath}, strings.Fields(string(out)))
}
