resource "terraform_data" "broken" {
  input = undefined_thing.value
}
