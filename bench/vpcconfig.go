package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// writeVPCShape writes a root module shaped like a large community VPC
// module (terraform-aws-modules/terraform-aws-vpc): many variables with
// defaults, locals that build on each other, resources with count and
// for_each, several aws providers, an s3 backend, and module calls into
// local child modules of the same shape. It returns the number of .tf files
// written and their lines. Nothing here is copied: it is generated text of
// the same shape, for the guard's discovery to parse and evaluate.
func writeVPCShape(dir string, children, filesPerModule int) (files, lines int, err error) {
	write := func(path, text string) {
		if err != nil {
			return
		}
		if err = os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return
		}
		err = os.WriteFile(path, []byte(text), 0o644)
		files++
		lines += strings.Count(text, "\n")
	}
	write(filepath.Join(dir, "versions.tf"), `terraform {
  required_version = ">= 1.0"
  backend "s3" {
    bucket         = "bench-state"
    key            = "network/vpc.tfstate"
    region         = "eu-west-1"
    dynamodb_table = "bench-locks"
  }
  required_providers {
    aws = {
      source  = "hashicorp/aws"
      version = ">= 5.0"
    }
  }
}

provider "aws" {
  region = var.region
}

provider "aws" {
  alias  = "replica"
  region = local.replica_region
}
`)
	for m := 0; m <= children; m++ {
		mdir := dir
		if m > 0 {
			mdir = filepath.Join(dir, "modules", fmt.Sprintf("subnets%02d", m))
		}
		for f := 0; f < filesPerModule; f++ {
			write(filepath.Join(mdir, fmt.Sprintf("part%02d.tf", f)), modulePart(m, f))
		}
	}
	var calls strings.Builder
	for m := 1; m <= children; m++ {
		fmt.Fprintf(&calls, `module "subnets%02d" {
  source     = "./modules/subnets%02d"
  name       = "${var.name}-%02d"
  cidr       = cidrsubnet(var.cidr, 4, %d)
  azs        = local.azs
  tags       = merge(local.tags, { Tier = "t%02d" })
  enable_nat = var.enable_nat_gateway
}

`, m, m, m, m-1, m)
	}
	write(filepath.Join(dir, "modules.tf"), calls.String())
	return files, lines, err
}

// modulePart is one file of a module: variables, locals, resources and
// outputs in the style of the VPC module (conditional counts, for_each over
// maps, dynamic blocks, string templates and merges).
func modulePart(m, f int) string {
	var b strings.Builder
	p := fmt.Sprintf("p%02d", f)
	if f == 0 {
		b.WriteString(`variable "name" {
  type    = string
  default = "bench"
}

variable "cidr" {
  type    = string
  default = "10.0.0.0/16"
}

variable "azs" {
  type    = list(string)
  default = ["eu-west-1a", "eu-west-1b", "eu-west-1c"]
}

variable "tags" {
  type    = map(string)
  default = {}
}

variable "enable_nat" {
  type    = bool
  default = true
}

`)
		if m == 0 {
			b.WriteString(`variable "region" {
  type    = string
  default = "eu-west-1"
}

variable "enable_nat_gateway" {
  type    = bool
  default = true
}

locals {
  replica_region = var.region == "eu-west-1" ? "eu-central-1" : "eu-west-1"
  azs            = slice(var.azs, 0, length(var.azs))
}

`)
		} else {
			b.WriteString(`locals {
  azs = var.azs
}

`)
		}
	}
	for v := 0; v < 8; v++ {
		fmt.Fprintf(&b, `variable "%s_setting_%d" {
  description = "Setting %d of part %d, as the VPC module has hundreds of."
  type        = %s
  default     = %s
}

`, p, v, v, f, []string{"string", "bool", "number", "list(string)"}[v%4], []string{`"x"`, "false", "0", "[]"}[v%4])
	}
	fmt.Fprintf(&b, `locals {
  %[1]s_enabled  = var.%[1]s_setting_1 || var.enable_nat
  %[1]s_count    = local.%[1]s_enabled ? length(local.azs) : 0
  %[1]s_name     = "${var.name}-%[1]s-${var.%[1]s_setting_0}"
  %[1]s_tags     = merge(var.tags, { Name = local.%[1]s_name, Part = "%[1]s" })
  %[1]s_cidrs    = [for i, az in local.azs : cidrsubnet(var.cidr, 8, i + %[2]d)]
  %[1]s_by_az    = { for i, az in local.azs : az => local.%[1]s_cidrs[i] }
}

resource "aws_subnet" "%[1]s" {
  count             = local.%[1]s_count
  vpc_id            = "vpc-0123456789abcdef0"
  cidr_block        = local.%[1]s_cidrs[count.index]
  availability_zone = element(local.azs, count.index)
  tags = merge(local.%[1]s_tags, {
    AZ = element(local.azs, count.index)
  })
}

resource "aws_route_table" "%[1]s" {
  for_each = local.%[1]s_by_az
  vpc_id   = "vpc-0123456789abcdef0"
  dynamic "route" {
    for_each = var.enable_nat ? [each.value] : []
    content {
      cidr_block     = "0.0.0.0/0"
      nat_gateway_id = "nat-${each.key}"
    }
  }
  tags = local.%[1]s_tags
}

output "%[1]s_subnet_ids" {
  value = aws_subnet.%[1]s[*].id
}
`, p, 10*f)
	return b.String()
}
