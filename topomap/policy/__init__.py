"""Kubernetes network policy analysis, compatible with np-guard/netpol-analyzer.

:mod:`topomap.policy.objects` holds the typed objects, :mod:`topomap.policy.loader` reads them
from manifests, and the engine modules evaluate NetworkPolicies, AdminNetworkPolicies and the
BaselineAdminNetworkPolicy into allowed connections between workloads and IP blocks.
"""
