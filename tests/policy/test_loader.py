"""The manifest loader: files to a Cluster, the way netpol-analyzer reads them.

Small manifests written to tmp_path cover each reading rule; the corpus tests load every input
directory of netpol-analyzer's test suite and check that each workload name its expected
outputs print is one the loader produced.
"""

from __future__ import annotations

import json
import re
import textwrap
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from topomap import manifests
from topomap.errors import InputError
from topomap.policy.loader import NS_NAME_LABEL, LoadedCluster, load_cluster
from topomap.policy.objects import (
    AdminPeer,
    AdminPort,
    IngressBackend,
    IPBlock,
    LabelSelector,
    NPPeer,
    PortSpec,
    Requirement,
    ServicePort,
)

CORPUS = (Path(__file__).parents[2] / ".." / "shared" / "corpus" / "netpol-analyzer").resolve()
needs_corpus = pytest.mark.skipif(
    not (CORPUS / "INDEX.json").is_file(), reason="../shared/corpus/netpol-analyzer not present"
)


def write(root: Path, name: str, text: str) -> Path:
    path = root / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text).lstrip("\n"))
    return path


def load_text(tmp_path: Path, text: str, name: str = "m.yaml") -> LoadedCluster:
    return load_cluster([write(tmp_path, name, text)])


def names(cluster: LoadedCluster) -> list[str]:
    return [w.display for w in cluster.workloads]


NP_HEAD = """\
apiVersion: networking.k8s.io/v1
kind: NetworkPolicy
metadata: {name: np1, namespace: default}
"""


def policy_spec(tmp_path: Path, spec: str) -> Any:
    cluster = load_text(
        tmp_path, NP_HEAD + "spec:\n" + textwrap.indent(textwrap.dedent(spec), "  ")
    )
    (policy,) = cluster.policies
    return policy


# ---------------------------------------------------------------------------------------------
# Files and documents


def test_directories_recursive_multi_document_and_lists(tmp_path: Path) -> None:
    write(
        tmp_path,
        "a/pods.yaml",
        """
        apiVersion: v1
        kind: Pod
        metadata: {name: p1, namespace: ns1}
        --- # a separator may carry a comment
        apiVersion: v1
        kind: List
        items:
        - apiVersion: apps/v1
          kind: Deployment
          metadata: {name: d1}   # no namespace: default
        - null
        ---
        apiVersion: v1
        kind: PodList
        items:
        - metadata: {name: p2, namespace: ns2}   # typed list items may leave out kind
        """,
    )
    write(
        tmp_path,
        "b/c/ns.json",
        '{"apiVersion": "v1", "kind": "NamespaceList", "items": [{"metadata": {"name": "ns1"}}]}',
    )
    write(tmp_path, "notes.txt", "kind: Pod\n")  # not a manifest suffix: never read
    cluster = load_cluster([tmp_path])
    assert names(cluster) == ["default/d1[Deployment]", "ns1/p1[Pod]", "ns2/p2[Pod]"]
    assert cluster.namespaces["ns1"].labels == {NS_NAME_LABEL: "ns1"}
    assert cluster.warnings == []


def test_separator_inside_a_comment_does_not_split(tmp_path: Path) -> None:
    cluster = load_text(
        tmp_path,
        """
        apiVersion: v1
        kind: Service
        metadata: {name: frontend}  # testing --- separator inside yaml comment
        spec: {selector: {app: x}, ports: [{port: 80}]}
        """,
    )
    assert [s.name for s in cluster.services] == ["frontend"]


TAB_DOC = (
    "apiVersion: apps/v1\n"
    "kind: Deployment\n"
    "metadata: {name: webapp}\n"
    "spec:\n"
    "  template:\n"
    "    metadata: {labels: {app: webapp}}\n"
    "    spec:\n"
    "      containers:\n"
    "      - name: c\n"
    "        args: [\n"
    '\t            "-Dlisten=8080",\n'
    '            "-Dother=1"]\n'
)


@pytest.mark.parametrize("fast", [True, False], ids=["libyaml", "pure-python"])
def test_tab_inside_flow_sequence_is_tolerated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fast: bool
) -> None:
    if not fast:
        monkeypatch.setattr(manifests, "_FAST_LOADER", yaml.SafeLoader)
    with pytest.raises(yaml.YAMLError):
        yaml.safe_load(TAB_DOC)  # the gotcha: PyYAML alone refuses it
    path = tmp_path / "deployment.yaml"
    path.write_text(TAB_DOC)
    cluster = load_cluster([path])
    assert names(cluster) == ["default/webapp[Deployment]"]
    assert cluster.workloads[0].labels == {"app": "webapp"}


def test_non_objects_are_skipped_with_a_warning_and_unknown_kinds_silently(tmp_path: Path) -> None:
    write(tmp_path, "connlist_output.json", '[{"src": "a", "dst": "b"}]')
    write(
        tmp_path,
        "misc.yaml",
        """
        just a string
        ---
        metadata: {name: no-kind}
        ---
        apiVersion: v1
        kind: ConfigMap
        metadata: {name: cm}
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: RoleBinding
        metadata: {name: rb}
        ---
        """,
    )
    cluster = load_cluster([tmp_path])
    assert cluster.workloads == [] and cluster.policies == []
    assert cluster.warnings == [
        f"{tmp_path / 'connlist_output.json'}: document at line 1 is a list, "
        "not a Kubernetes object; skipped",
        f"{tmp_path / 'misc.yaml'}: document at line 1 is a string 'just a string', "
        "not a Kubernetes object; skipped",
        f"{tmp_path / 'misc.yaml'}: document at line 3 has no kind or apiVersion, "
        "not a Kubernetes object; skipped",
    ]


SYNTAX_ERRORS = [
    ("m.yaml", "a: 1\n---\nkey: @x\n", "line 3: found character '@' that cannot start any token"),
    ("m.yaml", "a: [1, 2\nb: 3\n", "line 2: expected ',' or ']', but got ':'"),
    ("m.yml", "kind: Pod\nmetadata: name: x\n", "line 2: mapping values are not allowed here"),
    ("m.json", '{\n "a": 1\n "b": 2}', "line 3: Expecting ',' delimiter"),
]


@pytest.mark.parametrize(("name", "text", "problem"), SYNTAX_ERRORS)
def test_syntax_errors_name_file_and_line(
    tmp_path: Path, name: str, text: str, problem: str
) -> None:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        load_cluster([path])
    assert str(caught.value) == f"{path}: {problem}"


def test_keep_going_keeps_documents_before_a_syntax_error(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "m.yaml",
        """
        apiVersion: v1
        kind: Pod
        metadata: {name: before}
        ---
        image: "{{ printf "%s" .x }}"
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: after}
        """,
    )
    cluster = load_cluster([path], keep_going=True)
    assert names(cluster) == ["default/before[Pod]"]
    assert cluster.warnings == [
        f"{path}: line 5: found character '%' that cannot start any token; "
        "the rest of the file is skipped"
    ]


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"nope: no such file or directory$"):
        load_cluster([tmp_path / "nope"])


# ---------------------------------------------------------------------------------------------
# Validation messages


INVALID = [
    (
        NP_HEAD + "spec:\n  ingress:\n  - ports: [{port: 80}, {protocol: TCPX, port: 81}]\n",
        "NetworkPolicy default/np1: spec.ingress[0].ports[1].protocol: 'TCPX' is not TCP, UDP "
        "or SCTP",
    ),
    (
        NP_HEAD + "spec:\n  egress:\n  - ports: [{port: 90, endPort: 80}]\n",
        "NetworkPolicy default/np1: spec.egress[0].ports[0].endPort: 80 is less than port 90",
    ),
    (
        NP_HEAD + "spec:\n  egress:\n  - ports: [{port: http, endPort: 80}]\n",
        "NetworkPolicy default/np1: spec.egress[0].ports[0].endPort: may not be set when port "
        "is a name",
    ),
    (
        NP_HEAD + "spec:\n  egress:\n  - ports: [{port: 70000}]\n",
        "NetworkPolicy default/np1: spec.egress[0].ports[0].port: 70000 is not a port number "
        "(1-65535)",
    ),
    (
        NP_HEAD + "spec:\n  ingress:\n  - from: [{ipBlock: {cidr: 10.0.0.0/33}}]\n",
        "NetworkPolicy default/np1: spec.ingress[0].from[0].ipBlock.cidr: '10.0.0.0/33' is not a "
        "valid CIDR",
    ),
    (
        NP_HEAD + "spec:\n  ingress:\n  - from: [{ipBlock: {cidr: 10.1.0.0/16, except: "
        "[10.0.0.0/8]}}]\n",
        "NetworkPolicy default/np1: spec.ingress[0].from[0].ipBlock.except[0]: '10.0.0.0/8' is "
        "not strictly within cidr 10.1.0.0/16",
    ),
    (
        NP_HEAD + "spec:\n  ingress:\n  - from: [{}]\n",
        "NetworkPolicy default/np1: spec.ingress[0].from[0]: empty peer: set ipBlock, "
        "namespaceSelector or podSelector",
    ),
    (
        NP_HEAD + "spec:\n  ingress:\n  - from: [{ipBlock: {cidr: 1.2.3.4/32}, podSelector: {}}]\n",
        "NetworkPolicy default/np1: spec.ingress[0].from[0]: cannot have both ipBlock and "
        "podSelector/namespaceSelector set",
    ),
    (
        NP_HEAD + "spec:\n  podSelector:\n    matchExpressions: [{key: app, operator: In}]\n",
        "NetworkPolicy default/np1: spec.podSelector.matchExpressions[0].values: must be non-empty "
        "when operator is In",
    ),
    (
        NP_HEAD + "spec:\n  podSelector:\n    matchExpressions: [{key: a, operator: Exists, "
        "values: [x]}]\n",
        "NetworkPolicy default/np1: spec.podSelector.matchExpressions[0].values: must be empty "
        "when operator is Exists",
    ),
    (
        NP_HEAD + "spec:\n  podSelector:\n    matchExpressions: [{key: a, operator: Equals}]\n",
        "NetworkPolicy default/np1: spec.podSelector.matchExpressions[0].operator: 'Equals' is not "
        "In, NotIn, Exists or DoesNotExist",
    ),
    (
        NP_HEAD + "spec:\n  policyTypes: [Ingres]\n",
        "NetworkPolicy default/np1: spec.policyTypes[0]: 'Ingres' is not Ingress or Egress",
    ),
    (
        NP_HEAD + "---\n" + NP_HEAD,
        "NetworkPolicy default/np1: metadata.name: defined twice (also in {file})",
    ),
    (
        "kind: AdminNetworkPolicy\napiVersion: policy.networking.k8s.io/v1alpha1\n"
        "metadata: {name: a1}\nspec:\n  subject: {namespaces: {}}\n",
        "AdminNetworkPolicy a1: spec.priority: missing",
    ),
    (
        "kind: AdminNetworkPolicy\napiVersion: policy.networking.k8s.io/v1alpha1\n"
        "metadata: {name: a1}\nspec:\n  priority: 1001\n  subject: {namespaces: {}}\n",
        "AdminNetworkPolicy a1: spec.priority: 1001 is not between 0 and 1000",
    ),
    (
        "kind: AdminNetworkPolicy\napiVersion: policy.networking.k8s.io/v1alpha1\n"
        "metadata: {name: a1}\nspec:\n  priority: 5\n  subject: {namespaces: {}, pods: {}}\n",
        "AdminNetworkPolicy a1: spec.subject: exactly one of namespaces or pods must be set",
    ),
    (
        "kind: AdminNetworkPolicy\napiVersion: policy.networking.k8s.io/v1alpha1\n"
        "metadata: {name: a1}\nspec:\n  priority: 5\n  subject: {namespaces: {}}\n"
        "  ingress: [{name: r, action: Drop, from: [{namespaces: {}}]}]\n",
        "AdminNetworkPolicy a1: spec.ingress[0].action: 'Drop' is not Allow, Deny or Pass",
    ),
    (
        "kind: AdminNetworkPolicy\napiVersion: policy.networking.k8s.io/v1alpha1\n"
        "metadata: {name: a1}\nspec:\n  priority: 5\n  subject: {namespaces: {}}\n"
        "  egress: [{name: r, action: Allow, to: []}]\n",
        "AdminNetworkPolicy a1: spec.egress[0].to: must be set and hold at least one peer",
    ),
    (
        "kind: AdminNetworkPolicy\napiVersion: policy.networking.k8s.io/v1alpha1\n"
        "metadata: {name: a1}\nspec:\n  priority: 5\n  subject: {namespaces: {}}\n"
        "  egress: [{name: r, action: Allow, to: [{namespaces: {}, networks: [1.1.1.1/32]}]}]\n",
        "AdminNetworkPolicy a1: spec.egress[0].to[0]: exactly one of namespaces, pods, nodes or "
        "networks must be set",
    ),
    (
        "kind: AdminNetworkPolicy\napiVersion: policy.networking.k8s.io/v1alpha1\n"
        "metadata: {name: a1}\nspec:\n  priority: 5\n  subject: {namespaces: {}}\n"
        "  ingress: [{name: r, action: Allow, from: [{networks: [1.1.1.1/32]}]}]\n",
        "AdminNetworkPolicy a1: spec.ingress[0].from[0]: exactly one of namespaces or pods must "
        "be set",
    ),
    (
        "kind: AdminNetworkPolicy\napiVersion: policy.networking.k8s.io/v1alpha1\n"
        "metadata: {name: a1}\nspec:\n  priority: 5\n  subject: {namespaces: {}}\n"
        "  ingress: [{name: r, action: Allow, from: [{namespaces: {}}],\n"
        "    ports: [{portNumber: {port: 80}, namedPort: http}]}]\n",
        "AdminNetworkPolicy a1: spec.ingress[0].ports[0]: exactly one of portNumber, portRange or "
        "namedPort must be set",
    ),
    (
        "kind: AdminNetworkPolicy\napiVersion: policy.networking.k8s.io/v1alpha1\n"
        "metadata: {name: a1}\nspec:\n  priority: 5\n  subject: {namespaces: {}}\n"
        "  ingress: [{name: r, action: Allow, from: [{namespaces: {}}],\n"
        "    ports: [{portRange: {protocol: UDP, start: 90, end: 80}}]}]\n",
        "AdminNetworkPolicy a1: spec.ingress[0].ports[0].portRange: 90-80 is not a port range "
        "(start and end in 1-65535, end not less than start)",
    ),
    (
        "kind: BaselineAdminNetworkPolicy\napiVersion: policy.networking.k8s.io/v1alpha1\n"
        "metadata: {name: base}\nspec:\n  subject: {namespaces: {}}\n",
        "BaselineAdminNetworkPolicy base: metadata.name: a BaselineAdminNetworkPolicy must be "
        "named 'default'",
    ),
    (
        "kind: BaselineAdminNetworkPolicy\napiVersion: policy.networking.k8s.io/v1alpha1\n"
        "metadata: {name: default}\nspec:\n  subject: {namespaces: {}}\n"
        "  egress: [{name: r, action: Pass, to: [{namespaces: {}}]}]\n",
        "BaselineAdminNetworkPolicy default: spec.egress[0].action: 'Pass' is not Allow or Deny",
    ),
    (
        "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  labels: {version: 1.0}\n",
        "Pod default/p: metadata.labels.version: expected a string, found a float 1.0",
    ),
]


@pytest.mark.parametrize(("text", "message"), INVALID, ids=lambda v: str(v)[:40])
def test_invalid_content_names_file_object_and_field(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "netpols.yaml"
    path.write_text(text)
    with pytest.raises(InputError) as caught:
        load_cluster([path])
    assert str(caught.value) == f"{path}: " + message.format(file=path)


def test_two_admin_policies_with_one_priority_conflict(tmp_path: Path) -> None:
    anp = (
        "kind: AdminNetworkPolicy\napiVersion: policy.networking.k8s.io/v1alpha1\n"
        "metadata: {{name: {}}}\nspec: {{priority: 7, subject: {{namespaces: {{}}}}}}\n"
    )
    first, second = (
        write(tmp_path, "a.yaml", anp.format("a")),
        write(tmp_path, "b.yaml", anp.format("b")),
    )
    with pytest.raises(InputError) as caught:
        load_cluster([tmp_path])
    assert str(caught.value) == (
        f"{second}: AdminNetworkPolicy b: spec.priority: 7 is also the priority of "
        f"AdminNetworkPolicy a ({first}); two AdminNetworkPolicies with the same priority conflict"
    )


# ---------------------------------------------------------------------------------------------
# NetworkPolicy


POLICY_TYPES = [
    # spec, ingress rules, egress rules, affects ingress, affects egress
    ("podSelector: {}", 0, 0, True, False),
    ("ingress: []", 0, 0, True, False),
    ("ingress: [{}]", 1, 0, True, False),
    ("egress: [{}]", 0, 1, True, True),
    # as the API server defaults it (and netpol-analyzer reads it): Egress needs egress rules
    ("egress: []", 0, 0, True, False),
    ("policyTypes: [Egress]", 0, 0, False, True),
    ("policyTypes: [Ingress, Egress]\ningress: [{}]", 1, 0, True, True),
    ("policyTypes: []\negress: [{}]", 0, 1, True, True),
]


@pytest.mark.parametrize(("spec", "n_in", "n_eg", "aff_in", "aff_eg"), POLICY_TYPES)
def test_policy_types_defaulting(
    tmp_path: Path, spec: str, n_in: int, n_eg: int, aff_in: bool, aff_eg: bool
) -> None:
    policy = policy_spec(tmp_path, spec)
    assert (len(policy.ingress), len(policy.egress)) == (n_in, n_eg)
    assert (policy.affects_ingress, policy.affects_egress) == (aff_in, aff_eg)


def test_rules_peers_and_ports(tmp_path: Path) -> None:
    policy = policy_spec(
        tmp_path,
        """
        podSelector: {matchLabels: {app: web, tier: a}}
        ingress:
        - from: []          # empty: every peer
        - {}                # absent: every peer, every port
        - from:
          - ipBlock: {cidr: 10.0.0.1/8, except: [10.1.0.0/16]}
          - namespaceSelector: {matchLabels: {team: x}}
          - podSelector: {matchExpressions: [{key: app, operator: NotIn, values: [b, a]}]}
          - namespaceSelector: {}
            podSelector: {}
          ports:
          - {}
          - {protocol: UDP, port: 53}
          - {port: 8000, endPort: 9000}
          - {protocol: SCTP, port: http}
        """,
    )
    assert policy.pod_selector == LabelSelector((("app", "web"), ("tier", "a")))
    first, second, third = policy.ingress
    assert (first.peers, first.ports, first.index) == ((), (), 0)
    assert (second.peers, second.ports, second.index) == ((), (), 1)
    assert third.index == 2
    assert third.peers == (
        NPPeer(ip_block=IPBlock("10.0.0.0/8", ("10.1.0.0/16",))),
        NPPeer(namespace_selector=LabelSelector((("team", "x"),))),
        NPPeer(
            pod_selector=LabelSelector(
                match_expressions=(Requirement("app", "NotIn", frozenset({"a", "b"})),)
            )
        ),
        NPPeer(namespace_selector=LabelSelector(), pod_selector=LabelSelector()),
    )
    assert third.ports == (
        PortSpec("TCP"),
        PortSpec("UDP", 53),
        PortSpec("TCP", 8000, 9000),
        PortSpec("SCTP", "http"),
    )


def test_ipv6_ip_block_is_kept_with_a_warning(tmp_path: Path) -> None:
    cluster = load_text(
        tmp_path, NP_HEAD + "spec:\n  egress:\n  - to: [{ipBlock: {cidr: 'fd00::1/8'}}]\n"
    )
    assert cluster.policies[0].egress[0].peers == (NPPeer(ip_block=IPBlock("fd00::/8")),)
    assert cluster.warnings == [
        f"{tmp_path / 'm.yaml'}: NetworkPolicy default/np1: spec.egress[0].to[0].ipBlock.cidr: "
        "IPv6 addresses are not supported; this ipBlock matches no peer"
    ]


# ---------------------------------------------------------------------------------------------
# Workloads and namespaces


OWNER_CASES = [
    # ownerReferences, expected display name
    ("", "ns/pod-abc[Pod]"),
    ("[{kind: ReplicaSet, name: web-99684f7f8, controller: true}]", "ns/web-99684f7f8[ReplicaSet]"),
    ("[{kind: DaemonSet, name: ds1, controller: true}]", "ns/ds1[DaemonSet]"),
    ("[{kind: ReplicaSet, name: rs1}]", "ns/pod-abc[Pod]"),  # not the controller
    (
        "[{kind: ReplicaSet, name: rs1, controller: false},"
        " {kind: Job, name: j, controller: true}]",
        "ns/j[Job]",
    ),
    ("[{name: internal-security, controller: true}]", "ns/internal-security[Pod]"),  # no kind
    ("[{kind: Node, name: node-1, controller: true}]", "ns/pod-abc[Pod]"),  # static pod mirror
]


@pytest.mark.parametrize(("owners", "display"), OWNER_CASES)
def test_pod_is_named_by_its_controlling_owner(tmp_path: Path, owners: str, display: str) -> None:
    refs = f"  ownerReferences: {owners}\n" if owners else ""
    cluster = load_text(
        tmp_path, f"apiVersion: v1\nkind: Pod\nmetadata:\n  name: pod-abc\n  namespace: ns\n{refs}"
    )
    assert names(cluster) == [display]


def test_pods_of_one_owner_are_one_workload(tmp_path: Path) -> None:
    pod = """
    apiVersion: v1
    kind: Pod
    metadata:
      name: {name}
      labels: {labels}
      ownerReferences: [{{kind: ReplicaSet, name: rs, controller: true}}]
    spec:
      containers: [{{name: c, ports: [{{name: http, containerPort: {port}}}]}}]
    """
    path = write(
        tmp_path,
        "pods.yaml",
        "---\n".join(
            textwrap.dedent(pod).format(name=n, labels=lab, port=p)
            for n, lab, p in [("a", "{app: x}", 80), ("b", "{app: x}", 81), ("c", "{app: y}", 82)]
        ),
    )
    cluster = load_cluster([path])
    (workload,) = cluster.workloads
    assert (workload.display, workload.labels) == ("default/rs[ReplicaSet]", {"app": "x"})
    assert workload.named_ports == {"http": ("TCP", 80)}
    assert cluster.warnings == [
        f"{path}: Pod default/c: its labels differ from those of another pod of workload "
        f"default/rs[ReplicaSet] ({path}); the first pod's labels are used"
    ]


CONTROLLERS = [
    "Deployment",
    "StatefulSet",
    "DaemonSet",
    "ReplicaSet",
    "ReplicationController",
    "Job",
]


def test_controllers_and_cronjob_use_their_pod_template(tmp_path: Path) -> None:
    template = """
        metadata: {labels: {app: NAME}}
        spec:
          containers:
          - name: a
            ports:
            - {name: http, containerPort: 8080}
            - {containerPort: 9090, protocol: UDP}
          - name: b
            ports: [{name: http, containerPort: 1, protocol: SCTP}, {name: dns, containerPort: 53,
              protocol: UDP}]
    """
    docs = []
    for kind in CONTROLLERS:
        body = textwrap.indent(textwrap.dedent(template).replace("NAME", kind.lower()), "    ")
        docs.append(
            f"apiVersion: v1\nkind: {kind}\nmetadata: {{name: {kind.lower()}}}\n"
            f"spec:\n  template:\n{body}"
        )
    body = textwrap.indent(textwrap.dedent(template).replace("NAME", "cron"), "        ")
    docs.append(
        "apiVersion: batch/v1\nkind: CronJob\nmetadata: {name: cron, namespace: jobs}\n"
        f"spec:\n  jobTemplate:\n    spec:\n      template:\n{body}"
    )
    cluster = load_cluster([write(tmp_path, "w.yaml", "---\n".join(docs))])
    expected = sorted([f"default/{k.lower()}[{k}]" for k in CONTROLLERS] + ["jobs/cron[CronJob]"])
    assert names(cluster) == expected
    for workload in cluster.workloads:
        assert workload.labels == {"app": workload.name}
        # the first container port of a name wins
        assert workload.named_ports == {"http": ("TCP", 8080), "dns": ("UDP", 53)}
        assert cluster.container_ports[workload.display] == (
            ("TCP", 8080),
            ("UDP", 9090),
            ("SCTP", 1),
            ("UDP", 53),
        )


def test_namespaces_explicit_implicit_and_default(tmp_path: Path) -> None:
    cluster = load_text(
        tmp_path,
        """
        apiVersion: v1
        kind: Namespace
        metadata: {name: shop, labels: {team: a}}
        ---
        apiVersion: v1
        kind: Namespace
        metadata: {name: own, labels: {kubernetes.io/metadata.name: custom}}
        ---
        apiVersion: v1
        kind: Namespace
        metadata: {name: unused}
        ---
        apiVersion: v1
        kind: Pod
        metadata: {name: p, namespace: shop}
        ---
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: d, namespace: ""}
        ---
        apiVersion: networking.k8s.io/v1
        kind: NetworkPolicy
        metadata: {name: np, namespace: other}
        """,
    )
    assert {name: ns.labels for name, ns in cluster.namespaces.items()} == {
        "default": {NS_NAME_LABEL: "default"},
        "other": {NS_NAME_LABEL: "other"},
        "own": {NS_NAME_LABEL: "custom"},  # kept, as netpol-analyzer keeps it
        "shop": {"team": "a", NS_NAME_LABEL: "shop"},
        "unused": {NS_NAME_LABEL: "unused"},
    }
    assert names(cluster) == ["default/d[Deployment]", "shop/p[Pod]"]


def test_workloads_sorted_by_display_name(tmp_path: Path) -> None:
    pods = "---\n".join(
        f"apiVersion: v1\nkind: Pod\nmetadata: {{name: {n}, namespace: {ns}}}\n"
        for ns, n in [("kube-system", "b"), ("kube-system-dummy", "a"), ("a", "z")]
    )
    assert names(load_text(tmp_path, pods)) == [
        "a/z[Pod]",
        "kube-system-dummy/a[Pod]",
        "kube-system/b[Pod]",
    ]


# ---------------------------------------------------------------------------------------------
# AdminNetworkPolicy and BaselineAdminNetworkPolicy


def test_admin_policies(tmp_path: Path) -> None:
    cluster = load_text(
        tmp_path,
        """
        apiVersion: policy.networking.k8s.io/v1alpha1
        kind: AdminNetworkPolicy
        metadata: {name: late}
        spec:
          priority: 50
          subject:
            pods:
              namespaceSelector: {matchLabels: {team: a}}
              podSelector: {matchLabels: {app: x}}
          egress:
          - name: to-dns
            action: Allow
            to:
            - pods: {namespaceSelector: {}, podSelector: {matchLabels: {k8s-app: dns}}}
            - networks: [8.8.8.8/32, 'ff06::/3', 10.1.2.3/8]
            - nodes: {matchLabels: {role: infra}}
            ports:
            - portNumber: {protocol: UDP, port: 53}
            - portRange: {start: 1000, end: 2000}
            - namedPort: dns
          - {name: none, action: Deny, to: [{namespaces: {}}], ports: []}
        ---
        apiVersion: policy.networking.k8s.io/v1alpha1
        kind: AdminNetworkPolicy
        metadata: {name: early}
        spec:
          priority: 3
          subject: {namespaces: {matchLabels: {team: a}}}
          ingress:
          - {name: pass, action: Pass, from: [{namespaces: {}}]}
        ---
        apiVersion: policy.networking.k8s.io/v1alpha1
        kind: BaselineAdminNetworkPolicy
        metadata: {name: default}
        spec:
          subject: {namespaces: {}}
          ingress: [{name: deny-all, action: Deny, from: [{namespaces: {}}]}]
        """,
    )
    early, late = cluster.admin_policies
    assert (early.name, early.priority, early.subject_pods) == ("early", 3, None)
    assert early.subject_namespaces == LabelSelector((("team", "a"),))
    (rule,) = early.ingress
    assert (rule.name, rule.action, rule.peers, rule.ports) == (
        "pass",
        "Pass",
        (AdminPeer("namespaces"),),
        None,
    )
    assert late.subject_namespaces == LabelSelector((("team", "a"),))
    assert late.subject_pods == LabelSelector((("app", "x"),))
    to_dns, none = late.egress
    assert to_dns.peers == (
        AdminPeer("pods", pod_selector=LabelSelector((("k8s-app", "dns"),))),
        AdminPeer("networks", networks=("8.8.8.8/32", "10.0.0.0/8")),
        AdminPeer("nodes", namespace_selector=LabelSelector((("role", "infra"),))),
    )
    assert to_dns.ports == (
        AdminPort("UDP", 53, 53),
        AdminPort("TCP", 1000, 2000),
        AdminPort(name="dns"),
    )
    assert none.ports == ()  # an empty list: no port at all
    assert cluster.baseline is not None
    assert (cluster.baseline.kind, cluster.baseline.baseline) == (
        "BaselineAdminNetworkPolicy",
        True,
    )
    assert [r.action for r in cluster.baseline.ingress] == ["Deny"]
    assert [w.split(": ", 2)[2] for w in cluster.warnings] == [
        "spec.egress[0].to[1].networks[1]: IPv6 addresses are not supported; ff06::/3 is ignored",
        "spec.egress[0].to[2].nodes: Nodes field of an AdminNetworkPolicyEgressPeer is not "
        "supported; it matches no peer",
    ]


# ---------------------------------------------------------------------------------------------
# Services, Ingress, Route


def test_services_ingresses_and_routes(tmp_path: Path) -> None:
    cluster = load_text(
        tmp_path,
        """
        apiVersion: v1
        kind: Service
        metadata: {name: web, namespace: shop}
        spec:
          selector: {app: web}
          ports:
          - {name: http, port: 80, targetPort: 8080}
          - {port: 443, targetPort: https, protocol: TCP}
          - {port: 53, protocol: UDP}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: external, namespace: shop}
        spec: {ports: [{port: 80}]}
        ---
        apiVersion: networking.k8s.io/v1
        kind: Ingress
        metadata: {name: ing, namespace: shop}
        spec:
          defaultBackend: {service: {name: web, port: {number: 80}}}
          rules:
          - http:
              paths:
              - {path: /a, backend: {service: {name: web, port: {name: http}}}}
              - {path: /b, backend: {service: {name: api}}}
              - {path: /c, backend: {resource: {kind: Bucket, name: b}}}
        ---
        apiVersion: route.openshift.io/v1
        kind: Route
        metadata: {name: rt, namespace: shop}
        spec:
          to: {kind: Service, name: web}
          alternateBackends: [{kind: Service, name: web2}, {kind: Other, name: x}]
          port: {targetPort: 8080}
        ---
        apiVersion: route.openshift.io/v1
        kind: Route
        metadata: {name: rt2}
        spec: {to: {name: web}}
        """,
    )
    (service,) = cluster.services
    assert (service.namespace, service.name, service.selector) == ("shop", "web", {"app": "web"})
    assert service.ports == (
        ServicePort(80, 8080, "TCP", "http"),
        ServicePort(443, "https", "TCP", None),
        ServicePort(53, None, "UDP", None),
    )
    assert cluster.ingress_backends == [
        IngressBackend("shop", "web", 80, "Ingress", "ing"),
        IngressBackend("shop", "web", "http", "Ingress", "ing"),
        IngressBackend("shop", "api", None, "Ingress", "ing"),
        IngressBackend("shop", "web", 8080, "Route", "rt"),
        IngressBackend("shop", "web2", 8080, "Route", "rt"),
        IngressBackend("default", "web", None, "Route", "rt2"),
    ]
    assert [w.split(": ", 1)[1] for w in cluster.warnings] == [
        "Service shop/external: has no selector; ignored (Services without selectors are not "
        "supported)",
        "Ingress shop/ing: spec.rules[0].http.paths[2].backend: no service backend; ignored",
        "Route shop/rt: spec.alternateBackends[1]: target kind Other is not supported; ignored",
    ]


# ---------------------------------------------------------------------------------------------
# The netpol-analyzer corpus


WORKLOAD_NAME = re.compile(
    r"(?<![\w\-.\]\[/])"
    r"([a-z0-9](?:[-a-z0-9.]*[a-z0-9])?)/([a-z0-9](?:[-a-z0-9.]*[a-z0-9])?)\[([A-Z][A-Za-z]*)\]"
)


def expected_names(expected_file: str) -> set[str]:
    """Workload names printed in an expected output (IP blocks and {ingress-controller} aside)."""
    text = (CORPUS / expected_file).read_text()
    return {f"{ns}/{name}[{kind}]" for ns, name, kind in WORKLOAD_NAME.findall(text)}


def corpus_dirs() -> dict[str, list[dict[str, Any]]]:
    """Input dir -> the connlist/explain/diff cases using it, multi-network ones left out."""
    if not (CORPUS / "INDEX.json").is_file():
        return {}
    index = json.loads((CORPUS / "INDEX.json").read_text())
    dirs: dict[str, list[dict[str, Any]]] = {}
    for group in ("connlist", "explain", "diff"):
        for case in index["cases"][group]:
            if "multi-network" in case["category"]:
                continue
            for key in ("input_dir", "dir1", "dir2"):
                if key in case:
                    dirs.setdefault(case[key], []).append(case)
    return dirs


@cache
def corpus_cluster(input_dir: str) -> LoadedCluster:
    return load_cluster([CORPUS / input_dir])


CORPUS_DIRS = corpus_dirs()


@needs_corpus
@pytest.mark.parametrize("input_dir", sorted(CORPUS_DIRS) or ["-"])
def test_corpus_dir_loads_with_upstream_workload_names(input_dir: str) -> None:
    cluster = corpus_cluster(input_dir)
    ours = {w.display for w in cluster.workloads}
    for case in CORPUS_DIRS[input_dir]:
        if case["format"] != "txt":
            continue
        if "input_dir" in case:
            missing = expected_names(case["expected"]) - ours
        else:  # a diff names workloads of either side
            other = case["dir2"] if case["dir1"] == input_dir else case["dir1"]
            both = ours | {w.display for w in corpus_cluster(other).workloads}
            missing = expected_names(case["expected"]) - both
        assert not missing, (case["expected"], sorted(missing))


@needs_corpus
def test_corpus_name_check_is_not_vacuous() -> None:
    assert len(CORPUS_DIRS) > 150
    onlineboutique = expected_names("test_outputs/connlist/onlineboutique_connlist_output.txt")
    assert "default/frontend-99684f7f8[ReplicaSet]" in onlineboutique
    assert len(onlineboutique) >= 12
    acs = expected_names("test_outputs/connlist/acs-security-demos_connlist_output.txt")
    assert "frontend/asset-cache[Deployment]" in acs
    anp = expected_names("test_outputs/connlist/anp_test_4_connlist_output.txt")
    assert anp and anp <= {w.display for w in corpus_cluster("tests/anp_test_4").workloads}


@needs_corpus
def test_corpus_tab_gotcha_dir_reads_the_same_without_libyaml(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    fast = corpus_cluster("tests/acs-security-demos-added-workloads")
    monkeypatch.setattr(manifests, "_FAST_LOADER", yaml.SafeLoader)
    slow = load_cluster([CORPUS / "tests/acs-security-demos-added-workloads"])
    assert slow == fast
    assert "payments/visa-processor-v2[Deployment]" in names(slow)


@needs_corpus
def test_corpus_stray_output_json_is_skipped_with_a_warning() -> None:
    cluster = corpus_cluster("tests/onlineboutique")
    assert cluster.warnings == [
        f"{CORPUS / 'tests/onlineboutique/connlist_output.json'}: document at line 1 is a list, "
        "not a Kubernetes object; skipped"
    ]


@needs_corpus
@pytest.mark.parametrize(
    ("input_dir", "expected"),
    [
        (
            "tests/document_with_syntax_error",
            "test_outputs/cli/document_with_syntax_error_connlist_output.txt",
        ),
        (
            "tests/onlineboutique_with_pods_severe_error",
            "test_outputs/cli/diff_between_onlineboutique_with_pods_severe_error_and_"
            "onlineboutique.txt",
        ),
    ],
)
def test_corpus_syntax_errors_raise_or_keep_going_like_the_cli(
    input_dir: str, expected: str
) -> None:
    with pytest.raises(InputError, match=r": line \d+: found character '%' that cannot start"):
        load_cluster([CORPUS / input_dir])
    cluster = load_cluster([CORPUS / input_dir], keep_going=True)
    assert expected_names(expected) <= set(names(cluster))
    if "document_with_syntax_error" in input_dir:  # only the documents before the error
        assert expected_names(expected) == set(names(cluster))
