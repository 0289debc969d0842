package fakeaws

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"
)

const oidcNS = "com.amazonaws.ssooidc"

// oidcError answers like SSO-OIDC: the exception in X-Amzn-ErrorType and an
// OAuth-style body {"error","error_description"}.
func oidcError(w http.ResponseWriter, status int, typ, code, desc string) {
	writeJSONError(w, status, typ, oidcNS, map[string]any{"error": code, "error_description": desc})
}

type oidcRequest struct {
	ClientName   string   `json:"clientName"`
	ClientType   string   `json:"clientType"`
	Scopes       []string `json:"scopes"`
	ClientID     string   `json:"clientId"`
	ClientSecret string   `json:"clientSecret"`
	StartURL     string   `json:"startUrl"`
	GrantType    string   `json:"grantType"`
	DeviceCode   string   `json:"deviceCode"`
	RefreshToken string   `json:"refreshToken"`
}

const (
	grantRefresh = "refresh_token"
	grantDevice  = "urn:ietf:params:oauth:grant-type:device_code"
)

func (f *Fakes) serveOIDC(w http.ResponseWriter, r *http.Request) {
	var op string
	switch r.URL.Path {
	case "/client/register":
		op = OpRegisterClient
	case "/device_authorization":
		op = OpStartDeviceAuthorization
	case "/token":
		op = OpCreateToken
	}
	if r.Method != http.MethodPost || op == "" {
		f.count(r, "unknown "+r.Method+" "+r.URL.Path)
		oidcError(w, http.StatusNotFound, "UnknownOperationException", "unknown_operation", "Unknown operation")
		return
	}
	var req oidcRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		f.count(r, op)
		oidcError(w, http.StatusBadRequest, "InvalidRequestException", "invalid_request", "malformed request body")
		return
	}
	switch op {
	case OpRegisterClient:
		f.count(r, op)
		f.registerClient(w, req)
	case OpStartDeviceAuthorization:
		f.count(r, op)
		f.startDevice(w, req)
	case OpCreateToken:
		switch req.GrantType {
		case grantRefresh:
			f.count(r, op, OpCreateTokenRefresh)
			f.refreshToken(w, req)
		case grantDevice:
			f.count(r, op, OpCreateTokenDevice)
			f.deviceToken(w, req)
		default:
			f.count(r, op)
			oidcError(w, http.StatusBadRequest, "UnsupportedGrantTypeException", "unsupported_grant_type", "Unsupported grant type: "+req.GrantType)
		}
	}
}

func (f *Fakes) registerClient(w http.ResponseWriter, req oidcRequest) {
	if req.ClientName == "" || req.ClientType != "public" {
		oidcError(w, http.StatusBadRequest, "InvalidClientMetadataException", "invalid_client_metadata", "clientName is required and clientType must be public")
		return
	}
	now := f.Ledger.Now()
	cid, secret := "cid-"+randomHex(8), "csecret-"+randomHex(24)
	exp := now.Add(90 * 24 * time.Hour)
	f.mu.Lock()
	f.clients[cid] = client{secret: secret, expires: exp}
	f.mu.Unlock()
	writeJSON(w, map[string]any{
		"clientId": cid, "clientSecret": secret,
		"clientIdIssuedAt": now.Unix(), "clientSecretExpiresAt": exp.Unix(),
	})
}

// clientOK reports whether the id and secret belong to a live registration.
func (f *Fakes) clientOKLocked(id, secret string, now time.Time) bool {
	c, ok := f.clients[id]
	return ok && c.secret == secret && now.Before(c.expires)
}

func (f *Fakes) startDevice(w http.ResponseWriter, req oidcRequest) {
	now := f.Ledger.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.clientOKLocked(req.ClientID, req.ClientSecret, now) {
		oidcError(w, http.StatusUnauthorized, "InvalidClientException", "invalid_client", "Invalid client")
		return
	}
	if req.StartURL == "" {
		oidcError(w, http.StatusBadRequest, "InvalidRequestException", "invalid_request", "startUrl is required")
		return
	}
	code := "dc-" + randomHex(24)
	u := strings.ToUpper(randomHex(4))
	user := u[:4] + "-" + u[4:]
	f.devices[code] = &device{
		userCode: user, clientID: req.ClientID, startURL: req.StartURL,
		expires: now.Add(f.opts.DeviceCodeLife), interval: time.Duration(f.opts.DeviceInterval) * time.Second,
	}
	verify := f.OIDCURL + "/device"
	writeJSON(w, map[string]any{
		"deviceCode": code, "userCode": user,
		"verificationUri":         verify,
		"verificationUriComplete": verify + "?user_code=" + user,
		"expiresIn":               int(f.opts.DeviceCodeLife / time.Second),
		"interval":                f.opts.DeviceInterval,
	})
}

func (f *Fakes) refreshToken(w http.ResponseWriter, req oidcRequest) {
	now := f.Ledger.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.clientOKLocked(req.ClientID, req.ClientSecret, now) {
		oidcError(w, http.StatusUnauthorized, "InvalidClientException", "invalid_client", "Invalid client")
		return
	}
	s, ok := f.refresh[req.RefreshToken]
	if !ok || !now.Before(s.ends) || s.clientID != req.ClientID {
		oidcError(w, http.StatusBadRequest, "InvalidGrantException", "invalid_grant", "Invalid refresh token provided")
		return
	}
	at, exp, rt := f.mintLocked(s, now)
	writeToken(w, at, rt, exp, now)
}

func writeToken(w http.ResponseWriter, access, refresh string, exp, now time.Time) {
	writeJSON(w, map[string]any{
		"accessToken": access, "tokenType": "Bearer",
		"expiresIn": int(exp.Sub(now).Round(time.Second) / time.Second), "refreshToken": refresh,
	})
}

func (f *Fakes) deviceToken(w http.ResponseWriter, req oidcRequest) {
	now := f.Ledger.Now()
	f.mu.Lock()
	defer f.mu.Unlock()
	if !f.clientOKLocked(req.ClientID, req.ClientSecret, now) {
		oidcError(w, http.StatusUnauthorized, "InvalidClientException", "invalid_client", "Invalid client")
		return
	}
	d, ok := f.devices[req.DeviceCode]
	switch {
	case !ok || d.used || d.clientID != req.ClientID:
		oidcError(w, http.StatusBadRequest, "InvalidGrantException", "invalid_grant", "Invalid device code provided")
		return
	case !now.Before(d.expires):
		oidcError(w, http.StatusBadRequest, "ExpiredTokenException", "expired_token", "Device code has expired")
		return
	case d.denied:
		oidcError(w, http.StatusBadRequest, "AccessDeniedException", "access_denied", "Authorization request was denied")
		return
	case !d.approved:
		early := !d.lastPoll.IsZero() && now.Sub(d.lastPoll) < d.interval-100*time.Millisecond
		d.lastPoll = now
		if early {
			oidcError(w, http.StatusBadRequest, "SlowDownException", "slow_down", "Client is polling too quickly")
			return
		}
		oidcError(w, http.StatusBadRequest, "AuthorizationPendingException", "authorization_pending", "Authorization is still pending")
		return
	}
	d.used = true
	name := d.startURL
	for n, s := range f.sessions {
		if s.startURL == d.startURL {
			name = n
		}
	}
	s := &session{name: name, startURL: d.startURL, started: now, ends: now.Add(f.opts.LoginSessionLife), tokenLife: f.opts.LoginTokenLife, clientID: d.clientID}
	f.sessions[name] = s
	at, exp, rt := f.mintLocked(s, now)
	writeToken(w, at, rt, exp, now)
}
