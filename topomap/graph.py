"""Build one networkx graph from any number of snapshots.

:func:`build_graph` merges snapshots into the *finest* graph (the ``process`` view): one node per
host, pod, container, process, service and external address, however many snapshots saw it
(see :mod:`topomap.inventory`), and one edge per (client, server, protocol, server port)
carrying the summed connections.

How a connection becomes an edge:

1. **One connection, counted once.** Each observation gets two identity keys: the tuple before
   NAT (client -> address it dialled) and after NAT (address the server saw -> server). The client
   host's conntrack (which sees both), the client's socket (which sees the ClusterIP) and the
   server's socket (which sees the backend) therefore fall into one flow. Counters of the same
   connection seen twice are not added (both ends count the same packets): the larger is kept.
2. **NAT resolved.** When the reply tuple shows a DNAT (``reply.src`` differs from
   ``original.dst``), the server is the backend that answered, and the Service whose ClusterIP,
   NodePort, externalIP or load balancer address was dialled is recorded on the edge
   (``services``), not used as the endpoint.
3. **Endpoints resolved** to the finest thing known: the socket's own process; a process
   listening on the server port (in the pod, or on the host for host-network pods); the pod by
   IP; the Service by ClusterIP (when no backend is known); the host by its address; else
   ``external:<ip>``, classified by :mod:`topomap.zones` and named by the snapshots' DNS answers.

Loopback and unspecified addresses only mean something on the host (and network namespace)
that saw them, so they are qualified with it before keying.

This is the hot path of every command, in four passes: index the inventory; merge the records
into flows (:meth:`_Builder.add_connections`); sum the flows into edges
(:meth:`_Builder.aggregate`); make the graph (:meth:`_Builder.assemble`). The loops avoid
per-record allocations and function calls where they can (slotted internal objects, no
constructor call per record, endpoint resolution memoised), networkx's adjacency is written
directly, and the cyclic garbage collector is paused while it runs (it creates no cycles, and
full collections over millions of young objects cost half the time). Merging flows into edges
in the merge pass itself was considered and left out: a flow's endpoints and times can still
change after its first record, first/last seen and the observer and service sets cannot be
taken back out of an edge, and the second pass's own overhead (its loop and attribute reads)
is under a sixth of the aggregation. ``benchmarks/graph_build.py`` measures it. Pure: snapshots
in, graph out, no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import networkx as nx

from topomap import ids, inventory, kubejoin, model, zones
from topomap.gcpause import paused_gc
from topomap.inventory import format_time
from topomap.model import NodeId

__all__ = ["build_graph", "format_time", "EPHEMERAL_PORT_START"]

#: Below this, an unknown-initiator flow's lower port is taken as the server (IANA ephemeral
#: ports start at 49152, Linux's at 32768).
EPHEMERAL_PORT_START = 32768

FlowKey = tuple[str, str, int | None, str, int | None]  # protocol, client ip:port, server ip:port
ProcKey = tuple[str, int, int]  # host, pid, start_ticks
Counters = tuple[int | None, int | None, int | None, int | None]
EdgeId = tuple[NodeId, NodeId, str]  # client node, server node, "<protocol>/<port>"


def _larger(a: int | None, b: int | None) -> int | None:
    """The larger of two counts of the same thing, where ``None`` means not counted."""
    if a is None:
        return b
    return a if b is None or a >= b else b


class _Proc:
    """A socket's process, one object per (host, pid, start ticks) shared by all its flows.

    Made when a record names its process, while the record's numbers are at hand; the
    aggregation then reads ``node`` instead of hashing a key tuple per flow, whose parts by then
    lie scattered over the heap. ``listed`` says the node is known to be in the inventory.
    """

    __slots__ = ("host", "pid", "start_ticks", "node", "listed")

    def __init__(self, host: str, pid: int, start_ticks: int) -> None:
        self.host = host
        self.pid = pid
        self.start_ticks = start_ticks
        self.node = ids.process(host, pid, start_ticks)
        self.listed = False


class _Flow:
    """One connection while snapshots are merged (mutable, internal).

    No ``__init__``: :meth:`_Builder.add_connections` makes one per new connection with
    ``_Flow.__new__`` and sets every field itself, since a Python constructor call with eleven
    arguments per record was a twentieth of the merge (instruction counts,
    benchmarks/graph_build.py data).
    """

    __slots__ = (
        "protocol",
        "client_ip",
        "client_port",
        "server_ip",
        "server_port",
        "dialled",
        "first",
        "last",
        "counters",
        "observers",
        "keys",
        "client_proc",
        "server_proc",
        "merged",
    )

    protocol: str
    client_ip: str
    client_port: int | None
    server_ip: str
    server_port: int | None
    dialled: tuple[str, int | None, str] | None  # (ip, port, protocol) dialled, when DNATed
    first: datetime
    last: datetime
    counters: Counters  # packets and bytes client -> server, then server -> client
    observers: frozenset[str]
    keys: tuple[FlowKey, ...]  # every key in _Builder.flows that leads here (a tuple: rarely grows)
    client_proc: _Proc | None
    server_proc: _Proc | None
    merged: bool  # folded into another flow by _join

    def absorb(
        self,
        first: datetime,
        last: datetime,
        counters: Counters,
        observers: frozenset[str],
    ) -> None:
        """Fold in another observation of the same connection (counters: larger wins)."""
        if first < self.first:
            self.first = first
        if last > self.last:
            self.last = last
        if counters != self.counters:
            a0, a1, a2, a3 = self.counters
            b0, b1, b2, b3 = counters
            self.counters = (_larger(a0, b0), _larger(a1, b1), _larger(a2, b2), _larger(a3, b3))
        if not observers <= self.observers:
            self.observers = self.observers | observers


class _Edge:
    """One edge's sums while flows are aggregated (internal; becomes the edge's attribute dict).

    A slotted object rather than the final dict: the per-flow updates are attribute reads and
    writes instead of string-keyed dict operations (which took twice as long), and the sets
    become sorted lists once, in :meth:`_Builder.assemble`.
    """

    __slots__ = (
        "protocol",
        "port",
        "first",
        "last",
        "observers",
        "connections",
        "counted",
        "packets",
        "bytes",
        "services",
    )

    def __init__(self, protocol: str, port: int | None, flow: _Flow) -> None:
        """The edge of ``flow``, with that flow counted."""
        self.protocol = protocol
        self.port = port
        self.first = flow.first
        self.last = flow.last
        self.observers = flow.observers  # the union of the flows' observer sets
        self.connections = 1
        c0, c1, c2, c3 = flow.counters
        if c0 is not None or c2 is not None:
            self.counted = 1  # connections whose counters were known
            self.packets = (c0 or 0) + (c2 or 0)
            self.bytes = (c1 or 0) + (c3 or 0)
        else:
            self.counted = self.packets = self.bytes = 0
        self.services: set[str] | None = None  # Services dialled, when any


class _Builder:
    def __init__(self, snapshots: list[model.Snapshot]) -> None:
        self.snapshots = snapshots
        self.inv = inventory.Inventory()
        for snap in snapshots:
            inventory.index_snapshot(self.inv, snap)
        inventory.link_ancestry(self.inv)
        inventory.index_listeners(self.inv, snapshots)
        self.zone_table = zones.ZoneTable.build(self.inv.zone_extra)
        self.flows: dict[FlowKey, _Flow] = {}
        self.flow_list: list[_Flow] = []
        self._plain: dict[str, str] = {}  # raw address -> canonical (not for host-scoped ones)
        self._procs: dict[ProcKey, _Proc] = {}
        self._dialled: dict[tuple[str, int | None, str], str] = {}

    # --- merging observations into flows --------------------------------------------------

    def scope(self, raw: str, host: str, netns: str | None) -> str:
        """Canonical address (the slow path of the cache in :meth:`add_connections`);
        loopback and unspecified addresses are qualified by where they were seen."""
        ip = zones.canonical_ip(raw)
        if zones.classify(ip) in (zones.Zone.LOOPBACK, zones.Zone.UNSPECIFIED):
            return f"{ip}@{host}/{netns or ''}"
        self._plain[raw] = ip
        return ip

    def is_server(self, raw: str, port: int | None, protocol: str) -> bool:
        """Whether (raw, port) looks like the server end of a connection of unknown direction."""
        if port is None:
            return False
        ip = zones.canonical_ip(raw)
        if (ip, protocol, port) in self.inv.listener_exact or ip in self.inv.service_by_ip:
            return True
        return port < EPHEMERAL_PORT_START

    def add_connections(self) -> None:
        """Merge every connection record into ``self.flows`` (see the module docstring, 1.).

        The hot loop of the build (one pass per record): attributes are read once into locals,
        addresses go through the ``_plain`` cache, a record whose flow is new makes one
        ``_Flow`` and one or two key tuples, and only the rarer cases (unknown or swapped
        initiator, a flow seen before) leave the straight path.
        """
        flows, flow_list, plain, scope = self.flows, self.flow_list, self._plain, self.scope
        is_server, procs, new_flow = self.is_server, self._procs, _Flow.__new__
        for snap in self.snapshots:
            host = snap.observer
            observer_sets: dict[str, frozenset[str]] = {}
            for conn in snap.connections:
                o, proto, initiator = conn.original, conn.protocol, conn.initiator
                swapped = initiator == "dst" or (
                    initiator == "unknown"
                    and is_server(o.src, o.sport, proto)
                    and not is_server(o.dst, o.dport, proto)
                )
                # client -> dialled (before NAT); client_seen -> server (after NAT)
                if swapped:  # the reply tuple says nothing reliable about NAT then
                    c, cp, d, dp = o.dst, o.dport, o.src, o.sport
                    cs, csp, s, sp = c, cp, d, dp
                    counters: Counters = (
                        conn.packets_reply,
                        conn.bytes_reply,
                        conn.packets_orig,
                        conn.bytes_orig,
                    )
                else:
                    c, cp, d, dp = o.src, o.sport, o.dst, o.dport
                    r = conn.reply
                    if r is None:
                        cs, csp, s, sp = c, cp, d, dp
                    else:
                        cs, csp, s, sp = r.dst, r.dport, r.src, r.sport
                    counters = (
                        conn.packets_orig,
                        conn.bytes_orig,
                        conn.packets_reply,
                        conn.bytes_reply,
                    )
                client = plain.get(c) or scope(c, host, conn.netns)
                dialled = plain.get(d) or scope(d, host, conn.netns)
                seen = client if cs == c else plain.get(cs) or scope(cs, host, conn.netns)
                server = dialled if s == d else plain.get(s) or scope(s, host, conn.netns)
                pre = (proto, client, cp, dialled, dp)
                nat = server != dialled or sp != dp
                post = (proto, seen, csp, server, sp) if nat or seen != client or csp != cp else pre
                first = flows.get(pre)
                second = first if post is pre else flows.get(post)
                observers = observer_sets.get(conn.observed_by)
                if observers is None:
                    observers = observer_sets[conn.observed_by] = frozenset(
                        {f"{conn.observed_by}@{host}"}
                    )
                if first is None and second is None:
                    flow = new_flow(_Flow)  # every field set here: see _Flow
                    flow.protocol = proto
                    flow.client_ip, flow.client_port = client, cp
                    flow.server_ip, flow.server_port = server, sp
                    flow.dialled = (dialled, dp, proto) if nat else None
                    flow.first, flow.last = conn.first_seen, conn.last_seen
                    flow.counters, flow.observers = counters, observers
                    flow.keys = (pre,) if post is pre else (pre, post)
                    flow.client_proc = flow.server_proc = None
                    flow.merged = False
                    flow_list.append(flow)
                    flows[pre] = flow
                    if post is not pre:
                        flows[post] = flow
                else:
                    flow = self._join(first, second)
                    flow.absorb(conn.first_seen, conn.last_seen, counters, observers)
                    if nat and flow.dialled is None:  # this view saw the NAT: it knows more
                        flow.dialled = (dialled, dp, proto)
                        flow.server_ip, flow.server_port = server, sp
                        flow.client_ip, flow.client_port = client, cp
                    for key in (pre, post):
                        if key not in flow.keys:
                            flow.keys += (key,)
                            flows[key] = flow
                process = conn.process
                if process is not None:
                    pkey = (host, process.pid, process.start_ticks)
                    proc = procs.get(pkey)
                    if proc is None:
                        proc = procs[pkey] = _Proc(host, process.pid, process.start_ticks)
                    if (conn.process_side != "dst") != swapped:
                        flow.client_proc = proc
                    else:
                        flow.server_proc = proc

    def _join(self, a: _Flow | None, b: _Flow | None) -> _Flow:
        """One flow for two keys: when each key already had its own flow, fold b into a."""
        if a is None or b is None or a is b:
            found = a or b
            assert found is not None
            return found
        a.absorb(b.first, b.last, b.counters, b.observers)
        b.merged = True
        if a.dialled is None and b.dialled is not None:
            a.dialled = b.dialled
            a.server_ip, a.server_port = b.server_ip, b.server_port
            a.client_ip, a.client_port = b.client_ip, b.client_port
        a.client_proc = a.client_proc or b.client_proc
        a.server_proc = a.server_proc or b.server_proc
        for key in b.keys:
            if key not in a.keys:
                a.keys += (key,)
            self.flows[key] = a
        return a

    # --- endpoint resolution -------------------------------------------------------------

    def service_dialled(self, ip: str, port: int | None, protocol: str) -> str:
        """The Service behind a DNATed address: ClusterIP, externalIP, LB ingress or NodePort."""
        inv = self.inv
        found = inv.service_by_ip.get(ip)
        if found is None and port is not None:
            found = inv.service_by_exposure.get((ip, protocol, port)) or (
                inv.service_by_exposure.get(("*", protocol, port))
            )
        return found or f"{ip}:{port}"

    def process_node(self, proc: _Proc) -> NodeId:
        """The node of a socket's process, added to the inventory if it was never listed."""
        node = proc.node
        if node not in self.inv.nodes:  # the socket's process exited before it was listed
            host = ids.host(proc.host)
            self.inv.nodes[node] = {
                "kind": "process",
                "label": f"? ({proc.pid})",
                "pid": proc.pid,
                "start_ticks": proc.start_ticks,
                "host": host,
                "parent": host,
            }
        proc.listed = True
        return node

    def resolve(self, ip: str, port: int | None, protocol: str, role: str) -> NodeId:
        """The node at one end of a flow without a known socket process (memoised by caller)."""
        inv = self.inv
        if "@" in ip:  # loopback, qualified with the observing host and netns
            host_name, _, netns = ip.partition("@")[2].partition("/")
            scope = inv.netns_owner.get((host_name, netns)) or ids.host(host_name)
            if scope not in inv.nodes:  # a host that listed nothing but this connection
                inv.nodes[scope] = {
                    "kind": "host",
                    "label": host_name,
                    "name": host_name,
                    "host": scope,
                }
            if role == "server" and port is not None:
                found = inv.listener_in.get((NodeId(f"{scope}#lo"), protocol, port))
                found = found or inv.listener_in.get((scope, protocol, port))
                if found:
                    return found
            return scope
        if role == "server" and port is not None:
            found = inv.listener_exact.get((ip, protocol, port))
            if found:
                return found
        pod = inv.pod_by_ip.get(ip)
        if pod is not None:
            if role == "server" and port is not None:
                return inv.listener_in.get((pod, protocol, port), pod)
            return pod
        service = inv.service_by_ip.get(ip)
        if service is not None:
            return service
        host = inv.host_by_ip.get(ip)
        if host is not None:
            if role == "server" and port is not None:
                return (
                    inv.listener_in.get((host, protocol, port))
                    or inv.host_port_pods.get((host, protocol, port))  # host network, hostPort
                    or inv.service_by_exposure.get(("*", protocol, port))  # a NodePort
                    or host
                )
            return host
        if role == "server" and port is not None:  # an externalIP or load balancer address
            exposed = inv.service_by_exposure.get((ip, protocol, port))
            if exposed is not None:
                return exposed
        node = ids.external(ip)
        if node not in inv.nodes:
            names = sorted(inv.dns_names.get(ip, ()))
            inv.nodes[node] = {
                "kind": "external",
                "label": names[0] if names else ip,
                "ip": ip,
                "zone": self.zone_table.classify(ip).value,
                "dns_names": names,
            }
        return node

    def build(self) -> nx.MultiDiGraph:
        self.add_connections()
        if self.inv.service_backends:
            kubejoin.resolve_service_flows(self)
        edges = self.aggregate()
        # Free the flows before the graph is made: its dicts and lists then reuse their memory
        # instead of asking the kernel for more (page faults were a tenth of the build's time).
        self.flows.clear()
        self.flow_list.clear()
        return self.assemble(edges)

    def aggregate(self) -> dict[EdgeId, _Edge]:
        """Sum the flows into edges, one per (client node, server node, protocol/port)."""
        edges: dict[EdgeId, _Edge] = {}
        resolve, process_node, dialled_cache = self.resolve, self.process_node, self._dialled
        clients: dict[str, NodeId] = {}  # a client's port and protocol never change its node
        servers: dict[tuple[str, int | None, str], tuple[NodeId, str]] = {}  # -> node, edge key
        reused = self.inv.pod_ip_times  # addresses several pods held in turn: resolved by time
        for flow in self.flow_list:
            if flow.merged:
                continue
            proto, port = flow.protocol, flow.server_port
            proc = flow.client_proc
            if proc is not None:
                u = proc.node if proc.listed else process_node(proc)
            else:
                u = clients.get(flow.client_ip) or clients.setdefault(
                    flow.client_ip, resolve(flow.client_ip, None, proto, "client")
                )
                if reused and flow.client_ip in reused:
                    u = kubejoin.pod_then(self.inv, flow.client_ip, flow.first, None, proto, u)
            skey = (flow.server_ip, port, proto)
            server = servers.get(skey)
            if server is None:
                server = servers[skey] = (
                    resolve(flow.server_ip, port, proto, "server"),
                    proto if port is None else f"{proto}/{port}",
                )
            v, key = server
            proc = flow.server_proc
            if proc is not None:
                v = proc.node if proc.listed else process_node(proc)
            elif reused and flow.server_ip in reused:
                v = kubejoin.pod_then(self.inv, flow.server_ip, flow.first, port, proto, v)
            ekey = (u, v, key)
            edge = edges.get(ekey)
            if edge is None:
                edge = edges[ekey] = _Edge(proto, port, flow)
            else:
                if flow.first < edge.first:
                    edge.first = flow.first
                if flow.last > edge.last:
                    edge.last = flow.last
                observers = flow.observers
                if observers is not edge.observers and not observers <= edge.observers:
                    edge.observers = edge.observers | observers
                edge.connections += 1
                c0, c1, c2, c3 = flow.counters
                if c0 is not None or c2 is not None:
                    edge.counted += 1
                    edge.packets += (c0 or 0) + (c2 or 0)
                    edge.bytes += (c1 or 0) + (c3 or 0)
            if flow.dialled is not None:
                service = dialled_cache.get(flow.dialled)
                if service is None:
                    service = dialled_cache[flow.dialled] = self.service_dialled(*flow.dialled)
                if edge.services is None:
                    edge.services = {service}
                else:
                    edge.services.add(service)
        return edges

    def assemble(self, edges: dict[EdgeId, _Edge]) -> nx.MultiDiGraph:
        """The graph: inventory nodes, then the edges with their sets and times finalised."""
        times: dict[datetime, str] = {}  # few distinct times (whole seconds): format each once
        attrs: dict[EdgeId, dict[str, Any]] = {}
        for key, edge in edges.items():
            first, last, port = edge.first, edge.last, edge.port
            attrs[key] = {
                "protocol": edge.protocol,
                "port": port,
                "ports": [] if port is None else [port],
                "connections": edge.connections,
                "packets": edge.packets,
                "bytes": edge.bytes,
                "counted": edge.counted,
                "first_seen": times.get(first) or times.setdefault(first, format_time(first)),
                "last_seen": times.get(last) or times.setdefault(last, format_time(last)),
                "observed_by": sorted(edge.observers),
                "services": [] if edge.services is None else sorted(edge.services),
            }
        graph = nx.MultiDiGraph()
        graph.graph.update(self.metadata())
        _insert_nodes(graph, self.inv.nodes)
        _insert_edges(graph, attrs)
        return graph

    def metadata(self) -> dict[str, Any]:
        starts = [s.window.start for s in self.snapshots]
        ends = [s.window.end for s in self.snapshots]
        coverage = sorted(
            (
                {
                    "observer": s.observer,
                    "collector": run.name,
                    "version": run.version,
                    "status": run.status,
                    "reason": run.reason,
                    "warnings": list(run.warnings),
                    "skipped": dict(sorted(run.skipped.items())),
                }
                for s in self.snapshots
                for run in s.collectors
            ),
            key=lambda item: (item["observer"], item["collector"]),
        )
        return {
            "view": "process",
            "window": {
                "start": format_time(min(starts)) if starts else None,
                "end": format_time(max(ends)) if ends else None,
            },
            "scope": {
                "observers": sorted({s.observer for s in self.snapshots}),
                "sources": sorted({s.source for s in self.snapshots}),
                "snapshots": len(self.snapshots),
                "zones": sorted({f"{cidr}={zone.value}" for cidr, zone in self.inv.zone_extra}),
            },
            "coverage": coverage,
            "groups": {k: self.inv.groups[k] for k in sorted(self.inv.groups)},
        }


def _check_layout(graph: nx.MultiDiGraph) -> None:
    """Fail loudly if networkx's adjacency is not the plain dicts the fast inserts write."""
    factories = (
        graph.node_dict_factory,
        graph.node_attr_dict_factory,
        graph.adjlist_outer_dict_factory,
        graph.adjlist_inner_dict_factory,
        graph.edge_key_dict_factory,
    )
    if graph._adj is not graph._succ or any(f is not dict for f in factories):  # pragma: no cover
        raise RuntimeError("networkx adjacency layout changed: cannot insert directly")


def _insert_nodes(graph: nx.MultiDiGraph, nodes: dict[NodeId, dict[str, Any]]) -> None:
    """Add nodes, none of them in ``graph`` yet, keeping each attribute dict as it is.

    ``add_nodes_from`` copies every attribute dict and, given ``(node, attrs)`` pairs, first
    tries to hash the pair (a ``TypeError`` per node); the inventory's dicts belong to this
    build alone, so they become the node dicts themselves (``_node[n]``, with empty ``_succ[n]``
    and ``_pred[n]``, as ``add_node`` makes them). Guarded like :func:`_insert_edges`.
    """
    _check_layout(graph)
    if graph._node.keys() & nodes.keys():  # pragma: no cover - callers pass a fresh graph
        raise ValueError("fast node insertion needs nodes not yet in the graph")
    graph._node.update(nodes)
    graph._succ.update({node: {} for node in nodes})
    graph._pred.update({node: {} for node in nodes})


def _insert_edges(graph: nx.MultiDiGraph, edges: dict[EdgeId, dict[str, Any]]) -> None:
    """Add edges whose endpoints are already nodes and whose (u, v, key) are all distinct.

    ``add_edges_from`` re-checks every node and key and copies every attribute dict; with
    those facts known, writing networkx's adjacency (``_succ[u][v][key]``, shared with
    ``_pred[v][u]``, as ``MultiDiGraph.add_edge`` does) is a third of the time of the whole
    assembly (benchmarks/graph_build.py). The layout is networkx's since 2.0; the checks here
    and tests/test_graph.py::test_fast_edge_insertion_matches_networkx guard it.
    """
    _check_layout(graph)
    succ, pred = graph._succ, graph._pred
    for (u, v, key), attrs in edges.items():
        out = succ.get(u)
        if out is None:  # every resolver path adds its nodes to the inventory: not expected
            graph.add_node(u)
            out = succ[u]
        keydict = out.get(v)
        if keydict is None:
            if v not in pred:  # as above
                graph.add_node(v)
            out[v] = pred[v][u] = {key: attrs}  # made with its entry: no growing from empty
        else:
            keydict[key] = attrs
    for (u, v, key), attrs in edges.items():  # one edge read back through the public API
        if graph.edges[u, v, key] is not attrs or graph.pred[v][u][key] is not attrs:
            raise RuntimeError("networkx adjacency layout changed: edge insertion lost edges")
        break


def build_graph(snapshots: Iterable[model.Snapshot]) -> nx.MultiDiGraph:
    """Merge snapshots into the finest graph (the ``process`` view).

    Parameters
    ----------
    snapshots
        Any number of snapshots, from any mix of hosts, the cluster API and captures.

    Returns
    -------
    networkx.MultiDiGraph
        Nodes keyed by id (see :mod:`topomap.ids`) with ``kind``, ``label`` and ancestry
        attributes; edges keyed ``"<protocol>/<server port>"`` with ``protocol``, ``port``,
        ``ports``, ``connections``, ``packets``, ``bytes``, ``counted`` (connections whose
        counters were known), ``first_seen``, ``last_seen``, ``observed_by`` and ``services``.
    """
    with paused_gc():
        return _Builder(list(snapshots)).build()
