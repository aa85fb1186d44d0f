"""docs/troubleshooting.md stays true: every quote in backticks is something the code really says or has
(a message, a log line, a category, a setting, a command, a route, a metric, a file), and every common
problem of the spec has its section."""

from __future__ import annotations

import re
import shlex
import uuid
from functools import cache
from pathlib import Path

import pytest

from api.app import create_app
from api.settings import ApiSettings
from worker.cli.main import _parser
from worker.settings import WorkerSettings

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "troubleshooting.md"
SOURCE_ROOMS = ("api", "worker", "emulator")
HTTP_METHODS = ("GET", "POST", "PUT", "DELETE")
SECTIONS = [
    "CUDA out of memory",
    "Model loading failures",
    "Generation timeouts",
    "Poor prompts and poor quality",
    "Memory profiling",
    "Generation logging",
    "Parameter tuning",
    "Model validation",
]
PLACEHOLDER = "…"
WINDOW = 400  # the fragments of one quote must all sit within this many characters of the source


def quotes(text: str) -> list[str]:
    """The inline code spans of a Markdown text (fenced blocks left out)."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    spans = re.findall(r"`([^`]+)`", text)
    return [" ".join(span.split()) for span in spans if span.strip()]  # a span may wrap across lines


@cache
def source() -> str:
    """The code of the product, with Python's implicit string concatenation across lines undone, so a
    message split over two source lines reads as one."""
    parts = []
    for room in SOURCE_ROOMS:
        for path in sorted((ROOT / room).rglob("*.py")):
            parts.append(path.read_text())
    joined = "\n".join(parts)
    return re.sub(r"\"\s*\n\s*(?:f|rf|fr)?\"", "", joined)


def found_in_source(quote: str) -> bool:
    """Every fragment of `quote` between placeholders is in the code, in order, close together."""
    fragments = [f.strip() for f in quote.split(PLACEHOLDER) if f.strip()]
    code = source()
    start = code.find(fragments[0])
    while start != -1:
        at, ok = start + len(fragments[0]), True
        for fragment in fragments[1:]:
            found = code.find(fragment, at, start + WINDOW)
            if found == -1:
                ok = False
                break
            at = found + len(fragment)
        if ok:
            return True
        start = code.find(fragments[0], start + 1)
    return False


@cache
def route_templates() -> set[tuple[str, str]]:
    app = create_app(ApiSettings())
    return {(method, route.path) for route in app.routes for method in getattr(route, "methods", ()) or ()}


def problem(quote: str) -> str | None:
    """Why `quote` is not true of the code, or None."""
    settings = set(WorkerSettings.model_fields) | set(ApiSettings.model_fields)
    if quote == PLACEHOLDER:
        return None
    if re.fullmatch(r"SDFLEET_[A-Z0-9_]+", quote):
        return None if quote.removeprefix("SDFLEET_").lower() in settings else "no such setting"
    if quote.startswith("sdfleet "):
        argv = [str(uuid.uuid4()) if w == "<id>" else "x.safetensors" if w == "<path>" else w
                for w in shlex.split(quote)[1:]]  # fmt: skip
        try:
            args, rest = _parser().parse_known_args(argv)
        except SystemExit:
            return "the sdfleet command refuses these arguments"
        if args.command == "models":
            return None if rest[:1] in (["scan"], ["list"], ["validate"]) else "no such models action"
        return f"unrecognised arguments {rest}" if rest else None
    method, _, path = quote.partition(" ")
    if method in HTTP_METHODS and path.startswith("/"):
        if (method, path) in route_templates() or found_in_source(f'"{path}"'):
            return None
        return "no such route"
    if "/" in quote and (ROOT / quote).exists():
        return None
    return None if found_in_source(quote) else "not found in the code"


def test_every_quote_is_true_of_the_code() -> None:
    wrong = {quote: why for quote in quotes(DOC.read_text()) if (why := problem(quote)) is not None}
    assert wrong == {}


def test_every_metric_named_anywhere_on_the_page_is_exported() -> None:
    for name in set(re.findall(r"\bsdfleet_[a-z_]+\b", DOC.read_text())):
        assert f'"{name}"' in source(), name


@pytest.mark.parametrize("section", SECTIONS)
def test_every_common_problem_has_its_section(section: str) -> None:
    assert re.search(rf"^## {re.escape(section)}$", DOC.read_text(), re.M)


# (quote, whether the check accepts it): the checks themselves can fail
CHECKS = [
    ("generation exceeded its deadline of … s; A1111 was interrupted", True),
    ("generation exceeded its deadline of … s; A1111 was restarted", False),
    ("restart loop: … The worker is unhealthy until an operator resets it.", True),
    ("SDFLEET_QUALITY_FLOOR", True),
    ("SDFLEET_QUALITY_CEILING", False),
    ("sdfleet jobs show <id> --timeline", True),
    ("sdfleet jobs show <id> --timelines", False),
    ("GET /v1/stats/quality", True),
    ("GET /v1/stats/qualities", False),
    ("worker/policy/deadlines.py", True),
    ("a message nobody wrote", False),
]


@pytest.mark.parametrize(("quote", "accepted"), CHECKS)
def test_the_checks_can_fail(quote: str, accepted: bool) -> None:
    assert (problem(quote) is None) is accepted
