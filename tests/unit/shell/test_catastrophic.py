"""Catastrophic commands are a deny in every profile, whatever the allow rules say (issue 13)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ramparts.engine import decide
from ramparts.model import Event, SessionState
from ramparts.policy.load import load_policy
from ramparts.shell.catastrophic import catastrophic, fork_bomb, resolve
from tests.conftest import policy_from

PERMISSIVE = policy_from("version: 1\npermissions:\n  default: allow\n  allow: [Bash]\n")


def decide_with(policy: object, command: str, cwd: str = "/work/p", home: str = "/home/u") -> tuple[str, ...]:
    from ramparts.agents.claude_code.normalize import tool_call

    call = tool_call("Bash", {"command": command}, cwd=cwd, home=home)
    event = Event(kind="pre_tool_use", session_id="s", cwd=cwd, home=home, tool=call)
    decision = decide(policy, event, SessionState("s"))  # type: ignore[arg-type]
    assert decision.verdict == "deny", (command, decision)
    return decision.rule_ids


@pytest.mark.parametrize(
    ("command", "rule"),
    [
        ("rm -rf /", "wipe"),
        ("rm -fr ~", "wipe"),
        ("rm -r -f ~/", "wipe"),
        ("rm --recursive --force /*", "wipe"),
        ("rm --recur -f /", "wipe"),
        ("rm -rf --no-preserve-root /", "wipe"),
        ("rm -rf $HOME", "wipe"),
        ('rm -rf "$HOME/"', "wipe"),
        ("rm -rf ~/.", "wipe"),
        ("rm -Rf ../../..", "wipe"),
        ("sudo rm -rf /usr", "wipe"),
        ("bash -c 'rm -rf ~'", "wipe"),
        ("echo ok # \\\nrm -rf ~", "wipe"),
        ("rm -rf -- /", "wipe"),
        ("find ~ -delete", "wipe"),
        ("find / -exec rm -rf {} +", "wipe"),
        ("dd if=/dev/zero of=/dev/sda bs=1M", "block_device"),
        ("cat img > /dev/nvme0n1", "block_device"),
        ("cp disk.img /dev/disk2", "block_device"),
        ("tee /dev/mmcblk0p1 < x", "block_device"),
        ("shred /dev/sdb", "block_device"),
        ("mkfs.ext4 /dev/sdb1", "mkfs"),
        ("mkfs -t xfs /dev/vdb", "mkfs"),
        ("mkswap /dev/sdc", "mkfs"),
        ("wipefs -a /dev/sdb", "mkfs"),
        ("blkdiscard /dev/nvme1n1", "mkfs"),
        ("diskutil eraseDisk APFS X disk2", "mkfs"),
        ("chmod -R 777 /", "recursive_permissions"),
        ("chown -R me:me /", "recursive_permissions"),
        ("chown --recursive me ~", "recursive_permissions"),
        ("chgrp -hR staff /etc", "recursive_permissions"),
        ("kill -9 -1", "kill_all"),
        ("kill -KILL -1", "kill_all"),
        ("kill -s KILL -1", "kill_all"),
        ("kill -- -1", "kill_all"),
        ("kill -1", ""),  # SIGHUP and no process: an error, not a catastrophe
        ("killall5 -9", "kill_all"),
        (":(){ :|:& };:", "fork_bomb"),
        ("bomb() { bomb | bomb & }; bomb", "fork_bomb"),
        ("function f { f & f & }; f", "fork_bomb"),
    ],
)
def test_each_class_is_denied_even_where_everything_is_allowed(command: str, rule: str) -> None:
    rule_ids = decide_with(PERMISSIVE, command) if rule else ()
    if rule:
        assert f"shell.catastrophic.{rule}" in rule_ids
    else:
        assert not catastrophic([("kill", "-1")], [], command, "/", "/home/u")


@pytest.mark.parametrize("profile", ["baseline", "readonly", "strict"])
def test_every_profile_denies_them(profile: str) -> None:
    policy = load_policy(f"profile:{profile}")
    assert "shell.catastrophic.wipe" in decide_with(policy, "rm -rf ~")
    assert "shell.catastrophic.kill_all" in decide_with(policy, "kill -9 -1")


def test_rm_star_in_the_home_folder_wipes_it() -> None:
    assert "shell.catastrophic.wipe" in decide_with(PERMISSIVE, "rm -rf *", cwd="/home/u")


@pytest.mark.parametrize(
    "command",
    [
        "rm -rf build",
        "rm -rf ./*",
        "rm -rf ~/project/build",
        "rm -f /etc/hosts.bak",  # not recursive
        "chmod -R 755 src",
        "chmod 755 /",
        "kill -9 1234",
        "kill -l",
        "find . -delete",
        "dd if=/dev/sda of=disk.img",  # reads the disk, writes a file
        "cat /dev/sda | head -c 512",
        "echo > /dev/null",
        "f() { echo f; }; f",
        "fdisk -l",
        "wipefs /dev/sda",
        "diskutil list",
    ],
)
def test_ordinary_commands_are_not_catastrophic(command: str) -> None:
    from ramparts.agents.claude_code.normalize import tool_call

    call = tool_call("Bash", {"command": command}, cwd="/work/p", home="/home/u")
    writes = [a.path for a in call.accesses if a.mode == "write"]
    assert catastrophic([c.argv for c in call.commands], writes, command, "/work/p", "/home/u") == []


def test_other_tools_are_not_looked_at() -> None:
    from ramparts.controls import catastrophic_hits
    from ramparts.model import ToolCall

    event = Event(kind="pre_tool_use", session_id="s", cwd="/", home="/home/u")
    assert catastrophic_hits(ToolCall("Write", {"command": "rm -rf /"}), event) == []
    assert catastrophic_hits(ToolCall("Bash", {"command": 5}, commands=()), event) == []


@pytest.mark.parametrize(
    ("word", "target"),
    [
        ("~", "/home/u"),
        ("$HOME/", "/home/u"),
        ("${HOME}/*", "/home/u"),
        ("/*", "/"),
        ("/.*", "/"),
        ("*", "/work/p"),
    ],
)
def test_targets_resolve_like_the_shell(word: str, target: str) -> None:
    assert resolve(word, "/work/p", "/home/u") == target


@given(st.text(max_size=200))
def test_the_checks_never_raise(text: str) -> None:
    fork_bomb(text)
    catastrophic([tuple(text.split()) or ("x",)], [text], text, "/", "/home/u")


def test_an_empty_command_and_a_harmless_target_are_passed_over() -> None:
    assert catastrophic([(), ("chmod", "-R", "755", "src", "/")], [], "", "/work/p", "/home/u") == [
        ("shell.catastrophic.recursive_permissions", "`chmod -R` changes every file below /")
    ]
