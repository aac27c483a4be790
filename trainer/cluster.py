"""A backbone whose frames are embedded on a Ray cluster.

Used when a cluster is named (--ray, $LOOKOUT_RAY_ADDRESS or [cluster] ray_address in
project.toml); otherwise backbones run on this computer. Each CPU of the cluster holds one
actor that loads the backbone once; every batch is split among the actors. The actors only
return features: this process alone writes the feature cache and the database (SQLite keeps
one writer). Ray restarts a killed actor and runs its share again, so nothing is lost, and
since every write is keyed by frame content and model version, nothing is written twice.
"""

from __future__ import annotations

import itertools
import os
import re
import socket
import threading

import numpy as np

from data.errors import LookoutError
from trainer.backbones import Backbone, load_backbone

FRAMES_PER_ACTOR = 8  # per batch: a few frames each between progress reports
BATCH_TIMEOUT_S = 600  # a batch takes seconds; this long means no node can run its share any more

_connected: dict[tuple, ClusterBackbone] = {}  # one set of actors per backbone and cluster, reused
_connecting = threading.Lock()


class BackboneActor:
    """One backbone on one cluster CPU (wrapped by ray.remote when a cluster is used)."""

    def __init__(self, name: str, options: dict):
        # Ray gives the actor one CPU: TensorFlow's own thread pool would fight its neighbours.
        os.environ.update(TF_NUM_INTRAOP_THREADS="1", TF_NUM_INTEROP_THREADS="1", OMP_NUM_THREADS="1")
        self.backbone = load_backbone(name, **options, workers=1)

    def describe(self) -> dict:
        backbone = self.backbone
        return {"identity": backbone.identity, "feature_shape": backbone.feature_shape, "host": socket.gethostname()}

    def embed(self, images: list[np.ndarray]) -> np.ndarray:
        return self.backbone.embed(images)


class ClusterBackbone(Backbone):
    def __init__(self, address: str, name: str, **options):
        """options: load_backbone's (vgg16_weights, configured, descriptor), given to every actor."""
        ray = _ray()
        try:
            _answers(address)  # Ray itself would wait minutes for a head that is not there
            ray.init(address=address, logging_level="ERROR", log_to_driver=False, configure_logging=False)
        except (ConnectionError, RuntimeError, ValueError, OSError) as exc:
            raise LookoutError(
                f"No Ray cluster answers at {address!r} ({exc}). Start one (`ray start --head`) or clear "
                "--ray, LOOKOUT_RAY_ADDRESS and [cluster] ray_address in project.toml to work on this computer."
            ) from None
        cpus = int(ray.cluster_resources().get("CPU", 0))
        if cpus < 1:
            raise LookoutError(f"The Ray cluster at {address!r} has no CPU to run a backbone on; add a node with `ray start`.")
        actor = ray.remote(num_cpus=1, max_restarts=-1, max_task_retries=-1)(BackboneActor)
        self.actors = [actor.options(scheduling_strategy="SPREAD").remote(name, options)
                       for _ in range(cpus)]
        try:
            described = ray.get([a.describe.remote() for a in self.actors])
        except ray.exceptions.RayError as exc:  # a node could not load the backbone, e.g. no weights file there
            raise LookoutError(f"A node of the Ray cluster at {address!r} could not load the {name} backbone: "
                               f"{_cause(exc)}") from None
        identities = {d["identity"]: d["host"] for d in described}
        if len(identities) > 1:
            raise LookoutError(
                f"Nodes of the Ray cluster at {address!r} compute different {name} features "
                f"({', '.join(f'{i} on {h}' for i, h in identities.items())}): install the same Lookout version "
                "and weights file on every node."
            )
        self.ray, self.address, self.name = ray, address, name
        self.identity = described[0]["identity"]
        self.feature_shape = tuple(described[0]["feature_shape"])
        self.batch_size = FRAMES_PER_ACTOR * len(self.actors)
        self._turn = itertools.count()  # next() on a count is atomic: threads share it safely
        self.lanes = len(self.actors)  # videos scored at once: one video's few frames would leave workers idle

    def embed(self, images: list[np.ndarray]) -> np.ndarray:
        # A few frames go to one actor (the next in turn, as several videos are scored at once):
        # a share of one frame costs a call and a batch of one.
        n_shares = min(len(self.actors), -(-len(images) // FRAMES_PER_ACTOR))
        shares = [share for share in np.array_split(np.arange(len(images)), n_shares) if len(share)] if images else []
        first = next(self._turn)
        actors = [self.actors[(first + i) % len(self.actors)] for i in range(len(shares))]
        pending = [actor.embed.remote([images[i] for i in share]) for actor, share in zip(actors, shares)]
        try:
            parts = self.ray.get(pending, timeout=BATCH_TIMEOUT_S)  # a killed actor's share runs again once restarted
        except self.ray.exceptions.RayError as exc:
            raise LookoutError(f"The Ray cluster at {self.address!r} did not embed a batch of {len(images)} frames "
                               f"({_cause(exc)}); check `ray status` there, or leave out --ray to work on this computer."
                               ) from None
        return np.concatenate(parts) if parts else np.zeros((0, *self.feature_shape), "float32")


def cluster_backbone(address: str, name: str, **options) -> ClusterBackbone:
    """The cluster's actors for this backbone, started once per process: each takes a CPU, so a second
    set would wait for CPUs the first still holds. options: load_backbone's."""
    key = (address, name, *sorted((k, str(v)) for k, v in options.items()))
    with _connecting:
        if key not in _connected:
            _connected[key] = ClusterBackbone(address, name, **options)
        return _connected[key]


def _answers(address: str, timeout_s: float = 5) -> None:
    """Raises OSError when nothing listens at a "host:port" address (others are left to Ray)."""
    match = re.fullmatch(r"([\w.-]+):(\d+)", address)
    if match:
        socket.create_connection((match[1], int(match[2])), timeout=timeout_s).close()


def _ray():
    try:
        import ray
    except ImportError:
        raise LookoutError("A Ray cluster is named (--ray, LOOKOUT_RAY_ADDRESS or [cluster] ray_address) but Ray is "
                           "not installed: pip install 'lookout[cluster]'.") from None
    return ray


def _cause(exc: Exception) -> str:
    cause = getattr(exc, "cause", None) or exc
    text = str(cause).strip().splitlines()[-1] if str(cause).strip() else type(cause).__name__
    return text.removeprefix(f"{LookoutError.__module__}.{LookoutError.__name__}: ")
