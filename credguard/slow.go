package credguard

import (
	"fmt"
	"sort"
	"time"

	tfjson "github.com/hashicorp/terraform-json"
)

// slowResources is how long one create or replace of a slow resource type
// can take; applying a saved plan that changes them needs this much more
// credential lifetime. The only table of its kind.
var slowResources = map[string]time.Duration{
	"aws_eks_cluster":                   20 * time.Minute,
	"aws_eks_node_group":                15 * time.Minute,
	"aws_eks_fargate_profile":           10 * time.Minute,
	"aws_db_instance":                   40 * time.Minute,
	"aws_rds_cluster":                   20 * time.Minute,
	"aws_rds_cluster_instance":          20 * time.Minute,
	"aws_neptune_cluster":               20 * time.Minute,
	"aws_docdb_cluster":                 20 * time.Minute,
	"aws_elasticache_replication_group": 20 * time.Minute,
	"aws_elasticsearch_domain":          30 * time.Minute,
	"aws_opensearch_domain":             30 * time.Minute,
	"aws_cloudfront_distribution":       25 * time.Minute,
	"aws_mq_broker":                     20 * time.Minute,
	"aws_msk_cluster":                   40 * time.Minute,
	"aws_redshift_cluster":              20 * time.Minute,
	"aws_directory_service_directory":   30 * time.Minute,
	"aws_globalaccelerator_accelerator": 10 * time.Minute,
	"aws_transfer_server":               10 * time.Minute,
}

// slowMargin adds up the margins of the slow resource types in types
// (each resource once per occurrence), and names them.
func slowMargin(types []string) (time.Duration, []string) {
	var total time.Duration
	seen := map[string]int{}
	for _, t := range types {
		if d, ok := slowResources[t]; ok {
			total += d
			seen[t]++
		}
	}
	var names []string
	for t, n := range seen {
		names = append(names, fmt.Sprintf("%s x%d", t, n))
	}
	sort.Strings(names)
	return total, names
}

// PlanResourceTypes returns the type of every resource a saved plan
// creates, updates or deletes (replacements included), as terraform-exec's
// ShowPlanFile reads it (`terraform show -json PLAN`).
func PlanResourceTypes(plan *tfjson.Plan) []string {
	if plan == nil {
		return nil
	}
	var out []string
	for _, rc := range plan.ResourceChanges {
		if rc == nil || rc.Change == nil {
			continue
		}
		for _, a := range rc.Change.Actions {
			if a == tfjson.ActionCreate || a == tfjson.ActionUpdate || a == tfjson.ActionDelete {
				out = append(out, rc.Type)
				break
			}
		}
	}
	return out
}
