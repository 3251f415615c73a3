package training

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxNameLength bounds a model's or study's name, in characters.
const MaxNameLength = 200

// hiddenRanges are the characters a name may not hold, as ranges of the
// Basic Multilingual Plane: control characters (Cc: NUL, newlines, escape
// sequences' ESC), format characters (Cf: the bidi overrides and
// isolates that reorder what a terminal shows, zero-width characters) and
// the line and paragraph separators (Zl, Zp). Derived from the Unicode
// tables once, so that CheckName and NamePattern cannot disagree.
// It reads the tables' ranges rather than testing every rune of the plane
// (a millisecond of every cold start of a binary that links this package).
var hiddenRanges = func() [][2]rune {
	var rs [][2]rune
	for _, tab := range []*unicode.RangeTable{unicode.Cc, unicode.Cf, unicode.Zl, unicode.Zp} {
		for _, r := range tab.R16 {
			for lo := rune(r.Lo); lo <= rune(r.Hi); lo += rune(r.Stride) {
				hi := lo
				if r.Stride == 1 {
					hi = rune(r.Hi)
				}
				rs = append(rs, [2]rune{lo, hi})
				if r.Stride == 1 {
					break
				}
			}
		}
	}
	slices.SortFunc(rs, func(a, b [2]rune) int { return int(a[0] - b[0]) })
	var out [][2]rune
	for _, r := range rs {
		if n := len(out); n > 0 && r[0] <= out[n-1][1]+1 {
			out[n-1][1] = max(out[n-1][1], r[1])
			continue
		}
		out = append(out, r)
	}
	return out
}()

func hidden(r rune) bool {
	for _, rg := range hiddenRanges {
		if r < rg[0] {
			return false
		}
		if r <= rg[1] {
			return true
		}
	}
	return false
}

// NamePattern is the regular expression (JSON Schema / ECMA 262 syntax,
// \uXXXX escapes) of the names CheckName accepts, for API documents.
func NamePattern() string {
	var b strings.Builder
	b.WriteString("^[^")
	for _, rg := range hiddenRanges {
		fmt.Fprintf(&b, `\u%04x`, rg[0])
		if rg[1] != rg[0] {
			fmt.Fprintf(&b, `-\u%04x`, rg[1])
		}
	}
	b.WriteString("]*$")
	return b.String()
}

// CheckName says what is wrong with a name that is shown to people (a
// model's, a study's): longer than max characters, not UTF-8, or holding a
// control, format (bidi override, zero-width) or line-separator character,
// which would be printed raw to a terminal. nil for "" (the default name).
func CheckName(name string, max int) error {
	if !utf8.ValidString(name) {
		return fmt.Errorf("not valid UTF-8")
	}
	if n := utf8.RuneCountInString(name); n > max {
		return fmt.Errorf("%d characters is more than %d", n, max)
	}
	for i, r := range name {
		if hidden(r) {
			return fmt.Errorf("character %d is %s, a control or format character; names are shown in terminals and reports", utf8.RuneCountInString(name[:i])+1, strconv.QuoteRuneToASCII(r))
		}
	}
	return nil
}

// PrintableName is name made safe for a terminal: every control, format
// and line-separator character (and invalid byte) written as a Go escape,
// and at most MaxNameLength characters kept — for names stored before
// CheckName guarded them.
func PrintableName(name string) string {
	var b strings.Builder
	n := 0
	for _, r := range name {
		if n == MaxNameLength {
			b.WriteString("...")
			break
		}
		n++
		if r == utf8.RuneError || hidden(r) {
			q := strconv.QuoteRuneToASCII(r)
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}
