package fakeaws

import (
	"encoding/json"
	"net/http"
	"time"
)

// issue hands out role credentials through the ledger, honouring DieAfter.
func (f *Fakes) issue(source string, life time.Duration) Issued {
	c := f.Ledger.Issue(source, life, false)
	if f.opts.DieAfter > 0 && f.opts.DieAfter < life {
		c.DiesAt = f.Ledger.Now().Add(f.opts.DieAfter)
		f.Ledger.DieAt(c.AccessKeyID, c.DiesAt)
	}
	return c
}

// writeJSONError answers in the restJson1 error shape AWS uses: the type in
// X-Amzn-ErrorType (with Coral's URI suffix) and a JSON body.
func writeJSONError(w http.ResponseWriter, status int, typ, namespace string, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", typ+":http://internal.amazon.com/coral/"+namespace+"/")
	w.Header().Set("X-Amzn-RequestId", requestID())
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(body)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-RequestId", requestID())
	_ = json.NewEncoder(w).Encode(v)
}

func requestID() string {
	h := randomHex(16)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

const portalNS = "com.amazon.switchboard.portal"

// serveSSO is the IAM Identity Center portal: GetRoleCredentials only.
func (f *Fakes) serveSSO(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet || r.URL.Path != "/federation/credentials" {
		f.count(r, "unknown "+r.Method+" "+r.URL.Path)
		writeJSONError(w, http.StatusNotFound, "UnknownOperationException", portalNS, map[string]string{"message": "Unknown operation"})
		return
	}
	f.count(r, OpGetRoleCredentials)
	q := r.URL.Query()
	if q.Get("account_id") == "" || q.Get("role_name") == "" {
		writeJSONError(w, http.StatusBadRequest, "InvalidRequestException", portalNS, map[string]string{"message": "account_id and role_name are required"})
		return
	}
	token := r.Header.Get("x-amz-sso_bearer_token")
	now := f.Ledger.Now()
	f.mu.Lock()
	s, ok := f.tokens[token]
	valid := ok && now.Before(f.tokenExp[token]) && now.Before(s.ends)
	life := f.roleLife
	f.mu.Unlock()
	if !valid {
		writeJSONError(w, http.StatusUnauthorized, "UnauthorizedException", portalNS, map[string]string{"message": "Session token not found or invalid"})
		return
	}
	c := f.issue("sso:"+s.name, life)
	writeJSON(w, map[string]any{"roleCredentials": map[string]any{
		"accessKeyId":     c.AccessKeyID,
		"secretAccessKey": c.SecretAccessKey,
		"sessionToken":    c.SessionToken,
		"expiration":      c.Expires.UnixMilli(),
	}})
}
