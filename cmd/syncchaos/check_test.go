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
		VImplausible, VUnknownOrderKey, VWronglySkipped, VUnroutedAnswer} {
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
	caught, missed, notes := checkPlanted(in)
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
	if !rep.Pass() || !strings.HasPrefix(rep.Summary(), "syncchaos: PASS checked 6 ids, ") {
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
	send := func(t *testing.T, fp *faultyProvider, method, path, body string, auth func(*http.Request)) (int, error) {
		srv := httptest.NewServer(fp)
		defer srv.Close()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		auth(req)
		req.Header.Set("Content-Type", "application/json")
		resp, err := srv.Client().Do(req)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	bearer := func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+chaosToken) }
	newRL := func(fault, lost float64) (*faultyProvider, string) {
		p := newReelevant()
		id := p.ids(1)[0]
		p.seed(id)
		return &faultyProvider{h: newHistory(1), p: p, faultRate: fault, lostRate: lost}, id
	}

	t.Run("lost answer: applied and recorded, the client sees no success", func(t *testing.T) {
		fp, id := newRL(0, 1)
		for range 6 { // both ways of losing an answer
			status, err := send(t, fp, http.MethodPatch, reelevantsim.PathPrefix+id, `{"clientId":"x","scopes":["a","b"]}`, bearer)
			if err == nil && status != http.StatusBadGateway {
				t.Fatalf("status %d, want 502 or a closed connection", status)
			}
		}
		writes, faults, lost, _ := fp.h.snapshot()
		if len(writes) != 6 || lost != 6 || faults != 0 || !writes[0].Lost || writes[0].Full || writes[0].Fields["scopes"] != "a,b" || writes[0].Resource != id {
			t.Fatalf("writes %+v, lost %d, faults %d", writes, lost, faults)
		}
		if got := fp.h.state([]*chaosProvider{fp.p}, map[*chaosProvider][]string{fp.p: {id}})[id]["clientId"]; got != "x" {
			t.Fatalf("provider holds clientId %q, want x", got)
		}
	})
	t.Run("fault: not applied, not recorded", func(t *testing.T) {
		fp, id := newRL(1, 0)
		for range 8 {
			status, err := send(t, fp, http.MethodPatch, reelevantsim.PathPrefix+id, `{"clientId":"x"}`, bearer)
			if err != nil || (status != http.StatusTooManyRequests && status < 500) {
				t.Fatalf("status %d, %v", status, err)
			}
		}
		writes, faults, _, _ := fp.h.snapshot()
		if st, _ := fp.p.state(id); len(writes) != 0 || faults != 8 || st["clientId"] != "seed-"+id {
			t.Fatalf("writes %v, faults %d, state %v", writes, faults, st)
		}
	})
	t.Run("no fault: applied, recorded, answered; a refused write is no write", func(t *testing.T) {
		fp, id := newRL(0, 0)
		if status, err := send(t, fp, http.MethodPatch, reelevantsim.PathPrefix+id, `{"clientId":"y"}`, bearer); err != nil || status != http.StatusOK {
			t.Fatalf("status %d, %v", status, err)
		}
		if status, _ := send(t, fp, http.MethodPatch, reelevantsim.PathPrefix+id, `{"clientId":1}`, bearer); status != http.StatusBadRequest {
			t.Fatalf("invalid body: status %d", status)
		}
		writes, _, _, _ := fp.h.snapshot()
		if len(writes) != 1 || writes[0].Lost || writes[0].Fields["clientId"] != "y" {
			t.Fatalf("writes %+v", writes)
		}
	})
	t.Run("full replacement: a PUT is a full write, a GET no write", func(t *testing.T) {
		p := newHDP()
		id := p.ids(1)[0]
		p.seed(id)
		fp := &faultyProvider{h: newHistory(1), p: p}
		basic := func(r *http.Request) { r.SetBasicAuth("chaos", "hdp-Zr4Tn8Wq3Ys6Pj") }
		if status, err := send(t, fp, http.MethodGet, "/api/mgmt/oauthapps/"+id, "", basic); err != nil || status != http.StatusOK {
			t.Fatalf("GET: status %d, %v", status, err)
		}
		body := `{"name":"n_1","dataStore":54,"tenantId":1,"clientId":"c1","clientSecret":"s1","authorizeURI":"https://a.example.com/1","tokenURI":"https://t.example.com/1","scope":"s"}`
		if status, err := send(t, fp, http.MethodPut, "/api/mgmt/oauthapps/"+id, body, basic); err != nil || status != http.StatusOK {
			t.Fatalf("PUT: status %d, %v", status, err)
		}
		writes, _, _, _ := fp.h.snapshot()
		if len(writes) != 1 || !writes[0].Full || writes[0].Resource != id || writes[0].Fields["clientId"] != "c1" {
			t.Fatalf("writes %+v", writes)
		}
		if st, _ := p.state(id); st["name"] != "n_1" || st["scope"] != "s" {
			t.Fatalf("state %v", st)
		}
	})
}

// TestMergedPartialWritesPass: a PATCH carrying two commands' values on
// different fields (the worker's merged write) is each command's write;
// one carrying a value no payload has is still foreign.
func TestMergedPartialWritesPass(t *testing.T) {
	in := cleanInput()
	seq := func(v int64) *int64 { return &v }
	in.Commands = append(in.Commands,
		Command{ID: "M1", Resource: "r1", Sequence: seq(300), Fields: map[string]string{"tokenUrl": "https://t/m1"}},
		Command{ID: "M2", Resource: "r1", Sequence: seq(310), Fields: map[string]string{"scopes": "s-m2"}})
	in.Copies = append(in.Copies, StoredCopy{ID: "M1", Seq: 20, Stored: in.Copies[0].Stored}, StoredCopy{ID: "M2", Seq: 21, Stored: in.Copies[0].Stored})
	in.Writes = append(in.Writes, Write{Resource: "r1", Fields: map[string]string{"tokenUrl": "https://t/m1", "scopes": "s-m2"}})
	in.Results = append(in.Results,
		ResultMsg{EventID: "result-M1", CommandID: "M1", Status: "applied", Applied: []string{"tokenUrl"}},
		ResultMsg{EventID: "result-M2", CommandID: "M2", Status: "applied", Applied: []string{"scopes"}})
	in.Seed["r1"]["tokenUrl"], in.Seed["r1"]["scopes"] = "https://t/seed", "s-seed"
	in.Final["r1"]["tokenUrl"], in.Final["r1"]["scopes"] = "https://t/m1", "s-m2"
	renumber(in)
	rep := Check(in)
	if !rep.Pass() || !strings.Contains(rep.Summary(), " 1 merged partial writes,") {
		t.Fatalf("a merged write of two commands: %s\n%s", rep.Summary(), rep.Details())
	}
	in.Writes[len(in.Writes)-1].Fields["scopes"] = "s-nobody"
	if rep := Check(in); rep.Pass() || !strings.Contains(rep.Summary(), VForeignWrite) {
		t.Fatalf("a merged write with a value no payload has: %s", rep.Summary())
	}
}
