"""Run a read-only git command that prints repository content, hardened and bounded, and scan what it
prints (issue 13: ``git log -p``, ``git show REV``, ``git diff HEAD``, ``git blame``, ``cat-file -p``).

The analysis (``shell.analyze.git_output_scannable``) only hands over subcommands and options that
print: nothing that writes a file, reads stdin, runs ``--ext-diff``/``--textconv`` or gpg. Here the
command runs again, the way the agent would run it but with every program a repository's config can
name switched off: no external diff or textconv, no file-system monitor, no pager, no colour, no
signature check, no transport (a partial clone's lazy fetch), no optional locks, no system config.
What the repository configures that changes what the agent's own run prints (a textconv or external
diff it would use, a clean filter a working-tree diff would run) cannot be reproduced without running
it, so that asks instead. Output past the size bound, a run past the time bound, a git error: ask.

What it prints is scanned for secrets (UTF-8, BOMs, UTF-16 where NUL bytes show it, ANSI colour codes
removed) and the paths its diff headers and blame records name are returned as reads, so the path
rules judge ``git log -p`` showing ``.env`` as they judge ``cat .env``. The text never leaves here.
"""

from __future__ import annotations

import os
import re
import subprocess
import time
from typing import TYPE_CHECKING, Any

from ...model import Content, Printed

if TYPE_CHECKING:
    from ...detect.scanner import Detectors
    from ...policy.types import Policy

VIA = "git-output"
"""``via`` of a read the output of a scanned git command names (a diff header, a blame record)."""
HARDENING = (
    "--no-pager",
    *("-c", "core.fsmonitor=false"),
    *("-c", "core.quotePath=false"),
    *("-c", "color.ui=never"),
    *("-c", "log.showSignature=false"),
    *("-c", "gpg.program=false"),
    *("-c", "gpg.openpgp.program=false"),
    *("-c", "gpg.x509.program=false"),
    *("-c", "gpg.ssh.program=false"),
    *("-c", "protocol.allow=never"),
    *("-c", "diff.noprefix=false"),
    *("-c", "diff.mnemonicPrefix=false"),
    *("-c", "diff.relative=false"),
    *("-c", "core.pager=cat"),
    *("-c", "pager.log=false"),
    *("-c", "pager.show=false"),
    *("-c", "pager.diff=false"),
    *("-c", "pager.blame=false"),
)
"""Global options of the hook's own run: no program a config names, no transport, no pager."""
_DIFF_OPTIONS = ("--no-ext-diff", "--no-textconv", "--no-color", "--src-prefix=a/", "--dst-prefix=b/")
_EXTRA: dict[str, tuple[str, ...]] = {  # before the agent's words, which may not undo them
    "log": _DIFF_OPTIONS,
    "whatchanged": _DIFF_OPTIONS,
    "reflog": _DIFF_OPTIONS,
    "show": _DIFF_OPTIONS,
    "diff": _DIFF_OPTIONS,
    "diff-tree": _DIFF_OPTIONS,
    "diff-index": _DIFF_OPTIONS,
    "diff-files": _DIFF_OPTIONS,
    "stash": _DIFF_OPTIONS,
    "blame": ("--no-textconv", "--porcelain"),
    "annotate": ("--no-textconv", "--porcelain"),
    "cat-file": (),
}
"""Options put before the agent's own: plain diffs with known prefixes, and blame's porcelain form,
which names the file every line comes from."""
_ENV_DROP = (
    "GIT_EXTERNAL_DIFF", "GIT_DIFF_OPTS", "GIT_PAGER", "PAGER", "GIT_SSH", "GIT_SSH_COMMAND", "GIT_ASKPASS",
    "GIT_EDITOR", "GIT_SEQUENCE_EDITOR", "GIT_PROXY_COMMAND", "GIT_EXEC_PATH", "SSH_ASKPASS",
)  # fmt: skip
"""Variables of the hook's environment that name a program git may run (or where its helpers live)."""
_PROGRAM_KEYS = re.compile(
    r"^(diff\.external|diff\..+\.(textconv|command)|filter\..+\.(clean|smudge|process)|diff\.submodule)$"
)
_TEXTCONV_BY_DEFAULT = frozenset(
    {"log", "whatchanged", "reflog", "show", "diff", "stash", "blame", "annotate"}
)
_EXTERNAL_BY_DEFAULT = frozenset({"diff"})
_ANSI = re.compile(rb"\x1b\[[0-9;:]*[A-Za-z]")


class Outcome:
    """What one printed command's run gave: its Content and the paths its output names."""

    __slots__ = ("content", "named")

    def __init__(self, content: Content, named: tuple[str, ...] = ()) -> None:
        self.content = content
        self.named = named


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _ENV_DROP and not k.startswith("GIT_TRACE")}
    env.update(
        GIT_OPTIONAL_LOCKS="0",
        GIT_CONFIG_NOSYSTEM="1",
        GIT_PAGER="cat",
        GIT_TERMINAL_PROMPT="0",
        GIT_NO_LAZY_FETCH="1",
        LC_ALL="C",
    )
    return env


def run_git(
    argv: list[str], folder: str, *, seconds: float, limit: int, env: dict[str, str]
) -> tuple[int | None, bytes, bytes, str]:
    """Run ``argv`` in ``folder`` with no stdin; (exit code, stdout, stderr, problem). Reading stops
    past ``limit`` bytes or ``seconds`` (then the process is killed and the problem says why)."""
    import selectors

    try:
        proc = subprocess.Popen(
            argv,
            cwd=folder,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,
        )
    except OSError as exc:
        return None, b"", b"", f"git could not be started ({exc.strerror or type(exc).__name__})"
    if os.name != "posix":  # pragma: no cover - Windows: pipes cannot be selected; bounded by time only
        try:
            raw_out, raw_err = proc.communicate(timeout=seconds)
        except subprocess.TimeoutExpired:
            _kill(proc)
            return (
                None,
                b"",
                b"",
                f"git took longer than {seconds:.1f} s, the share of the hook's deadline it may use",
            )
        if len(raw_out) + len(raw_err) > limit:
            return None, b"", b"", f"git prints more than {limit} bytes (dlp.max_scan_bytes)"
        return proc.returncode, raw_out, raw_err, ""
    out, err = bytearray(), bytearray()
    deadline = time.monotonic() + seconds
    problem = ""
    with selectors.DefaultSelector() as selector:
        assert proc.stdout is not None and proc.stderr is not None
        selector.register(proc.stdout, selectors.EVENT_READ, out)
        selector.register(proc.stderr, selectors.EVENT_READ, err)
        open_streams = 2
        while open_streams:
            left = deadline - time.monotonic()
            if left <= 0:
                problem = f"git took longer than {seconds:.1f} s, the share of the hook's deadline it may use"
                break
            for key, _ in selector.select(left):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    selector.unregister(key.fileobj)
                    open_streams -= 1
                    continue
                buffer: bytearray = key.data
                buffer += chunk
            if len(out) + len(err) > limit:
                problem = f"git prints more than {limit} bytes (dlp.max_scan_bytes)"
                break
    if problem:
        _kill(proc)
        return None, bytes(out), bytes(err), problem
    try:
        code = proc.wait(max(0.1, deadline - time.monotonic()))
    except subprocess.TimeoutExpired:
        _kill(proc)
        return None, bytes(out), bytes(err), "git did not exit within its time bound"
    finally:
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
    return code, bytes(out), bytes(err), ""


def _kill(proc: subprocess.Popen[bytes]) -> None:
    import signal

    killpg = getattr(os, "killpg", None)
    try:
        if killpg is None:  # pragma: no cover - Windows
            raise OSError
        killpg(proc.pid, signal.SIGKILL)  # git's own children (a pack helper) go with it
    except OSError:
        proc.kill()
    proc.wait()
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


def repository_problem(printed: Printed, env: dict[str, str], seconds: float) -> tuple[str, str]:
    """(the work tree's top folder, '') or ('', why the command's output cannot be reproduced here)."""
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_COMMON_DIR", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY"):
        if name in os.environ:
            return "", f"{name} is set, so git works in a repository other than the folder's"
    from .repo_config import repository_risks

    risks = repository_risks(printed.folder)  # the hook runs no git where the repository names programs
    if risks:
        return "", risks[0]
    code, out, err, problem = run_git(
        ["git", *HARDENING, "rev-parse", "--show-toplevel"],
        printed.folder,
        seconds=seconds,
        limit=65536,
        env=env,
    )
    if problem:
        return "", problem
    if code != 0:
        first = err.decode("utf-8", "replace").strip().splitlines()[:1]
        return "", f"git failed: {first[0][:160] if first else 'exit ' + str(code)}"
    top = out.decode("utf-8", "surrogateescape").rstrip("\n")
    # Config that makes the agent's own run print something else (a textconv, an external diff, a
    # filter on the working tree): read it with git itself (reading runs nothing), with the system
    # config the agent's run would also read.
    code, out, err, problem = run_git(
        ["git", "config", "-z", "--get-regexp", _PROGRAM_KEYS.pattern],
        printed.folder,
        seconds=seconds,
        limit=65536,
        env={k: v for k, v in env.items() if k != "GIT_CONFIG_NOSYSTEM"},
    )
    if problem or code not in (0, 1):
        return "", problem or "git config could not be read"
    sub = printed.args[0] if printed.args else ""
    words = printed.args[1:]
    for entry in out.split(b"\0"):
        if not entry:
            continue
        key, _, value = entry.decode("utf-8", "replace").partition("\n")
        key = key.lower()
        if key == "diff.submodule":
            if value.strip().lower() == "diff" and sub in _TEXTCONV_BY_DEFAULT:
                return "", "diff.submodule=diff shows submodules' content, which is not scanned here"
            continue
        if key.endswith(".textconv") and sub in _TEXTCONV_BY_DEFAULT and "--no-textconv" not in words:
            return "", f"the repository's config sets {key}, a program whose output git {sub} shows"
        if (
            (key == "diff.external" or key.endswith(".command"))
            and sub in _EXTERNAL_BY_DEFAULT
            and "--no-ext-diff" not in words
            and value.strip()
        ):
            return "", f"the repository's config sets {key}, a program git {sub} runs"
        if key.startswith("filter.") and value.strip() and _reads_work_tree(sub, words):
            return "", f"the repository's config sets {key}, a program git {sub} runs on the work tree"
    return top, ""


_RANGE = re.compile(r"[^./\s][^/\s]*\.\.\.?[^/\s]*")


_OBJECT_TYPES = frozenset({"blob", "tree", "commit", "tag"})


def blob_by_id(printed: Printed, env: dict[str, str], seconds: float) -> str:
    """Why the command prints a blob named by an id, a tag or another name that does not say its path
    ('' when it does not): ``git show 1a2b3c``, ``git cat-file -p v1-key`` print a file's content with
    nothing naming the file, so a protected file's content would pass the path rules. A ``REV:path``
    word names its path (the analysis reads it as one); commits print headers that name theirs."""
    if printed.args[0] not in ("show", "cat-file", "diff", "diff-tree"):
        return ""
    words: list[str] = []
    for word in printed.args[1:]:
        if word == "--":
            break
        if word.startswith(("-", "^")) or ":" in word or ".." in word or word in _OBJECT_TYPES:
            continue
        words.append(word)
    if not words:
        return ""
    if any("\n" in w for w in words):
        return "an object name holds a line break"
    query = "".join(f"{w}\n{w}^{{}}\n" for w in words)
    try:
        done = subprocess.run(
            ["git", *HARDENING, "cat-file", "--batch-check=%(objecttype)"],
            cwd=printed.folder,
            input=query.encode("utf-8", "surrogateescape"),
            capture_output=True,
            timeout=seconds,
            env=env,
            check=False,
        )
    except (OSError, subprocess.SubprocessError) as exc:
        return f"the objects it prints could not be looked up ({type(exc).__name__})"
    if done.returncode != 0:
        return "the objects it prints could not be looked up"
    kinds = done.stdout.decode("utf-8", "replace").splitlines()
    asked = [w for w in words for _ in (0, 1)]  # each word, then the object it peels to
    if len(kinds) != len(asked):
        return "the objects it prints could not be looked up"
    for word, kind in zip(asked, kinds, strict=True):
        if kind.strip() == "blob":
            return f"{word[:60]!r} names a file's content by its object id, which says nothing of its path"
    return ""


def _reads_work_tree(sub: str, words: tuple[str, ...]) -> bool:
    """Does the command compare with the working tree (where git runs clean filters on the files)?"""
    if sub in ("diff-files", "blame", "annotate"):
        return True
    if sub == "diff-index":
        return "--cached" not in words
    if sub == "diff":
        if {"--cached", "--staged"} & set(words):
            return False  # the index against a commit
        before = list(words[: words.index("--")]) if "--" in words else list(words)
        revs = [w for w in before if not w.startswith("-")]
        # two commits before an explicit `--`, or a range: no file of the work tree is read; without
        # `--`, `git diff HEAD notes.txt` compares the work tree, so that counts as reading it
        return not (("--" in words and len(revs) >= 2) or any(_RANGE.fullmatch(w) for w in revs))
    return False


def command_argv(printed: Printed) -> list[str]:
    """The agent's git command with the hardening: our global options, the subcommand, our output
    options, then the agent's words (git refuses options after a path: ``git diff file.txt --x``).
    The analysis keeps away the agent's options that would undo ours (``--no-prefix``, ``--ext-diff``)."""
    args = list(printed.args)
    head, rest = args[:1], args[1:]
    if head == ["stash"] and rest[:1] == ["show"]:
        head, rest = ["stash", "show"], rest[1:]
    extra = list(_EXTRA.get(head[0], ()))
    if head[0] in ("blame", "annotate") and any(w in ("--incremental", "--line-porcelain") for w in rest):
        extra = [w for w in extra if w != "--porcelain"]
    return ["git", *HARDENING, *printed.flags, *head, *extra, *rest]


def scan_printed(
    printed: Printed, policy: Policy, detectors: Detectors, key: bytes, *, seconds: float
) -> Outcome:
    """Run one printing git command and scan its output (see the module's docstring)."""
    name = printed.key
    env = _env()
    start = time.monotonic()
    top, why = repository_problem(printed, env, seconds)
    if why:
        return Outcome(Content("output", name, error=why))
    why = blob_by_id(printed, env, max(0.05, seconds - (time.monotonic() - start)))
    if why:
        return Outcome(Content("output", name, error=why))
    limit = policy.dlp.max_scan_bytes
    left = max(0.05, seconds - (time.monotonic() - start))
    code, out, err, problem = run_git(
        command_argv(printed), printed.folder, seconds=left, limit=limit, env=env
    )
    if problem:
        return Outcome(Content("output", name, error=problem))
    if code != 0:
        first = err.decode("utf-8", "replace").strip().splitlines()[:1]
        return Outcome(
            Content("output", name, error=f"git failed: {first[0][:160] if first else 'exit ' + str(code)}")
        )
    findings: dict[tuple[str, int, int, str], Any] = {}
    for data in (out, err):
        for text in _texts(data):
            for finding in detectors.scan(text, key, categories=("secret",)):
                findings.setdefault(
                    (finding.detector, finding.line, finding.start, finding.fingerprint), finding
                )
    named = tuple(
        dict.fromkeys(
            os.path.normpath(os.path.join(base, path))
            for path in named_paths(out)
            for base in (top, printed.folder)
        )
    )
    return Outcome(Content("output", name, tuple(findings.values())), named)


def _texts(data: bytes) -> list[str]:
    """Every text a reader may make of the output: as the file scan decodes it, without colour codes,
    and as UTF-16 wherever NUL bytes are (a UTF-16 blob shown by ``git show REV:path``)."""
    from .content import decodings

    if not data:
        return []
    texts = decodings(data)
    plain = _ANSI.sub(b"", data)
    if plain != data:
        texts.extend(decodings(plain))
    if b"\x00" in data[4096:]:
        texts.extend(data[k:].decode("utf-16-le", "replace") for k in (0, 1))
    return list(dict.fromkeys(texts))


_HEADER = re.compile(
    rb"^(--- |\+\+\+ |rename from |rename to |copy from |copy to |filename |diff --cc |diff --combined )(.+)$"
)


def named_paths(out: bytes) -> list[str]:
    """Repository-relative paths whose content a diff or blame output shows: ``--- a/X``/``+++ b/X``
    headers (the prefixes are forced), renames and copies, combined diffs, porcelain blame's
    ``filename`` records. Quoted names (control characters, quotes) are unquoted the way git quotes."""
    names: list[str] = []
    for line in out.split(b"\n"):
        match = _HEADER.match(line)
        if match is None:
            continue
        head, raw = match.group(1), match.group(2)
        if head in (b"--- ", b"+++ "):
            raw = raw.rstrip(b"\t")  # git ends a name holding a space with a tab (for patch)
            if raw == b"/dev/null":
                continue
        name = _unquote(raw)
        if head in (b"--- ", b"+++ "):
            if not name.startswith(("a/", "b/")):
                continue  # a content line of a hunk that happens to start so is not a header
            name = name[2:]
        if name:
            names.append(name)
    return names


_ESCAPES = {ord("a"): 7, ord("b"): 8, ord("t"): 9, ord("n"): 10, ord("v"): 11, ord("f"): 12, ord("r"): 13}


def _unquote(raw: bytes) -> str:
    """git's C-style quoting (``"a\\tb"``, octal bytes) undone; an unquoted name as it is."""
    if len(raw) < 2 or not raw.startswith(b'"') or not raw.endswith(b'"'):
        return os.fsdecode(raw)
    body = raw[1:-1]
    out = bytearray()
    i = 0
    while i < len(body):
        byte = body[i]
        if byte != 0x5C or i + 1 >= len(body):
            out.append(byte)
            i += 1
            continue
        nxt = body[i + 1]
        if 0x30 <= nxt <= 0x37 and i + 4 <= len(body):
            out.append(int(body[i + 1 : i + 4], 8) & 0xFF)
            i += 4
            continue
        out.append(_ESCAPES.get(nxt, nxt))
        i += 2
    return os.fsdecode(bytes(out))
