package messages

import "strings"

// The identifiers the hot path checks on every command and result (ids,
// connections, resources, field names, digests) are plain runs of an ASCII
// character class. They are matched byte by byte here rather than with
// their regular expressions, which stay the documented spec (error
// messages quote them) and which a fuzz test holds these matchers to
// (charset_test.go).

// charset is a set of ASCII bytes: a regular expression's character class.
type charset [256]bool

// chars builds a charset from a class written as in a regular expression:
// single characters and a-z style ranges ("A-Za-z0-9._:-": a '-' that
// ends the class is itself).
func chars(class string) *charset {
	var c charset
	for i := 0; i < len(class); i++ {
		if i+2 < len(class) && class[i+1] == '-' {
			for b := class[i]; b <= class[i+2]; b++ {
				c[b] = true
			}
			i += 2
			continue
		}
		c[class[i]] = true
	}
	return &c
}

// all reports whether every byte of s is in c.
func (c *charset) all(s string) bool {
	for i := 0; i < len(s); i++ {
		if !c[s[i]] {
			return false
		}
	}
	return true
}

// run reports whether s is min to max characters of c (c is ASCII, so
// its characters are bytes).
func (c *charset) run(s string, min, max int) bool {
	return len(s) >= min && len(s) <= max && c.all(s)
}

var (
	idChars         = chars("A-Za-z0-9._:-")
	connectionChars = chars("a-z0-9_-")
	resourceChars   = chars("A-Za-z0-9_-")
	letters         = chars("A-Za-z")
	wordChars       = chars("A-Za-z0-9_")
	identStart      = chars("A-Za-z_")
	lowerHex        = chars("0-9a-f")
	digits          = chars("0-9")
)

// isProviderField matches providerFieldPattern.
func isProviderField(s string) bool {
	return len(s) >= 1 && len(s) <= 64 && letters[s[0]] && wordChars.all(s[1:])
}

// isIdentifier matches identifierPattern.
func isIdentifier(s string) bool {
	return len(s) >= 1 && len(s) <= 64 && identStart[s[0]] && wordChars.all(s[1:])
}

// isProviderName matches providerNamePattern.
func isProviderName(s string) bool { return connectionChars.run(s, 0, 64) }

// isResultField matches resultFieldPattern.
func isResultField(s string) bool {
	switch s {
	case FieldName, FieldDescription, FieldClientID, FieldClientSecret, FieldRedirectURI,
		FieldScopes, FieldAuthorizeURL, FieldTokenURL, FieldActive:
		return true
	}
	rest, ok := strings.CutPrefix(s, ProviderFieldPrefix)
	return ok && isProviderField(rest)
}

// isPayloadDigest matches payloadDigestPattern.
func isPayloadDigest(s string) bool {
	rest, ok := strings.CutPrefix(s, "sha256:")
	return ok && len(rest) == 64 && lowerHex.all(rest)
}

// isConflictSuffix matches conflictSuffixPattern.
func isConflictSuffix(s string) bool {
	rest, ok := strings.CutPrefix(s, "-conflict-")
	return ok && len(rest) == 16 && lowerHex.all(rest)
}

// isReplaySuffix matches replaySuffixPattern.
func isReplaySuffix(s string) bool {
	rest, ok := strings.CutPrefix(s, "-replay-")
	return ok && digits.run(rest, 1, 20)
}
