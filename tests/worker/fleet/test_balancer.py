"""The balancer's rule, as a table: workers and demand in, moves out."""

from __future__ import annotations

import pytest

from worker.fleet.balancer import Demand, Move, Rule, Worker, plan

NOW = 1000.0
RULE = Rule(queued_weight_s=10.0, switch_cost_s=30.0, max_wait_s=120.0)
AB = frozenset({"a", "b"})
ABC = frozenset({"a", "b", "c"})


def idle(name: str, on: str | None, since: float = 900.0, serves: frozenset[str] = AB, **kw: bool) -> Worker:
    return Worker(name, on, serves, busy=False, idle_since=since, **kw)


def busy(name: str, on: str | None, serves: frozenset[str] = AB, **kw: bool) -> Worker:
    return Worker(name, on, serves, busy=True, **kw)


CASES = [
    ("nothing queued: nobody moves", [idle("g0", "a"), idle("g1", "b")], {}, []),
    (
        "an idle spare goes to a checkpoint nobody serves",
        [idle("g0", "a"), busy("g1", "a")],
        {"b": Demand(1, 0.5)},
        [Move("g0", "a", "b", "uncovered")],
    ),
    (
        "the longest-idle spare goes",
        [idle("g0", "a", since=950), idle("g1", "a", since=800)],
        {"b": Demand(1, 0.5)},
        [Move("g1", "a", "b", "uncovered")],
    ),
    (
        "a worker whose own checkpoint has queued jobs is not spare",
        [idle("g0", "a")],
        {"a": Demand(3, 5.0), "b": Demand(1, 5.0)},
        [],
    ),
    (
        "a worker that cannot serve the checkpoint is not moved there",
        [idle("g0", "a", serves=frozenset({"a"}))],
        {"b": Demand(5, 50.0)},
        [],
    ),
    (
        "a worker in its cooldown is not moved",
        [idle("g0", "a", movable=False)],
        {"b": Demand(5, 50.0)},
        [],
    ),
    (
        "uncovered but every worker busy with demand of its own: wait, below the bound",
        [busy("g0", "a"), busy("g1", "a")],
        {"a": Demand(10, 60.0), "b": Demand(1, 119.0)},
        [],
    ),
    (
        "uncovered past the bound: a worker is taken, from a checkpoint that keeps another",
        [busy("g0", "a"), busy("g1", "b"), busy("g2", "b")],
        {"a": Demand(10, 60.0), "b": Demand(10, 60.0), "c": Demand(1, 121.0)},
        [],  # none of them serves c
    ),
    (
        "starving: the donor keeps its old checkpoint covered",
        [busy("g0", "a", serves=ABC), busy("g1", "b", serves=ABC), busy("g2", "b", serves=ABC)],
        {"a": Demand(10, 60.0), "b": Demand(10, 60.0), "c": Demand(1, 121.0)},
        [Move("g1", "b", "c", "starving")],
    ),
    (
        "starving with one GPU: it is taken although its checkpoint has more pressure",
        [busy("g0", "a")],
        {"a": Demand(30, 100.0), "b": Demand(1, 125.0)},
        [Move("g0", "a", "b", "starving")],
    ),
    (
        "starving, no donor keeps cover: the least pressed checkpoint gives, idle before busy",
        [busy("g0", "a", serves=ABC), idle("g1", "b", serves=ABC)],
        {"a": Demand(10, 60.0), "b": Demand(1, 1.0), "c": Demand(1, 130.0)},
        [Move("g1", "b", "c", "starving")],
    ),
    (
        "a backlog worth a load draws a spare to a served checkpoint (2 GPUs, a and b)",
        [idle("g0", "a"), busy("g1", "b")],
        {"b": Demand(8, 10.0)},
        [Move("g0", "a", "b", "backlog")],
    ),
    (
        "a backlog not worth a load does not",
        [idle("g0", "a"), busy("g1", "b")],
        {"b": Demand(2, 5.0)},
        [],
    ),
    (
        "two uncovered checkpoints, two spares: each gets one, the more pressed first",
        [idle("g0", "a", serves=ABC, since=800), idle("g1", "a", serves=ABC, since=850)],
        {"b": Demand(1, 2.0), "c": Demand(4, 2.0)},
        [Move("g0", "a", "c", "uncovered"), Move("g1", "a", "b", "uncovered")],
    ),
    (
        "a spare joins the more pressed of two served checkpoints, once",
        [idle("g0", "c", serves=ABC), busy("g1", "a", serves=ABC), busy("g2", "b", serves=ABC)],
        {"a": Demand(4, 10.0), "b": Demand(9, 10.0)},
        [Move("g0", "c", "b", "backlog")],
    ),
    (
        "a worker consuming nothing yet is spare",
        [idle("g0", None)],
        {"a": Demand(1, 0.0)},
        [Move("g0", None, "a", "uncovered")],
    ),
]


@pytest.mark.parametrize(("workers", "demand", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_plan(workers: list[Worker], demand: dict[str, Demand], expected: list[Move]) -> None:
    assert plan(workers, demand, NOW, RULE) == expected


def test_one_gpu_alternates_between_two_backlogs_no_faster_than_the_bound() -> None:
    # Given one GPU on a with a long backlog, and b waiting: it stays until b's wait reaches the bound
    gpu = busy("g0", "a")
    assert plan([gpu], {"a": Demand(30, 10.0), "b": Demand(30, 119.9)}, NOW, RULE) == []
    (taken,) = plan([gpu], {"a": Demand(29, 10.0), "b": Demand(30, 120.0)}, NOW, RULE)
    assert taken == Move("g0", "a", "b", "starving")
