package credguard

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/tfguard/tf/tfdir"
)

// maxModuleDepth bounds how deep child modules are read.
const maxModuleDepth = 16

// where names a block for people: its file relative to terraform's working
// directory and line, and the module it is in ("in module.net (...)").
func where(o Options, rng hcl.Range, module string) string {
	file := rng.Filename
	if rel, err := filepath.Rel(o.Dir, file); err == nil {
		file = rel
	}
	at := fmt.Sprintf("(%s:%d)", file, rng.Start.Line)
	if module != "" {
		return "in " + module + " " + at
	}
	return at
}

// installedModules maps each module key terraform init recorded in
// <data dir>/modules/modules.json ("net", "net.subnets") to its directory.
func installedModules(o Options) map[string]string {
	b, err := os.ReadFile(filepath.Join(tfdir.DataDir(o.Dir, o.Env), "modules", "modules.json"))
	if err != nil {
		return nil
	}
	var rec struct {
		Modules []struct{ Key, Source, Dir string }
	}
	if json.Unmarshal(b, &rec) != nil {
		return nil
	}
	out := map[string]string{}
	for _, m := range rec.Modules {
		d := m.Dir
		if !filepath.IsAbs(d) {
			d = filepath.Join(o.Dir, d)
		}
		out[m.Key] = d
	}
	return out
}

// readChildren reads the modules m calls (chain is the directories from the
// root's to m's, key m's module key): their provider "aws" blocks and terraform_remote_state data
// sources are consumers too, evaluated with the values the call passes.
// A call without a providers map gives the child m's default aws
// configuration: m uses it when the child (or one of its own children)
// has aws resources and no unaliased provider "aws" block of its own, or
// when the child cannot be read.
func (m *rootModule) readChildren(ctx *hcl.EvalContext, o Options, chain []string, key string, depth int, installed map[string]string) {
	for _, call := range m.calls {
		child := readChild(ctx, o, chain, key, call, depth, installed)
		inherits := true
		if a, ok := call.Body.Attributes["providers"]; ok && !mapsDefaultAWS(a.Expr) {
			inherits = false
		}
		if child == nil {
			m.defaultUsed = m.defaultUsed || inherits
			continue
		}
		m.providers = append(m.providers, child.providers...)
		m.remote = append(m.remote, child.remote...)
		m.notes = append(m.notes, child.notes...)
		if inherits && child.defaultUsed && !child.hasDefault {
			m.defaultUsed = true
		}
	}
}

// readChild reads one called module; nil when it cannot be found (not
// installed: terraform stops before it runs) or read.
func readChild(parent *hcl.EvalContext, o Options, chain []string, parentKey string, call *hclsyntax.Block, depth int, installed map[string]string) *rootModule {
	parentDir := chain[len(chain)-1]
	if len(call.Labels) != 1 {
		return nil
	}
	key := call.Labels[0]
	if parentKey != "" {
		key = parentKey + "." + key
	}
	label := "module." + strings.ReplaceAll(key, ".", ".module.")
	src := ""
	if a, ok := call.Body.Attributes["source"]; ok {
		if v, diags := a.Expr.Value(nil); !diags.HasErrors() && v.Type() == cty.String && v.IsKnown() && !v.IsNull() {
			src = v.AsString()
		}
	}
	dir := installed[key]
	if dir == "" && (strings.HasPrefix(src, "./") || strings.HasPrefix(src, "../")) {
		dir = filepath.Join(parentDir, src)
	}
	for _, a := range chain {
		if dir != "" && filepath.Clean(dir) == filepath.Clean(a) {
			return nil // a module that calls itself or an ancestor: terraform refuses it
		}
	}
	if dir == "" || depth >= maxModuleDepth {
		if depth < maxModuleDepth {
			return &rootModule{label: label, defaultUsed: true, notes: []string{fmt.Sprintf("%s (source %q) is not installed here: the AWS providers it configures are not known (terraform init installs it)", label, src)}}
		}
		return nil
	}
	files, jsonFiles := configFiles(dir)
	if len(files) == 0 && len(jsonFiles) == 0 {
		return nil
	}
	m := &rootModule{label: label}
	p := hclparse.NewParser()
	var bodies, overrides []*hclsyntax.Body
	for _, path := range files {
		f, diags := p.ParseHCLFile(path)
		if diags.HasErrors() {
			m.notes = append(m.notes, fmt.Sprintf("%s could not be read (%s): the AWS providers configured there are not known", where(o, hcl.Range{Filename: path}, label), firstDiag(diags)))
			m.providers = append(m.providers, consumer{Name: "providers in " + label + " " + filepath.Base(path), Unknown: []string{"the file does not parse"}})
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
	if len(jsonFiles) > 0 {
		m.notes = append(m.notes, "*.tf.json files of "+label+" are not read for provider settings")
		m.providers = append(m.providers, consumer{Name: "providers in " + label + " *.tf.json", Unknown: []string{"*.tf.json files are not read"}})
	}
	mergeProviderOverrides(bodies, overrides)
	all := append(append([]*hclsyntax.Body{}, bodies...), overrides...)
	ctx := evalContext(o, childVariables(parent, call, all))
	rel, err := filepath.Rel(o.Dir, dir)
	if err != nil {
		rel = dir
	}
	path := ctx.Variables["path"].AsValueMap()
	path["module"] = cty.StringVal(rel)
	ctx.Variables["path"] = cty.ObjectVal(path)
	evalLocals(ctx, all)
	for _, body := range bodies {
		m.readBody(ctx, o, body)
	}
	m.backend = nil // a child's backend block means nothing
	m.readChildren(ctx, o, append(append([]string{}, chain...), dir), key, depth+1, installed)
	return m
}

// childVariables are a child module's variables: the values the call
// passes (evaluated where the call is), else their defaults; what cannot
// be known before the run is unknown.
func childVariables(parent *hcl.EvalContext, call *hclsyntax.Block, bodies []*hclsyntax.Body) map[string]cty.Value {
	vars := map[string]cty.Value{}
	for _, body := range bodies {
		for _, blk := range body.Blocks {
			if blk.Type != "variable" || len(blk.Labels) != 1 {
				continue
			}
			name := blk.Labels[0]
			if _, ok := vars[name]; !ok {
				vars[name] = cty.DynamicVal
			}
			if d, ok := blk.Body.Attributes["default"]; ok {
				if v, diags := d.Expr.Value(nil); !diags.HasErrors() {
					vars[name] = v
				}
			}
		}
	}
	for name, a := range call.Body.Attributes {
		if _, declared := vars[name]; !declared {
			continue
		}
		v, diags := a.Expr.Value(parent)
		switch {
		case diags.HasErrors():
			v = cty.DynamicVal
		case !v.IsWhollyKnown() && !fromUnreadPlan(v):
			v = cty.DynamicVal
		}
		vars[name] = v
	}
	return vars
}

// remoteStateConsumer reads a data "terraform_remote_state" with backend
// "s3": its config is the S3 backend's, with the same rules (s3Consumer).
func remoteStateConsumer(ctx *hcl.EvalContext, o Options, blk *hclsyntax.Block, module string) (consumer, bool) {
	name := fmt.Sprintf("data \"terraform_remote_state\" %q %s", blk.Labels[1], where(o, blk.DefRange(), module))
	backend := evalSetting(ctx, blk.Body, "backend", "")
	switch {
	case backend.unknown != "":
		return consumer{Name: name, Unknown: []string{backend.unknown}}, true
	case backend.str() != "s3":
		return consumer{}, false
	}
	a, ok := blk.Body.Attributes["config"]
	if !ok {
		return s3Consumer(o, name, nil, nil), true
	}
	attrs, why := map[string]cty.Value{}, map[string]string{}
	if obj, isObj := a.Expr.(*hclsyntax.ObjectConsExpr); isObj {
		// item by item: a bucket from a data source leaves the profile known
		for _, it := range obj.Items {
			k, diags := it.KeyExpr.Value(nil)
			if diags.HasErrors() || k.Type() != cty.String || !k.IsKnown() || k.IsNull() {
				continue
			}
			v, diags := it.ValueExpr.Value(ctx)
			if diags.HasErrors() || !v.IsWhollyKnown() {
				key := k.AsString()
				attrs[key], why[key] = cty.DynamicVal, "config."+key+" is only known during the run"
				if fromUnreadPlan(v) {
					why[key] = "config." + key + " comes from the saved plan's variables, which could not be read"
				}
				continue
			}
			attrs[k.AsString()] = v
		}
		return s3Consumer(o, name, attrs, why), true
	}
	v, diags := a.Expr.Value(ctx)
	if diags.HasErrors() || !v.IsWhollyKnown() || !(v.Type().IsObjectType() || v.Type().IsMapType()) {
		return consumer{Name: name, Unknown: []string{"config is only known during the run"}}, true
	}
	return s3Consumer(o, name, v.AsValueMap(), nil), true
}
