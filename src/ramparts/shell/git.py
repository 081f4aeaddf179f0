"""Which git commands need a human: pushes to protected branches, hook bypasses, history rewrites (pure).

The policy engine calls :func:`check_git` for every simple command whose program is ``git`` (after
``analyze`` has unwrapped ``sudo``, ``env``, ``sh -c`` and the like). It reads the command the way
git does: global options first (``-C DIR``, ``-c key=value``, ``--git-dir=…``), then the subcommand's
options the way git's parse-options reads them (``--opt=value`` and ``--opt value``, unique
abbreviations such as ``--forc``, negations such as ``--no-force``, and short clusters where a
value-taking letter ends the cluster: ``commit -nm msg`` skips hooks, ``commit -mn`` is the message
"n"). Each finding names the rule, the verdict and the part of the command that caused it.

What cannot be seen here, and is left to the pre-push hook (``ramparts git install-hooks``): where
a push without a refspec goes when the repository's config says ``push.default=upstream`` or
``remote.<name>.push``, aliases defined in the user's or repository's config, and config changes
made by editing ``.git/config`` directly.
"""

from __future__ import annotations

from .. import rule_ids as rids
from .._lexical import fnmatchcase
from .._tuples import NamedTuple
from .unwrap import options

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from typing import Literal

    Verdict = Literal["deny", "ask"]


class GitSettings(NamedTuple):
    protected_branches: tuple[str, ...] = ("main", "master", "release/*")
    """fnmatch-style globs on branch names (matched without regard to case)."""
    push: Literal["deny", "ask", "allow"] = "ask"
    """What a plain push to a branch that is not protected gets."""


class GitFinding(NamedTuple):
    rule_id: str
    verdict: Verdict
    reason: str
    """Names the part of the command (branch, option) the finding is about."""


RULES: dict[str, str] = {
    rids.GIT_PUSH_PROTECTED: "a push to a protected branch (or to every branch: --all, ':', refs/heads/*)",
    rids.GIT_PUSH_FORCE: "a forced push (-f, --force, --force-with-lease, --force-if-includes, +refspec)",
    rids.GIT_PUSH_MIRROR: "git push --mirror (or remote.<name>.mirror) makes the remote a copy, deleting",
    rids.GIT_PUSH_DELETE: "a push that deletes remote branches (--delete, :branch, --prune)",
    rids.GIT_PUSH_NO_VERIFY: "git push --no-verify skips the pre-push hook",
    rids.GIT_PUSH_UNKNOWN: "a push whose target branch cannot be known (no refspec, current branch unknown)",
    rids.GIT_PUSH_CONFIG: "push.default or remote.<name>.push changed, so a plain push goes elsewhere",
    rids.GIT_PUSH_PLUMBING: "a push that bypasses the porcelain or its hooks (send-pack, --receive-pack)",
    rids.GIT_PUSH: "a push to a branch that is not protected (settings.push)",
    rids.GIT_COMMIT_NO_VERIFY: "commit, merge, am or pull with --no-verify skips the commit hooks",
    rids.GIT_REBASE: "git rebase, or git pull --rebase, rewrites history",
    rids.GIT_RESET_HARD: "git reset --hard discards uncommitted work",
    rids.GIT_CLEAN: "git clean deletes untracked files",
    rids.GIT_DISCARD_CHANGES: "checkout --force / switch --discard-changes throws away local changes",
    rids.GIT_HOOKS_PATH: "core.hooksPath changed (config or -c): the hooks that guard pushes stop running",
    rids.GIT_REMOTE: "a remote's URL added or changed (remote add/set-url/rename, remote.*.url, insteadOf)",
    rids.GIT_HISTORY_REWRITE: "filter-branch or filter-repo rewrites every commit",
    rids.GIT_UPDATE_REF_DELETE: "git update-ref -d, --stdin or a zero new value deletes refs",
    rids.GIT_BRANCH_DELETE_PROTECTED: "a protected branch deleted or renamed",
    rids.GIT_BRANCH_FORCE_PROTECTED: "a protected branch reset or overwritten (branch -f, -M, -C, checkout -B)",
    rids.GIT_ALIAS: "an alias that runs a shell or a guarded git command, or a subcommand hidden behind -c alias",
    rids.GIT_OPAQUE: "git cannot be read statically (unknown global option, autocorrected subcommand)",
}
"""Every rule id :func:`check_git` can return, with what it means."""


# -- reading options the way git's parse-options does ---------------------------------------------------

FLAG, VALUE, OPTIONAL = "", "=", "=?"


class OptionTable(NamedTuple):
    long: dict[str, str]
    """Long option name -> FLAG, VALUE (next word or ``=value``) or OPTIONAL (only ``=value``)."""
    short: dict[str, tuple[str, str]]
    """Letter -> (the long name it stands for, or the letter itself; its kind)."""
    stop: bool = False
    """Options end at the first positional word (``git remote``: a sub-subcommand follows)."""


def _table(spec: str, *, stop: bool = False) -> OptionTable:
    """``"force|f delete|d push-option|o= signed=? D C="``: long name, its letter, ``=`` takes a value,
    ``=?`` takes one only as ``--opt=value``; a one-letter name is a short option with no long form."""
    long: dict[str, str] = {}
    short: dict[str, tuple[str, str]] = {}
    for token in spec.split():
        kind = OPTIONAL if token.endswith("=?") else VALUE if token.endswith("=") else FLAG
        name, _, letter = token.rstrip("=?").partition("|")
        if len(name) == 1:
            short[name] = (name, kind)
            continue
        long[name] = kind
        if letter:
            short[letter] = (name, kind)
    return OptionTable(long, short, stop)


class Option(NamedTuple):
    name: str
    """The long name git resolved the word to (``no-force`` for a negation), or the letter."""
    value: str | None
    word: str
    """The option as written, for reasons."""


class Parsed(NamedTuple):
    options: tuple[Option, ...]
    positional: tuple[str, ...]

    def has(self, *names: str) -> Option | None:
        for option in self.options:
            if option.name in names:
                return option
        return None


def _candidates(table: OptionTable) -> dict[str, tuple[str, str]]:
    """Every spelling a long option accepts, negations included, -> (name as resolved, kind)."""
    out: dict[str, tuple[str, str]] = {}
    for name, kind in table.long.items():
        out[name] = (name, kind)
        negated = name[3:] if name.startswith("no-") else "no-" + name
        out.setdefault(negated, (negated, FLAG))
    return out


def _long(word: str, table: OptionTable) -> list[tuple[str, str]]:
    """What ``--word`` resolves to: exact, else a unique prefix. An ambiguous prefix (git refuses it)
    yields every match, so nothing dangerous hides behind it; an unknown option is taken as a flag."""
    cands = _candidates(table)
    if word in cands:
        return [cands[word]]
    matches = [cands[c] for c in cands if c.startswith(word)] if word else []
    return matches or [(word, FLAG)]


def parse(args: Sequence[str], table: OptionTable) -> Parsed:
    """Options and positional words of a subcommand's arguments, the way parse-options splits them."""
    options: list[Option] = []
    positional: list[str] = []
    i = 0
    while i < len(args):
        word = args[i]
        i += 1
        if word == "--":
            positional.extend(args[i:])
            break
        if word.startswith("--"):
            name, eq, value = word[2:].partition("=")
            resolved = _long(name, table)
            takes_next = False
            for canonical, kind in resolved:
                options.append(Option(canonical, value if eq else None, word))
                takes_next = takes_next or (kind == VALUE and not eq)
            if takes_next and i < len(args):
                # the value is the next word, whatever it looks like (`--message --no-verify`)
                options[-1] = options[-1]._replace(value=args[i])
                i += 1
            continue
        if word.startswith("-") and len(word) > 1:
            for pos in range(1, len(word)):
                letter = word[pos]
                name, kind = table.short.get(letter, (letter, FLAG))
                rest = word[pos + 1 :]
                if kind == FLAG:
                    options.append(Option(name, None, word))
                    continue
                if rest or kind == OPTIONAL:  # `-mmsg`, `-Skey`: the rest of the cluster is the value
                    options.append(Option(name, rest or None, word))
                elif i < len(args):  # `-m msg`, `-nm msg`
                    options.append(Option(name, args[i], word))
                    i += 1
                else:
                    options.append(Option(name, None, word))
                break
            continue
        positional.append(word)
        if table.stop:
            positional.extend(args[i:])
            break
    return Parsed(tuple(options), tuple(positional))


# -- git's own options, before the subcommand -------------------------------------------------------------

_GLOBAL_FLAGS = frozenset(
    {
        "--no-pager",
        "-p",
        "--paginate",
        "-P",
        "--bare",
        "--no-replace-objects",
        "--literal-pathspecs",
        "--glob-pathspecs",
        "--noglob-pathspecs",
        "--icase-pathspecs",
        "--no-optional-locks",
        "--no-advice",
        "--no-lazy-fetch",
        "--html-path",
        "--man-path",
        "--info-path",
        "--exec-path",
    }
)
_GLOBAL_SEPARATE = frozenset({"-C", "-c"})
"""Take the next word only (git compares these exactly: ``-Cdir`` is an unknown option)."""
_GLOBAL_EITHER = frozenset(
    {"--git-dir", "--work-tree", "--namespace", "--super-prefix", "--config-env", "--attr-source"}
)
_GLOBAL_ATTACHED = frozenset({"--exec-path", "--list-cmds"})
_MOVES_REPO = frozenset({"-C", "--git-dir", "--work-tree"})
_HELP_VERSION = {"--help": "help", "-h": "help", "--version": "version", "-v": "version"}


class Config(NamedTuple):
    key: str
    """Lower-cased section and name; a subsection keeps its case (``branch.Main.rebase``)."""
    value: str | None
    """None when unknown (``--config-env``)."""
    word: str


class Invocation(NamedTuple):
    configs: tuple[Config, ...]
    """``-c`` and ``--config-env`` settings, in order."""
    moved: bool
    """``-C``/``--git-dir``/``--work-tree``: HEAD is not the one the adapter read."""
    sub: str
    args: tuple[str, ...]
    problem: str = ""


def _config_key(key: str) -> str:
    """``Core.HooksPath`` -> ``core.hookspath``; ``Branch.Main.Rebase`` -> ``branch.Main.rebase``."""
    section, dot, rest = key.partition(".")
    if not dot:
        return key.lower()
    sub, dot2, name = rest.rpartition(".")
    return f"{section.lower()}.{sub}.{name.lower()}" if dot2 else f"{section.lower()}.{rest.lower()}"


def _config_word(word: str, *, env: bool) -> Config:
    key, eq, value = word.partition("=")
    if env:  # --config-env=key=ENVVAR: the value is in the environment
        return Config(_config_key(key), None, word)
    return Config(_config_key(key), value if eq else "true", word)


def invocation(argv: Sequence[str]) -> Invocation:
    """Split ``git [global options] SUB ARGS…``; ``git-SUB ARGS…`` (``git-filter-repo``) too."""
    program = argv[0].rsplit("/", 1)[-1] if argv else "git"
    if program.startswith("git-") and len(program) > 4:
        return Invocation((), False, program[4:], tuple(argv[1:]))
    configs: list[Config] = []
    moved = False
    i = 1
    while i < len(argv):
        word = argv[i]
        if not word.startswith("-") or word == "-":
            return Invocation(tuple(configs), moved, word, tuple(argv[i + 1 :]))
        if word in _HELP_VERSION:
            return Invocation(tuple(configs), moved, _HELP_VERSION[word], tuple(argv[i + 1 :]))
        name, eq, value = word.partition("=")
        if word in _GLOBAL_FLAGS or (eq and name in _GLOBAL_ATTACHED):
            if name == "--exec-path" and eq:
                return Invocation(tuple(configs), moved, "", (), f"{word} runs git's commands from {value}")
            i += 1
            continue
        if word in _GLOBAL_SEPARATE or name in _GLOBAL_EITHER:
            if not eq:
                if i + 1 >= len(argv):
                    return Invocation(tuple(configs), moved, "", ())  # git: "no directory given"
                i += 1
                value = argv[i]
            if name == "-c":
                configs.append(_config_word(value, env=False))
            elif name == "--config-env":
                configs.append(_config_word(value, env=True))
            moved = moved or name in _MOVES_REPO
            i += 1
            continue
        return Invocation(tuple(configs), moved, "", (), f"unknown git option {word}")
    return Invocation(tuple(configs), moved, "", ())


# -- branches -------------------------------------------------------------------------------------------


def protected(branch: str, settings: GitSettings) -> str | None:
    """The protected pattern ``branch`` matches, if any (case-insensitively, to be safe on macOS)."""
    name = branch.lower()
    for pattern in settings.protected_branches:
        if fnmatchcase(name, pattern.lower()):
            return pattern
    return None


def _wild(text: str) -> bool:
    return any(c in text for c in "*?[")


def _sample(pattern: str) -> str:
    return pattern.replace("*", "x").replace("?", "x")


def _may_hit(dst: str, settings: GitSettings) -> str | None:
    """A protected pattern a wildcard destination (``refs/heads/*``, ``rel*``) could write to."""
    import fnmatch  # the destination is a glob from the command line: fnmatch's own patterns, not cached

    d = dst.lower()
    for pattern in settings.protected_branches:
        p = pattern.lower()
        if fnmatch.fnmatchcase(_sample(p), d) or fnmatch.fnmatchcase(_sample(d), p):
            return pattern
        if _wild(p):
            head_d, head_p = d.split("*")[0].split("?")[0], p.split("*")[0].split("?")[0]
            if head_d.startswith(head_p) or head_p.startswith(head_d):
                return pattern
    return None


def _branch_names(ref: str) -> list[str]:
    """The branch names a ref as written on the command line can mean (none for tags and other refs)."""
    if ref.startswith("refs/heads/"):
        return [ref[len("refs/heads/") :]]
    if ref.startswith("refs/"):
        return []
    if ref.startswith("heads/"):  # git's ref DWIM matches `heads/main` to refs/heads/main
        return [ref, ref[len("heads/") :]]
    return [ref]


# -- the checks -------------------------------------------------------------------------------------------


class Ctx(NamedTuple):
    settings: GitSettings
    current: str | None
    configs: tuple[Config, ...]
    depth: int

    def config(self, key: str) -> Config | None:
        """The last ``-c`` setting of ``key`` (lower-cased), or of a key matching a ``*`` pattern."""
        found = None
        for config in self.configs:
            if config.key == key or ("*" in key and fnmatchcase(config.key.lower(), key)):
                found = config
        return found


def _f(rule: str, verdict: Verdict, reason: str) -> GitFinding:
    return GitFinding(rule, verdict, reason)


def _deny(rule: str, reason: str) -> GitFinding:
    return GitFinding(rule, "deny", reason)


_PUSH = _table(
    "all branches mirror tags follow-tags atomic dry-run|n porcelain force|f delete|d force-with-lease=? "
    "force-if-includes recurse-submodules= thin receive-pack= exec= set-upstream|u progress prune "
    "no-verify signed=? push-option|o= ipv4|4 ipv6|6 repo= verbose|v quiet|q"
)
_FORCE = ("force", "force-with-lease", "force-if-includes")
_FALSE = frozenset({"false", "no", "off", "0", ""})
_PUSH_DEFAULT_SAFE = frozenset({"simple", "current", "nothing"})


def _push_configs(ctx: Ctx, what: str) -> list[GitFinding]:
    """``-c`` settings that send this push somewhere its refspecs do not say."""
    out: list[GitFinding] = []
    for config in ctx.configs:
        key = config.key.lower()
        if key == "push.default" and (config.value is None or config.value.lower() not in _PUSH_DEFAULT_SAFE):
            out.append(
                _deny(rids.GIT_PUSH_CONFIG, f"{what} with -c {config.word}: a plain push can update main")
            )
        elif key.startswith("remote.") and key.endswith(".push"):
            out.append(_deny(rids.GIT_PUSH_CONFIG, f"{what} with -c {config.word} changes what is pushed"))
        elif (
            key.startswith("remote.")
            and key.endswith(".mirror")
            and (config.value or "x").lower() not in _FALSE
        ):
            out.append(_deny(rids.GIT_PUSH_MIRROR, f"{what} with -c {config.word} mirrors every ref"))
        elif (key.startswith("remote.") and key.endswith((".url", ".pushurl"))) or (
            key.startswith("url.") and key.endswith(("insteadof", "pushinsteadof"))
        ):
            out.append(_deny(rids.GIT_REMOTE, f"{what} with -c {config.word} changes where it pushes"))
    return out


def _push(ctx: Ctx, args: Sequence[str], name: str = "git push") -> list[GitFinding]:
    p = parse(args, _PUSH)
    s = ctx.settings
    out = _push_configs(ctx, name)
    for option in p.options:
        w = option.word
        if option.name in _FORCE:
            out.append(_deny(rids.GIT_PUSH_FORCE, f"{name} {w} overwrites remote history"))
        elif option.name == "mirror":
            out.append(
                _deny(rids.GIT_PUSH_MIRROR, f"{name} {w} makes the remote a copy, deleting its other refs")
            )
        elif option.name in ("delete", "prune"):
            out.append(_deny(rids.GIT_PUSH_DELETE, f"{name} {w} deletes remote branches"))
        elif option.name == "no-verify":
            out.append(_deny(rids.GIT_PUSH_NO_VERIFY, f"{name} {w} skips the pre-push hook"))
        elif option.name in ("receive-pack", "exec"):
            out.append(_deny(rids.GIT_PUSH_PLUMBING, f"{name} {w} runs another program on the remote side"))
        elif option.name in ("all", "branches"):
            out.append(
                _deny(rids.GIT_PUSH_PROTECTED, f"{name} {w} pushes every branch, protected ones included")
            )
        elif option.name == "recurse-submodules" and (option.value or "").lower() in ("on-demand", "only"):
            out.append(
                _deny(rids.GIT_PUSH_UNKNOWN, f"{name} {w} also pushes submodules to branches not named here")
            )
    repo_opt = p.has("repo")
    positional = list(p.positional)
    repo = positional[0] if positional else (repo_opt.value if repo_opt else None) or "the default remote"
    refspecs = positional[1:] if positional else []
    if repo_opt and positional:  # a positional repository wins over --repo; read both ways to be safe
        refspecs = positional
    targets: list[str] = []
    tags_only = bool(p.has("tags") and not refspecs)
    if not refspecs and not p.has("all", "branches", "mirror") and not tags_only:
        current = ctx.current
        if current is None:
            out.append(
                _deny(
                    rids.GIT_PUSH_UNKNOWN,
                    f"{name} with no refspec pushes the current branch, which is not known here "
                    "(name it: git push origin BRANCH)",
                )
            )
        elif protected(current, s):
            out.append(
                _deny(
                    rids.GIT_PUSH_PROTECTED,
                    f"{name} to protected branch {current} (current branch, no refspec)",
                )
            )
        else:
            targets.append(current)
    i = 0
    while i < len(refspecs):
        spec = refspecs[i]
        i += 1
        if spec == "tag" and i < len(refspecs):  # `git push origin tag v1`
            targets.append(f"tag {refspecs[i]}")
            i += 1
            continue
        out.extend(_refspec(ctx, spec, name, targets))
    if tags_only or p.has("tags"):
        targets.append("tags")
    if not any(f.verdict == "deny" for f in out) and s.push != "allow":
        where = ", ".join(dict.fromkeys(targets)) or "the remote"
        out.append(_f(rids.GIT_PUSH, s.push, f"{name} to {repo} ({where}) needs review (git push setting)"))
    return out


def _refspec(ctx: Ctx, spec: str, name: str, targets: list[str]) -> list[GitFinding]:
    out: list[GitFinding] = []
    s = ctx.settings
    body = spec
    if body.startswith("^"):  # a negative refspec only excludes
        return out
    if body.startswith("+"):
        body = body[1:]
        out.append(_deny(rids.GIT_PUSH_FORCE, f"{name} {spec}: the leading + forces the update"))
    src, colon, dst = body.rpartition(":") if ":" in body else (body, "", "")
    if colon and not src and not dst:
        out.append(
            _deny(rids.GIT_PUSH_PROTECTED, f"{name} ':' pushes every branch both sides have, main included")
        )
        return out
    if colon and not src:
        out.append(_deny(rids.GIT_PUSH_DELETE, f"{name} {spec} deletes remote branch {dst}"))
    if not colon or not dst:
        dst = src
    if dst in ("HEAD", "@"):
        if ctx.current is None:
            out.append(_deny(rids.GIT_PUSH_UNKNOWN, f"{name} {spec}: the current branch is not known here"))
            return out
        dst = ctx.current
    for branch in _branch_names(dst):
        pattern = _may_hit(branch, s) if _wild(branch) else protected(branch, s)
        if pattern:
            out.append(_deny(rids.GIT_PUSH_PROTECTED, f"{name} to protected branch {branch} ({spec})"))
            return out
    targets.append(dst)
    return out


_COMMIT = _table(
    "quiet|q verbose|v file|F= author= date= message|m= reedit-message|c= reuse-message|C= fixup= squash= "
    "reset-author trailer= signoff|s template|t= edit|e cleanup= status gpg-sign|S=? all|a include|i "
    "interactive patch|p only|o no-verify|n dry-run short branch ahead-behind porcelain long null|z amend "
    "no-post-rewrite untracked-files|u=? pathspec-from-file= pathspec-file-nul allow-empty "
    "allow-empty-message no-edit"
)
_MERGE = _table(
    "n stat summary log=? squash commit edit|e cleanup= ff ff-only rerere-autoupdate verify-signatures "
    "strategy|s= strategy-option|X= message|m= file|F= into-name= verbose|v quiet|q abort quit continue "
    "allow-unrelated-histories progress gpg-sign|S=? autostash overwrite-ignore signoff no-verify"
)
_AM = _table(
    "interactive|i 3way|3 quiet|q signoff|s utf8|u keep|k keep-non-patch message-id|m keep-cr scissors|c "
    "quoted-cr= whitespace= ignore-space-change ignore-whitespace directory= exclude= include= C= p= "
    "patch-format= reject resolvemsg= continue resolved|r skip abort quit show-current-patch=? allow-empty "
    "committer-date-is-author-date ignore-date rerere-autoupdate gpg-sign|S=? empty= no-verify"
)
_PULL = _table(
    "verbose|v quiet|q progress recurse-submodules=? rebase|r=? n stat log=? signoff=? squash commit edit "
    "cleanup= ff ff-only verify verify-signatures autostash strategy|s= strategy-option|X= gpg-sign|S=? "
    "allow-unrelated-histories all append|a upload-pack= force|f tags|t prune|p jobs|j=? dry-run keep|k "
    "depth= shallow-since= shallow-exclude= deepen= unshallow update-shallow refmap= server-option|o= "
    "ipv4|4 ipv6|6 negotiation-tip= show-forced-updates set-upstream"
)


def _no_verify(table: OptionTable, what: str) -> Callable[[Ctx, Sequence[str]], list[GitFinding]]:
    def check(ctx: Ctx, args: Sequence[str]) -> list[GitFinding]:
        option = parse(args, table).has("no-verify")
        if option is None:
            return []
        return [_deny(rids.GIT_COMMIT_NO_VERIFY, f"git {what} {option.word} skips the {_HOOKS[what]} hooks")]

    return check


_HOOKS = {
    "commit": "pre-commit and commit-msg",
    "merge": "pre-merge-commit and commit-msg",
    "am": "applypatch-msg and pre-applypatch",
    "pull": "pre-merge-commit and commit-msg",
}


def _pull(ctx: Ctx, args: Sequence[str]) -> list[GitFinding]:
    p = parse(args, _PULL)
    out = _no_verify(_PULL, "pull")(ctx, args)
    rebase: str | None = None
    for option in p.options:
        if option.name == "rebase" and (option.value or "true").lower() not in _FALSE:
            rebase = f"git pull {option.word}"
        elif option.name in ("rebase", "no-rebase"):
            rebase = ""
    if rebase is None:  # no option: the -c settings decide (the repository's own config is not seen here)
        for config in ctx.configs:
            key = config.key.lower()
            if key == "pull.rebase" or (key.startswith("branch.") and key.endswith(".rebase")):
                rebase = f"git -c {config.word} pull" if (config.value or "x").lower() not in _FALSE else ""
    if rebase:
        out.append(_deny(rids.GIT_REBASE, f"{rebase} rebases the current branch (rewrites its history)"))
    return out


def _rebase(ctx: Ctx, args: Sequence[str]) -> list[GitFinding]:
    shown = " ".join(["git rebase", *args[:2]])
    return [_deny(rids.GIT_REBASE, f"{shown}: git rebase rewrites history")]


_RESET = _table(
    "quiet|q no-refresh refresh mixed soft hard merge keep recurse-submodules=? patch|p intent-to-add|N "
    "pathspec-from-file= pathspec-file-nul"
)


def _reset(ctx: Ctx, args: Sequence[str]) -> list[GitFinding]:
    option = parse(args, _RESET).has("hard")
    if option is None:
        return []
    return [_deny(rids.GIT_RESET_HARD, f"git reset {option.word} discards uncommitted changes")]


_CLEAN = _table("quiet|q dry-run|n force|f interactive|i d exclude|e= x X")


def _clean(ctx: Ctx, args: Sequence[str]) -> list[GitFinding]:
    p = parse(args, _CLEAN)
    interactive = p.has("interactive")
    if p.has("dry-run") and not interactive:
        return []
    forced = p.has("force") or interactive
    if forced:
        return [_deny(rids.GIT_CLEAN, f"git clean {forced.word} deletes untracked files")]
    config = ctx.config("clean.requireforce")
    if config and (config.value or "").lower() in _FALSE:
        return [_deny(rids.GIT_CLEAN, f"git -c {config.word} clean deletes untracked files without -f")]
    return [
        _f(
            rids.GIT_CLEAN,
            "ask",
            "git clean deletes untracked files if the repository sets clean.requireForce=false",
        )
    ]


_CHECKOUT = _table(
    "quiet|q progress b= B= track|t=? no-track guess detach orphan= ignore-skip-worktree-bits merge|m "
    "conflict= patch|p ignore-other-worktrees overwrite-ignore recurse-submodules=? overlay "
    "pathspec-from-file= pathspec-file-nul force|f ours|2 theirs|3 l"
)
_SWITCH = _table(
    "create|c= force-create|C= guess discard-changes force|f merge|m conflict= detach|d track|t=? no-track "
    "orphan= ignore-other-worktrees recurse-submodules=? quiet|q progress"
)


def _checkout(table: OptionTable, what: str) -> Callable[[Ctx, Sequence[str]], list[GitFinding]]:
    def check(ctx: Ctx, args: Sequence[str]) -> list[GitFinding]:
        out: list[GitFinding] = []
        for option in parse(args, table).options:
            if option.name in ("force", "discard-changes"):
                out.append(
                    _f(rids.GIT_DISCARD_CHANGES, "ask", f"git {what} {option.word} discards local changes")
                )
            elif (
                option.name in ("B", "force-create")
                and option.value
                and protected(option.value, ctx.settings)
            ):
                out.append(
                    _deny(
                        rids.GIT_BRANCH_FORCE_PROTECTED,
                        f"git {what} {option.word} {option.value} resets protected branch {option.value}",
                    )
                )
        return out

    return check


_CONFIG = _table(
    "global system local worktree file|f= blob= get get-all get-regexp get-urlmatch replace-all add unset "
    "unset-all rename-section remove-section list|l fixed-value edit|e get-color get-colorbool type|t= "
    "bool int bool-or-int bool-or-str path expiry-date no-type null|z name-only includes show-origin "
    "show-scope default= comment= value= all regexp url= append"
)
_CONFIG_ACTIONS = frozenset({"set", "unset", "rename-section", "remove-section", "edit", "get", "list"})
_CONFIG_WRITES = frozenset({"replace-all", "add", "unset", "unset-all", "rename-section", "remove-section"})
_CONFIG_READS = ("get", "get-all", "get-regexp", "get-urlmatch", "list", "get-color", "get-colorbool")


def config_findings(
    ctx: Ctx, key: str, value: str | None, shown: str, *, unset: bool = False
) -> list[GitFinding]:
    """What writing ``key`` (``value`` None: unknown) does to the guards, for ``git config`` and ``-c``."""
    k = _config_key(key)
    lk = k.lower()
    if lk == "core.hookspath":
        return [
            _deny(
                rids.GIT_HOOKS_PATH, f"{shown} changes core.hooksPath: the push and commit hooks stop running"
            )
        ]
    if lk.startswith("alias.") and not unset:
        alias = k[len("alias.") :]
        return _alias_value(ctx, alias, value, shown)
    if unset:
        return []
    if (lk.startswith("remote.") and lk.endswith((".url", ".pushurl"))) or (
        lk.startswith("url.") and lk.endswith(("insteadof", "pushinsteadof"))
    ):
        return [_deny(rids.GIT_REMOTE, f"{shown} changes where pushes go ({k})")]
    if lk == "push.default" and (value is None or value.lower() not in _PUSH_DEFAULT_SAFE):
        return [_deny(rids.GIT_PUSH_CONFIG, f"{shown}: push.default={value} lets a plain push update main")]
    if lk.startswith("remote.") and lk.endswith((".push", ".mirror")):
        return [_deny(rids.GIT_PUSH_CONFIG, f"{shown} changes what a plain push sends ({k})")]
    return []


def _alias_value(ctx: Ctx, alias: str, value: str | None, shown: str) -> list[GitFinding]:
    if value is None:
        return [_deny(rids.GIT_ALIAS, f"{shown} defines alias {alias} from a value not visible here")]
    if value.lstrip().startswith("!"):
        return [_deny(rids.GIT_ALIAS, f"{shown}: alias {alias} runs a shell command")]
    import shlex  # only for a command line that defines an alias

    try:
        words = shlex.split(value)
    except ValueError:
        return [_deny(rids.GIT_ALIAS, f"{shown}: alias {alias} cannot be read")]
    if ctx.depth > 3:
        return [_deny(rids.GIT_ALIAS, f"{shown}: alias {alias} nests too deeply")]
    inner = _check(["git", *words], ctx.settings, None, ctx.depth + 1)
    if inner:
        return [_deny(rids.GIT_ALIAS, f"{shown}: alias {alias} runs a guarded command ({inner[0].reason})")]
    return []


def _config(ctx: Ctx, args: Sequence[str]) -> list[GitFinding]:
    p = parse(args, _CONFIG)
    positional = list(p.positional)
    action = next((o.name for o in p.options if o.name in _CONFIG_WRITES or o.name == "edit"), None)
    if action is None and positional and positional[0] in _CONFIG_ACTIONS:
        action = positional.pop(0)
    shown = "git config " + " ".join(args[:6])
    if action == "edit":
        return [_deny(rids.GIT_HOOKS_PATH, "git config --edit can change core.hooksPath and the remotes")]
    if action in ("rename-section", "remove-section"):
        section = _config_key(positional[0]) if positional else ""
        head = section.split(".")[0].lower()
        if head in ("core", "remote", "url", "push"):
            rule = rids.GIT_HOOKS_PATH if head == "core" else rids.GIT_REMOTE
            return [_deny(rule, f"{shown} changes the {section} section")]
        return []
    if not positional or (action is None and p.has(*_CONFIG_READS)):
        return []
    key = positional[0]
    if action in ("unset", "unset-all"):
        return config_findings(ctx, key, None, shown, unset=True)
    value_option = p.has("value")
    if len(positional) > 1:
        value: str | None = positional[1]
    elif value_option is not None:
        value = value_option.value
    elif action is None:
        return []  # `git config KEY` reads it
    else:
        value = None
    return config_findings(ctx, key, value, shown)


def _remote(ctx: Ctx, args: Sequence[str]) -> list[GitFinding]:
    p = parse(args, _table("verbose|v", stop=True))
    if p.positional and p.positional[0] in ("add", "set-url", "rename"):
        sub = " ".join(p.positional[:4])
        return [_deny(rids.GIT_REMOTE, f"git remote {sub} changes where pushes go")]
    return []


def _history(ctx: Ctx, args: Sequence[str], what: str) -> list[GitFinding]:
    return [_deny(rids.GIT_HISTORY_REWRITE, f"git {what} rewrites every commit")]


_UPDATE_REF = _table("m= d no-deref z stdin create-reflog")


def _update_ref(ctx: Ctx, args: Sequence[str]) -> list[GitFinding]:
    p = parse(args, _UPDATE_REF)
    if option := p.has("d", "stdin"):
        return [_deny(rids.GIT_UPDATE_REF_DELETE, f"git update-ref {option.word} can delete refs")]
    if len(p.positional) > 1 and p.positional[1] and set(p.positional[1]) == {"0"}:
        return [
            _deny(
                rids.GIT_UPDATE_REF_DELETE, f"git update-ref {p.positional[0]} with a zero value deletes it"
            )
        ]
    if p.positional:
        for branch in _branch_names(p.positional[0]) if p.positional[0].startswith("refs/") else []:
            if protected(branch, ctx.settings):
                return [
                    _deny(rids.GIT_BRANCH_FORCE_PROTECTED, f"git update-ref moves protected branch {branch}")
                ]
    return []


_BRANCH = _table(
    "verbose|v quiet|q track|t=? no-track set-upstream-to|u= unset-upstream color=? remotes|r contains "
    "no-contains abbrev=? all|a delete|d D move|m M copy|c C list|l show-current create-reflog "
    "edit-description force|f merged no-merged column=? sort= points-at= ignore-case|i recurse-submodules "
    "format= omit-empty"
)


def _branch(ctx: Ctx, args: Sequence[str]) -> list[GitFinding]:
    p = parse(args, _BRANCH)
    s = ctx.settings
    names = p.positional
    force = p.has("force", "D", "M", "C")
    out: list[GitFinding] = []
    if p.has("remotes"):
        return out  # remote-tracking refs are local copies
    if option := p.has("delete", "D"):
        for name in names:
            if protected(name, s):
                out.append(
                    _deny(
                        rids.GIT_BRANCH_DELETE_PROTECTED,
                        f"git branch {option.word} deletes protected branch {name}",
                    )
                )
        return out
    if option := p.has("move", "M", "copy", "C"):
        moving = option.name in ("move", "M")
        old = names[0] if len(names) >= 2 else ctx.current
        new = names[-1] if names else None
        if moving and old is None:
            out.append(
                _deny(
                    rids.GIT_BRANCH_DELETE_PROTECTED,
                    f"git branch {option.word} renames the current branch, which is not known here",
                )
            )
        elif moving and protected(old or "", s):
            out.append(
                _deny(
                    rids.GIT_BRANCH_DELETE_PROTECTED,
                    f"git branch {option.word} renames protected branch {old}",
                )
            )
        if new and force and protected(new, s):
            out.append(
                _deny(
                    rids.GIT_BRANCH_FORCE_PROTECTED,
                    f"git branch {option.word} overwrites protected branch {new}",
                )
            )
        return out
    if force and names and protected(names[0], s):
        out.append(
            _deny(
                rids.GIT_BRANCH_FORCE_PROTECTED,
                f"git branch {force.word} {names[0]} resets protected branch {names[0]}",
            )
        )
    return out


def _plumbing_push(what: str) -> Callable[[Ctx, Sequence[str]], list[GitFinding]]:
    def check(ctx: Ctx, args: Sequence[str]) -> list[GitFinding]:
        return [
            _deny(rids.GIT_PUSH_PLUMBING, f"git {what} pushes without git push's checks and pre-push hook")
        ]

    return check


def _vcs_bridge(subs: frozenset[str], what: str) -> Callable[[Ctx, Sequence[str]], list[GitFinding]]:
    def check(ctx: Ctx, args: Sequence[str]) -> list[GitFinding]:
        first = next((a for a in args if not a.startswith("-")), "")
        if first in subs:
            return [_deny(rids.GIT_PUSH_PLUMBING, f"git {what} {first} pushes commits to another system")]
        return []

    return check


_SUBTREE = _table("prefix|P= message|m= onto= branch|b= annotate= squash rejoin ignore-joins quiet|q debug|d")


def _subtree(ctx: Ctx, args: Sequence[str]) -> list[GitFinding]:
    p = parse(args, _SUBTREE)
    if not p.positional or p.positional[0] != "push":
        return []
    rest = list(p.positional[1:])
    if len(rest) < 2:
        return [_deny(rids.GIT_PUSH_UNKNOWN, "git subtree push without a branch")]
    repo, ref = rest[0], rest[1]
    force = "+" if ref.startswith("+") else ""
    dst = ref.rpartition(":")[2] or ref.lstrip("+")
    return _push(ctx, [repo, f"{force}SPLIT:{dst}"], "git subtree push")


_HANDLERS: dict[str, Callable[[Ctx, Sequence[str]], list[GitFinding]]] = {
    "push": _push,
    "commit": _no_verify(_COMMIT, "commit"),
    "merge": _no_verify(_MERGE, "merge"),
    "am": _no_verify(_AM, "am"),
    "pull": _pull,
    "rebase": _rebase,
    "reset": _reset,
    "clean": _clean,
    "checkout": _checkout(_CHECKOUT, "checkout"),
    "switch": _checkout(_SWITCH, "switch"),
    "config": _config,
    "remote": _remote,
    "filter-branch": lambda ctx, args: _history(ctx, args, "filter-branch"),
    "filter-repo": lambda ctx, args: _history(ctx, args, "filter-repo"),
    "update-ref": _update_ref,
    "branch": _branch,
    "send-pack": _plumbing_push("send-pack"),
    "http-push": _plumbing_push("http-push"),
    "svn": _vcs_bridge(frozenset({"dcommit", "set-tree"}), "svn"),
    "p4": _vcs_bridge(frozenset({"submit"}), "p4"),
    "subtree": _subtree,
}

# Commands git knows (2.4x builtins and the common extras): an unknown word may be an alias or, with
# help.autocorrect, a misspelling git runs as the nearest command.
KNOWN = options(
    "add am annotate apply archive bisect blame branch bugreport bundle cat-file check-attr check-ignore "
    "check-mailmap check-ref-format checkout checkout-index cherry cherry-pick citool clean clone column "
    "commit commit-graph commit-tree config count-objects credential credential-cache credential-store "
    "daemon describe diagnose diff diff-files diff-index diff-tree difftool fast-export fast-import fetch "
    "fetch-pack filter-branch fmt-merge-msg for-each-ref for-each-repo format-patch fsck fsck-objects gc "
    "get-tar-commit-id grep gui hash-object help hook http-backend http-fetch http-push imap-send "
    "index-pack init init-db instaweb interpret-trailers log ls-files ls-remote ls-tree mailinfo "
    "mailsplit maintenance merge merge-base merge-file merge-index merge-octopus merge-one-file "
    "merge-ours merge-recursive merge-resolve merge-subtree merge-tree mergetool mktag mktree "
    "multi-pack-index mv name-rev notes pack-objects pack-redundant pack-refs patch-id prune "
    "prune-packed pull push quiltimport range-diff read-tree rebase receive-pack reflog remote "
    "remote-ext remote-fd repack replace replay request-pull rerere reset restore rev-list rev-parse "
    "revert rm scalar send-email send-pack shell shortlog show show-branch show-index show-ref "
    "sparse-checkout stage stash status stripspace submodule subtree svn p4 switch symbolic-ref tag "
    "unpack-file unpack-objects update-index update-ref update-server-info upload-archive upload-pack "
    "var verify-commit verify-pack verify-tag version whatchanged worktree write-tree lfs filter-repo "
    "gitk cvsimport cvsserver cvsexportcommit archimport"
)
COMMON = options(
    "add bisect branch clone commit diff fetch grep init log merge mv pull push rebase reset restore rm "
    "show status switch tag"
)
"""git's "common" commands: a prefix of one of these autocorrects to it (``git pus`` runs ``git push``)."""


def levenshtein(a: str, b: str, swap: int = 0, sub: int = 2, add: int = 1, delete: int = 3) -> int:
    """git's weighted edit distance (help.c calls it with 0, 2, 1, 3)."""
    row0 = [0] * (len(b) + 1)
    row1 = [j * add for j in range(len(b) + 1)]
    for i in range(len(a)):
        row2 = [(i + 1) * delete] + [0] * len(b)
        for j in range(len(b)):
            cost = row1[j] + sub * (a[i] != b[j])
            if i > 0 and j > 0 and a[i - 1] == b[j] and a[i] == b[j - 1]:
                cost = min(cost, row0[j - 1] + swap)
            cost = min(cost, row1[j + 1] + delete, row2[j] + add)
            row2[j + 1] = cost
        row0, row1 = row1, row2
    return row1[len(b)]


def autocorrect(word: str) -> str | None:
    """The command git's help.autocorrect would run for an unknown ``word``, if it would run one."""
    scores = {}
    for name in KNOWN:
        if name in COMMON and name.startswith(word):
            scores[name] = 0
        else:
            scores[name] = levenshtein(word, name) + 1
    best = min(scores.values())
    winners = [n for n, v in scores.items() if v == best]
    return winners[0] if len(winners) == 1 and best < 7 else None


# -- entry point -------------------------------------------------------------------------------------------


def check_git(
    argv: Sequence[str], settings: GitSettings, *, current_branch: str | None = None
) -> tuple[GitFinding, ...]:
    """Findings for one git command (``argv[0]`` is ``git``, a path to it, or ``git-SUB``); () if none.

    ``current_branch`` is what HEAD points at in the command's repository, when known.
    """
    try:
        findings = _check(argv, settings, current_branch, 0)
    except Exception as exc:  # noqa: BLE001 - an unreadable command must not pass
        return (_deny(rids.GIT_OPAQUE, f"git command could not be read ({type(exc).__name__})"),)
    return tuple(dict.fromkeys(findings))


def _check(argv: Sequence[str], settings: GitSettings, current: str | None, depth: int) -> list[GitFinding]:
    inv = invocation(argv)
    if inv.problem:
        return [_deny(rids.GIT_OPAQUE, inv.problem)]
    if current is not None and current.startswith("refs/heads/"):
        current = current[len("refs/heads/") :]
    ctx = Ctx(settings, None if inv.moved else current, inv.configs, depth)
    out: list[GitFinding] = []
    aliases: set[str] = set()
    for config in inv.configs:
        shown = f"git -c {config.word}" if config.value is not None else f"git --config-env={config.word}"
        if config.key.lower() == "core.hookspath":
            out.extend(config_findings(ctx, config.key, config.value, shown))
        elif config.key.lower().startswith("alias."):
            aliases.add(config.key[len("alias.") :].lower())
            out.extend(config_findings(ctx, config.key, config.value, shown))
    sub = inv.sub
    if not sub:
        return out
    if sub.lower() in aliases and sub not in KNOWN:
        out.append(
            _deny(rids.GIT_ALIAS, f"git {sub} is an alias defined on the command line (-c alias.{sub}=…)")
        )
        return out
    handler = _HANDLERS.get(sub)
    if handler is not None:
        out.extend(handler(ctx, inv.args))
    elif sub not in KNOWN and not sub.startswith("-"):
        target = autocorrect(sub)
        inner = _HANDLERS.get(target or "")
        if target and inner:
            found = inner(ctx, inv.args)
            if found:
                verdict: Verdict = "deny" if any(f.verdict == "deny" for f in found) else "ask"
                out.append(
                    GitFinding(
                        rids.GIT_OPAQUE,
                        verdict,
                        f"git {sub} is not a git command; with help.autocorrect git runs git {target}: "
                        f"{found[0].reason}",
                    )
                )
    return out
