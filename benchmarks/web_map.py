"""Benchmark: the map at 10,000 process-level nodes and 50,000 edges, in headless Chromium.

What is measured
----------------
A graph of exactly ``--nodes`` nodes and ``--edges`` edges at the process view (hosts, pods,
containers, processes, Services and external peers, over namespaces and workloads) is generated
from a seeded RNG, written as graph JSON and served with ``topomap serve`` in a child process.
Playwright drives Debian's Chromium (``/usr/bin/chromium``) against it and reports:

* **first map**: from navigation start to the first frame after Cytoscape holds the map's
  nodes (``performance.now()`` in the page, two animation frames after the nodes appear);
* **filter change**: toggling the ``udp`` protocol filter; *server* time is the app's own
  ``Server-Timing`` of the callback request, *page* time runs from the click until the new
  elements are in and the layout dash-cytoscape re-runs after them (it re-fits the view) has
  stopped;
* **node click**: a real mouse click on a node, centred at zoom 1.5 once the map stopped moving
  (as a user zooms in to a node drawn one pixel wide), until its details are shown, same two
  times.

* **diff overlay** (in process, no browser): the overlay of a scene against a baseline that is
  the same graph collected again (:func:`recollect`: every pod, container and process under a
  new name, 1% of the edges gone and as many new), as the map computes it (``topomap diff``'s
  normalisation and comparison at the view, mapped onto the scene), against the map's former
  comparison of raw edge keys as the reference, on the first map's scene and at the workload,
  pod and process views, with what each marks.

The references, side by side in the same run, draw every element of the same process graph
(no step to a coarser view): *unaggregated* with topomap's own server-side layout, compound
boxes and stylesheet; *naive* handed whole to dash-cytoscape with its default force layout
(``cose``) run in the browser, as topomap's first map did. Each is cut off at
``--reference-timeout``.

Usage::

    python benchmarks/web_map.py                  # 10,000 nodes, 50,000 edges, 5 repeats
    python benchmarks/web_map.py --quick          # 2,000 nodes, 10,000 edges
    python benchmarks/web_map.py --overlay-only   # the diff overlay part alone
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import networkx as nx
import orjson

from topomap import __version__, export, ids, views
from topomap.model import NodeId
from topomap.web import app, query, style
from topomap.web import overlay as ov
from topomap.web import scene as sc
from topomap.web.source import from_graph

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
CY = "document.getElementById('map')._cyreg.cy"
ZONES = ("public", "public", "public", "private", "documentation", "metadata")
PRESET = {"name": "preset", "fit": True, "padding": 20}
TIMES = ("2026-11-28T10:00:00Z", "2026-11-28T10:15:00Z")


def generate(n_nodes: int, n_edges: int, seed: int = 20261129) -> nx.MultiDiGraph:
    """A process-level graph with exactly ``n_nodes`` nodes and ``n_edges`` edges."""
    rng = random.Random(seed)
    g = nx.MultiDiGraph()
    scale = n_nodes / 10_000
    n_hosts, n_ns, per_ns = max(2, int(20 * scale)), max(2, int(25 * scale)), 10
    n_ext = int(400 * scale)
    groups: dict[str, dict[str, Any]] = {}
    hosts: list[str] = [ids.host(f"node-{h:02d}") for h in range(n_hosts)]
    for h, host in enumerate(hosts):
        g.add_node(host, kind="host", label=host[5:], name=host[5:], ips=[f"10.0.{h}.10"])
    workloads: list[tuple[str, NodeId, NodeId]] = []
    for n in range(n_ns):
        ns = f"team-{n:02d}"
        groups[ids.namespace(ns)] = {"kind": "namespace", "label": ns, "name": ns}
        for w in range(per_ns):
            name = f"svc-{w}"
            wid = ids.workload(ns, "Deployment", name)
            groups[wid] = {"kind": "workload", "label": name, "name": name, "namespace": ns}
            sid = ids.service(ns, name)
            g.add_node(
                sid,
                kind="service",
                label=name,
                name=name,
                namespace=ns,
                cluster_ips=[f"10.96.{n}.{w}"],
            )
            workloads.append((ns, wid, sid))
    for e in range(n_ext):
        ip = f"203.0.{e // 250}.{e % 250}"
        g.add_node(
            ids.external(ip),
            kind="external",
            label=ip,
            ip=ip,
            zone=ZONES[e % len(ZONES)],
            dns_names=[],
        )
    procs: list[NodeId] = []
    servers: dict[str, int] = {}
    pod_no = 0
    while g.number_of_nodes() < n_nodes:
        ns, wid, sid = workloads[pod_no % len(workloads)]
        host = hosts[pod_no % n_hosts]
        pod = ids.pod(ns, f"{wid.rsplit('/', 1)[1]}-{pod_no}")
        cid = ids.container(f"{pod_no:064x}")
        g.add_node(
            pod,
            kind="pod",
            label=pod.rsplit("/", 1)[1],
            namespace=ns,
            workload=wid,
            host=host,
            parent=host,
            ips=[f"10.244.{pod_no // 250}.{pod_no % 250}"],
            services=[sid],
            labels={"app": wid.rsplit("/", 1)[1]},
        )
        g.add_node(
            cid,
            kind="container",
            label="app",
            namespace=ns,
            pod=pod,
            workload=wid,
            host=host,
            parent=pod,
            services=[sid],
        )
        for p in range(16):
            if g.number_of_nodes() >= n_nodes:
                break
            pid = 1000 + pod_no * 20 + p
            proc = ids.process(host[5:], pid, 1)
            g.add_node(
                proc,
                kind="process",
                label=f"app ({pid})",
                comm="app",
                pid=pid,
                host=host,
                container=cid,
                pod=pod,
                workload=wid,
                parent=cid,
                services=[sid],
            )
            procs.append(proc)
            if p == 0:
                servers[proc] = 8080
        pod_no += 1
    externals = [n for n, a in g.nodes(data=True) if a["kind"] == "external"]
    server_list = sorted(servers)
    made = 0
    while made < n_edges:
        u = rng.choice(procs)
        roll = rng.random()
        if roll < 0.75:
            v, protocol, port = rng.choice(server_list), "tcp", 8080
        elif roll < 0.85:
            v, protocol, port = rng.choice(server_list), "udp", 53
        else:
            v, protocol, port = rng.choice(externals), "tcp", rng.choice((443, 80, 4444))
        key = f"{protocol}/{port}"
        if u == v or g.has_edge(u, v, key):
            continue
        conns = rng.randint(1, 50)
        made += 1
        g.add_edge(
            u,
            v,
            key,
            protocol=protocol,
            port=port,
            ports=[port],
            connections=conns,
            packets=conns * 10,
            bytes=conns * rng.randint(500, 50_000),
            counted=conns,
            first_seen=TIMES[0],
            last_seen=TIMES[1],
            observed_by=["conntrack@node-00"],
            services=[],
        )
    g.graph.update(
        view="process",
        window={"start": TIMES[0], "end": TIMES[1]},
        scope={"observers": [h[5:] for h in hosts]},
        coverage=[],
        groups=groups,
    )
    return g


def recollect(g: nx.MultiDiGraph, share: float = 0.01, seed: int = 1) -> nx.MultiDiGraph:
    """``g`` collected again: every pod, container and process under a new name (pod suffix,
    container id, pid and start time), ``share`` of the edges gone and as many new ones."""
    rng = random.Random(seed)
    renamed: dict[str, str] = {}
    for node, attrs in g.nodes(data=True):
        if attrs["kind"] == "pod":
            renamed[node] = f"{node}-r{seed}"
        elif attrs["kind"] == "container":
            renamed[node] = ids.container(f"{seed:08x}{node.partition(':')[2][8:]}")
        elif attrs["kind"] == "process":
            renamed[node] = ids.process(attrs["host"][5:], attrs["pid"] + 100_000 * seed, 2)
    again = nx.relabel_nodes(g, renamed, copy=True)
    for node, attrs in again.nodes(data=True):
        for ref in ("pod", "container", "parent"):
            if attrs.get(ref) in renamed:
                attrs[ref] = renamed[attrs[ref]]
        if attrs["kind"] == "pod":
            attrs["label"] = node.rsplit("/", 1)[1]
        elif attrs["kind"] == "process":
            attrs["pid"] += 100_000 * seed
            attrs["label"] = f"app ({attrs['pid']})"
    edges = sorted(again.edges(keys=True, data=True), key=lambda e: (e[0], e[1], e[2]))
    gone = rng.sample(edges, int(len(edges) * share))
    again.remove_edges_from((u, v, k) for u, v, k, _ in gone)
    procs = sorted(n for n, a in again.nodes(data=True) if a["kind"] == "process")
    for _, _, _, attrs in gone:
        while True:
            u, v = rng.choice(procs), rng.choice(procs)
            if u != v and not again.has_edge(u, v, "tcp/9090"):
                break
        again.add_edge(u, v, "tcp/9090", **{**attrs, "port": 9090, "ports": [9090]})
    return again


def reference_overlay(scene: sc.Scene) -> tuple[set[str], list[tuple[str, str, str]]]:
    """The map's former overlay: raw edge keys of the scene against the baseline projected the
    same way (new pod names, container ids and pids all count as changes)."""
    old, now = scene.baseline, scene.graph
    assert old is not None
    added = {sc.edge_id(u, v, k) for u, v, k in now.edges(keys=True) if not old.has_edge(u, v, k)}
    gone = sorted((u, v, k) for u, v, k in old.edges(keys=True) if not now.has_edge(u, v, k))
    return added, gone


def measure_overlay(g: nx.MultiDiGraph, repeat: int) -> list[dict[str, Any]]:
    """The diff overlay's server time per scene, ours and the reference (best of ``repeat``),
    each from a cold cache, with what each marks."""
    base = recollect(g)
    source = from_graph(g, baseline=base)
    opening = query.choose(sc.CACHE, source, app.first_key(source, "workload"), query.Filters())
    rows = []
    for key in (opening.scene.key, *(sc.SceneKey(v) for v in ("workload", "pod", "process"))):
        ours, ref = [], []
        for _ in range(repeat):
            ov.COMPARISONS = ov.ComparisonCache()  # cold: the comparison is made again
            scene = sc.SceneCache().get(source, key)  # projections of both graphs: not timed
            start = time.perf_counter()
            overlay = scene.overlay
            new, gone = scene.added, scene.removed_edges
            middle = time.perf_counter()
            ref_new, ref_gone = reference_overlay(scene)
            ours.append(middle - start)
            ref.append(time.perf_counter() - middle)
        assert overlay is not None
        diff = overlay.comparison.diff
        rows.append(
            {
                "scene": key.view + (" (zones grouped)" if key.collapsed else ""),
                "edges": scene.graph.number_of_edges(),
                "ours": min(ours),
                "reference": min(ref),
                "marked": (len(new), len(gone)),
                "reference_marked": (len(ref_new), len(ref_gone)),
                "diff": (len(diff.edges_added), len(diff.edges_removed), len(diff.edges_changed)),
            }
        )
        progress(f"overlay {rows[-1]}")
    return rows


def report_overlay(rows: list[dict[str, Any]]) -> None:
    print(
        "\ndiff overlay against the graph collected again (all pods, containers, processes "
        "renamed; 1% of edges gone, 1% new), server time, best of the repeats, cold caches"
    )
    print(
        f"{'scene':26}{'edges':>8}{'topomap diff':>14}{'reference':>11}{'ratio':>8}"
        f"{'marked new/gone':>17}{'reference':>14}{'diff +/-/~':>16}"
    )

    def slashed(values: tuple[int, ...]) -> str:
        return "/".join(str(v) for v in values)

    for r in rows:
        print(
            f"{r['scene']:26}{r['edges']:>8,}{r['ours'] * 1000:>11.0f} ms"
            f"{r['reference'] * 1000:>8.0f} ms{r['ours'] / max(r['reference'], 1e-6):>7.0f}x"
            f"{slashed(r['marked']):>17}{slashed(r['reference_marked']):>14}"
            f"{slashed(r['diff']):>16}"
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(graph_json: Path) -> tuple[subprocess.Popen[str], str, float]:
    """``topomap serve`` on a free port; its URL and seconds until it listens."""
    port = free_port()
    started = time.perf_counter()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "topomap",
            "serve",
            str(graph_json),
            "--port",
            str(port),
            "--view",
            "process",
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    wait_listening(port, proc)
    return proc, f"http://127.0.0.1:{port}/", time.perf_counter() - started


def wait_listening(port: int, proc: subprocess.Popen[str] | None) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise SystemExit(f"server exited: {proc.stdout.read() if proc.stdout else ''}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit("server did not start")


def naive_elements(g: nx.MultiDiGraph) -> list[dict[str, Any]]:
    """Every node and edge of ``g`` as bare Cytoscape elements (no positions, no grouping)."""
    elements: list[dict[str, Any]] = [
        {"data": {"id": n, "label": a.get("label", n)}} for n, a in g.nodes(data=True)
    ]
    elements += [
        {"data": {"id": f"{u}->{v}#{k}", "source": u, "target": v}}
        for u, v, k in g.edges(keys=True)
    ]
    return elements


def unaggregated_elements(g: nx.MultiDiGraph) -> list[dict[str, Any]]:
    """topomap's own elements of the whole process view: its server-side layout, compound
    boxes and classes, but without the step to a coarser view (no draw limit)."""
    source = from_graph(g)
    scene = sc.CACHE.get(source, sc.SceneKey("process"))
    return query.elements(query.Choice(scene, query.select(scene, query.Filters())), overlay=False)


def reference_server(
    name: str, elements: list[dict[str, Any]], layout: dict[str, Any], sheet: Any = None
) -> str:
    """A plain dash-cytoscape page drawing ``elements`` with ``layout``; its URL."""
    import dash
    import dash_cytoscape as cyto
    from dash import html

    extra = {"stylesheet": sheet} if sheet is not None else {}
    app = dash.Dash(name)
    app.layout = html.Div(
        cyto.Cytoscape(
            id="map",
            elements=elements,
            layout=layout,
            style={"width": "100%", "height": "800px"},
            **extra,
        )
    )
    port = free_port()
    thread = threading.Thread(
        target=lambda: app.run(host="127.0.0.1", port=port, debug=False), daemon=True
    )
    thread.start()
    wait_listening(port, None)
    return f"http://127.0.0.1:{port}/"


def first_map(page: Any, url: str, timeout_s: float) -> float | None:
    """Milliseconds from navigation start to the first frame with the map's nodes drawn."""
    page.goto(url, timeout=timeout_s * 1000)
    try:
        page.wait_for_function(
            f"() => {{ const m = document.getElementById('map');"
            f" return m && m._cyreg && {CY}.nodes().length > 0"
            f" && {CY}.nodes()[0].renderedPosition().x !== undefined; }}",
            timeout=timeout_s * 1000,
            polling="raf",
        )
    except Exception:  # noqa: BLE001 - a timeout is the result here
        return None
    ms: float = page.evaluate(
        "() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame("
        "() => r(performance.now()))))"
    )
    return ms


def server_ms(response: Any) -> float:
    timing = response.headers.get("server-timing", "")
    return float(timing.partition("dur=")[2] or "nan")


def is_callback(output: str) -> Any:
    """Matches the response of the callback request whose outputs include ``output``."""
    return lambda r: "_dash-update-component" in r.url and output in (r.request.post_data or "")


def timed_update(page: Any, action: Any, output: str, done: str) -> tuple[float, float]:
    """Server time of the callback request (for ``output``) an action makes, and page time
    until ``done``."""
    start = time.perf_counter()
    with page.expect_response(is_callback(output)) as info:
        action()
    page.wait_for_function(done)
    return server_ms(info.value), (time.perf_counter() - start) * 1000


def settled_position(page: Any, node: str) -> tuple[float, float]:
    """Where ``node`` is on the page once the map has stopped moving, centred at zoom 1.5 (as
    a user zooms in to click a node drawn one pixel wide): its rendered position plus the
    canvas' offset, equal on two animation frames in a row. (The script returns plain numbers:
    returning a Cytoscape collection would make Playwright serialise the whole graph.)"""
    where = page.evaluate(
        "(id) => new Promise(resolve => { let last = null; let frames = 0;"
        f" {CY}.zoom(1.5); {CY}.center({CY}.getElementById(id)); const step = () => {{"
        f" const cy = {CY}; const n = cy.getElementById(id);"
        " if (n.empty()) { resolve('gone'); return; }"
        " const p = n.renderedPosition(); const box = cy.container().getBoundingClientRect();"
        " const now = [box.left + p.x, box.top + p.y];"
        " if (last && now[0] === last[0] && now[1] === last[1]) { resolve(now); }"
        " else if (frames++ > 600) { resolve('moving'); }"
        " else { last = now; requestAnimationFrame(step); } }; step(); })",
        node,
    )
    if isinstance(where, str):
        raise SystemExit(f"node {node}: {where} (not settled after 600 frames, or not drawn)")
    return float(where[0]), float(where[1])


def progress(text: str) -> None:
    print(f"  {time.strftime('%H:%M:%S')} {text}", file=sys.stderr, flush=True)


def measure_topomap(browser: Any, url: str, repeat: int) -> dict[str, Any]:
    firsts: list[float] = []
    for _ in range(repeat):
        context = browser.new_context(viewport={"width": 1500, "height": 900})
        page = context.new_page()
        ms = first_map(page, url, 60)
        assert ms is not None, "topomap's first map did not render in 60 s"
        firsts.append(ms)
        progress(f"first map {ms:.0f} ms")
        context.close()
    context = browser.new_context(viewport={"width": 1500, "height": 900})
    page = context.new_page()
    first_map(page, url, 60)
    drawn = page.evaluate(f"() => [{CY}.nodes('[kind != \"box\"]').length, {CY}.edges().length]")
    notice = page.locator("#notice").inner_text()
    filters, clicks = [], []
    for i in range(repeat):
        before = page.evaluate(
            f"() => {{ window.laidOut = false; {CY}.one('layoutstop', () => {{"
            f" window.laidOut = true; }}); return {CY}.edges().length; }}"
        )
        with page.expect_response(is_callback("map.stylesheet")):  # the restyle it triggers
            filters.append(
                timed_update(
                    page,
                    lambda: page.get_by_label("udp", exact=True).click(),
                    "map.elements",
                    # new elements in, and the layout run after them (it re-fits the view)
                    f"() => {CY}.edges().length !== {before} && window.laidOut",
                )
            )
        node = page.evaluate(
            f"(i) => {{ const ns = {CY}.nodes(':childless[kind != \"box\"]');"
            " return ns[(i * 7) % ns.length].id(); }",
            i,
        )
        progress(f"filter {filters[-1][0]:.0f}/{filters[-1][1]:.0f} ms; clicking {node}")
        x, y = settled_position(page, node)
        marker = f"id\t{node}"
        clicks.append(  # a real mouse click where the node is drawn
            timed_update(
                page,
                lambda x=x, y=y: page.mouse.click(x, y),
                "details.children",
                f"() => document.getElementById('details').innerText.includes({marker!r})",
            )
        )
        progress(f"click {clicks[-1][0]:.0f}/{clicks[-1][1]:.0f} ms")
    context.close()
    return {"first": firsts, "filter": filters, "click": clicks, "drawn": drawn, "notice": notice}


def reference_first_map(name: str, page_file: Path, timeout_s: float) -> float | None:
    """First map of a reference page in a child process with its own server and Chromium,
    killed (its whole process group) at ``timeout_s``: a layout run synchronously in the page
    blocks the renderer, and with it every timeout Playwright could enforce from inside."""
    child = subprocess.Popen(
        [sys.executable, __file__, "--reference-child", name, str(page_file), str(timeout_s)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = child.communicate(timeout=timeout_s + 30)  # + the child's start-up
    except subprocess.TimeoutExpired:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        return None
    last = out.strip().splitlines()[-1] if out.strip() else ""
    return float(last) if last.replace(".", "", 1).isdigit() else None


def reference_child(name: str, page_file: Path, timeout_s: float) -> None:
    """The child side of :func:`reference_first_map`: prints the first map's milliseconds."""
    from playwright.sync_api import sync_playwright

    elements, layout, sheet = orjson.loads(page_file.read_bytes())
    url = reference_server(name, elements, layout, sheet)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        context = browser.new_context(viewport={"width": 1500, "height": 900})
        ms = first_map(context.new_page(), url, timeout_s)
        print(f"{ms:.1f}" if ms is not None else "timeout", flush=True)
        browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--edges", type=int, default=50_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--reference-timeout", type=float, default=60.0)
    parser.add_argument("--quick", action="store_true", help="2,000 nodes, 10,000 edges")
    parser.add_argument(
        "--overlay-only", action="store_true", help="measure the diff overlay only (no browser)"
    )
    parser.add_argument("--reference-child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.reference_child:
        name, page_file, timeout_s = args.reference_child
        reference_child(name, Path(page_file), float(timeout_s))
        return 0
    if args.quick:
        args.nodes, args.edges = 2_000, 10_000
    from playwright.sync_api import sync_playwright

    print(
        f"topomap {__version__}, Python {platform.python_version()}, {os.cpu_count()} CPUs, "
        f"{platform.platform()}"
    )
    start = time.perf_counter()
    g = generate(args.nodes, args.edges)
    kinds: dict[str, int] = {}
    for _, a in g.nodes(data=True):
        kinds[a["kind"]] = kinds.get(a["kind"], 0) + 1
    by_kind = ", ".join(f"{k} {n:,}" for k, n in sorted(kinds.items()))
    print(
        f"generated {g.number_of_nodes():,} nodes ({by_kind}), "
        f"{g.number_of_edges():,} edges in {time.perf_counter() - start:.1f} s (not timed)"
    )
    overlay_rows = measure_overlay(g, args.repeat)
    if args.overlay_only:
        report_overlay(overlay_rows)
        return 0
    with tempfile.TemporaryDirectory(prefix="topomap-web-bench-") as tmp:
        path = Path(tmp) / "graph.json"
        path.write_bytes(export.dumps_graph_json(g))
        print(f"graph JSON {path.stat().st_size / 1e6:.1f} MB")
        proc, url, ready = serve(path)
        print(f"topomap serve ready in {ready:.1f} s (load, digest check, opening scene)")
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                ours = measure_topomap(browser, url, args.repeat)
                browser.close()
            refs: dict[str, float | None] = {}
            process = views.project(g, "process")
            whole = unaggregated_elements(g)
            n_edges = sum(1 for e in whole if "source" in e["data"])
            for name, elements, layout, sheet in (
                ("unaggregated", whole, PRESET, style.stylesheet(edges=n_edges)),
                ("naive", naive_elements(process), {"name": "cose", "animate": False}, None),
            ):
                page_file = Path(tmp) / f"{name}.json"
                page_file.write_bytes(orjson.dumps([elements, layout, sheet]))
                refs[name] = reference_first_map(name, page_file, args.reference_timeout)
                progress(f"reference {name}: {refs[name]} ms")
        finally:
            proc.terminate()
            proc.wait(timeout=10)
    report(args, ours, refs)
    report_overlay(overlay_rows)
    return 0


def report(args: argparse.Namespace, ours: dict[str, Any], refs: dict[str, float | None]) -> None:
    def med(values: list[float]) -> float:
        return statistics.median(values)

    first = min(ours["first"])
    filt_server = med([s for s, _ in ours["filter"]])
    filt_page = med([p for _, p in ours["filter"]])
    click_server = med([s for s, _ in ours["click"]])
    click_page = med([p for _, p in ours["click"]])
    print(f"\ndrawn at first: {ours['drawn'][0]:,} nodes, {ours['drawn'][1]:,} edges")
    print(f"notice: {ours['notice']}")
    print(f"first map, each run (ms): {', '.join(f'{x:.0f}' for x in ours['first'])}")
    print(
        f"filter (server ms / page ms): {', '.join(f'{s:.0f}/{p:.0f}' for s, p in ours['filter'])}"
    )
    print(
        f"click  (server ms / page ms): {', '.join(f'{s:.0f}/{p:.0f}' for s, p in ours['click'])}"
    )
    cut = args.reference_timeout

    def shown(ms: float | None) -> tuple[str, str]:
        if ms is None:
            return f"> {cut:.0f} s (cut off)", f"> {cut * 1000 / first:.0f}x"
        return f"{ms / 1000:.2f} s", f"{ms / first:.1f}x"

    print(f"\n{'first map':44}{'time':>20}{'ratio to topomap':>18}")
    print(f"{'topomap (best of ' + str(args.repeat) + ')':44}{first / 1000:>18.2f} s{'1x':>18}")
    for name, what in (
        ("unaggregated", "reference: all elements, topomap's layout"),
        ("naive", "reference: all elements, cose in browser"),
    ):
        time_text, ratio = shown(refs[name])
        print(f"{what:44}{time_text:>20}{ratio:>18}")
    print(
        f"\n{'filter change, median server':34}{filt_server:>9.0f} ms   (page {filt_page:.0f} ms)"
    )
    print(f"{'node click, median server':34}{click_server:>9.0f} ms   (page {click_page:.0f} ms)")
    ok = first < 3000 and filt_server < 300 and click_server < 300
    print(
        f"\ntarget: first map under 3 s: {'yes' if first < 3000 else 'NO'}; filter and click "
        f"under 300 ms server time: {'yes' if filt_server < 300 and click_server < 300 else 'NO'}"
        f"{'' if ok else ' (not met)'}"
    )


if __name__ == "__main__":
    sys.exit(main())
