package credguard

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/tfguard/tf/tfdir"
)

// consumer is something in the run that signs AWS requests: the backend or
// an AWS provider configuration, with the credential settings it names.
type consumer struct {
	Name          string   // "backend", `provider "aws" (main.tf:3)`
	Profile       string   // literal profile
	ConfigFiles   []string // shared_config_files
	HasStaticKeys bool     // access_key set in configuration
	RoleARN       string   // assume_role.role_arn
	WebIdentity   bool     // assume_role_with_web_identity
	Skipped       []string // settings that were not literal
}

// backendConsumer reads the backend settings terraform init recorded in
// .terraform/terraform.tfstate; ok is false for a non-S3 or absent backend.
func backendConsumer(o Options) (consumer, bool, error) {
	rec, ok, err := tfdir.ReadBackend(o.Dir, o.Env)
	if err != nil || !ok || rec.Type != "s3" {
		return consumer{}, false, err
	}
	c := consumer{Name: "backend"}
	c.Profile = rec.String("profile")
	c.HasStaticKeys = rec.String("access_key") != ""
	c.ConfigFiles = rec.Strings("shared_config_files")
	c.RoleARN = rec.String("role_arn")
	if r, _ := rec.Map("assume_role")["role_arn"].(string); r != "" {
		c.RoleARN = r
	}
	c.WebIdentity = len(rec.Map("assume_role_with_web_identity")) > 0
	return c, true, nil
}

// providerConsumers reads the `provider "aws"` blocks of the root module's
// *.tf files with HCL's own parser. Only literal values are understood;
// anything else (variables, functions) is named in Skipped. *.tf.json files
// and child modules are not read.
//
// usesAWS says whether terraform will load the AWS provider at all: the
// dependency lock file (`terraform init` lists every provider of every
// module there) names hashicorp/aws, or, before init, the root module has a
// provider "aws" block, an aws_* resource or data source, a module call, an
// S3 backend, or mentions aws in required_providers.
func providerConsumers(dir string) (out []consumer, notes []string, usesAWS bool, err error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.tf"))
	if err != nil {
		return nil, nil, false, err
	}
	lockFile, lockErr := os.ReadFile(filepath.Join(dir, ".terraform.lock.hcl"))
	sort.Strings(files)
	if js, _ := filepath.Glob(filepath.Join(dir, "*.tf.json")); len(js) > 0 {
		notes = append(notes, "*.tf.json files are not read for provider settings")
	}
	p := hclparse.NewParser()
	for _, path := range files {
		f, diags := p.ParseHCLFile(path)
		if diags.HasErrors() {
			return nil, notes, false, fmt.Errorf("parse %s: %w", path, diags)
		}
		body, ok := f.Body.(*hclsyntax.Body)
		if !ok {
			continue
		}
		for _, blk := range body.Blocks {
			switch {
			case blk.Type == "provider" && len(blk.Labels) == 1 && blk.Labels[0] == "aws":
				out = append(out, providerConsumer(blk))
				usesAWS = true
			case (blk.Type == "resource" || blk.Type == "data") && len(blk.Labels) > 0 && strings.HasPrefix(blk.Labels[0], "aws_"),
				blk.Type == "module":
				usesAWS = true
			case blk.Type == "terraform":
				for _, inner := range blk.Body.Blocks {
					if (inner.Type == "required_providers" && inner.Body.Attributes["aws"] != nil) ||
						(inner.Type == "backend" && len(inner.Labels) == 1 && inner.Labels[0] == "s3") {
						usesAWS = true
					}
				}
			}
		}
	}
	switch {
	case len(files) == 0 && lockErr != nil:
		// No configuration to read here at all: assume the worst.
		usesAWS = true
	case lockErr == nil:
		// After init the lock file is the complete answer, child modules included.
		usesAWS = len(out) > 0 || strings.Contains(string(lockFile), "/hashicorp/aws\"")
	}
	return out, notes, usesAWS, nil
}

func providerConsumer(blk *hclsyntax.Block) consumer {
	rng := blk.DefRange()
	c := consumer{Name: fmt.Sprintf("provider \"aws\" (%s:%d)", filepath.Base(rng.Filename), rng.Start.Line)}
	if a, ok := blk.Body.Attributes["alias"]; ok {
		if v, ok := literal(a.Expr); ok && v.Type() == cty.String {
			c.Name = fmt.Sprintf("provider \"aws\" alias %q (%s:%d)", v.AsString(), filepath.Base(rng.Filename), rng.Start.Line)
		}
	}
	str := func(name string) string {
		a, ok := blk.Body.Attributes[name]
		if !ok {
			return ""
		}
		v, ok := literal(a.Expr)
		if !ok || v.Type() != cty.String {
			c.Skipped = append(c.Skipped, name+" is not a literal string")
			return ""
		}
		return v.AsString()
	}
	c.Profile = str("profile")
	if _, ok := blk.Body.Attributes["access_key"]; ok {
		c.HasStaticKeys = true
	}
	if a, ok := blk.Body.Attributes["shared_config_files"]; ok {
		v, ok := literal(a.Expr)
		if ok && (v.Type().IsTupleType() || v.Type().IsListType()) {
			for it := v.ElementIterator(); it.Next(); {
				if _, e := it.Element(); e.Type() == cty.String && e.IsKnown() {
					c.ConfigFiles = append(c.ConfigFiles, e.AsString())
				}
			}
		} else {
			c.Skipped = append(c.Skipped, "shared_config_files is not a literal list")
		}
	}
	for _, inner := range blk.Body.Blocks {
		switch inner.Type {
		case "assume_role":
			if a, ok := inner.Body.Attributes["role_arn"]; ok {
				if v, ok := literal(a.Expr); ok && v.Type() == cty.String {
					c.RoleARN = v.AsString()
				} else {
					c.Skipped = append(c.Skipped, "assume_role.role_arn is not a literal string")
				}
			}
		case "assume_role_with_web_identity":
			c.WebIdentity = true
		}
	}
	return c
}

// literal evaluates an expression without variables or functions.
func literal(e hclsyntax.Expression) (cty.Value, bool) {
	v, diags := e.Value(&hcl.EvalContext{})
	if diags.HasErrors() || !v.IsWhollyKnown() || v.IsNull() {
		return cty.NilVal, false
	}
	return v, true
}
