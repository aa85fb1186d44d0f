"""The `sdfleet` command: run the local stack, a GPU worker, the API, migrations, keys and models."""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from worker.celery_app import configure, publish_job
from worker.cli.client_commands import add_client_commands
from worker.errors import ConfigurationError, SdfleetError
from worker.settings import CoreSettings, WorkerSettings, get_settings, get_worker_settings, install
from worker.stack.record import with_local_stack


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args, rest = parser.parse_known_args(argv)
    if rest and args.command != "models":
        parser.error(f"unrecognised arguments: {' '.join(rest)}")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "pgserver", "alembic.runtime.migration"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        result: int = args.run(args, rest)
        return result
    except SdfleetError as exc:
        print(f"sdfleet: {exc}", file=sys.stderr)
        return 2


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sdfleet", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    up = sub.add_parser("up", help="run the whole local stack in the foreground until Ctrl-C")
    demo = sub.add_parser("demo", help="run the stack, submit sample jobs, print a table, exit")
    for command in (up, demo):
        command.add_argument("--gpus", type=int, default=2, help="emulated GPUs (one worker and A1111 each)")
        command.add_argument("--time-scale", type=float, default=0.25, help="emulated GPU speed factor")
        command.add_argument("--api-port", type=int, default=8000)
        command.add_argument("--flower-port", type=int, default=5555)
        command.add_argument("--a1111-port", type=int, default=7861, help="first emulated A1111's port")
        command.add_argument("--metrics-port", type=int, default=9200, help="first worker's metrics port")
    up.set_defaults(run=_up)
    demo.set_defaults(run=_demo)

    worker = sub.add_parser(
        "worker",
        help="run a worker per GPU (--gpus, --emulate) and keep them running; without either, one worker "
        "configured by SDFLEET_* variables",
    )
    worker.add_argument("--loglevel", default="INFO")
    which = worker.add_mutually_exclusive_group()
    which.add_argument("--gpus", help="GPU indexes, e.g. 0,1,2,3, or 'all' (found with NVML)")
    which.add_argument("--emulate", type=int, metavar="N", help="run N A1111 stand-ins instead of GPUs")
    worker.add_argument(
        "--checkpoints", help="checkpoints the workers serve, comma-separated (default SDFLEET_CHECKPOINTS)"
    )
    worker.add_argument("--a1111-base-port", type=int, default=3000, help="GPU i's A1111 listens on base + i")
    worker.add_argument(
        "--metrics-base-port",
        type=int,
        default=9200,
        help="GPU i's worker serves /metrics on base + i (0: none)",
    )
    worker.add_argument(
        "--host-name", help="the host part of node names (default SDFLEET_HOST_NAME, hostname)"
    )
    worker.set_defaults(run=_worker)

    api = sub.add_parser("api", help="run the producer API")
    api.set_defaults(run=_api)

    migrate = sub.add_parser("migrate", help="upgrade the Postgres schema to the latest revision")
    migrate.set_defaults(run=_migrate)

    sweeper = sub.add_parser("sweeper", help="re-publish lost jobs and recover expired leases, forever")
    sweeper.add_argument("--interval-s", type=float, default=15.0)
    sweeper.add_argument(
        "--grace-s", type=float, default=None, help="default: SDFLEET_SWEEPER_GRACE_S (20 s)"
    )
    sweeper.add_argument(
        "--no-balancer", action="store_true", help="do not run the fleet's balancer in this process"
    )
    sweeper.set_defaults(run=_sweeper)

    dispatcher = sub.add_parser(
        "dispatcher", help="send webhooks of finished jobs (signed, retried), forever"
    )
    dispatcher.set_defaults(run=_dispatcher)

    balancer = sub.add_parser("balancer", help="move idle workers to checkpoints with demand, forever")
    balancer.set_defaults(run=_balancer)

    workers = sub.add_parser("workers", help="show every worker of the fleet: state, model, job, GPU")
    workers.add_argument("--json", action="store_true", help="print JSON (as GET /v1/workers does)")
    workers.set_defaults(run=_workers)

    keys = sub.add_parser("keys", help="manage API keys (only their SHA-256 is stored)")
    keys.add_argument(
        "action",
        choices=["create", "list", "revoke", "webhook-secret"],
        help="webhook-secret: give the key a new secret for signing its webhooks, and show it",
    )
    keys.add_argument("name", nargs="?")
    keys.add_argument("--callback-url", default=None, help="default callback URL of the key's jobs")
    keys.set_defaults(run=_keys)

    add_client_commands(sub)

    models = sub.add_parser("models", help="scan, list or validate the model volume", add_help=False)
    models.set_defaults(run=_models)
    return parser


def _core() -> CoreSettings:
    """This process's settings, with the URLs the environment does not give taken from the running
    local stack (`sdfleet up`), if any."""
    settings = with_local_stack(get_settings())
    install(settings)
    return settings


def _stack_config(args: argparse.Namespace) -> object:
    from worker.stack.stack import StackConfig

    if args.gpus < 1:
        raise ConfigurationError("--gpus N needs N ≥ 1")
    return StackConfig(
        settings=get_settings(),
        gpus=args.gpus,
        a1111_base_port=args.a1111_port,
        metrics_base_port=args.metrics_port,
        api_port=args.api_port,
        flower_port=args.flower_port,
        time_scale=args.time_scale,
    )


def _adopt(stack: object) -> None:
    """Make this process use the stack's services too (for `txt2img.delay` and control pings)."""
    from worker.stack.stack import LocalStack

    assert isinstance(stack, LocalStack)
    settings = get_settings().model_copy(
        update={"redis_url": stack.redis_url, "database_url": stack.database_url}
    )
    install(settings)
    configure(settings)


def _up(args: argparse.Namespace, _: list[str]) -> int:
    from worker.fleet.keeper import Keeper
    from worker.stack.stack import LocalStack, StackConfig

    config = _stack_config(args)
    assert isinstance(config, StackConfig)
    stopping = threading.Event()

    def _stop(signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    with LocalStack(config) as stack:
        _adopt(stack)
        stack.wait_ready()
        print(
            f"sdfleet is up: API {stack.api_url}/docs, Flower {stack.flower_url} "
            f"(credentials in {stack.state_dir / 'flower-credentials'}); Ctrl-C stops it\n"
            f"Create an API key from another terminal in this directory: sdfleet keys create my-app\n"
            f'then: SDFLEET_API_KEY=<the key> sdfleet submit "a lighthouse" --wait',
            flush=True,
        )
        keeper = Keeper(stack.processes)  # a child that dies is started again; the rest keeps serving
        while not stopping.wait(0.5):
            keeper.check()
    return 0


def _demo(args: argparse.Namespace, _: list[str]) -> int:
    from worker.stack.demo import run_demo
    from worker.stack.stack import LocalStack, StackConfig

    config = _stack_config(args)
    assert isinstance(config, StackConfig)
    with LocalStack(config) as stack:
        _adopt(stack)
        stack.wait_ready()
        return run_demo(stack)


def _worker(args: argparse.Namespace, _: list[str]) -> int:
    from worker.celery_app import check_visibility_timeout
    from worker.cli.commands import worker_command

    settings = get_worker_settings()
    check_visibility_timeout(settings)
    if args.gpus is not None or args.emulate is not None:
        return _launcher(args, settings)
    command = worker_command(
        settings.worker_name, settings.checkpoints, host=settings.host_name, loglevel=args.loglevel
    )
    os.execv(command[0], command)


def _launcher(args: argparse.Namespace, settings: WorkerSettings) -> int:
    from worker.events.stream import JobEvents
    from worker.fleet.launcher import Launcher, run_launcher
    from worker.fleet.slots import parse_gpus, plan_slots
    from worker.recovery.sweeper import recover_worker
    from worker.store.engine import make_engine
    from worker.store.jobs import JobStore

    if args.host_name:
        settings = settings.model_copy(update={"host_name": args.host_name})
        install(settings)
    if args.emulate is not None and args.emulate < 1:
        raise ConfigurationError("--emulate N needs N ≥ 1")
    indexes = list(range(args.emulate)) if args.emulate is not None else parse_gpus(args.gpus)
    checkpoints = [c.strip() for c in args.checkpoints.split(",") if c.strip()] if args.checkpoints else None
    slots = plan_slots(
        indexes,
        checkpoints or list(settings.checkpoints),
        a1111_base_port=args.a1111_base_port,
        metrics_base_port=args.metrics_base_port or None,
    )
    store = JobStore(make_engine(settings.database_url, pool_size=1))
    events = JobEvents.from_url(settings.redis_url or "", finished_ttl_s=settings.events_ttl_s)
    configure(settings)
    launcher = Launcher(
        settings,
        slots,
        emulate=args.emulate is not None,
        loglevel=args.loglevel,
        recover=lambda node: recover_worker(store, node, publish_job, events),
    )
    return run_launcher(launcher)


def _api(args: argparse.Namespace, _: list[str]) -> int:
    """The API runs as its own program (`python -m api`), exec'd as the worker is."""
    from worker.cli.commands import api_command

    command = api_command()
    os.execv(command[0], command)


def _migrate(args: argparse.Namespace, _: list[str]) -> int:
    from worker.store.engine import sqlalchemy_url
    from worker.store.migrate import upgrade_head

    upgrade_head(sqlalchemy_url(_core().database_url))
    return 0


def _sweeper(args: argparse.Namespace, _: list[str]) -> int:
    from worker.recovery.sweeper import run_forever

    run_forever(_core(), interval_s=args.interval_s, grace_s=args.grace_s, balance=not args.no_balancer)
    return 0


def _dispatcher(args: argparse.Namespace, _: list[str]) -> int:
    from worker.webhooks.dispatcher import build_dispatcher

    settings = _core()
    dispatcher = build_dispatcher(settings)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    try:
        dispatcher.run_forever(poll_s=settings.webhook_poll_s, stop=stopping.is_set)
    finally:
        dispatcher.close()
    return 0


def _balancer(args: argparse.Namespace, _: list[str]) -> int:
    import time

    from worker.fleet.balancing import build_balancer
    from worker.store.engine import make_engine
    from worker.store.jobs import JobStore

    settings = _core()
    store = JobStore(make_engine(settings.database_url, pool_size=1))
    balancer = build_balancer(settings, store)
    while True:
        try:
            balancer.tick()
        except Exception:  # outlive a Redis or Postgres outage: log and look again
            logging.getLogger("sdfleet.balancer").exception("balancing failed; trying again")
        time.sleep(settings.balancer_interval_s)


def _workers(args: argparse.Namespace, _: list[str]) -> int:
    from worker.fleet.table import print_fleet

    return print_fleet(_core(), as_json=args.json)


def _keys(args: argparse.Namespace, _: list[str]) -> int:
    from worker.store.api_keys import ApiKeys
    from worker.store.engine import make_engine, make_session_factory
    from worker.webhooks.guard import CallbackGuard

    keys = ApiKeys(make_session_factory(make_engine(_core().database_url)))
    if args.action == "list":
        for name, prefix, revoked in keys.list():
            print(f"{name:32} {prefix}…  {'revoked' if revoked else 'active'}")
        return 0
    if not args.name:
        print("sdfleet keys create|revoke|webhook-secret NAME", file=sys.stderr)
        return 2
    if args.action == "create":
        if args.callback_url:
            CallbackGuard.from_settings(
                get_settings().webhook_allowed_networks, get_settings().webhook_allowed_hosts
            ).check(args.callback_url, field="--callback-url")
        key = keys.create(args.name, callback_url=args.callback_url)
        print(key)
        print(f"webhook secret (signs this key's webhooks; shown once): {keys.webhook_secret(args.name)}",
              file=sys.stderr)  # fmt: skip
        return 0
    if args.action == "webhook-secret":
        secret = keys.rotate_webhook_secret(args.name)
        if secret is None:
            print(f"sdfleet: no API key named {args.name!r}", file=sys.stderr)
            return 1
        print(secret)
        return 0
    return 0 if keys.revoke(args.name) else 1


def _models(args: argparse.Namespace, rest: list[str]) -> int:
    from worker.registry.cli import main as models_main

    return models_main(
        [*rest, "--volume", str(get_settings().models_dir)] if "--volume" not in rest else rest
    )


if __name__ == "__main__":
    sys.exit(main())
