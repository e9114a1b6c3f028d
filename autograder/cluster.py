"""Where a batch is graded: Dask distributed, from this machine's cores to a SLURM or Kubernetes cluster.

``autograder grade --cluster`` chooses (:func:`choose`):

- ``local`` (the default): a Dask LocalCluster of ``--jobs`` worker processes on this machine, listening on
  127.0.0.1 only, with TLS and certificates made for this run (nobody else can send it work). A batch of one
  submission, or ``--jobs 1``, is graded in this process without starting one.
- ``inprocess``: one Dask worker thread in this process (debugging, tests).
- ``tls://host:port`` or ``--scheduler-file F``: a running cluster (``dask scheduler`` and ``dask worker``,
  dask-jobqueue on SLURM, the dask-kubernetes operator, dask-gateway). Its TLS certificates come from Dask's own
  configuration (``distributed.comm.tls.*``, e.g. ``DASK_DISTRIBUTED__COMM__TLS__CA_FILE``). A Dask scheduler runs
  whatever it is sent, so plain ``tcp://`` is accepted for a scheduler on this machine's loopback only.

The process that runs the command (the driver) is the only writer: each submission is one task
(:func:`autograder.cluster_task.grade_task`) whose result comes back as JSON and is written here, atomically, and
journalled by :mod:`autograder.batch`. The course reaches the workers as a content-hashed bundle
(:class:`~autograder.cluster_task.CourseBundle`). Task keys hash the student, the notebook, the bundle, the
runner and the grader, so a task Dask re-runs (its worker died) is the same task, and the first result recorded
wins. A submission whose workers kept dying (Dask's ``KilledWorker``) is an infrastructure failure: it is
reported, nothing is recorded for it, and the same command grades it again.

Routing: tasks that train a model for a runner profile whose ``resource`` is not ``CPU`` (the ``gpu`` profile:
``GPU``) ask for one unit of that resource, so only workers started with ``--resources GPU=1`` take them, and run
the grader in a fresh process (TensorFlow keeps GPU memory until its process ends). Every other task asks for
``CPU``, a resource the grading workers advertise (``dask worker --nthreads 1 --resources CPU=1``): a task with
no resource could land on a GPU worker too. One unit per worker means one grading job per worker process (a
worker that dies fails every task it was running).
"""

from __future__ import annotations

import contextlib
import hashlib
import ipaddress
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from autograder.config import Assignment, Course
from autograder.errors import ClusterError

LOCAL, INPROCESS = "local", "inprocess"
CPU = "CPU"
ALLOWED_FAILURES = 2  # a task whose worker died this many times more is KilledWorker (Dask's default is 3)
CONNECT_TIMEOUT_S = 30


@dataclass(frozen=True)
class ClusterChoice:
    """What ``--cluster`` / ``--scheduler-file`` asked for."""

    kind: str  # LOCAL, INPROCESS or "remote"
    address: str = ""
    scheduler_file: Path | None = None

    def describe(self) -> str:
        if self.kind == "remote":
            return f"the Dask cluster at {self.address}" + (f" ({self.scheduler_file})" if self.scheduler_file else "")
        return {LOCAL: "a local Dask cluster", INPROCESS: "an in-process Dask worker"}[self.kind]


def choose(cluster: str | None, scheduler_file: Path | None = None) -> ClusterChoice:
    """Check ``--cluster`` and ``--scheduler-file``; a :class:`ClusterError` says what is wrong."""
    if scheduler_file is not None:
        if cluster not in (None, LOCAL):
            raise ClusterError("Give --cluster ADDRESS or --scheduler-file FILE, not both.")
        try:
            address = json.loads(Path(scheduler_file).read_text(encoding="utf-8"))["address"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ClusterError(f"{scheduler_file}: not a Dask scheduler file ({type(exc).__name__}: {exc}); "
                               "`dask scheduler --scheduler-file FILE` writes one.") from None
        _check_address(str(address), f"the scheduler file {scheduler_file}")
        return ClusterChoice("remote", str(address), Path(scheduler_file))
    value = cluster or LOCAL
    if value in (LOCAL, INPROCESS):
        return ClusterChoice(value)
    _check_address(value, "--cluster")
    return ClusterChoice("remote", value)


def _check_address(address: str, where: str) -> None:
    parts = urlsplit(address)
    if parts.scheme not in ("tcp", "tls") or not parts.hostname or parts.port is None:
        raise ClusterError(f"{where}: {address!r} is not a cluster: use local, inprocess, tls://HOST:PORT (or "
                           "tcp://127.0.0.1:PORT for a scheduler on this machine), or --scheduler-file FILE.")
    if parts.scheme == "tcp" and not _is_loopback(parts.hostname):
        raise ClusterError(
            f"{where}: refusing {address}: a Dask scheduler runs whatever it is sent and tcp:// is neither encrypted "
            "nor authenticated. Start the scheduler and workers with TLS certificates and connect with tls:// "
            "(Dask reads the client's certificates from distributed.comm.tls.*, see the README), or use tcp:// on "
            "127.0.0.1 only.")


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def task_resources(course: Course, assignment: Assignment, runner: str) -> dict[str, float]:
    """The Dask resources one submission's task asks for (see the module's docstring)."""
    resource = course.runners[runner].resource
    if resource != CPU and runner in assignment.training:
        return {resource: 1}
    return {CPU: 1}


def task_key(assignment_id: str, student: str, notebook: bytes, bundle: str, runner: str, grader: str) -> str:
    """Everything that decides the task's result, hashed: a task Dask runs again has the same key."""
    h = hashlib.sha256()
    for part in (assignment_id, student, bundle, runner, grader):
        h.update(part.encode() + b"\0")
    h.update(hashlib.sha256(notebook).digest())
    return f"grade-{assignment_id}-{h.hexdigest()[:24]}"


@contextlib.contextmanager
def connect(choice: ClusterChoice, jobs: int, resources: dict[str, float]) -> Iterator[Any]:
    """A Dask ``Client`` for ``choice``, checked to have a worker that advertises ``resources``; closed (and a
    local cluster stopped, with its workers and their sandboxes) on the way out."""
    import dask
    from distributed import Client, LocalCluster

    # (the local cluster's workers get this configuration; a running cluster has its own, see the README)
    settings = {"distributed.scheduler.allowed-failures": ALLOWED_FAILURES,
                # a grader importing Keras in a task holds the GIL for seconds: not worth a warning each time
                "distributed.admin.tick.limit": "60s",
                # the statistical profiler samples every thread's stack each 10 ms: grading a submission took
                # ~20 % longer on 2 cores with it (benchmarks/cluster_vs_pool.py)
                "distributed.worker.profile.enabled": False,
                # fewer wake-ups of each process's event loop, which take the GIL from the grading thread: the
                # loop's health check (20 ms), the memory monitor (100 ms), the system monitor (500 ms)
                "distributed.admin.tick.interval": "500ms", "distributed.worker.memory.monitor-interval": "1s",
                "distributed.admin.system-monitor.interval": "2s", "distributed.admin.system-monitor.disk": False}
    with dask.config.set(settings), contextlib.ExitStack() as stack:
        advertised = {CPU: 1.0, **resources}
        if choice.kind in (LOCAL, INPROCESS):
            local = choice.kind == LOCAL
            # every listening socket on 127.0.0.1 (the scheduler's and the workers' HTTP servers too: they serve
            # health and metrics even without a dashboard); TLS between processes
            where = {"host": "127.0.0.1", "security": True} if local else {"protocol": "inproc://"}
            cluster = stack.enter_context(LocalCluster(
                n_workers=jobs if local else 1, threads_per_worker=1, processes=local, dashboard_address=None,
                worker_dashboard_address="127.0.0.1:0", resources=advertised, memory_limit=0,
                scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"}, **where))
            client = stack.enter_context(Client(cluster, set_as_default=False))
        else:
            try:
                client = stack.enter_context(Client(
                    choice.address, timeout=CONNECT_TIMEOUT_S, set_as_default=False))
            except (OSError, TimeoutError, ValueError, TypeError) as exc:
                raise ClusterError(f"Could not connect to {choice.describe()}: {type(exc).__name__}: {exc}. Is the "
                                   "scheduler running, and are this machine's TLS settings the cluster's?") from None
            _check_workers(client, resources)
        yield client


def _check_workers(client: Any, resources: dict[str, float]) -> None:
    try:
        client.wait_for_workers(1, timeout=CONNECT_TIMEOUT_S)
    except TimeoutError:
        raise ClusterError(f"The Dask cluster at {client.scheduler.address} has no worker after "
                           f"{CONNECT_TIMEOUT_S} s: start some (`dask worker ADDRESS --nthreads 1 "
                           "--resources CPU=1`).") from None
    workers = client.scheduler_info(n_workers=-1).get("workers", {})
    (name, amount), = resources.items()
    if not any(w.get("resources", {}).get(name, 0) >= amount for w in workers.values()):
        raise ClusterError(
            f"None of the {len(workers)} worker(s) of the Dask cluster at {client.scheduler.address} advertises the "
            f"resource {name}, which these submissions need: start the workers with `dask worker ADDRESS "
            f"--nthreads 1 --resources {name}=1` ({'GPU workers' if name != CPU else 'grading workers'}).")


def install_bundle(client: Any, data: bytes, grader: str) -> tuple[str, str]:
    """Send the course bundle to every worker (and to workers that join later); its digest and the name of
    this batch's plugin (for :func:`uninstall_bundle`)."""
    from autograder.cluster_task import CourseBundle

    plugin = CourseBundle(data, grader)
    try:
        client.register_plugin(plugin, name=plugin.name)
    except Exception as exc:  # noqa: BLE001 - whatever a worker raised while installing it
        uninstall_bundle(client, plugin.name)  # a worker (re)starting later must not choke on it
        raise ClusterError(f"The workers could not install the course: {type(exc).__name__}: {exc}") from None
    return plugin.digest, plugin.name


def uninstall_bundle(client: Any, name: str) -> None:
    """Forget a batch's bundle plugin on the cluster (the unpacked copies stay on the workers' disks)."""
    with contextlib.suppress(Exception):
        client.unregister_worker_plugin(name)
