resource "terraform_data" "greeting" {
  input = "hello"
}

resource "terraform_data" "again" {
  input = terraform_data.greeting.output
}

output "greeting" {
  value = terraform_data.again.output
}
