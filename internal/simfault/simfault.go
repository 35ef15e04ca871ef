package simfault

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ControlPath is where a wrapped simulator answers GET (the current spec)
// and PUT/POST ?spec=SPEC (replace it).
const ControlPath = "/_sim/faults"

// Rule is one fault: a status answered, or a delay, with a probability.
type Rule struct {
	// Status answers the request with this HTTP status; 0 for a delay.
	Status int
	// Delay delays the answer (when Status is 0).
	Delay time.Duration
	// Rate is the probability, 0 < Rate <= 1.
	Rate float64
}

func (r Rule) String() string {
	rate := strconv.FormatFloat(r.Rate*100, 'f', -1, 64) + "%"
	if r.Status == 0 {
		return "slow:" + r.Delay.String() + ":" + rate
	}
	return strconv.Itoa(r.Status) + ":" + rate
}

// Parse reads a spec (see the package documentation). "" and "off" are no
// rules.
func Parse(spec string) ([]Rule, error) {
	spec = strings.TrimSpace(spec)
	if spec == "" || spec == "off" {
		return nil, nil
	}
	var rules []Rule
	for _, part := range strings.Split(spec, ",") {
		r, err := parseRule(strings.TrimSpace(part))
		if err != nil {
			return nil, fmt.Errorf("fault %q: %w (want e.g. 503:30%%, 429:10%%, slow:2s:50%%, off)", part, err)
		}
		rules = append(rules, r)
	}
	return rules, nil
}

func parseRule(s string) (Rule, error) {
	fields := strings.Split(s, ":")
	r := Rule{Rate: 1}
	rateAt := 1
	switch {
	case fields[0] == "slow":
		if len(fields) < 2 {
			return r, errors.New("slow needs a duration")
		}
		d, err := time.ParseDuration(fields[1])
		if err != nil || d <= 0 || d > 5*time.Minute {
			return r, errors.New("slow needs a duration between 0 and 5m")
		}
		r.Delay, rateAt = d, 2
	default:
		code, err := strconv.Atoi(fields[0])
		if err != nil || code < 400 || code > 599 {
			return r, errors.New("a fault is an HTTP status 400-599 or slow:DURATION")
		}
		r.Status = code
	}
	switch len(fields) - rateAt {
	case 0:
	case 1:
		p, err := strconv.ParseFloat(strings.TrimSuffix(fields[rateAt], "%"), 64)
		if err != nil || p <= 0 || p > 100 {
			return r, errors.New("the rate is a percentage above 0 and at most 100")
		}
		r.Rate = p / 100
	default:
		return r, errors.New("too many parts")
	}
	return r, nil
}

// Format writes rules back as a spec ("off" for none).
func Format(rules []Rule) string {
	if len(rules) == 0 {
		return "off"
	}
	parts := make([]string, len(rules))
	for i, r := range rules {
		parts[i] = r.String()
	}
	return strings.Join(parts, ",")
}

// Faults wraps a handler and makes it fail as its rules say. The zero value
// has no rules; it is safe for concurrent use.
type Faults struct {
	mu    sync.RWMutex
	rules []Rule
	// roll returns a number in [0, 1); default math/rand/v2.
	roll func() float64
}

// Set replaces the rules.
func (f *Faults) Set(rules []Rule) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rules = append([]Rule(nil), rules...)
}

// Rules returns the current rules.
func (f *Faults) Rules() []Rule {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return append([]Rule(nil), f.rules...)
}

// Wrap returns h with the faults in front, and the control endpoint at
// ControlPath.
func (f *Faults) Wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == ControlPath {
			f.control(w, r)
			return
		}
		roll := f.roll
		if roll == nil {
			roll = rand.Float64
		}
		for _, rule := range f.Rules() {
			if roll() >= rule.Rate {
				continue
			}
			if rule.Status == 0 {
				t := time.NewTimer(rule.Delay)
				select {
				case <-t.C:
				case <-r.Context().Done():
					t.Stop()
					return
				}
				continue
			}
			if rule.Status == http.StatusTooManyRequests {
				w.Header().Set("Retry-After", "1")
			}
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(rule.Status)
			fmt.Fprintf(w, `{"success":false,"error":"simulated fault: %d %s"}`+"\n", rule.Status, http.StatusText(rule.Status))
			return
		}
		h.ServeHTTP(w, r)
	})
}

func (f *Faults) control(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
	case http.MethodPut, http.MethodPost:
		rules, err := Parse(r.URL.Query().Get("spec"))
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.Set(rules)
	default:
		http.Error(w, "GET, or PUT ?spec=...", http.StatusMethodNotAllowed)
		return
	}
	fmt.Fprintln(w, Format(f.Rules()))
}
