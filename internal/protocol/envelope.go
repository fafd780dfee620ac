package protocol

// scanEnvelope reads a client frame's envelope in one pass: b (trimmed,
// starting with '{') must be one JSON object and nothing after it. It
// returns the members encoding/json would have put in a Frame: type and id
// as strings, data as the raw bytes of its value (a slice of b, not a
// copy), the last occurrence winning and keys matched case-insensitively,
// as encoding/json does; every other member's value is validated and
// skipped.
//
// ok is false when the scanner does not take the frame on: invalid JSON,
// an escape or a non-ASCII byte in a key or in the type or id string, a
// non-string type or id, an "error" member, nesting deeper than
// maxScanDepth. The caller then decodes the frame with encoding/json, which
// gives the verdict; so the scanner needs to be exact only on what it
// accepts, and FuzzDecode checks that it is.
func scanEnvelope(b []byte) (f Frame, ok bool) {
	s := scanner{b: b, i: 1}
	s.space()
	if s.peek() == '}' {
		s.i++
		return f, s.i == len(b)
	}
	for {
		s.space()
		key, plain := s.str()
		if !plain {
			return Frame{}, false
		}
		s.space()
		if s.peek() != ':' {
			return Frame{}, false
		}
		s.i++
		s.space()
		switch {
		case foldEq(key, "type"), foldEq(key, "id"):
			if s.peek() == 'n' { // null leaves the field as it was
				if !s.lit("null") {
					return Frame{}, false
				}
				break
			}
			raw, plain := s.str()
			if !plain {
				return Frame{}, false
			}
			if v := internType(raw); key[0]|0x20 == 't' {
				f.Type = v
			} else {
				f.ID = v
			}
		case foldEq(key, "data"):
			start := s.i
			if !s.value(0) {
				return Frame{}, false
			}
			f.Data = b[start:s.i:s.i]
		case foldEq(key, "error"):
			return Frame{}, false
		default:
			if !s.value(0) {
				return Frame{}, false
			}
		}
		s.space()
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return f, s.i == len(b)
		default:
			return Frame{}, false
		}
	}
}

// maxScanDepth bounds the nesting the scanner follows (encoding/json allows
// 10000; deeper frames than this go to it).
const maxScanDepth = 256

// internType returns raw as a string, without allocating when it is a
// request type's name (the usual case for the type member).
func internType(raw []byte) string {
	if t, ok := typeNames[string(raw)]; ok {
		return t
	}
	return string(raw)
}

var typeNames = func() map[string]string {
	m := make(map[string]string, len(knownTypes))
	for t := range knownTypes {
		m[t] = t
	}
	return m
}()

// foldEq reports whether the ASCII key equals the lower-case name under
// ASCII case folding.
func foldEq(key []byte, name string) bool {
	if len(key) != len(name) {
		return false
	}
	for i := range len(key) {
		c := key[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != name[i] {
			return false
		}
	}
	return true
}

// scanner validates JSON over b from i, by the grammar of RFC 8259 as
// encoding/json reads it (any byte from 0x20 up inside strings).
type scanner struct {
	b []byte
	i int
}

func (s *scanner) peek() byte {
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

func (s *scanner) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// str reads a string at i and returns its contents; plain is false when the
// string is invalid or holds an escape or a byte outside printable ASCII
// (its contents are then not returned).
func (s *scanner) str() (raw []byte, plain bool) {
	if s.peek() != '"' {
		return nil, false
	}
	start := s.i + 1
	for j := start; j < len(s.b); j++ {
		c := s.b[j]
		if c == '"' {
			s.i = j + 1
			return s.b[start:j], true
		}
		if c < 0x20 || c >= 0x80 || c == '\\' {
			return nil, false
		}
	}
	return nil, false
}

// skipStr validates a string at i, escapes and any byte from 0x20 up
// allowed.
func (s *scanner) skipStr() bool {
	if s.peek() != '"' {
		return false
	}
	for j := s.i + 1; j < len(s.b); j++ {
		switch c := s.b[j]; {
		case c == '"':
			s.i = j + 1
			return true
		case c == '\\':
			j++
			if j >= len(s.b) {
				return false
			}
			switch s.b[j] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if j+4 >= len(s.b) {
					return false
				}
				for _, h := range s.b[j+1 : j+5] {
					if !isHex(h) {
						return false
					}
				}
				j += 4
			default:
				return false
			}
		case c < 0x20:
			return false
		}
	}
	return false
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func (s *scanner) lit(w string) bool {
	if len(s.b)-s.i < len(w) || string(s.b[s.i:s.i+len(w)]) != w {
		return false
	}
	s.i += len(w)
	return true
}

// value validates one JSON value at i (no leading space) and moves past it.
func (s *scanner) value(depth int) bool {
	switch c := s.peek(); {
	case c == '"':
		return s.skipStr()
	case c == '{':
		return s.object(depth + 1)
	case c == '[':
		return s.array(depth + 1)
	case c == 't':
		return s.lit("true")
	case c == 'f':
		return s.lit("false")
	case c == 'n':
		return s.lit("null")
	case c == '-' || '0' <= c && c <= '9':
		return s.number()
	}
	return false
}

func (s *scanner) object(depth int) bool {
	if depth > maxScanDepth {
		return false
	}
	s.i++
	s.space()
	if s.peek() == '}' {
		s.i++
		return true
	}
	for {
		s.space()
		if !s.skipStr() {
			return false
		}
		s.space()
		if s.peek() != ':' {
			return false
		}
		s.i++
		s.space()
		if !s.value(depth) {
			return false
		}
		s.space()
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return true
		default:
			return false
		}
	}
}

func (s *scanner) array(depth int) bool {
	if depth > maxScanDepth {
		return false
	}
	s.i++
	s.space()
	if s.peek() == ']' {
		s.i++
		return true
	}
	for {
		s.space()
		if !s.value(depth) {
			return false
		}
		s.space()
		switch s.peek() {
		case ',':
			s.i++
		case ']':
			s.i++
			return true
		default:
			return false
		}
	}
}

// number validates -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? at i.
func (s *scanner) number() bool {
	if s.peek() == '-' {
		s.i++
	}
	switch c := s.peek(); {
	case c == '0':
		s.i++
	case '1' <= c && c <= '9':
		s.digits()
	default:
		return false
	}
	if s.peek() == '.' {
		s.i++
		if !s.digits() {
			return false
		}
	}
	if c := s.peek(); c == 'e' || c == 'E' {
		s.i++
		if c := s.peek(); c == '+' || c == '-' {
			s.i++
		}
		if !s.digits() {
			return false
		}
	}
	return true
}

// digits moves past one or more digits; false if there is none.
func (s *scanner) digits() bool {
	start := s.i
	for s.i < len(s.b) && '0' <= s.b[s.i] && s.b[s.i] <= '9' {
		s.i++
	}
	return s.i > start
}
