"""The Kubernetes object converter: owner chains, pods, services with their slices, policies."""

from __future__ import annotations

import copy
import random
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.kubeapi import cluster
from topomap import kube, model
from topomap.errors import InputError


def convert(objects: list[dict[str, Any]], **kwargs: Any) -> kube.KubeParts:
    return kube.convert([kube.Doc("objs.yaml", i + 1, o) for i, o in enumerate(objects)], **kwargs)


@pytest.fixture(scope="module")
def parts() -> kube.KubeParts:
    return convert(cluster.objects(), cluster_name="lab")


def test_pods_are_attributed_to_the_top_of_their_owner_chain(parts: kube.KubeParts) -> None:
    owners = {
        f"{p.namespace}/{p.name}": (p.workload.kind, p.workload.name) if p.workload else None
        for p in parts.pods
    }
    assert owners == {
        "kube-system/agent-a": ("DaemonSet", "agent"),
        "kube-system/agent-b": ("DaemonSet", "agent"),
        "kube-system/etcd-node-a": None,  # a static pod's mirror (owner: the Node)
        "shop/backup-29400000-r8d2w": ("CronJob", "backup"),  # Job -> CronJob
        "shop/db-0": ("StatefulSet", "db"),
        "shop/debug": None,  # a bare pod stays a pod
        f"shop/frontend-{cluster.HASH}-q9m4z": ("Deployment", "frontend"),  # RS -> Deployment
        f"shop/frontend-{cluster.HASH}-x7k2p": ("Deployment", "frontend"),
    }


def test_without_the_replicaset_the_deployment_is_taken_from_the_template_hash() -> None:
    objects = [o for o in cluster.objects() if o["kind"] not in ("ReplicaSet", "Job")]
    pods = {p.name: p.workload for p in convert(objects).pods}
    assert pods[f"frontend-{cluster.HASH}-x7k2p"] == model.ObjectRef(
        kind="Deployment", name="frontend"
    )
    # a Job without its object stays a Job: CronJob names cannot be told from Job names
    assert pods["backup-29400000-r8d2w"] == model.ObjectRef(kind="Job", name="backup-29400000")


def test_a_replicaset_nothing_owns_is_the_workload() -> None:
    objects = [o for o in cluster.objects() if o["kind"] not in ("Deployment",)]
    for o in objects:
        if o["kind"] == "ReplicaSet":
            del o["metadata"]["ownerReferences"]
    got = convert(objects)
    pods = {p.name: p.workload for p in got.pods}
    rs = model.ObjectRef(kind="ReplicaSet", name=f"frontend-{cluster.HASH}")
    assert pods[f"frontend-{cluster.HASH}-x7k2p"] == rs
    assert ("ReplicaSet", f"frontend-{cluster.HASH}") in {(w.kind, w.name) for w in got.workloads}


def test_workloads_come_from_controllers_and_from_the_owners_pods_name(
    parts: kube.KubeParts,
) -> None:
    assert parts.workloads == [
        model.Workload(
            namespace="kube-system", kind="DaemonSet", name="agent", selector={"app": "agent"}
        ),
        model.Workload(namespace="shop", kind="CronJob", name="backup"),
        model.Workload(
            namespace="shop",
            kind="Deployment",
            name="frontend",
            labels={"app": "frontend", "tier": "web"},
            selector={"app": "frontend"},
        ),
        model.Workload(
            namespace="shop",
            kind="StatefulSet",
            name="db",
            labels={"app": "db"},
            selector={"app": "db"},
        ),
    ]


def test_a_pod_carries_ips_containers_ids_ports_and_lifetime(parts: kube.KubeParts) -> None:
    pods = {p.name: p for p in parts.pods}
    db = pods["db-0"]
    assert db == model.Pod(
        namespace="shop",
        name="db-0",
        uid="uid-shop-db-0",
        node="node-b",
        ips=(cluster.DB_0,),
        labels={"app": "db"},
        workload=model.ObjectRef(kind="StatefulSet", name="db"),
        containers=(
            model.PodContainer(
                name="init-schema",
                container_id=cluster.cid("init-schema"),
                image="shop/db-init:1.0",
            ),
            model.PodContainer(
                name="postgres",
                container_id=cluster.cid("postgres" + cluster.DB_0),
                image="postgres:16",
                ports=(model.ContainerPort(port=5432, protocol="tcp", name="pg"),),
            ),
        ),
        phase="Running",
        created=datetime(2026, 11, 27, 14, 32, 5, tzinfo=UTC),
    )
    agent = pods["agent-a"]
    assert agent.host_network and agent.ips == (cluster.NODE_A,)
    assert agent.containers[0].ports == (
        model.ContainerPort(port=9100, protocol="tcp", host_port=9100),
    )
    backup = pods["backup-29400000-r8d2w"]  # Succeeded: its IP is free since the job finished
    assert (backup.phase, backup.ended) == (
        "Succeeded",
        datetime(2026, 11, 28, 9, 59, 30, tzinfo=UTC),
    )


def test_a_pod_being_deleted_ends_at_its_deletion_timestamp() -> None:
    objects = cluster.objects()
    pod = next(o for o in objects if o["metadata"]["name"] == "debug")
    pod["metadata"]["deletionTimestamp"] = "2026-11-28T10:02:00Z"
    got = {p.name: p for p in convert(objects).pods}
    assert got["debug"].ended == datetime(2026, 11, 28, 10, 2, tzinfo=UTC)


def test_nodes_become_hosts_and_the_cluster_ranges(parts: kube.KubeParts) -> None:
    assert parts.hosts[0] == model.Host(
        name="node-a",
        ips=(cluster.NODE_A,),  # the Hostname address is not an IP
        machine_id="0" * 32,
        labels={"kubernetes.io/hostname": "node-a", "topology.kubernetes.io/zone": "z1"},
        pod_cidrs=("10.244.0.0/24",),
    )
    assert parts.cluster == model.ClusterInfo(
        name="lab",
        pod_cidrs=("10.244.0.0/24", "10.244.1.0/24"),
        service_cidrs=("10.96.0.0/16",),
    )
    assert parts.namespaces[1] == model.Namespace(
        name="shop", labels={"kubernetes.io/metadata.name": "shop", "team": "shop"}
    )


def test_services_carry_exposures_and_their_endpointslice_backends(parts: kube.KubeParts) -> None:
    services = {s.name: s for s in parts.services}
    fe = services["frontend"]
    assert (fe.type, fe.cluster_ips, fe.external_ips) == (
        "NodePort",
        (cluster.FRONTEND_VIP,),
        (cluster.EXTERNAL_IP,),
    )
    assert fe.ports == (
        model.ServicePort(port=80, protocol="tcp", name="http", target_port=8080, node_port=30080),
    )
    http = (model.EndpointPort(port=8080, protocol="tcp", name="http"),)
    assert fe.endpoints == (
        model.ServiceEndpoint(
            ip=cluster.FRONTEND_1, pod=f"frontend-{cluster.HASH}-x7k2p", node="node-a", ports=http
        ),
        model.ServiceEndpoint(
            ip=cluster.FRONTEND_2, pod=f"frontend-{cluster.HASH}-q9m4z", node="node-b", ports=http
        ),
    )
    assert services["web-lb"].load_balancer_ips == (cluster.LB_INGRESS,)
    assert services["db-headless"].cluster_ips == ()  # "None": headless
    assert services["db"].ports[0].target_port == "pg"


def test_not_ready_endpoints_are_kept_and_marked() -> None:
    objects = cluster.objects()
    fe = next(o for o in objects if o["metadata"]["name"] == "frontend-klmno")
    fe["endpoints"][1]["conditions"] = {"ready": False}
    del fe["endpoints"][0]["conditions"]  # unset: ready, as the API documents
    services = {s.name: s for s in convert(objects).services}
    assert [e.ready for e in services["frontend"].endpoints] == [True, False]


def test_policy_objects_are_kept_verbatim_without_managed_fields(parts: kube.KubeParts) -> None:
    kinds = [(o["kind"], o["metadata"]["name"]) for o in parts.policy_objects]
    assert kinds == [
        ("AdminNetworkPolicy", "deny-metadata"),
        ("BaselineAdminNetworkPolicy", "default"),
        ("Ingress", "shop"),
        ("NetworkPolicy", "db-from-frontend"),
    ]
    (netpol,) = [o for o in cluster.objects() if o["kind"] == "NetworkPolicy"]
    assert parts.policy_objects[3] == netpol
    objects = cluster.objects()
    for o in objects:
        if o["kind"] == "NetworkPolicy":
            o["metadata"]["managedFields"] = [{"manager": "kubectl"}]
    assert convert(objects).policy_objects[3] == netpol


def test_input_order_does_not_matter(parts: kube.KubeParts) -> None:
    objects = cluster.objects()
    random.Random(7).shuffle(objects)
    got = convert(objects, cluster_name="lab")
    assert (got.pods, got.services, got.workloads, got.hosts, got.namespaces) == (
        parts.pods,
        parts.services,
        parts.workloads,
        parts.hosts,
        parts.namespaces,
    )
    assert got.policy_objects == parts.policy_objects
    assert got.counts == parts.counts


def test_the_same_object_twice_is_used_once_with_a_warning() -> None:
    objects = cluster.objects()
    debug = next(o for o in objects if o["metadata"]["name"] == "debug")
    twice = [*objects, copy.deepcopy(debug)]
    docs = [kube.Doc(f"f{i}.yaml", 1, o) for i, o in enumerate(twice)]
    got = kube.convert(docs)
    assert len(got.pods) == 8
    assert got.warnings == [
        f"f{len(objects)}.yaml: Pod shop/debug: also read from "
        f"f{objects.index(debug)}.yaml; the first one is used"
    ]


def test_slices_of_a_service_that_was_not_read_are_left_out_with_a_warning() -> None:
    objects = [o for o in cluster.objects() if o["kind"] != "Service"]
    got = convert(objects)
    assert got.services == []
    assert got.warnings[0] == (
        "objs.yaml: EndpointSlice shop/db-abcde: Service shop/db was not read; "
        "its endpoints are left out"
    )


def test_objects_without_a_namespace_are_in_default_and_other_kinds_are_counted() -> None:
    got = convert(
        [
            {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": {}},
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}},
        ]
    )
    assert [(p.namespace, p.name) for p in got.pods] == [("default", "p")]
    assert got.counts == {"Pod": 1, "ignored": 1}


@pytest.mark.parametrize(
    ("path", "value", "message"),
    [
        (
            ("spec", "containers", 0, "ports", 0, "containerPort"),
            "5432",
            "objs.yaml: Pod shop/db-0: spec.containers[0].ports[0].containerPort: "
            "expected an integer, found a string '5432'",
        ),
        (
            ("spec", "containers", 0, "ports", 0, "protocol"),
            "tcp",
            "objs.yaml: Pod shop/db-0: spec.containers[0].ports[0].protocol: "
            "'tcp' is not TCP, UDP or SCTP",
        ),
        (
            ("metadata", "creationTimestamp"),
            "yesterday",
            "objs.yaml: Pod shop/db-0: metadata.creationTimestamp: "
            "expected an RFC 3339 time, found 'yesterday'",
        ),
        (
            ("spec", "containers"),
            {"name": "x"},
            "objs.yaml: Pod shop/db-0: spec.containers: expected a list, found a mapping",
        ),
    ],
)
def test_invalid_content_names_the_file_object_and_field(
    path: tuple[Any, ...], value: Any, message: str
) -> None:
    objects = cluster.objects()
    target: Any = next(o for o in objects if o["metadata"]["name"] == "db-0")
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(InputError) as err:
        convert(objects)
    assert str(err.value) == message


def test_an_object_without_a_name_is_refused_with_its_line() -> None:
    with pytest.raises(InputError, match=r"^objs.yaml: Pod at line 1: metadata.name: missing$"):
        convert([{"apiVersion": "v1", "kind": "Pod", "metadata": {}}])
