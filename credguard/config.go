package credguard

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
	ctyjson "github.com/zclconf/go-cty/cty/json"

	"github.com/tfguard/tf/tfargs"
	"github.com/tfguard/tf/tfdir"
)

// consumer is something in the run that signs AWS requests: the backend or
// an AWS provider configuration, with the credential settings it names,
// evaluated as terraform evaluates them. A setting that is absent, null or
// "" is unset: terraform (and its SDK) then fall back to the environment.
type consumer struct {
	Name             string   // `backend "s3"`, `provider "aws" (main.tf:3)`
	Profile          string   // profile
	ConfigFiles      []string // shared_config_files, expanded
	CredentialsFiles []string // shared_credentials_files, expanded
	HasStaticKeys    bool     // access_key set to a value
	SessionToken     bool     // token set to a value next to access_key
	RoleARN          string   // assume_role.role_arn
	// WebIdentity: an assume_role_with_web_identity block (or attribute)
	// is set; its credential replaces the base chain entirely
	// (aws-sdk-go-base getCredentialsProvider). The token is a secret:
	// only its exp is ever read from it, and it is never printed.
	WebIdentity          bool
	WebIdentityRole      string
	WebIdentityToken     string
	WebIdentityTokenFile string        // expanded
	WebIdentityDuration  time.Duration // its duration, 0 when unset
	// Unknown says why the credential cannot be known before the run (a
	// setting whose value only exists during the run): the consumer is
	// reported as unknown instead of being judged as something else.
	Unknown []string
}

// isIgnoredFile is terraform's own rule for files in a module directory
// that are not configuration: editor backups and lock links, hidden files.
func isIgnoredFile(name string) bool {
	return strings.HasPrefix(name, ".") || strings.HasSuffix(name, "~") ||
		(strings.HasPrefix(name, "#") && strings.HasSuffix(name, "#"))
}

// configFiles lists the root module's *.tf (and *.tf.json) files that
// terraform reads, sorted.
func configFiles(dir string) (tf, tfjson []string) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, nil
	}
	for _, e := range ents {
		n := e.Name()
		if e.IsDir() || isIgnoredFile(n) {
			continue
		}
		switch {
		case strings.HasSuffix(n, ".tf"):
			tf = append(tf, filepath.Join(dir, n))
		case strings.HasSuffix(n, ".tf.json"):
			tfjson = append(tfjson, filepath.Join(dir, n))
		}
	}
	sort.Strings(tf)
	sort.Strings(tfjson)
	return tf, tfjson
}

// backendConsumer reads the backend settings terraform init recorded in
// .terraform/terraform.tfstate (values, already evaluated by init); ok is
// false for a non-S3 or absent backend.
func backendConsumer(o Options) (consumer, bool, error) {
	rec, ok, err := tfdir.ReadBackend(o.Dir, o.Env)
	if err != nil || !ok || rec.Type != "s3" {
		return consumer{}, false, err
	}
	attrs := map[string]cty.Value{}
	for k, v := range rec.Config {
		b, err := json.Marshal(v)
		if err != nil {
			continue
		}
		t, err := ctyjson.ImpliedType(b)
		if err != nil {
			continue
		}
		if cv, err := ctyjson.Unmarshal(b, t); err == nil {
			attrs[k] = cv
		}
	}
	return s3Consumer(o, `backend "s3"`, attrs, nil), true, nil
}

// s3Consumer reads the credential settings of the S3 backend, as terraform
// 1.11's backend (internal/backend/remote-state/s3/backend.go, Configure)
// hands them to aws-sdk-go-base: for the recorded backend, a backend block
// before init, and the config of a terraform_remote_state data source.
// attrs are the top-level settings (an unknown value is one only the run
// knows, why says why); nested objects (assume_role,
// assume_role_with_web_identity) are object values.
//
// The files: shared_credentials_files, else AWS_SHARED_CREDENTIALS_FILE,
// else the deprecated shared_credentials_file (which the list, and that
// variable, replace); shared_config_files, else AWS_SHARED_CONFIG_FILE,
// else the SDK's own default (AWS_CONFIG_FILE, ~/.aws/config).
func s3Consumer(o Options, name string, attrs map[string]cty.Value, why map[string]string) consumer {
	c := consumer{Name: name}
	get := func(obj map[string]cty.Value, path, attr string) cty.Value {
		v, ok := obj[attr]
		if !ok || v == cty.NilVal || v.IsNull() {
			return cty.NilVal
		}
		if !v.IsWhollyKnown() {
			reason := why[attr]
			if reason == "" {
				reason = path + attr + " is only known during the run"
			}
			c.Unknown = append(c.Unknown, reason)
			return cty.NilVal
		}
		return v
	}
	str := func(obj map[string]cty.Value, path, attr string) string {
		v := get(obj, path, attr)
		if v == cty.NilVal || v.Type() != cty.String {
			return ""
		}
		return v.AsString()
	}
	strs := func(attr string) ([]string, bool) {
		v := get(attrs, "", attr)
		if v == cty.NilVal || !v.CanIterateElements() {
			return nil, false
		}
		var out []string
		for it := v.ElementIterator(); it.Next(); {
			if _, e := it.Element(); e.Type() == cty.String && !e.IsNull() {
				out = append(out, e.AsString())
			}
		}
		return out, true
	}
	nested := func(attr string) map[string]cty.Value {
		v := get(attrs, "", attr)
		if v == cty.NilVal {
			return nil
		}
		switch {
		case v.Type().IsObjectType() || v.Type().IsMapType():
			return v.AsValueMap()
		case (v.Type().IsListType() || v.Type().IsTupleType()) && v.LengthInt() > 0: // block syntax
			if first := v.Index(cty.NumberIntVal(0)); first.Type().IsObjectType() {
				return first.AsValueMap()
			}
		}
		return nil
	}
	c.Profile = str(attrs, "", "profile")
	if str(attrs, "", "access_key") != "" {
		c.HasStaticKeys = true
		c.SessionToken = str(attrs, "", "token") != ""
	}
	cfgs, ok := strs("shared_config_files")
	if !ok {
		if f := o.getenv(EnvSharedConfigFile); f != "" {
			cfgs = []string{f}
		}
	}
	c.ConfigFiles = expandPaths(o, cfgs)
	creds, ok := strs("shared_credentials_files")
	if !ok && o.getenv(EnvCredentialsFile) == "" {
		// the variable, when set, is also the SDK's default: nothing to pass
		if f := str(attrs, "", "shared_credentials_file"); f != "" {
			creds = []string{f}
		}
	}
	c.CredentialsFiles = expandPaths(o, creds)
	c.RoleARN = str(attrs, "", "role_arn")
	if ar := nested("assume_role"); ar != nil {
		if r := str(ar, "assume_role.", "role_arn"); r != "" {
			c.RoleARN = r
		}
	}
	if wi := nested("assume_role_with_web_identity"); wi != nil {
		c.WebIdentity = true
		c.WebIdentityRole = str(wi, "assume_role_with_web_identity.", "role_arn")
		c.WebIdentityToken = str(wi, "assume_role_with_web_identity.", "web_identity_token")
		if f := str(wi, "assume_role_with_web_identity.", "web_identity_token_file"); f != "" {
			c.WebIdentityTokenFile = expandPaths(o, []string{f})[0]
		}
		c.WebIdentityDuration, _ = time.ParseDuration(str(wi, "assume_role_with_web_identity.", "duration"))
	}
	if c.HasStaticKeys && !c.WebIdentity {
		c.Unknown = nil // keys in the configuration win over everything else
	}
	return c
}

// expandPaths expands file settings as terraform's AWS configuration does:
// a leading ~ is the home directory, $VAR and ${VAR} come from the
// environment, and a relative path is relative to terraform's working
// directory (the -chdir directory).
func expandPaths(o Options, paths []string) []string {
	var out []string
	for _, p := range paths {
		if p == "" {
			continue
		}
		p = os.Expand(p, o.getenv)
		if p == "~" || strings.HasPrefix(p, "~/") {
			p = filepath.Join(o.home(), strings.TrimPrefix(p, "~"))
		}
		if !filepath.IsAbs(p) {
			p = filepath.Join(o.Dir, p)
		}
		out = append(out, p)
	}
	return out
}

// rootModule is what credguard reads of the root module.
type rootModule struct {
	providers []consumer
	notes     []string
	usesAWS   bool
	// defaultUsed: something (a resource, a data source, a module call
	// without a providers map) uses the default `aws` provider configuration.
	defaultUsed bool
	hasDefault  bool // an unaliased provider "aws" block exists
	// backend is the configuration's backend "s3" block, used before
	// `terraform init` has recorded one.
	backend *consumer
	// label is the module's address ("" for the root, "module.net" for a
	// child); calls are its module blocks; remote are its
	// terraform_remote_state data sources with backend "s3".
	label  string
	calls  []*hclsyntax.Block
	remote []consumer
}

// providerConsumers reads the `provider "aws"` blocks of the root module's
// *.tf files with HCL's own parser and evaluates their credential settings
// with the run's variable values (see variableValues). The implicit
// default provider (no unaliased block, but resources use it) is a
// consumer too. A directory without configuration files has no provider;
// when it has no backend record either, the environment's credential is
// assumed.
//
// usesAWS says whether terraform will load the AWS provider at all: the
// dependency lock file (`terraform init` lists every provider of every
// module there) names hashicorp/aws, or, before init, the root module has a
// provider "aws" block, an aws_* resource or data source, a module call, an
// S3 backend, or mentions aws in required_providers.
func providerConsumers(o Options, hasBackend bool) (out []consumer, notes []string, usesAWS bool) {
	files, jsonFiles := configFiles(o.Dir)
	lockFile, lockErr := os.ReadFile(filepath.Join(o.Dir, ".terraform.lock.hcl"))
	if len(files) == 0 && len(jsonFiles) == 0 {
		if lockErr != nil && !hasBackend {
			// Nothing here says what the run uses (tf guard check in an
			// empty directory, a configuration elsewhere): assume the
			// environment's credential, as a provider without a block uses.
			return []consumer{{Name: "environment (no configuration here)"}},
				[]string{"no *.tf files and no backend recorded in " + o.Dir + ": judged as if a provider used the environment's credential (run this where the configuration is, or give -chdir)"}, true
		}
		// No configuration: no provider; a recorded backend is all there is.
		return nil, nil, false
	}
	m := rootModule{}
	p := hclparse.NewParser()
	var bodies, overrides []*hclsyntax.Body
	for _, path := range files {
		f, diags := p.ParseHCLFile(path)
		if diags.HasErrors() {
			// terraform reports the syntax error itself, before any lock.
			m.notes = append(m.notes, fmt.Sprintf("%s could not be read (%s): the AWS providers configured there are not known", filepath.Base(path), firstDiag(diags)))
			m.providers = append(m.providers, consumer{Name: "providers in " + filepath.Base(path), Unknown: []string{"the file does not parse"}})
			continue
		}
		body, ok := f.Body.(*hclsyntax.Body)
		switch base := filepath.Base(path); {
		case !ok:
		case base == "override.tf" || strings.HasSuffix(base, "_override.tf"):
			overrides = append(overrides, body)
		default:
			bodies = append(bodies, body)
		}
	}
	// Override files come last and replace what they name: variables and
	// locals by name (later wins below), provider blocks by alias.
	mergeProviderOverrides(bodies, overrides)
	all := append(append([]*hclsyntax.Body{}, bodies...), overrides...)
	vars, varNotes := variableValues(o, all)
	m.notes = append(m.notes, varNotes...)
	ctx := evalContext(o, vars)
	evalLocals(ctx, all)
	for _, body := range bodies {
		m.readBody(ctx, o, body)
	}
	m.readChildren(ctx, o, []string{o.Dir}, "", 0, installedModules(o))
	if len(jsonFiles) > 0 {
		m.notes = append(m.notes, "*.tf.json files are not read for provider settings")
		m.providers = append(m.providers, consumer{Name: "providers in *.tf.json", Unknown: []string{"*.tf.json files are not read"}})
		m.usesAWS = true
	}
	if lockErr == nil {
		// After init the lock file is the complete answer, child modules included.
		m.usesAWS = len(m.providers) > 0 || strings.Contains(string(lockFile), "/hashicorp/aws\"")
	}
	if m.usesAWS && m.defaultUsed && !m.hasDefault {
		m.providers = append(m.providers, consumer{Name: `provider "aws" (default, no provider block)`})
	}
	if m.backend != nil && !hasBackend {
		m.providers = append([]consumer{*m.backend}, m.providers...)
	}
	return append(m.providers, m.remote...), m.notes, m.usesAWS
}

func firstDiag(diags hcl.Diagnostics) string {
	for _, d := range diags {
		if d.Severity == hcl.DiagError {
			if d.Subject != nil {
				return fmt.Sprintf("line %d: %s", d.Subject.Start.Line, d.Summary)
			}
			return d.Summary
		}
	}
	return diags.Error()
}

func (m *rootModule) readBody(ctx *hcl.EvalContext, o Options, body *hclsyntax.Body) {
	for _, blk := range body.Blocks {
		switch {
		case blk.Type == "provider" && len(blk.Labels) == 1 && blk.Labels[0] == "aws":
			c, aliased := providerConsumer(ctx, o, blk, m.label)
			m.providers = append(m.providers, c)
			m.hasDefault = m.hasDefault || !aliased
			m.usesAWS = true
		case blk.Type == "data" && len(blk.Labels) == 2 && blk.Labels[0] == "terraform_remote_state":
			if c, ok := remoteStateConsumer(ctx, o, blk, m.label); ok {
				m.remote = append(m.remote, c)
			}
		case (blk.Type == "resource" || blk.Type == "data") && len(blk.Labels) > 0 && strings.HasPrefix(blk.Labels[0], "aws_"):
			m.usesAWS = true
			if a, ok := blk.Body.Attributes["provider"]; !ok || isDefaultProviderRef(a.Expr) {
				m.defaultUsed = true
			}
		case blk.Type == "module":
			m.usesAWS = true
			m.calls = append(m.calls, blk) // see readChildren
		case blk.Type == "terraform":
			for _, inner := range blk.Body.Blocks {
				if inner.Type == "required_providers" && inner.Body.Attributes["aws"] != nil {
					m.usesAWS = true
				}
				if inner.Type == "backend" && len(inner.Labels) == 1 && inner.Labels[0] == "s3" {
					m.usesAWS = true
					b := backendBlockConsumer(ctx, o, inner)
					m.backend = &b
				}
			}
		}
	}
}

// mergeProviderOverrides applies the provider "aws" blocks of override
// files to the primary block with the same alias, as terraform does: each
// attribute replaces the primary's, and a nested block type (assume_role)
// replaces all the primary's blocks of that type.
func mergeProviderOverrides(bodies, overrides []*hclsyntax.Body) {
	alias := func(b *hclsyntax.Block) string {
		if a, ok := b.Body.Attributes["alias"]; ok {
			if v, diags := a.Expr.Value(nil); !diags.HasErrors() && v.Type() == cty.String && v.IsKnown() && !v.IsNull() {
				return v.AsString()
			}
		}
		return ""
	}
	isAWS := func(b *hclsyntax.Block) bool {
		return b.Type == "provider" && len(b.Labels) == 1 && b.Labels[0] == "aws"
	}
	for _, ob := range overrides {
		for _, over := range ob.Blocks {
			if !isAWS(over) {
				continue
			}
			for _, body := range bodies {
				for _, prim := range body.Blocks {
					if !isAWS(prim) || alias(prim) != alias(over) {
						continue
					}
					merged := *prim.Body
					merged.Attributes = hclsyntax.Attributes{}
					for k, v := range prim.Body.Attributes {
						merged.Attributes[k] = v
					}
					for k, v := range over.Body.Attributes {
						merged.Attributes[k] = v
					}
					replaced := map[string]bool{}
					for _, ib := range over.Body.Blocks {
						replaced[ib.Type] = true
					}
					merged.Blocks = nil
					for _, ib := range prim.Body.Blocks {
						if !replaced[ib.Type] {
							merged.Blocks = append(merged.Blocks, ib)
						}
					}
					merged.Blocks = append(merged.Blocks, over.Body.Blocks...)
					prim.Body = &merged
				}
			}
		}
	}
}

// backendBlockConsumer reads a backend "s3" block of the configuration
// (before `terraform init` records it; -backend-config values are not known
// yet).
func backendBlockConsumer(ctx *hcl.EvalContext, o Options, blk *hclsyntax.Block) consumer {
	attrs, why := evalAttrs(ctx, blk.Body, "backend ")
	return s3Consumer(o, `backend "s3"`, attrs, why)
}

// evalAttrs evaluates each attribute of body (and each nested block, as a
// one-element list of objects); one that cannot be evaluated before the run
// is unknown, and why says so.
func evalAttrs(ctx *hcl.EvalContext, body *hclsyntax.Body, where string) (map[string]cty.Value, map[string]string) {
	attrs, why := map[string]cty.Value{}, map[string]string{}
	for name, a := range body.Attributes {
		v, diags := a.Expr.Value(ctx)
		if diags.HasErrors() || !v.IsWhollyKnown() {
			attrs[name], why[name] = cty.DynamicVal, where+name+" is only known during the run"
			continue
		}
		attrs[name] = v
	}
	for _, inner := range body.Blocks {
		in, inWhy := evalAttrs(ctx, inner.Body, where+inner.Type+".")
		for k, w := range inWhy {
			why[inner.Type+"."+k] = w
			in[k] = cty.DynamicVal
		}
		attrs[inner.Type] = cty.TupleVal([]cty.Value{cty.ObjectVal(in)})
	}
	return attrs, why
}

// isDefaultProviderRef: `provider = aws` (no alias).
func isDefaultProviderRef(e hclsyntax.Expression) bool {
	t, ok := e.(*hclsyntax.ScopeTraversalExpr)
	return ok && len(t.Traversal) == 1 && t.Traversal.RootName() == "aws"
}

// mapsDefaultAWS: a module's providers map that passes the default aws
// provider (`aws = aws`).
func mapsDefaultAWS(e hclsyntax.Expression) bool {
	obj, ok := e.(*hclsyntax.ObjectConsExpr)
	if !ok {
		return true
	}
	for _, it := range obj.Items {
		if isDefaultProviderRef(it.ValueExpr) {
			return true
		}
	}
	return false
}

// evalContext is what a root-module expression can see before the run:
// var.*, local.* (see evalLocals), path.module/root/cwd,
// terraform.workspace, and terraform's pure string and collection functions
// whose cty versions behave the same (plus pathexpand). Anything else (data
// sources, resources, file(), timestamp(), coalesce(), which skips "" in
// terraform only) makes the value unknown.
func evalContext(o Options, vars map[string]cty.Value) *hcl.EvalContext {
	cwd, err := filepath.Abs(o.Dir)
	if err != nil {
		cwd = o.Dir
	}
	pathexpand := function.New(&function.Spec{
		Params: []function.Parameter{{Name: "path", Type: cty.String}},
		Type:   function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			p := args[0].AsString()
			if p == "~" || strings.HasPrefix(p, "~/") {
				p = filepath.Join(o.home(), strings.TrimPrefix(p, "~"))
			}
			return cty.StringVal(p), nil
		},
	})
	return &hcl.EvalContext{
		Variables: map[string]cty.Value{
			"var":       cty.ObjectVal(vars),
			"path":      cty.ObjectVal(map[string]cty.Value{"module": cty.StringVal("."), "root": cty.StringVal("."), "cwd": cty.StringVal(cwd)}),
			"terraform": cty.ObjectVal(map[string]cty.Value{"workspace": cty.StringVal(o.workspace())}),
		},
		Functions: map[string]function.Function{
			"lower": stdlib.LowerFunc, "upper": stdlib.UpperFunc, "format": stdlib.FormatFunc,
			"join": stdlib.JoinFunc, "split": stdlib.SplitFunc,
			"trimspace": stdlib.TrimSpaceFunc, "trimprefix": stdlib.TrimPrefixFunc, "trimsuffix": stdlib.TrimSuffixFunc,
			"replace": stdlib.ReplaceFunc, "lookup": stdlib.LookupFunc, "merge": stdlib.MergeFunc,
			"concat": stdlib.ConcatFunc, "element": stdlib.ElementFunc, "contains": stdlib.ContainsFunc,
			"tostring": stdlib.MakeToFunc(cty.String), "tolist": stdlib.MakeToFunc(cty.List(cty.DynamicPseudoType)),
			"pathexpand": pathexpand,
		},
	}
}

// evalLocals sets local.* to the locals whose values are known before the
// run (a local may use variables, pure functions and other locals); the
// others stay unknown. Each local is evaluated once, after the locals it
// refers to, with only those in its scope: linear in the number of locals
// and references. A local in a reference cycle is unknown (terraform
// rejects the cycle itself).
func evalLocals(ctx *hcl.EvalContext, bodies []*hclsyntax.Body) {
	exprs := map[string]hcl.Expression{}
	for _, body := range bodies {
		for _, blk := range body.Blocks {
			if blk.Type != "locals" {
				continue
			}
			for name, a := range blk.Body.Attributes {
				exprs[name] = a.Expr
			}
		}
	}
	vals := make(map[string]cty.Value, len(exprs))
	const visiting = 1
	state := map[string]int{}
	var eval func(name string) cty.Value
	eval = func(name string) cty.Value {
		if v, ok := vals[name]; ok {
			return v
		}
		e, ok := exprs[name]
		if !ok || state[name] == visiting {
			return cty.DynamicVal
		}
		state[name] = visiting
		deps := map[string]cty.Value{}
		for _, tr := range e.Variables() {
			if tr.RootName() != "local" || len(tr) < 2 {
				continue
			}
			if attr, ok := tr[1].(hcl.TraverseAttr); ok {
				deps[attr.Name] = eval(attr.Name)
			}
		}
		child := ctx.NewChild()
		child.Variables = map[string]cty.Value{"local": cty.ObjectVal(deps)}
		v, diags := e.Value(child)
		switch {
		case diags.HasErrors():
			v = cty.DynamicVal
		case !v.IsWhollyKnown() && !fromUnreadPlan(v): // keep saying why
			v = cty.DynamicVal
		}
		vals[name] = v
		return v
	}
	for name := range exprs {
		eval(name)
	}
	ctx.Variables["local"] = cty.ObjectVal(vals)
}

// setting is one evaluated credential setting.
type setting struct {
	value   cty.Value // known, non-null
	set     bool      // has a value that is not null or ""
	unknown string    // why the value cannot be known before the run
}

func evalSetting(ctx *hcl.EvalContext, body *hclsyntax.Body, name, where string) setting {
	a, ok := body.Attributes[name]
	if !ok {
		return setting{}
	}
	v, diags := a.Expr.Value(ctx)
	switch {
	case fromUnreadPlan(v):
		return setting{unknown: fmt.Sprintf("%s%s comes from the saved plan's variables, which could not be read", where, name)}
	case diags.HasErrors() || !v.IsWhollyKnown():
		return setting{unknown: fmt.Sprintf("%s%s is only known during the run", where, name)}
	case v.IsNull():
		return setting{}
	case v.Type() == cty.String && v.AsString() == "":
		return setting{}
	}
	return setting{value: v, set: true}
}

func (s setting) str() string {
	if !s.set || s.value.Type() != cty.String {
		return ""
	}
	return s.value.AsString()
}

func (s setting) strs() []string {
	if !s.set || !(s.value.Type().IsTupleType() || s.value.Type().IsListType()) {
		return nil
	}
	var out []string
	for it := s.value.ElementIterator(); it.Next(); {
		if _, e := it.Element(); e.IsKnown() && !e.IsNull() && e.Type() == cty.String {
			out = append(out, e.AsString())
		}
	}
	return out
}

func providerConsumer(ctx *hcl.EvalContext, o Options, blk *hclsyntax.Block, module string) (consumer, bool) {
	at := where(o, blk.DefRange(), module)
	c := consumer{Name: "provider \"aws\" " + at}
	aliased := false
	if a := evalSetting(ctx, blk.Body, "alias", ""); a.set {
		aliased = true
		c.Name = fmt.Sprintf("provider \"aws\" alias %q %s", a.str(), at)
	}
	get := func(body *hclsyntax.Body, name, where string) setting {
		s := evalSetting(ctx, body, name, where)
		if s.unknown != "" {
			c.Unknown = append(c.Unknown, s.unknown)
		}
		return s
	}
	c.Profile = get(blk.Body, "profile", "").str()
	if k := get(blk.Body, "access_key", ""); k.set {
		c.HasStaticKeys = true
		c.SessionToken = get(blk.Body, "token", "").set
	}
	c.ConfigFiles = expandPaths(o, get(blk.Body, "shared_config_files", "").strs())
	c.CredentialsFiles = expandPaths(o, get(blk.Body, "shared_credentials_files", "").strs())
	if f := get(blk.Body, "shared_credentials_file", "").str(); f != "" {
		// the AWS provider v4's single file wins over the list there (v5
		// has no such argument)
		c.CredentialsFiles = expandPaths(o, []string{f})
	}
	for _, inner := range blk.Body.Blocks {
		switch inner.Type {
		case "assume_role":
			c.RoleARN = get(inner.Body, "role_arn", "assume_role.").str()
		case "assume_role_with_web_identity":
			c.WebIdentity = true
			where := "assume_role_with_web_identity."
			c.WebIdentityRole = get(inner.Body, "role_arn", where).str()
			c.WebIdentityToken = get(inner.Body, "web_identity_token", where).str()
			if f := get(inner.Body, "web_identity_token_file", where).str(); f != "" {
				c.WebIdentityTokenFile = expandPaths(o, []string{f})[0]
			}
			c.WebIdentityDuration, _ = time.ParseDuration(get(inner.Body, "duration", where).str())
		}
	}
	if c.HasStaticKeys && !c.WebIdentity {
		// Keys in the configuration win over everything else: what could
		// not be evaluated elsewhere does not matter.
		c.Unknown = nil
	}
	return c, aliased
}

// variableValues is the value of each root module variable as terraform
// will see it, lowest precedence first: the default, TF_VAR_name,
// terraform.tfvars, terraform.tfvars.json, *.auto.tfvars(.json) in
// lexical order, then -var and -var-file in command-line order. A variable
// with no value is unknown (terraform would ask for it or fail).
func variableValues(o Options, bodies []*hclsyntax.Body) (map[string]cty.Value, []string) {
	vars := map[string]cty.Value{}
	stringTyped := map[string]bool{}
	var notes []string
	for _, body := range bodies {
		for _, blk := range body.Blocks {
			if blk.Type != "variable" || len(blk.Labels) != 1 {
				continue
			}
			name := blk.Labels[0]
			if _, declared := vars[name]; !declared { // an override file may only change it
				vars[name] = cty.DynamicVal
				stringTyped[name] = true
			}
			if t, ok := blk.Body.Attributes["type"]; ok {
				kw := hcl.ExprAsKeyword(t.Expr)
				stringTyped[name] = kw == "string"
			}
			if d, ok := blk.Body.Attributes["default"]; ok {
				if v, diags := d.Expr.Value(nil); !diags.HasErrors() {
					vars[name] = v
				}
			}
		}
	}
	if len(vars) == 0 {
		return vars, nil
	}
	fromText := func(name, raw string) cty.Value {
		if stringTyped[name] {
			return cty.StringVal(raw)
		}
		e, diags := hclsyntax.ParseExpression([]byte(raw), name, hcl.InitialPos)
		if diags.HasErrors() {
			return cty.StringVal(raw)
		}
		v, diags := e.Value(nil)
		if diags.HasErrors() {
			return cty.DynamicVal
		}
		return v
	}
	for _, kv := range o.Env {
		k, v, _ := strings.Cut(kv, "=")
		if name, ok := strings.CutPrefix(k, "TF_VAR_"); ok {
			if _, declared := vars[name]; declared {
				vars[name] = fromText(name, v)
			}
		}
	}
	readFile := func(path string, mustExist bool) {
		if _, err := os.Stat(path); err != nil {
			if mustExist {
				notes = append(notes, fmt.Sprintf("variables file %s could not be read: %v", path, err))
			}
			return
		}
		p := hclparse.NewParser()
		var f *hcl.File
		var diags hcl.Diagnostics
		if strings.HasSuffix(path, ".json") {
			f, diags = p.ParseJSONFile(path)
		} else {
			f, diags = p.ParseHCLFile(path)
		}
		if diags.HasErrors() {
			notes = append(notes, fmt.Sprintf("variables file %s could not be read: %s", path, firstDiag(diags)))
			return
		}
		attrs, diags := f.Body.JustAttributes()
		if diags.HasErrors() {
			notes = append(notes, fmt.Sprintf("variables file %s could not be read: %s", path, firstDiag(diags)))
			return
		}
		for name, a := range attrs {
			if _, declared := vars[name]; !declared {
				continue
			}
			v, d := a.Expr.Value(nil)
			if d.HasErrors() {
				v = cty.DynamicVal
			}
			vars[name] = v
		}
	}
	readFile(filepath.Join(o.Dir, "terraform.tfvars"), false)
	readFile(filepath.Join(o.Dir, "terraform.tfvars.json"), false)
	if ents, err := os.ReadDir(o.Dir); err == nil {
		var auto []string
		for _, e := range ents {
			n := e.Name()
			if !e.IsDir() && !isIgnoredFile(n) && (strings.HasSuffix(n, ".auto.tfvars") || strings.HasSuffix(n, ".auto.tfvars.json")) {
				auto = append(auto, n)
			}
		}
		sort.Strings(auto)
		for _, n := range auto {
			readFile(filepath.Join(o.Dir, n), false)
		}
	}
	args, err := TerraformArgs(o.Env, o.Command, o.Args)
	if err != nil {
		notes = append(notes, err.Error())
	}
	cl := tfargs.Parse(args)
	if len(cl.Words) == 0 && o.Command != "" {
		// Only options (`tf guard check` judges a command it does not
		// run): they are the command's.
		cl = tfargs.Parse(append(strings.Fields(o.Command), args...))
	}
	for _, f := range cl.Vars() {
		if f.File != "" {
			p := f.File
			if !filepath.IsAbs(p) {
				p = filepath.Join(o.Dir, p)
			}
			readFile(p, true)
			continue
		}
		if _, declared := vars[f.Name]; declared {
			vars[f.Name] = fromText(f.Name, f.Value)
		}
	}
	notes = append(notes, applySavedPlan(o.SavedPlan, vars)...)
	return vars, notes
}
