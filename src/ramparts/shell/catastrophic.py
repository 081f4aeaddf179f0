"""Commands no profile may allow: they destroy the machine or the user's data (pure, no I/O).

Each class has its own rule id, so a reason names what the command would do. The engine denies them
whatever the allow rules say (``shell.catastrophic.*``):

- ``wipe``: a recursive ``rm`` (or ``find -delete``) of ``/``, the home folder or a top-level system
  folder, in any spelling (``rm -fr ~/``, ``rm --recursive /*``, ``rm -rf $HOME``, ``cd / && rm -rf *``
  is the same as ``rm -rf /*`` when the session's folder is ``/``);
- ``block_device``: anything written to a disk, partition or memory device (``dd of=/dev/sda``,
  ``> /dev/nvme0n1``, ``cp x /dev/disk2``);
- ``mkfs``: making a file system or erasing signatures and blocks (``mkfs.ext4``, ``wipefs -a``,
  ``blkdiscard``, ``diskutil eraseDisk``);
- ``recursive_permissions``: ``chmod``/``chown``/``chgrp -R`` of ``/``, the home folder or a system folder;
- ``kill_all``: ``kill … -1`` (every process the user may signal), ``killall5``;
- ``fork_bomb``: a function that starts itself more than once (``:(){ :|:& };:``).
"""

from __future__ import annotations

import itertools
import posixpath

from .. import rule_ids as rids
from .._recache import compile as re_compile
from .unwrap import options

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

SYSTEM_FOLDERS = options(
    "/bin /boot /dev /etc /home /lib /lib32 /lib64 /libx32 /opt /proc /root /run /sbin /srv /sys /usr /var "
    "/snap /System /Library /Applications /Users /Volumes /private /usr/bin /usr/lib /usr/local "
    "/usr/sbin /usr/share /var/lib"
)
"""Folders whose recursive removal or permission change breaks the machine."""
BLOCK_DEVICE = re_compile(
    r"/dev/(?:(?:sd|hd|vd|xvd)[a-z]+\d*|nvme\d+(?:n\d+(?:p\d+)?)?|mmcblk\d+(?:p\d+)?|r?disk\d+(?:s\d+)*"
    r"|loop\d+|dm-\d+|md\d+|nbd\d+|zd\d+|sr\d+|mapper/.+|disk/.+|block/.+|mem|kmem|port|nvram)"
)
_MKFS = frozenset({"mke2fs", "mkswap", "mkntfs", "mkdosfs", "mkexfatfs", "blkdiscard", "newfs", "zpool"})
_DISKUTIL_ERASE = frozenset(
    {"erasedisk", "erasevolume", "zerodisk", "randomdisk", "secureerase", "partitiondisk", "reformat"}
)
_PERMISSIONS = frozenset({"chmod", "chown", "chgrp", "chattr", "setfacl"})
_FUNCTION = re_compile(
    r"(?:\bfunction\s+)?([^\s(){};|&<>'\"`$]+)\s*\(\s*\)\s*\{|\bfunction\s+([^\s(){};|&<>'\"`$]+)\s*\{"
)


_TRAILING_GLOB = re_compile(r"/(?:\*|\.\*|\.\[!.\]\*|\{[^/]*\})$")


def _flags(args: Iterable[str]) -> tuple[set[str], set[str]]:
    """Short letters and long options given before ``--``."""
    letters: set[str] = set()
    longs: set[str] = set()
    for word in args:
        if word == "--":
            break
        if word.startswith("--"):
            longs.add(word.partition("=")[0])
        elif word.startswith("-") and len(word) > 1:
            letters.update(word[1:])
    return letters, longs


def _operands(args: list[str]) -> list[str]:
    out: list[str] = []
    done = False
    for word in args:
        if not done and word == "--":
            done = True
        elif done or not word.startswith("-") or word == "-":
            out.append(word)
    return out


def _recursive(args: list[str], letters: str = "rR") -> bool:
    short, longs = _flags(args)
    return bool(short & set(letters)) or any(
        len(flag) >= 5 and "--recursive".startswith(flag) for flag in longs
    )


def resolve(word: str, cwd: str, home: str) -> str:
    """Where a target word points, with ``~``, ``$HOME`` and trailing ``/*``, ``/.*``, ``/`` taken off."""
    for var in ("$HOME", "${HOME}"):
        if word == var or word.startswith(var + "/"):
            word = home + word[len(var) :]
    if word == "~" or word.startswith("~/"):
        word = home + word[1:]
    while True:
        trimmed = _TRAILING_GLOB.sub("", word)
        if trimmed == word:
            break
        word = trimmed or "/"
    if word in ("*", ".*"):
        word = "."
    return posixpath.normpath(posixpath.join(cwd, word))


def _vital(path: str, home: str) -> bool:
    return path == "/" or path == posixpath.normpath(home) or path in SYSTEM_FOLDERS


def catastrophic(
    argvs: Iterable[tuple[str, ...]], writes: Iterable[str], text: str, cwd: str, home: str
) -> list[tuple[str, str]]:
    """(rule id, reason) for each catastrophic thing the command does; empty when none."""
    found: dict[str, str] = {}
    for argv in argvs:
        if not argv:
            continue
        name = argv[0].rsplit("/", 1)[-1]
        args = list(argv[1:])
        if name == "rm" and _recursive(args):
            for word in _operands(args):
                target = resolve(word, cwd, home)
                if _vital(target, home):
                    found.setdefault(
                        rids.SHELL_CATASTROPHIC_WIPE, f"`rm` removes all of {target} (wipes {word!r})"
                    )
        elif name == "find" and ("-delete" in args or _find_removes(args)):
            for word in args:
                if word.startswith(("-", "(", "!", ")")):
                    break
                target = resolve(word, cwd, home)
                if _vital(target, home):
                    found.setdefault(
                        rids.SHELL_CATASTROPHIC_WIPE, f"`find` deletes everything below {target}"
                    )
        elif name in _PERMISSIONS and _recursive(args, "R"):
            for word in _operands(args):
                target = resolve(word, cwd, home)
                if _vital(target, home):
                    found.setdefault(
                        rids.SHELL_CATASTROPHIC_RECURSIVE_PERMISSIONS,
                        f"`{name} -R` changes every file below {target}",
                    )
        elif name.startswith(("mkfs", "newfs_")) or name in _MKFS:
            found.setdefault(rids.SHELL_CATASTROPHIC_MKFS, f"`{name}` makes a file system or erases a disk")
        elif name == "wipefs" and ({"a", "o"} & _flags(args)[0] or {"--all", "--offset"} & _flags(args)[1]):
            found.setdefault(rids.SHELL_CATASTROPHIC_MKFS, "`wipefs` erases file system signatures")
        elif name == "diskutil" and any(w.lower() in _DISKUTIL_ERASE for w in args[:2]):
            found.setdefault(rids.SHELL_CATASTROPHIC_MKFS, "`diskutil` erases or repartitions a disk")
        elif name == "killall5" or (name == "kill" and "-1" in _kill_targets(args)):
            found.setdefault(rids.SHELL_CATASTROPHIC_KILL_ALL, f"`{name}` signals every process (pid -1)")
    for path in writes:
        if BLOCK_DEVICE.fullmatch(path):
            found.setdefault(rids.SHELL_CATASTROPHIC_BLOCK_DEVICE, f"writes to the device {path}")
    bomb = fork_bomb(text)
    if bomb:
        found.setdefault(
            rids.SHELL_CATASTROPHIC_FORK_BOMB, f"the function {bomb!r} starts itself repeatedly (a fork bomb)"
        )
    return list(found.items())


def _find_removes(args: list[str]) -> bool:
    return any(
        runner in ("-exec", "-execdir", "-ok", "-okdir") and following.rsplit("/", 1)[-1] in ("rm", "shred")
        for runner, following in itertools.pairwise(args)
    )


def _kill_targets(args: list[str]) -> list[str]:
    """The process ids of ``kill [-s SIG | -n NUM | -SIG] [--] PID…``."""
    i = 0
    if args[:1] in (["-s"], ["-n"]):
        i = 2
    elif args[:1] and args[0].startswith("-") and args[0] not in ("--", "-l", "-L"):
        i = 1
    if args[i : i + 1] == ["--"]:
        i += 1
    return args[i:]


def fork_bomb(text: str) -> str:
    """The name of a function that runs itself twice or in the background from its own body ('' if none)."""
    for match in _FUNCTION.finditer(text):
        import re  # a pattern made of the function's name: only for a text that defines one

        name = match.group(1) or match.group(2)
        body = text[match.end() :]
        me = rf"(?<![\w.:-]){re.escape(name)}(?![\w.:-])"
        if re.search(rf"{me}\s*\|&?\s*{me}|{me}\s*&(?!&)", body):
            return name
    return ""
