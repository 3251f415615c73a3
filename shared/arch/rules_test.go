package arch

import (
	"fmt"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The import rules live in the packages' doc.go files, in the sentence forms
// this package's doc.go lists; this file reads and enforces them.

// pattern is one item of a rule: an import path, or (tree) the path and
// every path below it, as `go list` reads "path/...".
type pattern struct {
	path string
	tree bool
}

func (p pattern) matches(imp string) bool {
	return imp == p.path || p.tree && strings.HasPrefix(imp, p.path+"/")
}

func (p pattern) String() string {
	if p.tree {
		return p.path + "/..."
	}
	return p.path
}

// ruleKind is the form of a rule sentence.
type ruleKind int

const (
	// mustNot: "It must not import L."
	mustNot ruleKind = iota
	// onlyModule: "It imports nothing of this module but L." (or, with an
	// empty list, "It imports nothing of this module.")
	onlyModule
	// onlyStd: "It imports nothing but the standard library."
	onlyStd
	// onlyImporters: "Only L may import M." — every package of the module.
	onlyImporters
)

// rule is one parsed sentence.
type rule struct {
	kind ruleKind
	pkg  string // module-relative path of the package whose doc.go states it
	text string // the sentence as written
	// items are the imports the rule is about.
	items []pattern
	// importers, for onlyImporters, are the packages that may import items;
	// testFiles says test files may too (they are never checked).
	importers []pattern
	testFiles bool
}

func (r rule) forbids(imp string) bool {
	return slices.ContainsFunc(r.items, func(p pattern) bool { return p.matches(imp) })
}

// namesPackage is the package whose doc.go defines the names rules may use.
const namesPackage = "shared/arch"

var (
	// pathItem is an import path, module-relative or full, optionally
	// ending in /....
	pathItem = regexp.MustCompile(`^[A-Za-z0-9_~-][A-Za-z0-9_.~-]*(/[A-Za-z0-9_.~-]+)*(/\.\.\.)?$`)
	// nameDef is `"name" stands for L.`
	nameDef = regexp.MustCompile(`^"([^"]+)" stands for (.+)$`)
)

// words returns the words of a doc comment's text, leaving out
// preformatted lines (code blocks, lists and examples are indented), and
// which of them start a paragraph.
func words(doc string) (ws []string, starts map[int]bool) {
	starts = map[int]bool{0: true}
	for _, line := range strings.Split(doc, "\n") {
		if strings.TrimSpace(line) == "" || strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t") {
			starts[len(ws)] = true
			continue
		}
		ws = append(ws, strings.Fields(line)...)
	}
	return ws, starts
}

// endsSentence reports whether a word ends its sentence: it ends with a
// period that is not the last of a "/..." pattern.
func endsSentence(w string) bool {
	if !strings.HasSuffix(w, ".") {
		return false
	}
	return !strings.HasSuffix(w, "/...") || strings.HasSuffix(w, "/....")
}

// sentenceFrom returns the words from i to the end of their sentence (the
// last one without its period) and the index after it; ok is false when the
// text ends first.
func sentenceFrom(ws []string, i int) (sentence []string, next int, ok bool) {
	for j := i; j < len(ws); j++ {
		if endsSentence(ws[j]) {
			s := slices.Clone(ws[i : j+1])
			s[len(s)-1] = strings.TrimSuffix(s[len(s)-1], ".")
			return s, j + 1, true
		}
	}
	return nil, len(ws), false
}

func hasWords(ws []string, i int, want ...string) bool {
	if i+len(want) > len(ws) {
		return false
	}
	return slices.Equal(ws[i:i+len(want)], want)
}

// splitList splits "A, B or C" (also "A and B", "A, B, and C") into items.
func splitList(ws []string) []string {
	s := strings.Join(ws, " ")
	for _, sep := range []string{", or ", ", and ", " or ", " and "} {
		s = strings.ReplaceAll(s, sep, ", ")
	}
	var items []string
	for _, it := range strings.Split(s, ", ") {
		if it = strings.TrimSpace(it); it != "" {
			items = append(items, it)
		}
	}
	return items
}

// parser resolves the items of rule sentences.
type ruleParser struct {
	module string
	names  map[string][]pattern
}

// items resolves a list: each item is a name of namesPackage's doc.go or an
// import path (module-relative when its first element has no dot). "test
// files" is accepted where testFiles is not nil.
func (rp ruleParser) items(list []string, testFiles *bool) ([]pattern, []string) {
	var out []pattern
	var problems []string
	for _, it := range list {
		if ps, ok := rp.names[it]; ok {
			out = append(out, ps...)
			continue
		}
		if it == "test files" && testFiles != nil {
			*testFiles = true
			continue
		}
		if !pathItem.MatchString(it) {
			problems = append(problems, fmt.Sprintf("%q is neither an import path nor a name defined in %s/doc.go", it, namesPackage))
			continue
		}
		p := pattern{path: it}
		if rest, ok := strings.CutSuffix(it, "/..."); ok {
			p = pattern{path: rest, tree: true}
		}
		if first, _, _ := strings.Cut(p.path, "/"); !strings.Contains(first, ".") {
			p.path = rp.module + "/" + p.path
		}
		out = append(out, p)
	}
	return out, problems
}

// strays are word pairs that state an import rule; one left over after the
// sentences are parsed is a rule in a form the test cannot read.
var strays = [][2]string{{"not", "import"}, {"may", "import"}, {"imports", "nothing"}, {"imports", "only"}, {"be", "imported"}}

// parseNames reads the `"name" stands for L.` sentences.
func parseNames(module, doc string) (map[string][]pattern, []string) {
	names := map[string][]pattern{}
	var problems []string
	ws, _ := words(doc)
	rp := ruleParser{module: module, names: map[string][]pattern{}}
	for i := 0; i < len(ws); i++ {
		if !strings.HasPrefix(ws[i], `"`) {
			continue
		}
		s, next, ok := sentenceFrom(ws, i)
		if !ok {
			break
		}
		m := nameDef.FindStringSubmatch(strings.Join(s, " "))
		if m == nil {
			continue
		}
		ps, probs := rp.items(splitList(strings.Fields(m[2])), nil)
		problems = append(problems, probs...)
		names[m[1]] = ps
		i = next - 1
	}
	return names, problems
}

// parse reads the rule sentences of one package's doc comment.
func (rp ruleParser) parse(pkg, doc string) ([]rule, []string) {
	ws, starts := words(doc)
	var rules []rule
	var problems []string
	used := make([]bool, len(ws))
	add := func(r rule, from, next int, probs []string) {
		for _, p := range probs {
			problems = append(problems, fmt.Sprintf("%s: in %q: %s", pkg, r.text, p))
		}
		rules = append(rules, r)
		for k := from; k < next; k++ {
			used[k] = true
		}
	}
	for i := 0; i < len(ws); i++ {
		sentenceStart := starts[i] || endsSentence(ws[i-1]) || strings.HasSuffix(ws[i-1], ":")
		if !sentenceStart {
			continue
		}
		s, next, ok := sentenceFrom(ws, i)
		if !ok {
			break
		}
		text := strings.Join(ws[i:next], " ")
		switch {
		case hasWords(s, 0, "It", "must", "not", "import"):
			r := rule{kind: mustNot, pkg: pkg, text: text}
			var probs []string
			r.items, probs = rp.items(splitList(s[4:]), nil)
			if len(s) == 4 {
				probs = append(probs, "the list is empty")
			}
			add(r, i, next, probs)
		case slices.Equal(s, []string{"It", "imports", "nothing", "of", "this", "module"}):
			add(rule{kind: onlyModule, pkg: pkg, text: text}, i, next, nil)
		case hasWords(s, 0, "It", "imports", "nothing", "of", "this", "module", "but"):
			r := rule{kind: onlyModule, pkg: pkg, text: text}
			var probs []string
			r.items, probs = rp.items(splitList(s[7:]), nil)
			add(r, i, next, probs)
		case slices.Equal(s, []string{"It", "imports", "nothing", "but", "the", "standard", "library"}):
			add(rule{kind: onlyStd, pkg: pkg, text: text}, i, next, nil)
		case s[0] == "Only":
			k := slices.Index(s, "may")
			if k < 0 || !hasWords(s, k, "may", "import") {
				continue // a sentence that starts with "Only"
			}
			r := rule{kind: onlyImporters, pkg: pkg, text: text}
			importers, probs := rp.items(splitList(s[1:k]), &r.testFiles)
			items, more := rp.items(splitList(s[k+2:]), nil)
			r.importers, r.items = importers, items
			add(r, i, next, append(probs, more...))
		default:
			continue
		}
		i = next - 1
	}
	for i := 0; i+1 < len(ws); i++ {
		if used[i] {
			continue
		}
		for _, st := range strays {
			if strings.EqualFold(ws[i], st[0]) && strings.EqualFold(strings.Trim(ws[i+1], ".,;:"), st[1]) {
				problems = append(problems, fmt.Sprintf("%s: %q ... states an import rule in a form the test cannot read (see %s/doc.go)",
					pkg, strings.Join(ws[max(0, i-2):min(len(ws), i+4)], " "), namesPackage))
			}
		}
	}
	return rules, problems
}

// sourcePackage is one package of the module as its files say.
type sourcePackage struct {
	rel     string              // module-relative path ("" for the root)
	doc     string              // doc.go's package comment, "" without doc.go
	hasDoc  bool                // doc.go exists
	imports map[string][]string // import path -> the non-test files importing it
}

// readSource walks the module's directories and reads, for every directory
// with non-test Go files, the imports of those files (whatever their build
// tags) and doc.go's package comment.
func readSource(t *testing.T, root string) map[string]*sourcePackage {
	t.Helper()
	pkgs := map[string]*sourcePackage{}
	fset := token.NewFileSet()
	require.NoError(t, filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			base := d.Name()
			if rel != "." && (strings.HasPrefix(base, ".") || strings.HasPrefix(base, "_") || base == "testdata" ||
				base == "node_modules" || base == "cdk.out" || base == "vendor") {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		dir := filepath.ToSlash(filepath.Dir(rel))
		if dir == "." {
			dir = ""
		}
		p := pkgs[dir]
		if p == nil {
			p = &sourcePackage{rel: dir, imports: map[string][]string{}}
			pkgs[dir] = p
		}
		mode := parser.ImportsOnly
		if d.Name() == "doc.go" {
			mode |= parser.ParseComments
		}
		f, err := parser.ParseFile(fset, path, nil, mode)
		if err != nil {
			return err
		}
		if d.Name() == "doc.go" {
			p.hasDoc = true
			if f.Doc != nil {
				p.doc = f.Doc.Text()
			}
		}
		for _, imp := range f.Imports {
			ip, err := strconv.Unquote(imp.Path.Value)
			if err != nil {
				return err
			}
			p.imports[ip] = append(p.imports[ip], rel)
		}
		return nil
	}))
	return pkgs
}

// standard reports whether an import path is the standard library's.
func standard(imp string) bool {
	first, _, _ := strings.Cut(imp, "/")
	return !strings.Contains(first, ".")
}

// violations checks every package's imports against the rules. Each
// violation names the package, the import, a file importing it and the
// sentence it breaks.
func violations(module string, pkgs map[string]*sourcePackage, rules []rule) []string {
	var out []string
	full := func(rel string) string {
		if rel == "" {
			return module
		}
		return module + "/" + rel
	}
	for _, p := range pkgs {
		self := full(p.rel)
		imps := make([]string, 0, len(p.imports))
		for imp := range p.imports {
			imps = append(imps, imp)
		}
		sort.Strings(imps)
		for _, r := range rules {
			for _, imp := range imps {
				broken := false
				switch r.kind {
				case mustNot:
					broken = r.pkg == p.rel && r.forbids(imp)
				case onlyModule:
					inModule := imp == module || strings.HasPrefix(imp, module+"/")
					broken = r.pkg == p.rel && inModule && imp != self && !r.forbids(imp)
				case onlyStd:
					broken = r.pkg == p.rel && !standard(imp)
				case onlyImporters:
					allowed := slices.ContainsFunc(r.importers, func(q pattern) bool { return q.matches(self) })
					broken = r.forbids(imp) && !allowed
				}
				if broken {
					out = append(out, fmt.Sprintf("%s imports %s (%s), against %s/doc.go: %q",
						self, imp, p.imports[imp][0], r.pkg, r.text))
				}
			}
		}
	}
	sort.Strings(out)
	return out
}

// moduleRequirements lists the module paths go.mod requires.
func moduleRequirements(t *testing.T, goMod string) []string {
	t.Helper()
	b, err := os.ReadFile(goMod)
	require.NoError(t, err)
	var mods []string
	inBlock := false
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		switch {
		case len(f) >= 2 && f[0] == "require" && f[1] == "(":
			inBlock = true
		case inBlock && len(f) > 0 && f[0] == ")":
			inBlock = false
		case inBlock && len(f) >= 2:
			mods = append(mods, f[0])
		case len(f) >= 3 && f[0] == "require":
			mods = append(mods, f[1])
		}
	}
	return mods
}

// unknownPatterns lists the rule items that name nothing: a module path no
// package of the module matches, or an outside path under no required module.
func unknownPatterns(module string, pkgs map[string]*sourcePackage, requires []string, rules []rule) []string {
	var out []string
	check := func(r rule, p pattern) {
		if p.path == module || strings.HasPrefix(p.path, module+"/") {
			for _, sp := range pkgs {
				full := module
				if sp.rel != "" {
					full += "/" + sp.rel
				}
				if p.matches(full) {
					return
				}
			}
			out = append(out, fmt.Sprintf("%s/doc.go: %s is no package of this module: %q", r.pkg, p, r.text))
			return
		}
		for _, m := range requires {
			if p.path == m || strings.HasPrefix(p.path, m+"/") || p.tree && strings.HasPrefix(m, p.path+"/") {
				return
			}
		}
		out = append(out, fmt.Sprintf("%s/doc.go: %s is under no module go.mod requires: %q", r.pkg, p, r.text))
	}
	for _, r := range rules {
		for _, p := range r.items {
			check(r, p)
		}
		for _, p := range r.importers {
			check(r, p)
		}
	}
	return out
}

// moduleRoot returns the module's directory.
func moduleRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}").Output()
	require.NoError(t, err)
	return strings.TrimSpace(string(out))
}

// readRules reads every package and its rules. problems lists what keeps a
// doc.go's rule from being read: no doc.go, no rule, a sentence the parser
// cannot read, an item that names nothing.
func readRules(t *testing.T) (pkgs map[string]*sourcePackage, rules []rule, problems []string) {
	t.Helper()
	root := moduleRoot(t)
	pkgs = readSource(t, root)
	namesPkg, ok := pkgs[namesPackage]
	require.True(t, ok, "the walk found %s", namesPackage)
	names, probs := parseNames(module, namesPkg.doc)
	for _, p := range probs {
		problems = append(problems, namesPackage+"/doc.go: "+p)
	}
	require.NotEmpty(t, names, "%s/doc.go defines the names", namesPackage)
	rp := ruleParser{module: module, names: names}
	rels := make([]string, 0, len(pkgs))
	for rel := range pkgs {
		rels = append(rels, rel)
	}
	sort.Strings(rels)
	for _, rel := range rels {
		p := pkgs[rel]
		if !p.hasDoc {
			problems = append(problems, p.rel+" has no doc.go (every package says there what it is for and what it must not import)")
			continue
		}
		rs, probs := rp.parse(p.rel, p.doc)
		problems = append(problems, probs...)
		if !slices.ContainsFunc(rs, func(r rule) bool { return r.kind != onlyImporters }) {
			problems = append(problems, p.rel+"/doc.go states no import rule of its own (It must not import ... / It imports nothing ...)")
		}
		rules = append(rules, rs...)
	}
	problems = append(problems, unknownPatterns(module, pkgs, moduleRequirements(t, filepath.Join(root, "go.mod")), rules)...)
	return pkgs, rules, problems
}

// TestImportRules enforces every doc.go's import rule over the imports of
// the package's non-test files, whatever their build tags.
func TestImportRules(t *testing.T) {
	pkgs, rules, problems := readRules(t)
	for _, p := range problems {
		t.Error(p)
	}
	for _, v := range violations(module, pkgs, rules) {
		t.Error(v)
	}
}

// TestEveryDocIsRead checks that the walk reads a doc.go, and rules from it,
// for every package `go list` knows.
func TestEveryDocIsRead(t *testing.T) {
	pkgs, rules, _ := readRules(t)
	out, err := exec.Command("go", "list", "-e", "-f", "{{.ImportPath}}", module+"/...").Output()
	require.NoError(t, err)
	listed := strings.Fields(string(out))
	require.NotEmpty(t, listed)
	withRules := map[string]bool{}
	for _, r := range rules {
		withRules[r.pkg] = true
	}
	for _, ip := range listed {
		rel := strings.TrimPrefix(strings.TrimPrefix(ip, module), "/")
		_, walked := pkgs[rel]
		assert.True(t, walked, "the walk found %s", ip)
		assert.True(t, withRules[rel], "rules were read from %s/doc.go", rel)
	}
	assert.Len(t, pkgs, len(listed), "the walk finds the packages go list finds")
	t.Logf("%d packages, %d rules", len(pkgs), len(rules))
}

// testNames are the names the unit tests resolve.
var testNames = map[string][]pattern{
	"the AWS SDK":        {{path: "github.com/aws/aws-sdk-go-v2", tree: true}},
	"the store adapters": {{path: module + "/shared/store/sqlitestore"}, {path: module + "/shared/store/s3store"}},
}

func TestParseRules(t *testing.T) {
	rp := ruleParser{module: module, names: testNames}
	tests := []struct {
		name     string
		doc      string
		want     []rule // compared on kind, items, importers and testFiles
		problems []string
	}{
		{
			name: "must not import, a name, a tree and a path",
			doc:  "Package x does y.\n\nIt must not import the AWS SDK, shared/ml/... or\nshared/api.\n",
			want: []rule{{kind: mustNot, items: []pattern{
				{path: "github.com/aws/aws-sdk-go-v2", tree: true}, {path: module + "/shared/ml", tree: true}, {path: module + "/shared/api"},
			}}},
		},
		{
			name: "a tree at the end of the sentence",
			doc:  "It must not import shared/store/... and shared/ml/....",
			want: []rule{{kind: mustNot, items: []pattern{{path: module + "/shared/store", tree: true}, {path: module + "/shared/ml", tree: true}}}},
		},
		{
			name: "nothing of this module but",
			doc:  "It imports nothing of this module but shared/fault and shared/config. It must not import gonum.org/v1/plot/....",
			want: []rule{
				{kind: onlyModule, items: []pattern{{path: module + "/shared/fault"}, {path: module + "/shared/config"}}},
				{kind: mustNot, items: []pattern{{path: "gonum.org/v1/plot", tree: true}}},
			},
		},
		{name: "nothing of this module", doc: "It imports nothing of this module.", want: []rule{{kind: onlyModule}}},
		{name: "only the standard library", doc: "It imports nothing but the standard library.", want: []rule{{kind: onlyStd}}},
		{
			name: "only importers, with test files",
			doc:  "It imports nothing of this module. Only test files and functions/internal/rietest may import shared/awsclient/awstest.",
			want: []rule{
				{kind: onlyModule},
				{kind: onlyImporters, testFiles: true, importers: []pattern{{path: module + "/functions/internal/rietest"}},
					items: []pattern{{path: module + "/shared/awsclient/awstest"}}},
			},
		},
		{
			name: "an example in a code block is not a rule",
			doc:  "It imports nothing of this module.\n\n\tIt must not import anything at all.\n",
			want: []rule{{kind: onlyModule}},
		},
		{
			name:     "a word that is neither a path nor a name",
			doc:      "It must not import any AWS SDK package or shared/api.",
			want:     []rule{{kind: mustNot, items: []pattern{{path: module + "/shared/api"}}}},
			problems: []string{`"any AWS SDK package" is neither an import path nor a name`},
		},
		{
			name:     "a rule in another form",
			doc:      "This package must not import AWS SDK packages.",
			problems: []string{"states an import rule in a form the test cannot read"},
		},
		{
			name:     "a rule in the middle of a sentence",
			doc:      "It may use the SDK; it must not import shared/api.",
			problems: []string{"states an import rule in a form the test cannot read"},
		},
		{
			name:     "test files only where importers are listed",
			doc:      "It must not import test files.",
			want:     []rule{{kind: mustNot}},
			problems: []string{`"test files" is neither an import path nor a name`},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			rules, problems := rp.parse("shared/x", tc.doc)
			require.Len(t, problems, len(tc.problems), "%q", problems)
			for i, p := range tc.problems {
				assert.Contains(t, problems[i], p)
			}
			require.Len(t, rules, len(tc.want))
			for i, w := range tc.want {
				assert.Equal(t, w.kind, rules[i].kind, "rule %d", i)
				assert.Equal(t, w.items, rules[i].items, "rule %d", i)
				assert.Equal(t, w.importers, rules[i].importers, "rule %d", i)
				assert.Equal(t, w.testFiles, rules[i].testFiles, "rule %d", i)
				assert.Equal(t, "shared/x", rules[i].pkg)
			}
		})
	}
}

func TestParseNames(t *testing.T) {
	names, problems := parseNames(module, `Names:

"the AWS SDK" stands for github.com/aws/aws-sdk-go-v2/... and
github.com/aws/smithy-go/.... "the store adapters" stands for
shared/store/s3store, shared/store/dynamostore or shared/store/sqlitestore.
"bad" stands for the AWS SDK.`)
	assert.Equal(t, map[string][]pattern{
		"the AWS SDK": {{path: "github.com/aws/aws-sdk-go-v2", tree: true}, {path: "github.com/aws/smithy-go", tree: true}},
		"the store adapters": {{path: module + "/shared/store/s3store"}, {path: module + "/shared/store/dynamostore"},
			{path: module + "/shared/store/sqlitestore"}},
		"bad": nil,
	}, names)
	require.Len(t, problems, 1, "a name is not defined by names")
}

// TestViolationsAreReported runs the checker on packages made up for it.
func TestViolationsAreReported(t *testing.T) {
	rp := ruleParser{module: module, names: testNames}
	pkgs := map[string]*sourcePackage{
		"shared/ml/nn": {rel: "shared/ml/nn", doc: "It must not import the AWS SDK or the store adapters.",
			imports: map[string][]string{"github.com/aws/aws-sdk-go-v2/aws": {"shared/ml/nn/a.go"}, "fmt": {"shared/ml/nn/a.go"},
				module + "/shared/fault": {"shared/ml/nn/a.go"}}},
		"shared/procid": {rel: "shared/procid", doc: "It imports nothing of this module but shared/fault.",
			imports: map[string][]string{module + "/shared/fault": {"shared/procid/p.go"}, module + "/shared/store": {"shared/procid/q.go"}}},
		"shared/fault": {rel: "shared/fault", doc: "It imports nothing but the standard library.",
			imports: map[string][]string{"errors": {"shared/fault/f.go"}, "gonum.org/v1/gonum/mat": {"shared/fault/f.go"}}},
		"shared/store/storetest": {rel: "shared/store/storetest",
			doc: "It must not import the store adapters. Only test files may import shared/store/storetest."},
		"shared/api": {rel: "shared/api", doc: "It must not import the store adapters.",
			imports: map[string][]string{module + "/shared/store/storetest": {"shared/api/x.go"}, module + "/shared/store": {"shared/api/x.go"}}},
		"functions/api": {rel: "functions/api", doc: "It must not import shared/store/sqlitestore. Only functions/... may import the AWS SDK.",
			imports: map[string][]string{"github.com/aws/aws-sdk-go-v2/service/s3": {"functions/api/main.go"},
				module + "/shared/store/s3store": {"functions/api/main.go"}}},
	}
	var rules []rule
	for _, p := range pkgs {
		rs, problems := rp.parse(p.rel, p.doc)
		require.Empty(t, problems)
		rules = append(rules, rs...)
	}
	got := violations(module, pkgs, rules)
	want := []string{
		module + "/shared/api imports " + module + "/shared/store/storetest (shared/api/x.go), against shared/store/storetest/doc.go",
		module + "/shared/fault imports gonum.org/v1/gonum/mat (shared/fault/f.go), against shared/fault/doc.go",
		module + "/shared/ml/nn imports github.com/aws/aws-sdk-go-v2/aws (shared/ml/nn/a.go), against functions/api/doc.go",
		module + "/shared/ml/nn imports github.com/aws/aws-sdk-go-v2/aws (shared/ml/nn/a.go), against shared/ml/nn/doc.go",
		module + "/shared/procid imports " + module + "/shared/store (shared/procid/q.go), against shared/procid/doc.go",
	}
	require.Len(t, got, len(want), "%s", strings.Join(got, "\n"))
	for i := range want {
		assert.True(t, strings.HasPrefix(got[i], want[i]), "got %s\nwant %s...", got[i], want[i])
	}

	t.Run("unknown patterns", func(t *testing.T) {
		bad := []rule{
			{pkg: "shared/x", text: "It must not import shared/nothing.", items: []pattern{{path: module + "/shared/nothing"}}},
			{pkg: "shared/x", text: "It must not import example.com/x/....", items: []pattern{{path: "example.com/x", tree: true}}},
			{pkg: "shared/x", text: "It must not import shared/ml/....", items: []pattern{{path: module + "/shared/ml", tree: true}}},
			{pkg: "shared/x", text: "It must not import github.com/aws/....", items: []pattern{{path: "github.com/aws", tree: true}}},
		}
		u := unknownPatterns(module, pkgs, []string{"github.com/aws/aws-sdk-go-v2"}, bad)
		require.Len(t, u, 2, "%s", strings.Join(u, "\n"))
		assert.Contains(t, u[0], "shared/nothing is no package of this module")
		assert.Contains(t, u[1], "example.com/x/... is under no module go.mod requires")
	})
}
