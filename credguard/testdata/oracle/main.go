// Command oracle answers, for the credential guard's tests, which access
// key terraform 1.11.4's own SDK signs with: it hands the settings it reads
// (JSON on stdin, shaped as aws-sdk-go-base's Config) to
// awsbase.GetAwsConfig at the versions terraform 1.11.4's S3 backend pins
// (aws-sdk-go-base v2.0.0-beta.62, aws-sdk-go-v2/config v1.29.4), in the
// environment it is given, and prints the credential the SDK retrieves as
// JSON on stdout. It is a separate module so that none of this enters tf.
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"time"

	awsbase "github.com/hashicorp/aws-sdk-go-base/v2"
)

// settings are the credential settings terraform passes to aws-sdk-go-base.
type settings struct {
	Profile                string   `json:"profile"`
	AccessKey              string   `json:"access_key"`
	SecretKey              string   `json:"secret_key"`
	Token                  string   `json:"token"`
	SharedConfigFiles      []string `json:"shared_config_files"`
	SharedCredentialsFiles []string `json:"shared_credentials_files"`
	AssumeRoleARN          string   `json:"assume_role_arn"`
	WebIdentity            *struct {
		RoleARN   string `json:"role_arn"`
		Token     string `json:"token"`
		TokenFile string `json:"token_file"`
	} `json:"web_identity"`
}

type answer struct {
	AccessKey string    `json:"access_key,omitempty"`
	Source    string    `json:"source,omitempty"`
	CanExpire bool      `json:"can_expire"`
	Expires   time.Time `json:"expires,omitzero"`
	Error     string    `json:"error,omitempty"`
}

func main() {
	var s settings
	if err := json.NewDecoder(os.Stdin).Decode(&s); err != nil {
		fmt.Fprintln(os.Stderr, "oracle: reading settings:", err)
		os.Exit(2)
	}
	_ = json.NewEncoder(os.Stdout).Encode(resolve(context.Background(), s))
}

func resolve(ctx context.Context, s settings) answer {
	c := &awsbase.Config{
		Profile: s.Profile, AccessKey: s.AccessKey, SecretKey: s.SecretKey, Token: s.Token,
		SharedConfigFiles: s.SharedConfigFiles, SharedCredentialsFiles: s.SharedCredentialsFiles,
		Region: "us-east-1", CallerName: "tf credguard oracle",
		SkipCredsValidation: true, SkipRequestingAccountId: true,
	}
	if s.AssumeRoleARN != "" {
		c.AssumeRole = []awsbase.AssumeRole{{RoleARN: s.AssumeRoleARN}}
	}
	if wi := s.WebIdentity; wi != nil {
		c.AssumeRoleWithWebIdentity = &awsbase.AssumeRoleWithWebIdentity{RoleARN: wi.RoleARN, WebIdentityToken: wi.Token, WebIdentityTokenFile: wi.TokenFile}
	}
	_, cfg, diags := awsbase.GetAwsConfig(ctx, c)
	if diags.HasError() {
		msg := ""
		for _, d := range diags {
			msg += d.Summary() + ": " + d.Detail() + "; "
		}
		return answer{Error: msg}
	}
	cr, err := cfg.Credentials.Retrieve(ctx)
	if err != nil {
		return answer{Error: err.Error()}
	}
	return answer{AccessKey: cr.AccessKeyID, Source: cr.Source, CanExpire: cr.CanExpire, Expires: cr.Expires}
}
