package jframeworksim

import (
	"bytes"
	"encoding/json"
	"mime"
	"net/http"
	"time"

	"github.com/oauthsync/oauthsync/adapters/internal/simkit"
)

// CodeInvalidCredentials is errors[].code of a refused login (the
// simulator's choice; the documents name none).
const CodeInvalidCredentials = "InvalidCredentials"

// ErrInvalidCredentials is errors[].message of a refused login.
const ErrInvalidCredentials = "The username or password is incorrect."

const keyAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_."

// Logins returns the number of login requests received.
func (s *Server) Logins() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logins
}

// RevokeKeys revokes every Auth-Key a login issued so far: each call with
// one is answered 401 from now on.
func (s *Server) RevokeKeys() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.issued)
}

// IssuedKeys returns every Auth-Key a login issued, revoked or not.
func (s *Server) IssuedKeys() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]string, 0, len(s.issued))
	for k := range s.issued {
		out = append(out, k)
	}
	return out
}

// serveLogin serves POST /api/v1/users/auth: header Brand-URL, JSON
// {username, password}; answers {success, data: {authKey, refreshAuthKey,
// expiresIn}} (seconds), or 401 InvalidCredentials.
func (s *Server) serveLogin(w http.ResponseWriter, r *http.Request, body []byte, now time.Time) {
	s.mu.Lock()
	s.logins++
	s.mu.Unlock()
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		w.WriteHeader(http.StatusMethodNotAllowed)
		return
	}
	var req struct {
		Username string `json:"username"`
		Password string `json:"password"`
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if mt != "application/json" || dec.Decode(&req) != nil {
		writeError(w, http.StatusBadRequest, CodeInvalidRequest, "The body must be a JSON object {username, password}.")
		return
	}
	if !simkit.Equal(r.Header.Get("Brand-URL"), s.opts.BrandURL) ||
		!simkit.Equal(req.Username, s.opts.Username) || !simkit.Equal(req.Password, s.opts.Password) {
		writeError(w, http.StatusUnauthorized, CodeInvalidCredentials, ErrInvalidCredentials)
		return
	}
	key := simkit.RandomString(48, keyAlphabet)
	s.mu.Lock()
	s.issued[key] = now.Add(s.opts.KeyLifetime)
	s.mu.Unlock()
	writeJSON(w, http.StatusOK, success(map[string]any{
		"authKey": key, "refreshAuthKey": simkit.RandomString(48, keyAlphabet),
		"expiresIn": s.opts.KeyLifetime.Seconds(),
	}))
}
