variable "name" {
  type = string
}

output "name" {
  value = "hello ${var.name}"
}
