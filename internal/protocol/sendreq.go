package protocol

import (
	"strconv"
	"unicode/utf8"
)

// decodeSend reads a send request's payload b into r in one pass, without
// reflection: what encoding/json.Unmarshal(b, r) would do, for the payloads
// it takes on. ok is false, and r is left as it was, for any other: invalid
// JSON, a key with an escape or a non-ASCII byte, a string value with an
// escape or invalid UTF-8, a number that is not a plain integer of int's
// range, a value of the wrong kind, or a non-null data, pushConfig or
// mentionedUserIDs member (base64, the nested object and the list stay
// with encoding/json). The
// caller then decodes b with encoding/json, which gives the verdict; so,
// as with scanEnvelope, the fast path needs to be exact only on what it
// accepts, and FuzzDecodeSend checks that it is.
//
// Keys match the fields case-insensitively and the last occurrence wins,
// unknown members are validated and skipped, and null leaves a field as it
// was, as encoding/json does (for ASCII keys, its case folding is ASCII's).
func decodeSend(b []byte, r *SendRequest) bool {
	s := scanner{b: b}
	s.space()
	if s.peek() != '{' {
		return false
	}
	s.i++
	out := *r
	s.space()
	if s.peek() == '}' {
		s.i++
		return s.end(r, &out)
	}
	for {
		s.space()
		key, plain := s.str()
		if !plain {
			return false
		}
		s.space()
		if s.peek() != ':' {
			return false
		}
		s.i++
		s.space()
		var ok bool
		switch {
		case foldEq(key, "conversationid"):
			ok = s.strValue(&out.ConversationID)
		case foldEq(key, "conversationtype"):
			ok = s.intValue(&out.ConversationType)
		case foldEq(key, "localmessageid"):
			ok = s.strValue(&out.LocalMessageID)
		case foldEq(key, "type"):
			ok = s.intValue(&out.Type)
		case foldEq(key, "text"):
			ok = s.strValue(&out.Text)
		case foldEq(key, "subtype"):
			ok = s.intValue(&out.SubType)
		case foldEq(key, "searchedcontent"):
			ok = s.strValue(&out.SearchedContent)
		case foldEq(key, "extendeddata"):
			ok = s.strValue(&out.ExtendedData)
		case foldEq(key, "priority"):
			ok = s.intValue(&out.Priority)
		case foldEq(key, "data"):
			// null sets a slice to nil; anything else is base64 for
			// encoding/json.
			if ok = s.lit("null"); ok {
				out.Data = nil
			}
		case foldEq(key, "pushconfig"):
			if ok = s.lit("null"); ok {
				out.PushConfig = nil
			}
		case foldEq(key, "mentioneduserids"):
			// null sets the slice to nil; a list stays with encoding/json.
			if ok = s.lit("null"); ok {
				out.MentionedUserIDs = nil
			}
		case foldEq(key, "ismentionall"):
			ok = s.boolValue(&out.IsMentionAll)
		default:
			ok = s.value(0)
		}
		if !ok {
			return false
		}
		s.space()
		switch s.peek() {
		case ',':
			s.i++
		case '}':
			s.i++
			return s.end(r, &out)
		default:
			return false
		}
	}
}

// end accepts the request when nothing but white space follows the object.
func (s *scanner) end(r, out *SendRequest) bool {
	s.space()
	if s.i != len(s.b) {
		return false
	}
	*r = *out
	return true
}

// boolValue reads true or false into *dst (null leaves it): false for
// any other value.
func (s *scanner) boolValue(dst *bool) bool {
	switch s.peek() {
	case 'n':
		return s.lit("null")
	case 't':
		if s.lit("true") {
			*dst = true
			return true
		}
	case 'f':
		if s.lit("false") {
			*dst = false
			return true
		}
	}
	return false
}

// strValue reads a string value into *dst (null leaves it): false for any
// other value, an escape or invalid UTF-8 (which encoding/json would
// replace).
func (s *scanner) strValue(dst *string) bool {
	if s.peek() == 'n' {
		return s.lit("null")
	}
	if s.peek() != '"' {
		return false
	}
	start := s.i + 1
	ascii := true
	for j := start; j < len(s.b); j++ {
		c := s.b[j]
		switch {
		case c == '"':
			raw := s.b[start:j]
			if !ascii && !utf8.Valid(raw) {
				return false
			}
			*dst = string(raw)
			s.i = j + 1
			return true
		case c == '\\' || c < 0x20:
			return false
		case c >= 0x80:
			ascii = false
		}
	}
	return false
}

// intValue reads an integer value into *dst (null leaves it): false for any
// other value, a fraction or exponent, or a value out of int's range.
func (s *scanner) intValue(dst *int) bool {
	if s.peek() == 'n' {
		return s.lit("null")
	}
	start := s.i
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
	switch s.peek() {
	case '.', 'e', 'E':
		return false
	}
	digits := s.b[start:s.i]
	neg := digits[0] == '-'
	if neg {
		digits = digits[1:]
	}
	if len(digits) > 18 || strconv.IntSize < 64 && len(digits) > 9 {
		return false // maybe out of range: encoding/json decides
	}
	var n int
	for _, c := range digits {
		n = n*10 + int(c-'0')
	}
	if neg {
		n = -n
	}
	*dst = n
	return true
}
