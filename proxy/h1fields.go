package proxy

import (
	"net/http"
	"net/textproto"

	"golang.org/x/net/http/httpguts"
)

// Header fields as both fast parsers take them, the server's request heads
// (h1parse.go) and the transport's response heads (h1readresponse.go): the subset of
// textproto's syntax that clients and pods send, with textproto's results.

// parseHeaderFields parses "Key: value\r\n" lines into header,
// which must be empty, in one pass over the bytes. Keys and values are sliced out of
// fields; each key's values are a slice of values (appended to and returned, so that
// a caller can keep its backing array), capacity-capped so that a repeated key
// appends to its own copy and leaves its neighbours alone.
//
// A key with anything but token bytes (a space before the colon, which net/http
// keeps uncanonicalised), an empty key, a line starting with whitespace (obs-fold), a
// bare CR or a value byte net/http refuses: false.
func parseHeaderFields(fields string, header http.Header, values []string) ([]string, bool) {
	for i := 0; i < len(fields); {
		key, canonical, value, next, ok := nextHeaderField(fields, i)
		if !ok {
			return values, false
		}
		i = next
		if !canonical {
			key = textproto.CanonicalMIMEHeaderKey(key)
		}
		value = trimSpaceTab(value)
		if vv, seen := header[key]; seen {
			header[key] = append(vv, value)
			continue
		}
		values = append(values, value)
		n := len(values)
		header[key] = values[n-1 : n : n]
	}
	return values, true
}

// nextHeaderField reads the "Key: value" line at fields[i:], which parseHeaderFields
// and scanRawHead (h1rawhead.go) both take line by line: the key, whether it is
// canonical, the value as it stands after the colon (untrimmed), and where the next
// line begins. ok is false on what parseHeaderFields refuses.
func nextHeaderField(fields string, i int) (key string, canonical bool, value string, next int, ok bool) {
	start, upper := i, true
	canonical = true
	for ; i < len(fields) && fields[i] != ':'; i++ {
		c := fields[i]
		if fieldBytes[c]&tokenByte == 0 {
			return "", false, "", 0, false
		}
		if upper && 'a' <= c && c <= 'z' || !upper && 'A' <= c && c <= 'Z' {
			canonical = false
		}
		upper = c == '-'
	}
	if i == start || i == len(fields) {
		return "", false, "", 0, false
	}
	key = fields[start:i]
	// A line ends at its CR LF; a CR not followed by LF is a bare CR, which
	// net/http reads as part of the line.
	start = i + 1
	for i = start; i < len(fields) && fields[i] != '\r'; i++ {
		if fieldBytes[fields[i]]&valueByte == 0 {
			return "", false, "", 0, false
		}
	}
	if i+1 >= len(fields) || fields[i+1] != '\n' {
		return "", false, "", 0, false
	}
	return key, canonical, fields[start:i], i + 2, true
}

func trimSpaceTab(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

// fieldBytes classifies bytes as textproto does: tokenByte for header keys
// (validHeaderFieldByte), valueByte for values (validHeaderValueByte: HTAB, SP, VCHAR
// and obs-text 0x80–0xFF). CR and LF are neither.
var fieldBytes = func() (class [256]uint8) {
	for c := 0; c < 256; c++ {
		if httpguts.IsTokenRune(rune(c)) {
			class[c] |= tokenByte
		}
		if c == '\t' || c >= ' ' && c != 0x7f {
			class[c] |= valueByte
		}
	}
	return class
}()

const (
	tokenByte = 1 << iota
	valueByte
)

func isToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if fieldBytes[s[i]]&tokenByte == 0 {
			return false
		}
	}
	return s != ""
}

func validFieldValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if fieldBytes[v[i]]&valueByte == 0 {
			return false
		}
	}
	return true
}

// contentLengthDigits parses 1–18 decimal digits, which always fit in an int64.
func contentLengthDigits(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
		n = n*10 + int64(s[i]-'0')
	}
	return n, true
}
