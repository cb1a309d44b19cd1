"""``topomap collect``: run the host collectors here and/or the cluster API, write a Snapshot.

This is the only place where collectors are wired in. Each source is a flag; a collector that
cannot run here (not root, kernel module missing, /proc hidden) is recorded in the snapshot's
coverage with the reason and the run goes on. After writing, the command prints to stderr what
each collector saw (counts) and what it could not, so a partial snapshot is never mistaken for
a complete one. Ctrl-C during a ``--duration`` run ends the window early and still writes
everything observed so far.
"""

from __future__ import annotations

import re
import signal
import sys
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from types import FrameType
from typing import Any

import click

from collectors import base, capture, conntrack, host, host_identity, kubernetes
from topomap import model, snapshot_io
from topomap.errors import InputError

_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")

#: Extra collectors other modules add as ``(option decorator, factory)`` pairs: the factory gets
#: the command's keyword arguments and returns the collectors to run (or none).
CollectorFactory = Callable[[dict[str, Any]], list[base.Collector]]


def parse_duration(text: str) -> float:
    """Seconds in ``60s``, ``5m``, ``1h``, ``500ms`` or a plain number of seconds.

    >>> parse_duration("60s"), parse_duration("1.5m"), parse_duration("250ms"), parse_duration("2")
    (60.0, 90.0, 0.25, 2.0)
    """
    match = _DURATION.match(text)
    if not match:
        raise click.BadParameter(f"{text!r} is not a duration like 30s, 5m, 1h or 500ms")
    return float(match.group(1)) * _UNITS[match.group(2) or "s"]


class _Duration(click.ParamType):  # type: ignore[type-arg]
    name = "DURATION"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, float):
            return value
        try:
            return parse_duration(str(value))
        except click.BadParameter as exc:
            self.fail(str(exc), param, ctx)


DURATION = _Duration()


@contextmanager
def _stop_on_interrupt(stop: threading.Event) -> Iterator[None]:
    """First Ctrl-C ends the collection window (data is still written); a second one aborts."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: FrameType | None) -> None:
        if stop.is_set():
            raise KeyboardInterrupt
        stop.set()
        click.echo(
            "topomap: stopping; writing what was collected (Ctrl-C again to abort)", err=True
        )

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def describe_runs(runs: tuple[model.CollectorRun, ...]) -> str:
    """One line per collector with its counts, then its blind spots, for people."""
    lines = []
    for run in runs:
        counts = ", ".join(f"{n} {part}" for part, n in run.counts.items()) or "nothing"
        line = f"{run.name} {run.version}: {run.status}: {counts}"
        if run.reason:
            line += f" ({run.reason})"
        lines.append(line)
        if run.skipped:
            skipped = ", ".join(f"{n} {why}" for why, n in run.skipped.items())
            lines.append(f"  skipped: {skipped}")
        lines.extend(f"  could not see: {warning}" for warning in run.warnings)
    return "\n".join(lines) + "\n"


def host_collectors(options: dict[str, Any]) -> list[base.Collector]:
    """The collectors chosen by the host-source flags."""
    chosen: list[base.Collector] = []
    if options["procnet"]:
        chosen.append(host.ProcnetCollector(netns=options["procnet_netns"]))
    if options["cgroup"]:
        chosen.append(host.CgroupCollector())
    if options["conntrack"]:
        chosen.append(
            conntrack.ConntrackCollector(
                netns=options["conntrack_netns"], pid=options["conntrack_pid"]
            )
        )
    chosen.extend(conntrack.ConntrackFileCollector(p) for p in options["conntrack_file"])
    return chosen


def cluster_collectors(options: dict[str, Any]) -> list[base.Collector]:
    """The Kubernetes API collector, when ``--k8s`` is given."""
    if not options["k8s"]:
        return []
    return [
        kubernetes.KubernetesCollector(
            kubeconfig=options["kubeconfig"],
            context=options["context"],
            in_cluster=options["in_cluster"],
            timeout=options["request_timeout"],
            service_account_dir=options["service_account_dir"],
        )
    ]


def capture_collectors(options: dict[str, Any]) -> list[base.Collector]:
    """Packet capture: each ``--pcap`` file, and ``--capture IFACE`` live (docs/capture.md)."""
    chosen: list[base.Collector] = [capture.PcapFile(path) for path in options["pcap"]]
    if options["capture"]:
        chosen.append(
            capture.LiveCapture(
                options["capture"],
                bpf=options["bpf"],
                snaplen=options["snaplen"],
                netns=options["netns"],
            )
        )
    return chosen


FACTORIES: list[CollectorFactory] = [host_collectors, cluster_collectors, capture_collectors]
_CAPTURE = (capture.PcapFile, capture.LiveCapture)


@click.command("collect")
@click.option(
    "--procnet/--no-procnet",
    default=None,
    help="Sockets and processes of every network namespace (/proc). "
    "[default: on, off with --pcap, --capture, --k8s or --conntrack-file]",
)
@click.option(
    "--procnet-netns",
    multiple=True,
    metavar="NAME|PATH",
    help="Only these network namespaces (ip netns names or paths; repeatable). Default: all.",
)
@click.option(
    "--cgroup/--no-cgroup",
    default=None,
    help="Containers and pod uids from the processes' cgroups. "
    "[default: on, off with --pcap, --capture, --k8s or --conntrack-file]",
)
@click.option(
    "--pcap",
    multiple=True,
    type=click.Path(exists=True, dir_okay=False),
    metavar="FILE",
    help="Flows and DNS answers of a pcap/pcapng file (repeatable); turns the host "
    "collectors off unless asked for.",
)
@click.option(
    "--capture",
    default=None,
    metavar="IFACE",
    help="Capture live on IFACE ('any' for all) for --duration (needs root).",
)
@click.option("--bpf", default=None, metavar="FILTER", help="BPF filter for --capture.")
@click.option(
    "--snaplen",
    type=click.IntRange(64, 262144),
    default=262144,
    show_default=True,
    help="Bytes kept of each packet for --capture.",
)
@click.option(
    "--netns", default=None, metavar="NAME", help="Capture inside this 'ip netns' namespace."
)
@click.option(
    "--conntrack/--no-conntrack",
    default=None,
    help="The kernel's connection-tracking table (netlink; events during --duration). "
    "[default: on, off with --pcap, --capture, --k8s or --conntrack-file]",
)
@click.option(
    "--conntrack-netns",
    default=None,
    metavar="NAME|PATH",
    help="Read the conntrack table of this network namespace (ip netns name or a path).",
)
@click.option(
    "--conntrack-pid",
    type=int,
    default=None,
    metavar="PID",
    help="Read the conntrack table of this process's network namespace.",
)
@click.option(
    "--conntrack-file",
    multiple=True,
    type=click.Path(dir_okay=False),
    metavar="FILE",
    help="Import a saved 'conntrack -L' or /proc/net/nf_conntrack dump (repeatable).",
)
@click.option(
    "--k8s",
    is_flag=True,
    help="Also list the cluster's objects from the Kubernetes API (docs/kubernetes.md); "
    "alone, only them (add --procnet etc. to also observe this host).",
)
@click.option(
    "--kubeconfig",
    default=None,
    metavar="PATH",
    help="kubeconfig for --k8s (default: $KUBECONFIG, then ~/.kube/config, then in-cluster).",
)
@click.option("--context", default=None, metavar="NAME", help="kubeconfig context for --k8s.")
@click.option(
    "--in-cluster", is_flag=True, help="Use the pod's service account for --k8s (in a pod)."
)
@click.option(
    "--service-account-dir",
    default=kubernetes.SERVICE_ACCOUNT_DIR,
    metavar="DIR",
    hidden=True,  # documented in docs/kubernetes.md: for a projected token mounted elsewhere
    help="Where the in-cluster mode reads token and ca.crt.",
)
@click.option(
    "--request-timeout",
    type=DURATION,
    default="30s",
    show_default=True,
    help="Timeout of each Kubernetes API request.",
)
@click.option(
    "--duration",
    type=DURATION,
    default="0s",
    show_default=True,
    help="Keep observing this long (30s, 5m, 1h); 0 is one shot.",
)
@click.option(
    "--interval",
    type=DURATION,
    default="5s",
    show_default=True,
    help="Time between polls during --duration.",
)
@click.option(
    "--host-name",
    default=None,
    metavar="NAME",
    help="Name to record for this host (default: the kernel's host name).",
)
@click.option(
    "-o",
    "--output",
    default="-",
    show_default=True,
    metavar="FILE",
    help="Write the snapshot to FILE (atomically; .gz compresses); '-' is stdout.",
)
@click.option("-q", "--quiet", is_flag=True, help="Do not print the per-collector summary.")
def collect_command(**options: Any) -> None:
    """Observe this host and write one Snapshot (docs/collectors.md).

    Every collector that cannot run here is recorded in the snapshot's coverage with the
    reason, and the others go on; the summary on stderr says what each saw and could not see.
    """
    if options["duration"] > 0 and options["interval"] <= 0:
        raise click.BadParameter("must be more than 0", param_hint="--interval")
    if options["capture"] and options["duration"] <= 0:
        raise click.UsageError("--capture needs a --duration (e.g. --duration 30s)")
    if options["conntrack_netns"] and options["conntrack_pid"] is not None:
        raise click.UsageError("give --conntrack-netns or --conntrack-pid, not both")
    # Host sources are on by default, but a run that names other sources (a capture, the
    # cluster API, a saved conntrack dump) collects only those unless a host flag says so.
    only_named = bool(
        options["pcap"] or options["capture"] or options["k8s"] or options["conntrack_file"]
    )
    for flag in ("procnet", "cgroup", "conntrack"):
        if options[flag] is None:
            options[flag] = not only_named
    collectors = [c for factory in FACTORIES for c in factory(options)]
    if not collectors:
        raise click.UsageError("no collector chosen; drop a --no-... flag")
    kinds: set[model.SourceKind] = {
        "cluster"
        if isinstance(c, kubernetes.KubernetesCollector)
        else "capture"
        if isinstance(c, _CAPTURE)
        else "host"
        for c in collectors
    }
    kinds_seen = set(kinds)
    source: model.SourceKind = kinds.pop() if len(kinds) == 1 else "mixed"
    name = options["host_name"] or host_identity.host_name()
    started = datetime.now(UTC)
    stop = threading.Event()
    with _stop_on_interrupt(stop):
        collected = base.run_collectors(
            collectors,
            host=name,
            started=started,
            duration=options["duration"],
            interval=options["interval"],
            stop=stop,
        )
    window = model.Window(start=started, end=max(datetime.now(UTC), started))
    if kinds_seen == {"cluster"} and not options["host_name"] and collected.cluster is not None:
        name = collected.cluster.name or name  # a cluster snapshot is observed by its context
    snapshot = collected.snapshot(
        snapshot_id=str(uuid.uuid4()), source=source, observer=name, window=window
    )
    data = snapshot_io.dumps_snapshot(snapshot)
    output = options["output"]
    if output == "-":
        sys.stdout.buffer.write(data)
        sys.stdout.flush()
    else:
        try:
            snapshot_io.write_snapshot_bytes(data, output)
        except OSError as exc:
            raise InputError(f"{output}: cannot write: {exc.strerror or exc}") from exc
    if not options["quiet"]:
        where = "stdout" if output == "-" else output
        click.echo(f"topomap collect: {name}: snapshot {snapshot.snapshot_id} -> {where}", err=True)
        click.echo(describe_runs(snapshot.collectors), err=True, nl=False)
