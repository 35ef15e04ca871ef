package rocketchatsim_test

import (
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/oauthsync/oauthsync/adapters/rocketchat/rocketchatsim"
)

func TestFaultEchoSecrets(t *testing.T) {
	const token = "Echo-Canary-Token-77"
	sim := rocketchatsim.New(rocketchatsim.Options{UserID: "u1", AuthToken: token})
	srv := httptest.NewServer(sim)
	defer srv.Close()
	sim.Fail(rocketchatsim.Fault{Status: 400, EchoSecrets: true})
	req, _ := http.NewRequest(http.MethodGet, srv.URL+rocketchatsim.PathGet+"?appId=x", nil)
	req.Header.Set("X-User-Id", "u1")
	req.Header.Set("X-Auth-Token", token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 400 {
		t.Fatalf("status %d", resp.StatusCode)
	}
	for _, want := range []string{token, strings.ToUpper(token), base64.StdEncoding.EncodeToString([]byte(token))} {
		if !strings.Contains(string(body), want) {
			t.Errorf("echo lacks %q: %s", want, body)
		}
	}
}
