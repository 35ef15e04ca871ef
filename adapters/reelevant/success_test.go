package reelevant

import "testing"

// plainSuccess answers true only where decodeEnvelope reads a success,
// and does answer true for the shapes Reelevant sends.
func TestPlainSuccess(t *testing.T) {
	for _, c := range []struct {
		body string
		want bool
	}{
		{`{"program":"reelevant","version":"1","status":"success","code":200,"data":{"_id":"x","scopes":["a","b"],"n":{"d":[1,{"e":"}"}]}}}`, true},
		{` {"status" : "success" , "error_code" : null}` + "\n", true},
		{`{"status":"success","error_code":"E1"}`, false},
		{`{"status":"success","error_code":""}`, false},
		{`{"status":"success","error_code":0}`, false},
		{`{"status":"fail","status":"success"}`, true}, // the last one, as decoding keeps
		{`{"status":"success","status":"fail"}`, false},
		{`{"status":"succ\u0065ss"}`, false}, // decodeEnvelope decides
		{`{"st\u0061tus":"success"}`, false},
		{`{"Status":"success"}`, false},
		{`{"status":"success"`, false},
		{`{"status":"success"} x`, false},
		{`["status","success"]`, false},
		{`{"data":"\"status\":\"success\""}`, false},
		{``, false},
	} {
		if got := plainSuccess([]byte(c.body)); got != c.want {
			t.Errorf("plainSuccess(%s) = %v, want %v", c.body, got, c.want)
		}
		if plainSuccess([]byte(c.body)) {
			if e := decodeEnvelope([]byte(c.body)); !e.object || e.status != statusSuccess || e.errorCode != "" {
				t.Errorf("plainSuccess(%s) but decodeEnvelope reads %+v", c.body, e)
			}
		}
	}
}

func FuzzPlainSuccess(f *testing.F) {
	for _, s := range []string{`{"status":"success","data":{}}`, `{"status":"success","error_code":null,"x":[1,"]"]}`, `{"a":{"status":"success"}}`, `{}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		if !plainSuccess(body) {
			return
		}
		if e := decodeEnvelope(body); !e.object || e.status != statusSuccess || e.errorCode != "" {
			t.Fatalf("plainSuccess(%q) but decodeEnvelope reads %+v", body, e)
		}
	})
}

func BenchmarkSuccessCheck(b *testing.B) {
	body := []byte(`{"program":"reelevant-api","version":"2.4.1","datetime":"2026-12-03T07:00:00.000Z","status":"success","code":200,"message":"OK",` +
		`"data":{"_id":"65a7d77142a7e12453052d59","name":"app","redirectUri":"https://a.example.com/cb","scopes":["read","write"],"active":true}}`)
	b.Run("plainSuccess", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if !plainSuccess(body) {
				b.Fatal("not a success")
			}
		}
	})
	b.Run("decodeEnvelope", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if e := decodeEnvelope(body); e.status != statusSuccess {
				b.Fatal("not a success")
			}
		}
	})
}
