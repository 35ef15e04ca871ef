package redact

import (
	"net/url"
	"regexp"
	"strings"
)

// URL returns raw (one URL, or several separated by commas as NATS takes
// them) with the user information hidden: the password of user:password,
// and a lone user part (a NATS token) too, become Marker. It never fails:
// what url.Parse refuses is redacted by URLsInText's pattern.
func URL(raw string) string {
	parts := strings.Split(raw, ",")
	for i, p := range parts {
		u, err := url.Parse(strings.TrimSpace(p))
		if err != nil || u.User == nil {
			parts[i] = URLsInText(p)
			continue
		}
		if _, has := u.User.Password(); has {
			u.User = url.UserPassword(u.User.Username(), "xxxxx")
			parts[i] = strings.Replace(u.String(), ":xxxxx@", ":"+Marker+"@", 1)
		} else {
			u.User = nil
			parts[i] = strings.Replace(u.String(), "://", "://"+Marker+"@", 1)
		}
		// url.Parse ends the user information at the first '/' or '@':
		// what a mistyped password left in the path goes too.
		parts[i] = URLsInText(parts[i])
	}
	return strings.Join(parts, ",")
}

// URLSecrets returns the secrets in the user information of raw (one URL
// or several separated by commas), parsed or not: each password, or the
// user part when there is no password (a token). Feed them to New so that
// the secret is redacted wherever a library quotes it.
func URLSecrets(raw string) []string {
	var out []string
	for _, p := range strings.Split(raw, ",") {
		p = strings.TrimSpace(p)
		if u, err := url.Parse(p); err == nil && u.User != nil {
			if pw, has := u.User.Password(); has {
				out = append(out, pw)
			} else {
				out = append(out, u.User.Username())
			}
		}
		// Unparsable input: take what lies between "://" and the last '@'
		// of the authority, raw and unescaped.
		for _, m := range userinfo.FindAllStringSubmatch(p, -1) {
			info := m[2]
			if _, pw, ok := strings.Cut(info, ":"); ok {
				out = append(out, pw)
				if u, err := url.PathUnescape(pw); err == nil && u != pw {
					out = append(out, u)
				}
			} else {
				out = append(out, info)
			}
		}
	}
	return out
}

// userinfo finds scheme://userinfo@ in text. The userinfo runs to the last
// '@' before white space, a quote or the end, so that a password holding an
// unescaped '@' or '/' is still taken whole.
var userinfo = regexp.MustCompile(`([A-Za-z][A-Za-z0-9+.-]*://)([^\s"'<>]*)@`)

// URLsInText hides the user information of every scheme://user:pass@host
// in text (error messages quote URLs): user:pass@ becomes user:[REDACTED]@,
// and a lone user part (a token) becomes [REDACTED]@.
func URLsInText(text string) string {
	if !strings.Contains(text, "://") {
		return text
	}
	return userinfo.ReplaceAllStringFunc(text, func(m string) string {
		sub := userinfo.FindStringSubmatch(m)
		scheme, info := sub[1], sub[2]
		if user, _, ok := strings.Cut(info, ":"); ok {
			return scheme + user + ":" + Marker + "@"
		}
		return scheme + Marker + "@"
	})
}
