package hdpsim_test

import (
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/oauthsync/oauthsync/adapters/hybriddatapipeline/hdpsim"
)

func TestFaultEchoSecrets(t *testing.T) {
	const pass, secret = "Echo-Canary-Pass/42", "Echo-Canary-ClientSecret+1"
	sim := hdpsim.New(hdpsim.Options{Username: "u", Password: pass})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	sim.Fail(hdpsim.Fault{Status: 500, EchoSecrets: true})
	req, _ := http.NewRequest(http.MethodPut, srv.URL+hdpsim.PathPrefix+"/93", strings.NewReader(`{"clientSecret":"`+secret+`"}`))
	req.SetBasicAuth("u", pass)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 500 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for _, want := range []string{pass, url.QueryEscape(pass), hex.EncodeToString([]byte(secret)), strings.ToLower(secret)} {
		if !strings.Contains(string(body), want) {
			t.Errorf("echo lacks %q: %s", want, body)
		}
	}
}
