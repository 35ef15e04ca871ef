package simfault

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		spec string
		want string // Format of the rules; "" for an error
	}{
		{"503:30%", "503:30%"},
		{"429:10", "429:10%"},
		{"500", "500:100%"},
		{"slow:2s", "slow:2s:100%"},
		{"slow:250ms:50%, 503:5%", "slow:250ms:50%,503:5%"},
		{"off", "off"},
		{"", "off"},
		{"200:10%", ""},
		{"503:0%", ""},
		{"503:101%", ""},
		{"503:x", ""},
		{"slow", ""},
		{"slow:-1s", ""},
		{"slow:1h", ""},
		{"503:1:2", ""},
		{"teapot", ""},
	} {
		rules, err := Parse(c.spec)
		if c.want == "" {
			if err == nil {
				t.Errorf("Parse(%q) = %v, want an error", c.spec, rules)
			}
			continue
		}
		if err != nil || Format(rules) != c.want {
			t.Errorf("Parse(%q) = %q, %v; want %q", c.spec, Format(rules), err, c.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"503:30%", "slow:2s:50%,429", "off", "slow:", ":%"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		rules, err := Parse(spec)
		if err != nil {
			return
		}
		// What parses formats to a spec that parses to the same rules.
		again, err := Parse(Format(rules))
		if err != nil || Format(again) != Format(rules) {
			t.Fatalf("%q -> %q -> %q, %v", spec, Format(rules), Format(again), err)
		}
		for _, r := range rules {
			if r.Rate <= 0 || r.Rate > 1 || (r.Status == 0) == (r.Delay == 0) {
				t.Fatalf("%q: rule %+v", spec, r)
			}
		}
	})
}

// TestFaultsAnswerAsTheRulesSay serves a handler behind faults and counts
// what a client receives: every request fails at 100%, none after "off"
// (set over the control endpoint), and 429 carries Retry-After.
func TestFaultsAnswerAsTheRulesSay(t *testing.T) {
	var f Faults
	var served atomic.Int64
	srv := httptest.NewServer(f.Wrap(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		served.Add(1)
		io.WriteString(w, "ok")
	})))
	defer srv.Close()
	get := func() *http.Response {
		t.Helper()
		resp, err := http.Get(srv.URL + "/api/v1/x")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	control := func(method, spec string) string {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+ControlPath+"?spec="+spec, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return strings.TrimSpace(string(b))
	}
	if got := control(http.MethodPut, "503:100%25"); got != "503:100%" {
		t.Fatalf("control = %q", got)
	}
	for range 5 {
		if resp := get(); resp.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("status %d, want 503", resp.StatusCode)
		}
	}
	if served.Load() != 0 {
		t.Fatalf("%d requests reached the simulator through a 100%% fault", served.Load())
	}
	f.Set([]Rule{{Status: http.StatusTooManyRequests, Rate: 1}})
	if resp := get(); resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("429: status %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if got := control(http.MethodPut, "off"); got != "off" {
		t.Fatalf("control off = %q", got)
	}
	if resp := get(); resp.StatusCode != http.StatusOK || served.Load() != 1 {
		t.Fatalf("after off: status %d, served %d", resp.StatusCode, served.Load())
	}
	if got := control(http.MethodPut, "bogus"); !strings.Contains(got, "fault") {
		t.Errorf("a bad spec over HTTP: %q", got)
	}

	// A rate: the roll decides.
	rolls := []float64{0.1, 0.5, 0.29, 0.9}
	f.roll = func() float64 { r := rolls[0]; rolls = rolls[1:]; return r }
	f.Set([]Rule{{Status: 503, Rate: 0.3}})
	var codes []int
	for range 4 {
		codes = append(codes, get().StatusCode)
	}
	if want := []int{503, 200, 503, 200}; !equal(codes, want) {
		t.Errorf("30%%: statuses %v, want %v", codes, want)
	}
	f.roll = nil

	// A delay delays, then answers normally.
	f.Set([]Rule{{Delay: 50 * time.Millisecond, Rate: 1}})
	start := time.Now()
	if resp := get(); resp.StatusCode != http.StatusOK || time.Since(start) < 50*time.Millisecond {
		t.Errorf("slow: status %d after %s", resp.StatusCode, time.Since(start))
	}
}

func equal(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
