"""A stand-in Kubernetes API server for tests, and the cluster objects it serves."""
