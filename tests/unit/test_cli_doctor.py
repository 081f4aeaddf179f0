"""`ramparts doctor`, `ramparts uninstall` and `ramparts policy show --effective`, on real files, the real
hook command and (when installed) the real claude CLI."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from ramparts.cli import main
from ramparts.testing import ClaudeBinaryNotFoundError, find_claude_bin


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for var in ("RAMPARTS_POLICY", "RAMPARTS_AUDIT_URL", "RAMPARTS_STATE_DIR"):
        monkeypatch.delenv(var, raising=False)
    return tmp_path / "root"


def _install(root: Path, state: Path, *extra: str) -> int:
    return main(
        [
            "install",
            "--scope",
            "user",
            "--root",
            str(root),
            "--policy",
            "profile:baseline",
            "--state-dir",
            str(state),
            *extra,
        ]
    )


def _doctor(
    root: Path, capsys: pytest.CaptureFixture[str], claude: str
) -> tuple[int, dict[str, dict[str, object]]]:
    capsys.readouterr()
    code = main(["doctor", "--root", str(root), "--scope", "user", "--json", "--claude-bin", claude])
    data = json.loads(capsys.readouterr()[0])
    assert data["ok"] is (code == 0)
    return code, {c["name"]: c for c in data["checks"]}


def test_doctor_passes_on_a_fresh_install_and_names_each_problem(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        claude = str(find_claude_bin())
    except ClaudeBinaryNotFoundError:
        pytest.skip("the pinned claude CLI is not installed")
    code, checks = _doctor(root, capsys, claude)
    assert code == 1 and checks["installed"]["ok"] is False
    state = tmp_path / "state"
    assert _install(root, state) == 0
    code, checks = _doctor(root, capsys, claude)
    assert code == 0, checks
    assert checks["user hook answers"]["ok"] and "allow" in str(checks["user hook answers"]["detail"])
    assert checks["audit log"]["ok"] and checks["claude version"]["ok"]
    assert checks["injection model"]["ok"] is None  # the baseline names none: the built-in scorer
    # the probe's session was ended through the hook: it holds no concurrency slot
    from ramparts.session.store import SessionStore

    with SessionStore(state / "sessions.db") as sessions:
        assert [s.id for s in sessions.list()] == []
    # break it: a hook that cannot answer, no onFailure: block, an old Claude Code required, a dead gateway
    path = root / ".claude" / "settings.json"
    settings = json.loads(path.read_text())
    handler = settings["hooks"]["PreToolUse"][0]["hooks"][0]
    handler["command"] = handler["command"].replace("--deadline-ms 4000", "--deadline-ms 5")
    del handler["onFailure"]
    settings["requiredMinimumVersion"] = "9.0.0"
    settings["env"]["ANTHROPIC_BASE_URL"] = "http://127.0.0.1:9"
    path.write_text(json.dumps(settings))
    code, checks = _doctor(root, capsys, claude)
    assert code == 1
    assert checks["user settings"]["ok"] is False and "changed since install" in str(
        checks["user settings"]["detail"]
    )
    assert checks["user hooks"]["ok"] is False and "onFailure" in str(checks["user hooks"]["detail"])
    assert checks["user hook answers"]["ok"] is False and "exit 2" in str(
        checks["user hook answers"]["detail"]
    )
    assert checks["gateway"]["ok"] is False and "does not accept connections" in str(
        checks["gateway"]["detail"]
    )
    assert checks["claude version"]["ok"] is False and "below requiredMinimumVersion 9.0.0" in str(
        checks["claude version"]["detail"]
    )


def test_uninstall_removes_exactly_what_install_wrote(
    root: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = tmp_path / "state"
    folder = root / ".claude"
    folder.mkdir(parents=True)
    (folder / "settings.json").write_text('{"theme": "dark"}\n')
    (folder / "other.json").write_text("{}")
    assert _install(root, state) == 1  # someone else's file: refused
    assert _install(root, state, "--force") == 0  # replaced, theirs kept aside
    (state / "audit.db").parent.mkdir(parents=True, exist_ok=True)
    (state / "audit.db").write_bytes(b"kept")
    assert main(["uninstall", "--scope", "user", "--root", str(root)]) == 0
    assert "put back the file it had replaced" in capsys.readouterr()[0]
    assert (folder / "settings.json").read_text() == '{"theme": "dark"}\n'
    assert sorted(os.listdir(folder)) == ["other.json", "settings.json"]  # no sidecar, no backup left
    assert (state / "audit.db").read_bytes() == b"kept"
    assert main(["uninstall", "--scope", "user", "--root", str(root)]) == 0
    assert "nothing to remove" in capsys.readouterr()[0]
    # a file changed since install is refused, unless --force
    (folder / "settings.json").unlink()
    assert _install(root, state) == 0
    with open(folder / "settings.json", "a") as handle:
        handle.write(" ")
    assert main(["uninstall", "--scope", "user", "--root", str(root)]) == 1
    assert "changed since Ramparts wrote it" in capsys.readouterr()[1]
    assert main(["uninstall", "--scope", "user", "--root", str(root), "--force"]) == 0
    assert os.listdir(folder) == ["other.json"]


def test_policy_show_effective_merges_the_chain(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "p.yaml"
    path.write_text(
        "version: 1\nextends: strict\npermissions:\n  deny:\n    - Bash(terraform destroy *)\n"
        "session:\n  max_concurrent: 3\n"
    )
    assert main(["policy", "show", "--effective", str(path)]) == 0
    out = capsys.readouterr()[0]
    assert out.startswith(f"# the effective policy of {path}")
    doc = yaml.safe_load(out)
    assert doc["extends"] == ["profile:baseline", "profile:strict"]
    assert "Bash(terraform destroy *)" in doc["permissions"]["deny"]  # this file's
    assert "Bash(sudo *)" in doc["permissions"]["deny"]  # the baseline's, through strict
    assert doc["session"]["max_concurrent"] == 3 and doc["session"]["idle_timeout_minutes"] > 0


def test_doctor_checks_the_injection_model_the_policy_names(tmp_path: Path) -> None:
    """Present, the pinned digest, loadable and on the contract, as the hook would load it; none named is
    not a problem; each failure names its reason (the hook would fail closed on every text)."""
    pytest.importorskip("onnxruntime")
    from ramparts.cli.doctor import _injection_model
    from ramparts.testing import onnx_models

    model = tmp_path / "tiny.onnx"
    digest = onnx_models.bag_of_words(model, {"zanzibarquux": 6.0})

    def policy(name: str, path: str, sha256: str) -> str:
        file = tmp_path / f"{name}.yaml"
        file.write_text(
            "version: 1\nextends: baseline\ndetect:\n  injection:\n"
            f"    model: {{path: {path}, sha256: {sha256}}}\n"
        )
        return str(file)

    plain = tmp_path / "plain.yaml"
    plain.write_text("version: 1\nextends: baseline\n")
    assert _injection_model(str(plain)).ok is None
    good = _injection_model(policy("good", str(model), digest))
    assert good.ok is True and str(model) in good.detail and digest[:16] in good.detail
    wrong = _injection_model(policy("wrong", str(model), "f" * 64))
    assert wrong.ok is False and "not the pinned" in wrong.detail
    missing = _injection_model(policy("missing", str(tmp_path / "gone.onnx"), digest))
    assert missing.ok is False and "cannot be read" in missing.detail
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    import hashlib

    broken = _injection_model(policy("junk", str(junk), hashlib.sha256(b"not a model").hexdigest()))
    assert broken.ok is False and "not a model onnxruntime can run" in broken.detail
    unreadable = _injection_model(str(tmp_path / "no-such-policy.yaml"))
    assert unreadable.ok is False and "cannot be loaded" in unreadable.detail
