"""The network-namespace lab: a small Kubernetes-like node built from real kernel parts."""
