package commandfile_test

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/oauthsync/oauthsync/internal/commandfile"
)

func BenchmarkReadNDJSON(b *testing.B) {
	const n = 10_000
	var file bytes.Buffer
	for i := range n {
		fmt.Fprintf(&file, `{"connection":"rc-prod","resource":"65a7d77142a7e1245305%04d","changes":{"name":"App %d","redirectUri":"https://app%d.example.com/cb","active":true}}`+"\n", i, i, i)
	}
	opts := testOptions()
	b.SetBytes(int64(file.Len()))
	b.ReportAllocs()
	for b.Loop() {
		lines, err := commandfile.ReadNDJSON(bytes.NewReader(file.Bytes()), opts)
		if err != nil || len(lines) != n || lines[n-1].Err != nil {
			b.Fatalf("%d lines, %v", len(lines), err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/line")
}
