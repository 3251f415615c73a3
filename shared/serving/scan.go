package serving

import (
	"bytes"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth bounds the nesting of a value the scanner skips.
const maxDepth = 32

// scanner reads JSON (RFC 8259) from data, one value at a time, checking
// its grammar; pos is the offset of the next byte to read.
type scanner struct {
	data []byte
	pos  int
}

// next skips white space and returns the next byte without consuming it (0
// at the end).
func (s *scanner) next() byte {
	for s.pos < len(s.data) {
		switch c := s.data[s.pos]; c {
		case ' ', '\t', '\n', '\r':
			s.pos++
		default:
			return c
		}
	}
	return 0
}

// syntax is the InputError of invalid JSON at the current position.
func (s *scanner) syntax(what string) error {
	if s.pos >= len(s.data) {
		return inputError(nil, "invalid JSON: unexpected end of input")
	}
	return inputError(nil, "invalid JSON at byte %d: %s", s.pos, what)
}

// describe names the value that starts at the next byte, for messages.
func (s *scanner) describe() string {
	switch c := s.next(); {
	case c == '{':
		return "an object"
	case c == '[':
		return "an array"
	case c == '"':
		save := s.pos
		str, err := s.str()
		s.pos = save
		if err != nil {
			return "a string"
		}
		v := string(str)
		if len(v) > 40 {
			v = v[:40] + "..."
		}
		return "the string " + strconv.Quote(v)
	case c == 't':
		return "true"
	case c == 'f':
		return "false"
	case c == 'n':
		return "null"
	case c == '-' || c >= '0' && c <= '9':
		save := s.pos
		num, err := s.number()
		s.pos = save
		if err == nil {
			return "the number " + string(num)
		}
	}
	return "invalid JSON"
}

// key reads an object key and the colon after it.
func (s *scanner) key() ([]byte, error) {
	if s.next() != '"' {
		return nil, s.syntax("want a string key")
	}
	k, err := s.str()
	if err != nil {
		return nil, err
	}
	if s.next() != ':' {
		return nil, s.syntax("want ':' after an object key")
	}
	s.pos++
	return k, nil
}

// str reads a string: its bytes inside data when it has no escapes, a
// decoded copy otherwise.
func (s *scanner) str() ([]byte, error) {
	s.pos++ // the opening quote
	start := s.pos
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		switch {
		case c == '"':
			out := s.data[start:s.pos]
			s.pos++
			return out, nil
		case c == '\\':
			return s.escaped(start)
		case c < 0x20:
			return nil, s.syntax("a control character in a string")
		}
		s.pos++
	}
	return nil, s.syntax("an unterminated string")
}

// escaped decodes the rest of a string that has an escape at pos.
func (s *scanner) escaped(start int) ([]byte, error) {
	out := append([]byte(nil), s.data[start:s.pos]...)
	for s.pos < len(s.data) {
		c := s.data[s.pos]
		switch {
		case c == '"':
			s.pos++
			return out, nil
		case c < 0x20:
			return nil, s.syntax("a control character in a string")
		case c != '\\':
			out = append(out, c)
			s.pos++
			continue
		}
		if s.pos+1 >= len(s.data) {
			return nil, s.syntax("an unterminated string")
		}
		e := s.data[s.pos+1]
		s.pos += 2
		switch e {
		case '"', '\\', '/':
			out = append(out, e)
		case 'b':
			out = append(out, '\b')
		case 'f':
			out = append(out, '\f')
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'u':
			r, ok := s.hex4()
			if !ok {
				return nil, s.syntax(`an invalid \u escape`)
			}
			if utf16.IsSurrogate(r) {
				r2 := utf8.RuneError
				if s.pos+1 < len(s.data) && s.data[s.pos] == '\\' && s.data[s.pos+1] == 'u' {
					s.pos += 2
					if low, ok := s.hex4(); ok {
						r2 = low
					}
				}
				r = utf16.DecodeRune(r, r2)
			}
			out = utf8.AppendRune(out, r)
		default:
			return nil, s.syntax("an invalid escape in a string")
		}
	}
	return nil, s.syntax("an unterminated string")
}

func (s *scanner) hex4() (rune, bool) {
	if s.pos+4 > len(s.data) {
		return 0, false
	}
	v, err := strconv.ParseUint(string(s.data[s.pos:s.pos+4]), 16, 32)
	if err != nil {
		return 0, false
	}
	s.pos += 4
	return rune(v), true
}

// number reads a number by the JSON grammar: -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func (s *scanner) number() ([]byte, error) {
	start := s.pos
	digits := func() int {
		n := 0
		for s.pos < len(s.data) && s.data[s.pos] >= '0' && s.data[s.pos] <= '9' {
			s.pos++
			n++
		}
		return n
	}
	if s.pos < len(s.data) && s.data[s.pos] == '-' {
		s.pos++
	}
	switch {
	case s.pos < len(s.data) && s.data[s.pos] == '0':
		s.pos++
	case digits() == 0:
		return nil, s.syntax("an invalid number")
	}
	if s.pos < len(s.data) && s.data[s.pos] == '.' {
		s.pos++
		if digits() == 0 {
			return nil, s.syntax("an invalid number")
		}
	}
	if s.pos < len(s.data) && (s.data[s.pos] == 'e' || s.data[s.pos] == 'E') {
		s.pos++
		if s.pos < len(s.data) && (s.data[s.pos] == '+' || s.data[s.pos] == '-') {
			s.pos++
		}
		if digits() == 0 {
			return nil, s.syntax("an invalid number")
		}
	}
	return s.data[start:s.pos], nil
}

// literal reads true, false or null.
func (s *scanner) literal(word string) error {
	if !bytes.HasPrefix(s.data[s.pos:], []byte(word)) {
		return s.syntax("an invalid literal")
	}
	s.pos += len(word)
	return nil
}

// skipValue reads one whole value, checking its grammar.
func (s *scanner) skipValue(depth int) error {
	switch c := s.next(); {
	case c == '{' || c == '[':
		if depth >= maxDepth {
			return inputError(nil, "nested deeper than %d levels", maxDepth)
		}
		closing := byte('}')
		if c == '[' {
			closing = ']'
		}
		s.pos++
		for first := true; ; first = false {
			n := s.next()
			if n == closing {
				s.pos++
				return nil
			}
			if !first {
				if n != ',' {
					return s.syntax("want ',' or a closing bracket")
				}
				s.pos++
			}
			if c == '{' {
				if _, err := s.key(); err != nil {
					return err
				}
			}
			if err := s.skipValue(depth + 1); err != nil {
				return err
			}
		}
	case c == '"':
		_, err := s.str()
		return err
	case c == 't':
		return s.literal("true")
	case c == 'f':
		return s.literal("false")
	case c == 'n':
		return s.literal("null")
	case c == '-' || c >= '0' && c <= '9':
		_, err := s.number()
		return err
	}
	return s.syntax("want a JSON value")
}
