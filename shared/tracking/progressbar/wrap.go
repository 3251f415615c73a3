package progressbar

import (
	"strings"
	"unicode/utf8"
)

// Wrap breaks text into lines of at most width runes at spaces; the
// lines after the first start with indent. A word longer than a line (a
// path) stays whole on its own line.
func Wrap(text, indent string, width int) string {
	if utf8.RuneCountInString(text) <= width {
		return text
	}
	lead := text[:len(text)-len(strings.TrimLeft(text, " "))]
	words := strings.Fields(text)
	var b strings.Builder
	line := lead
	cur := utf8.RuneCountInString(line)
	first := true
	for _, w := range words {
		n := utf8.RuneCountInString(w)
		if !first && cur+1+n > width {
			b.WriteString(line + "\n")
			line, cur, first = indent+w, utf8.RuneCountInString(indent)+n, false
			continue
		}
		if first {
			line += w
			cur += n
			first = false
			continue
		}
		line += " " + w
		cur += 1 + n
	}
	b.WriteString(line)
	return b.String()
}
