"""kube-emulator: a small, in-memory Kubernetes API server for tests."""
