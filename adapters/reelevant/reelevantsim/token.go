package reelevantsim

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/oauthsync/oauthsync/adapters/internal/simkit"
)

// The token endpoint's errors (docs/providers/NOTES.md §1.4's auth error table;
// the texts are the simulator's).
const (
	ErrInvalidClient        = "invalid_client"         // 400
	ErrInvalidCredentials   = "invalid_credentials"    // 401
	ErrInvalidRequest       = "invalid_request"        // 400
	ErrUnsupportedGrantType = "unsupported_grant_type" // 400
)

// tokenAlphabet is what an issued token is made of (RFC 6750 b64token).
const tokenAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"

// FailToken queues f for the token endpoint alone: the next token request
// consumes it (Delay, Reset, Garbage, Status with RetryAfter as for Fail).
func (s *Server) FailToken(f Fault) { s.tokenFaults.Push(f) }

// TokenRequests returns the number of token requests received.
func (s *Server) TokenRequests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tokenRequests
}

// RevokeTokens revokes every access token issued so far: each call with one
// is answered 401 from now on.
func (s *Server) RevokeTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.issued)
}

// RefreshTokens returns the refresh tokens the endpoint accepts now (with
// RotateRefreshTokens, the latest one issued).
func (s *Server) RefreshTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	for t, ok := range s.refresh {
		if ok {
			out = append(out, t)
		}
	}
	return out
}

// IssuedTokens returns every access token issued so far, revoked or not.
func (s *Server) IssuedTokens() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.issued))
	for t := range s.issued {
		out = append(out, t)
	}
	return out
}

// tokenRequest is the token endpoint's JSON body.
type tokenRequest struct {
	GrantType    string `json:"grant_type"`
	ClientID     string `json:"client_id"`
	RefreshToken string `json:"refresh_token"`
	Username     string `json:"username"`
	Password     string `json:"password"`
}

// serveToken serves POST /v2/auth/token: JSON only (a form-encoded body is
// 400), grant refresh_token or password; answers RFC 6749 §5.1's token
// response, or §5.2's error in Reelevant's failure envelope.
func (s *Server) serveToken(w http.ResponseWriter, r *http.Request, body []byte, readErr error, now time.Time) {
	if s.requests.Enabled() {
		s.requests.Record(Recorded{Method: r.Method, Path: r.URL.Path, RawPath: r.URL.EscapedPath(), RawQuery: r.URL.RawQuery,
			Header: r.Header.Clone(), Body: body, Time: now})
	}
	s.mu.Lock()
	s.tokenRequests++
	s.mu.Unlock()
	if !simkit.Sleep(r.Context(), s.opts.Latency) {
		return
	}
	if f, ok := s.tokenFaults.Pop(nil); ok {
		if !simkit.Sleep(r.Context(), f.Delay) {
			return
		}
		if s.serveFault(w, f) {
			return
		}
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		s.fail(w, http.StatusMethodNotAllowed, "Method Not Allowed", map[string]any{})
		return
	}
	var req tokenRequest
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if readErr != nil || mt != "application/json" || dec.Decode(&req) != nil {
		s.tokenError(w, http.StatusBadRequest, ErrInvalidRequest, "the body must be a JSON object {grant_type, client_id, …}")
		return
	}
	if req.ClientID == "" || !simkit.Equal(req.ClientID, s.opts.ClientID) {
		s.tokenError(w, http.StatusBadRequest, ErrInvalidClient, "unknown client_id")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var newRefresh string
	switch req.GrantType {
	case "refresh_token":
		if req.RefreshToken == "" || !s.refresh[req.RefreshToken] {
			s.tokenError(w, http.StatusUnauthorized, ErrInvalidCredentials, "the refresh token is invalid, expired or revoked")
			return
		}
		if s.opts.RotateRefreshTokens {
			delete(s.refresh, req.RefreshToken)
			newRefresh = simkit.RandomString(48, tokenAlphabet)
			s.refresh[newRefresh] = true
		}
	case "password":
		if !simkit.Equal(req.Username, s.opts.Username) || !simkit.Equal(req.Password, s.opts.Password) {
			s.tokenError(w, http.StatusUnauthorized, ErrInvalidCredentials, "wrong username or password")
			return
		}
	default:
		s.tokenError(w, http.StatusBadRequest, ErrUnsupportedGrantType, "grant_type must be refresh_token or password")
		return
	}
	token := simkit.RandomString(40, tokenAlphabet)
	s.issued[token] = now.Add(s.opts.TokenLifetime)
	resp := map[string]any{"access_token": token, "token_type": "Bearer",
		"expires_in": max(1, int64(s.opts.TokenLifetime/time.Second))}
	if s.opts.TokenLifetime%time.Second != 0 {
		resp["expires_in"] = s.opts.TokenLifetime.Seconds()
	}
	if newRefresh != "" {
		resp["refresh_token"] = newRefresh
	}
	w.Header().Set("Cache-Control", "no-store")
	envelopeWriter.Write(w, http.StatusOK, resp)
}

// tokenError answers an RFC 6749 §5.2 error inside Reelevant's failure
// envelope: {status: "fail", code, message, error, error_description}.
func (s *Server) tokenError(w http.ResponseWriter, status int, code, description string) {
	envelopeWriter.Write(w, status, map[string]any{
		"status": "fail", "program": Program, "version": Version, "code": status,
		"datetime": s.opts.Now().UTC().Format("2006-01-02T15:04:05.000Z07:00"),
		"message":  code + ": " + description, "error": code, "error_description": description,
		"data": map[string]any{"status": strconv.Itoa(status)},
	})
}
