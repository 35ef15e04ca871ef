package kvdedup

import (
	"regexp"
	"strings"
	"testing"
)

// kvKeyRe is what a JetStream KV key may be: tokens of [-/_=a-zA-Z0-9]
// separated by single dots, neither leading nor trailing.
var kvKeyRe = regexp.MustCompile(`^[-/_=a-zA-Z0-9]+(\.[-/_=a-zA-Z0-9]+)*$`)

func TestKeysValidAndDistinct(t *testing.T) {
	seen := map[string]string{}
	check := func(kind, in, key string) {
		t.Helper()
		if !kvKeyRe.MatchString(key) {
			t.Errorf("%s(%q) = %q: not a valid KV key", kind, in, key)
		}
		if prev, dup := seen[key]; dup {
			t.Errorf("%s(%q) = %q, same as for %q", kind, in, key, prev)
		}
		seen[key] = in
	}
	for _, id := range []string{"a", "A", "a.b", "a:b", "a-b", "a_b", ".", "..", "a.", ".a", "01JD8Z3Q:x.y-z_1", strings.Repeat("z", 300)} {
		check("cmdKey", id, cmdKey(id))
		check("traceKey", id, traceKey(id))
	}
	leaseKeys := []string{
		"conn/res", "conn/res.x", "conn.res/x", "conn/res/x", "conn/res=x", "conn/=cmVz", "conn/res x",
		"conn/", "/res", "/", "", "conn//res", "conn/res/", "connres", "conn", "conn/ü", "c:1/r-2_3", "conn/res.x.",
	}
	for _, lk := range leaseKeys {
		check("leaseKey", lk, leaseKey(lk))
		check("orderKey", lk, orderKey(lk))
	}
	if got := leaseKey("rocketchat-1/user_42"); got != "lease.rocketchat-1.user_42" {
		t.Errorf(`leaseKey("rocketchat-1/user_42") = %q, want raw tokens`, got)
	}
	if got := orderKey("conn/a.b"); got != "order.conn.=YS5i" {
		t.Errorf(`orderKey("conn/a.b") = %q, want "order.conn.=YS5i"`, got)
	}
}
