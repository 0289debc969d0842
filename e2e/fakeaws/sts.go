package fakeaws

import (
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"time"
)

const stsXMLNS = "https://sts.amazonaws.com/doc/2011-06-15/"

var credentialRE = regexp.MustCompile(`Credential=([A-Z0-9]+)/`)

// signingKey returns the access key id a SigV4 request was signed with.
func signingKey(r *http.Request) string {
	if m := credentialRE.FindStringSubmatch(r.Header.Get("Authorization")); m != nil {
		return m[1]
	}
	return r.URL.Query().Get("X-Amz-Credential")
}

type stsErrorBody struct {
	XMLName   xml.Name `xml:"ErrorResponse"`
	XMLNS     string   `xml:"xmlns,attr"`
	Type      string   `xml:"Error>Type"`
	Code      string   `xml:"Error>Code"`
	Message   string   `xml:"Error>Message"`
	RequestID string   `xml:"RequestId"`
}

func stsError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-RequestId", requestID())
	w.WriteHeader(status)
	typ := "Sender"
	if status >= 500 {
		typ = "Receiver"
	}
	_ = xml.NewEncoder(w).Encode(stsErrorBody{XMLNS: stsXMLNS, Type: typ, Code: code, Message: msg, RequestID: requestID()})
}

func stsOK(w http.ResponseWriter, action, inner string) {
	w.Header().Set("Content-Type", "text/xml")
	fmt.Fprintf(w, `<%[1]sResponse xmlns="%[2]s"><%[1]sResult>%[3]s</%[1]sResult><ResponseMetadata><RequestId>%[4]s</RequestId></ResponseMetadata></%[1]sResponse>`,
		action, stsXMLNS, inner, requestID())
}

func xmlText(s string) string {
	var b strings.Builder
	_ = xml.EscapeText(&b, []byte(s))
	return b.String()
}

func credentialsXML(c Issued) string {
	return "<Credentials><AccessKeyId>" + c.AccessKeyID + "</AccessKeyId><SecretAccessKey>" + c.SecretAccessKey +
		"</SecretAccessKey><SessionToken>" + c.SessionToken + "</SessionToken><Expiration>" +
		c.Expires.UTC().Format("2006-01-02T15:04:05.000Z") + "</Expiration></Credentials>"
}

// checkSigner refuses a request whose signing key the ledger does not
// accept, exactly as STS does (403, ExpiredToken or InvalidClientTokenId).
func (f *Fakes) checkSigner(w http.ResponseWriter, r *http.Request) (Issued, bool) {
	key := signingKey(r)
	err := f.Ledger.Check(key)
	switch {
	case errors.Is(err, ErrExpired):
		stsError(w, http.StatusForbidden, "ExpiredToken", "The security token included in the request is expired")
		return Issued{}, false
	case err != nil:
		stsError(w, http.StatusForbidden, "InvalidClientTokenId", "The security token included in the request is invalid.")
		return Issued{}, false
	}
	c, _ := f.Ledger.Lookup(key)
	return c, true
}

func (f *Fakes) serveSTS(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		f.count(r, "unknown")
		stsError(w, http.StatusBadRequest, "MalformedInput", "could not parse the request")
		return
	}
	action := r.Form.Get("Action")
	switch action {
	case OpGetCallerIdentity, OpAssumeRole, OpAssumeRoleWithWebIdentity:
		f.count(r, action)
	default:
		f.count(r, "unknown "+action)
		stsError(w, http.StatusBadRequest, "InvalidAction", "Could not find operation "+action+" for version "+r.Form.Get("Version"))
		return
	}
	f.mu.Lock()
	life := f.roleLife
	f.mu.Unlock()
	acct := f.opts.Account
	switch action {
	case OpGetCallerIdentity:
		c, ok := f.checkSigner(w, r)
		if !ok {
			return
		}
		arn := "arn:aws:sts::" + acct + ":assumed-role/Fake/" + c.Source
		if c.SessionToken == "" {
			arn = "arn:aws:iam::" + acct + ":user/fake"
		}
		stsOK(w, action, "<Arn>"+xmlText(arn)+"</Arn><UserId>AROAFAKE:"+xmlText(c.Source)+"</UserId><Account>"+acct+"</Account>")
	case OpAssumeRole:
		if _, ok := f.checkSigner(w, r); !ok {
			return
		}
		f.assume(w, r, action, life)
	case OpAssumeRoleWithWebIdentity:
		tok := strings.TrimSpace(r.Form.Get("WebIdentityToken"))
		if tok == "" {
			stsError(w, http.StatusBadRequest, "InvalidIdentityToken", "Couldn't retrieve verification key from your identity provider")
			return
		}
		// STS refuses a token past its exp (400 ExpiredTokenException);
		// a token without a readable exp is taken as valid here.
		if exp, ok := tokenExpiry(tok); ok && !f.Ledger.Now().Before(exp) {
			stsError(w, http.StatusBadRequest, "ExpiredTokenException",
				fmt.Sprintf("Token expired: current date/time %d must be before the expiration date/time%d", f.Ledger.Now().Unix(), exp.Unix()))
			return
		}
		caller := f.opts.Caller(r)
		f.mu.Lock()
		if f.webTokens == nil {
			f.webTokens = map[string][]string{}
		}
		f.webTokens[caller] = append(f.webTokens[caller], tok)
		f.mu.Unlock()
		f.assume(w, r, action, life)
	}
}

func (f *Fakes) assume(w http.ResponseWriter, r *http.Request, action string, life time.Duration) {
	role, name := r.Form.Get("RoleArn"), r.Form.Get("RoleSessionName")
	if role == "" || name == "" {
		stsError(w, http.StatusBadRequest, "ValidationError", "RoleArn and RoleSessionName are required")
		return
	}
	if d := r.Form.Get("DurationSeconds"); d != "" {
		n, err := strconv.Atoi(d)
		if err != nil || n < 900 || n > 43200 {
			stsError(w, http.StatusBadRequest, "ValidationError", "1 validation error detected: Value '"+xmlText(d)+"' at 'durationSeconds' failed to satisfy constraint")
			return
		}
		life = time.Duration(n) * time.Second
	}
	c := f.issue("sts:"+action+":"+name, life)
	roleName := role[strings.LastIndex(role, "/")+1:]
	user := "<AssumedRoleUser><Arn>arn:aws:sts::" + f.opts.Account + ":assumed-role/" + xmlText(roleName) + "/" + xmlText(name) +
		"</Arn><AssumedRoleId>AROAFAKE:" + xmlText(name) + "</AssumedRoleId></AssumedRoleUser>"
	extra := ""
	if action == OpAssumeRoleWithWebIdentity {
		extra = "<SubjectFromWebIdentityToken>fake-subject</SubjectFromWebIdentityToken><Audience>sts.amazonaws.com</Audience>"
	}
	stsOK(w, action, credentialsXML(c)+user+extra)
}

// tokenExpiry reads a JWT's exp claim without verifying the token.
func tokenExpiry(tok string) (time.Time, bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return time.Time{}, false
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return time.Time{}, false
	}
	var c struct {
		Exp int64 `json:"exp"`
	}
	if json.Unmarshal(b, &c) != nil || c.Exp <= 0 {
		return time.Time{}, false
	}
	return time.Unix(c.Exp, 0), true
}
