package hybriddatapipeline

// validResourceID reports whether s matches ResourcePattern: a positive
// decimal of at most 18 digits without leading zeros. It is the
// hand-written form of the pattern, checked on every update; match_test.go
// fuzzes it against ResourcePattern.
func validResourceID(s string) bool {
	if len(s) < 1 || len(s) > 18 || s[0] < '1' || s[0] > '9' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
