"""Which idle GPU should load which checkpoint: the balancer's rule, as a pure function.

Workers consume the queues of the checkpoint their A1111 has loaded, so a checkpoint nobody serves gets
no work done until a worker is moved to it. `plan` decides those moves from the workers and the demand
(queued jobs and the oldest one's wait, per checkpoint), weighing them as SwarmUI does: pressure =
queued × `queued_weight_s` + oldest wait in seconds. docs/operations.md states the rule in prose:

1. A *spare* worker — idle, and no job queued for its own checkpoint — moves to a checkpoint that has
   queued jobs and no worker at all (the longest-idle spare goes; a load is the only cost of waking it).
2. A spare worker joins a checkpoint that already has workers only when that checkpoint's pressure per
   worker is at least `switch_cost_s`: the backlog it takes over is worth a load.
3. No starvation: a checkpoint with no worker whose oldest job has waited `max_wait_s` takes one even
   when none is spare — preferably from a checkpoint that keeps another worker, else from the one with
   the least pressure, an idle one before a busy one (a busy worker switches after its current job).
A worker is moved at most once per plan; workers still in their cooldown are not moved at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Worker:
    """A worker as the balancer sees it (online, healthy, not draining)."""

    name: str
    checkpoint: str | None  # whose queues it consumes
    serves: frozenset[str]  # where it may be moved
    busy: bool
    idle_since: float | None = None  # Unix time; None while busy
    movable: bool = True  # False during its cooldown after a move, or while it starts


@dataclass(frozen=True)
class Demand:
    queued: int
    oldest_wait_s: float


@dataclass(frozen=True)
class Rule:
    queued_weight_s: float = 10.0
    switch_cost_s: float = 30.0
    max_wait_s: float = 120.0


@dataclass(frozen=True)
class Move:
    worker: str
    source: str | None
    target: str
    reason: str  # "uncovered", "backlog" or "starving"


def pressure(demand: Demand, rule: Rule) -> float:
    return demand.queued * rule.queued_weight_s + demand.oldest_wait_s


def plan(workers: Sequence[Worker], demand: Mapping[str, Demand], now: float, rule: Rule) -> list[Move]:
    """The moves to make now, most urgent first. Pure: the caller applies them."""
    where = {w.name: w.checkpoint for w in workers}
    moved: set[str] = set()
    moves: list[Move] = []

    def queued(checkpoint: str | None) -> int:
        return demand[checkpoint].queued if checkpoint is not None and checkpoint in demand else 0

    def serving(checkpoint: str) -> int:
        return sum(1 for c in where.values() if c == checkpoint)

    def spares(target: str) -> list[Worker]:
        found = [
            w
            for w in workers
            if w.movable
            and not w.busy
            and w.name not in moved
            and target in w.serves
            and where[w.name] != target
            and queued(where[w.name]) == 0
        ]
        return sorted(found, key=lambda w: (w.idle_since if w.idle_since is not None else now, w.name))

    def donors(target: str) -> list[Worker]:
        found = [
            w
            for w in workers
            if w.movable and w.name not in moved and target in w.serves and where[w.name] != target
        ]

        def cost(w: Worker) -> tuple[bool, float, bool, str]:
            source = where[w.name]
            keeps_cover = source is None or serving(source) > 1
            known = source is not None and source in demand
            source_pressure = pressure(demand[source], rule) if source is not None and known else 0.0
            return (not keeps_cover, source_pressure, w.busy, w.name)

        return sorted(found, key=cost)

    def move(worker: Worker, target: str, reason: str) -> None:
        moves.append(Move(worker.name, where[worker.name], target, reason))
        where[worker.name] = target
        moved.add(worker.name)

    while True:
        wanted = [c for c, d in demand.items() if d.queued > 0]
        # Starving first, then uncovered before served, then by pressure per worker already on it.
        wanted.sort(
            key=lambda c: (
                not (serving(c) == 0 and demand[c].oldest_wait_s >= rule.max_wait_s),
                serving(c) > 0,
                -pressure(demand[c], rule) / max(1, serving(c)),
                c,
            )
        )
        for target in wanted:
            covered = serving(target)
            candidates = spares(target)
            if covered == 0 and candidates:
                move(candidates[0], target, "uncovered")
                break
            if covered > 0 and candidates and pressure(demand[target], rule) / covered >= rule.switch_cost_s:
                move(candidates[0], target, "backlog")
                break
            if covered == 0 and demand[target].oldest_wait_s >= rule.max_wait_s:
                taken = donors(target)
                if taken:
                    move(taken[0], target, "starving")
                    break
        else:
            return moves
