//go:build tools

package main

import (
	_ "github.com/aws/aws-sdk-go-v2/aws"
	_ "github.com/aws/aws-sdk-go-v2/config"
	_ "github.com/aws/aws-sdk-go-v2/credentials"
	_ "github.com/aws/aws-sdk-go-v2/service/dynamodb"
	_ "github.com/aws/aws-sdk-go-v2/service/s3"
	_ "github.com/aws/aws-sdk-go-v2/service/sso"
	_ "github.com/aws/aws-sdk-go-v2/service/ssooidc"
	_ "github.com/aws/aws-sdk-go-v2/service/sts"
	_ "github.com/creack/pty"
	_ "github.com/gofrs/flock"
	_ "github.com/hashicorp/hc-install"
	_ "github.com/hashicorp/hc-install/product"
	_ "github.com/hashicorp/hc-install/releases"
	_ "github.com/hashicorp/hcl/v2"
	_ "github.com/hashicorp/hcl/v2/hclparse"
	_ "github.com/hashicorp/terraform-exec/tfexec"
	_ "github.com/johannesboyne/gofakes3"
	_ "github.com/johannesboyne/gofakes3/backend/s3mem"
	_ "github.com/rogpeppe/go-internal/testscript"
	_ "github.com/urfave/cli/v2"
	_ "golang.org/x/sys/unix"
	_ "golang.org/x/term"
)
