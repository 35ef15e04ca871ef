package rocketchat

// validResourceID reports whether s matches ResourcePattern: [A-Za-z0-9]{17,24}.
// It is the hand-written form of the pattern, checked on every update;
// match_test.go fuzzes it against ResourcePattern.
func validResourceID(s string) bool {
	if len(s) < 17 || len(s) > 24 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return true
}
