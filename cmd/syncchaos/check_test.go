package main

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/oauthsync/oauthsync/adapters/reelevant/reelevantsim"
)

// TestCheckerCatchesEachViolation plants one violation of each kind in a
// clean history; the clean history must pass and each planted one fail
// with its kind.
func TestCheckerCatchesEachViolation(t *testing.T) {
	kinds := map[string]bool{}
	for _, c := range selfCases {
		t.Run(c.name, func(t *testing.T) {
			if err := c.run(); err != nil {
				t.Fatal(err)
			}
		})
		kinds[c.want] = true
	}
	for _, k := range []string{VMissingResult, VMultipleResults, VReusedWritten, VDoubleWrite, VRegression, VForeignWrite,
		VFinalState, VAppliedNoWrite, VWriteNotApplied, VSecretLeak, VMemory, VStoreLossUnnoted, VWriteAfterLoss,
		VImplausible, VUnknownOrderKey, VWronglySkipped} {
		if !kinds[k] {
			t.Errorf("no self-test case plants %s", k)
		}
	}
}

// TestPlanting plants each kind into the clean history as a run plants it
// into its own data; each must be caught.
func TestPlanting(t *testing.T) {
	in := cleanInput()
	base := Check(in)
	caught, missed, notes := checkPlanted(in, base)
	if len(missed) > 0 || len(notes) > 0 || caught != len(plantKinds) {
		t.Fatalf("caught %d of %d; missed %v; %v", caught, len(plantKinds), missed, notes)
	}
	// Planting leaves the recorded data as it was.
	if again := Check(in); again.Summary() != base.Summary() {
		t.Fatalf("the data changed: %s, then %s", base.Summary(), again.Summary())
	}
}

func TestCleanSummaryAndExitCode(t *testing.T) {
	rep := Check(cleanInput())
	if !rep.Pass() || !strings.HasPrefix(rep.Summary(), "syncchaos: PASS checked 4 ids, ") {
		t.Fatalf("summary %q", rep.Summary())
	}
	var out bytes.Buffer
	if code := mainRun(t.Context(), []string{"-self-test"}, &out, &out); code != 0 {
		t.Fatalf("-self-test exit %d:\n%s", code, out.String())
	}
}

func TestFailedSummaryListsViolations(t *testing.T) {
	in := cleanInput()
	in.Events.Kills = 0
	in.Final["r1"]["clientId"] = "seed1"
	rep := Check(in)
	s := rep.Summary()
	if !strings.HasPrefix(s, "syncchaos: FAIL ") || !strings.Contains(s, "final_state=1") || !strings.Contains(s, "implausible_run=1") {
		t.Fatalf("summary %q", s)
	}
	if d := rep.Details(); !strings.Contains(d, `r1.clientId = "seed1", want "c" from C`) {
		t.Fatalf("details:\n%s", d)
	}
}

func TestSecretScanner(t *testing.T) {
	const marker = "cnryab12cd34"
	secret := marker + "-run-17"
	s := NewSecretScanner(marker)
	for _, tc := range []struct {
		name, text string
		found      bool
	}{
		{"plain", `{"msg":"x","err":"` + secret + `"}`, true},
		{"upper-cased", strings.ToUpper(secret), true},
		{"url-encoded", url.QueryEscape("a=" + secret), true},
		{"truncated to the marker", "secret=" + marker, true},
		{"base64 at offset 0", base64.StdEncoding.EncodeToString([]byte(secret)), true},
		{"base64 at offset 1", base64.StdEncoding.EncodeToString([]byte("x" + secret)), true},
		{"base64 at offset 2", base64.URLEncoding.EncodeToString([]byte("xy:" + secret + "?")), true},
		{"other text", `{"msg":"command finished","status":"applied"}`, false},
		{"redacted", `"clientSecret":"[REDACTED]"`, false},
	} {
		if got := s.Find([]byte(tc.text)) != ""; got != tc.found {
			t.Errorf("%s: found %t, want %t", tc.name, got, tc.found)
		}
	}
}

func TestFaultyProvider(t *testing.T) {
	patch := func(t *testing.T, p *faultyProvider, id, body string) (int, error) {
		srv := httptest.NewServer(p)
		defer srv.Close()
		req, _ := http.NewRequest(http.MethodPatch, srv.URL+reelevantsim.PathPrefix+id, strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+chaosToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := srv.Client().Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	id := resourceIDs(1)[0]
	newSim := func() *reelevantsim.Server {
		sim := reelevantsim.New(reelevantsim.Options{Token: chaosToken, NoRecord: true})
		sim.Seed(id, seedFields(id))
		return sim
	}

	t.Run("lost answer: applied and recorded, the client sees no success", func(t *testing.T) {
		p := newFaultyProvider(newSim(), 0, 1, 1)
		for range 6 { // both ways of losing an answer
			status, err := patch(t, p, id, `{"clientId":"x","scopes":["a","b"]}`)
			if err == nil && status != http.StatusBadGateway {
				t.Fatalf("status %d, want 502 or a closed connection", status)
			}
		}
		writes, faults, lost, _ := p.snapshot()
		if len(writes) != 6 || lost != 6 || faults != 0 || !writes[0].Lost || writes[0].Fields["scopes"] != "a,b" || writes[0].Resource != id {
			t.Fatalf("writes %+v, lost %d, faults %d", writes, lost, faults)
		}
		if got := p.state([]string{id})[id]["clientId"]; got != "x" {
			t.Fatalf("provider holds clientId %q, want x", got)
		}
	})
	t.Run("fault: not applied, not recorded", func(t *testing.T) {
		p := newFaultyProvider(newSim(), 1, 0, 1)
		for range 8 {
			status, err := patch(t, p, id, `{"clientId":"x"}`)
			if err != nil || (status != http.StatusTooManyRequests && status < 500) {
				t.Fatalf("status %d, %v", status, err)
			}
		}
		writes, faults, _, _ := p.snapshot()
		if len(writes) != 0 || faults != 8 || p.state([]string{id})[id]["clientId"] != "seed-"+id {
			t.Fatalf("writes %v, faults %d, state %v", writes, faults, p.state([]string{id}))
		}
	})
	t.Run("no fault: applied, recorded, answered", func(t *testing.T) {
		p := newFaultyProvider(newSim(), 0, 0, 1)
		if status, err := patch(t, p, id, `{"clientId":"y"}`); err != nil || status != http.StatusOK {
			t.Fatalf("status %d, %v", status, err)
		}
		if status, _ := patch(t, p, id, `{"clientId":1}`); status != http.StatusBadRequest {
			t.Fatalf("invalid body: status %d", status)
		}
		writes, _, _, _ := p.snapshot()
		if len(writes) != 1 || writes[0].Lost || writes[0].Fields["clientId"] != "y" {
			t.Fatalf("writes %+v (a refused write is not a write)", writes)
		}
	})
}
