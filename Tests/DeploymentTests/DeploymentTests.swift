// Placeholder: the deployment definitions' tests are being written.
