resource "terraform_data" "short" {
  provisioner "local-exec" {
    command = "sleep 3"
  }
}
