"""The docs stay true: every setting is documented, and every doc the README links to exists."""

from __future__ import annotations

import re
from pathlib import Path

from api.settings import ApiSettings
from worker.settings import ClientSettings, WorkerSettings

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_is_in_the_configuration_doc() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text()
    documented = set(re.findall(r"`(SDFLEET_[A-Z0-9_]+)`", text))
    fields = (
        set(WorkerSettings.model_fields) | set(ApiSettings.model_fields) | set(ClientSettings.model_fields)
    )
    expected = {f"SDFLEET_{name.upper()}" for name in fields}
    assert expected - documented == set(), "settings missing from docs/configuration.md"
    assert documented - expected == set(), "docs/configuration.md names settings that do not exist"


def test_readme_links_resolve() -> None:
    readme = (ROOT / "README.md").read_text()
    for target in re.findall(r"\]\(((?!http)[^)#]+)\)", readme):
        assert (ROOT / target).exists(), f"README links to missing {target}"


def test_readme_names_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "make demo" in readme and "make test" in readme
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^demo:", makefile, re.M) and re.search(r"^test:", makefile, re.M)
    assert "make test" in (ROOT / ".ci" / "run").read_text()
