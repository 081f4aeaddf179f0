"""Which commands cannot change anything: the read-only table (pure data and one matcher, no I/O).

A profile with ``shell.allow_read_only: true`` allows a command this table calls read-only without
a rule, as Dippy does for its read-only set. The engine still applies every deny and ask rule, the
sensitive-path rules to the files the command reads, and the "every part must be allowed" rule, so
``cat README.md`` is allowed, ``cat .env`` is denied and ``ls && rm x`` asks.

Each entry says what keeps a program read-only: options that make it write or run something
(``sort -o``, ``sed -i``, ``fd -x``), subcommands that only read (``git log``, ``kubectl get``),
or, for cloud CLIs, the verbs of their operations (``aws ec2 describe-*``, ``az vm list``). A
command that reveals credentials (``aws secretsmanager get-secret-value``, ``gh auth token``,
``kubectl get secret``) is never read-only here, even though it changes nothing: reading a secret
into the model's context is the leak Ramparts exists to stop.

Not in the table on purpose: pagers and editors (interactive: ``less`` runs ``!cmd``), ``env`` and
``printenv`` (print every token in the environment), HTTP clients (they reach the network and can
send data), interpreters, and build tools (they write caches and build outputs).
"""

from __future__ import annotations

import fnmatch
import re
from typing import NamedTuple

from .unwrap import options


class Spec(NamedTuple):
    deny: frozenset[str] = frozenset()
    """Options (also as ``--opt=value``) that make the program write or run something."""
    letters: str = ""
    """Short options that do so even inside a cluster (``sed -ni``)."""
    values: frozenset[str] = frozenset()
    """Options that take the next word as their value (so it is not read as a subcommand)."""
    sub: dict[str, Spec] | None = None
    """Read-only subcommands (the first positional word); any other subcommand is not read-only."""
    verbs: tuple[str, ...] = ()
    """For cloud CLIs: patterns the operation (the last word of the command path) must match."""
    path: int = 0
    """How many leading positional words form the command path (0: all of them)."""
    forbid: tuple[str, ...] = ()
    """Patterns no positional word may match (``kubectl get secret``)."""
    need: frozenset[str] = frozenset()
    """At least one of these options must be present (``gzip -l``, ``unzip -l``)."""
    need_letters: str = ""
    """...or one of these short options, also inside a cluster (``tar -tzf``)."""
    max_positional: int = -1
    """More positional words than this makes it write (``uniq IN OUT``); -1: no limit."""


ANY = Spec()


def _spec(
    deny: str = "",
    letters: str = "",
    values: str = "",
    sub: dict[str, Spec] | None = None,
    verbs: str = "",
    path: int = 0,
    forbid: str = "",
    need: str = "",
    need_letters: str = "",
    max_positional: int = -1,
) -> Spec:
    """A table entry, with option lists written as space-separated strings.

    A one-letter option in ``deny`` also counts inside a cluster or with its value attached
    (``sort -ooutput.txt``, ``dmesg -Tc``).
    """
    letters += "".join(w[1] for w in deny.split() if len(w) == 2 and w[0] == "-" and w[1] != "-")
    return Spec(
        options(deny),
        letters,
        options(values),
        sub,
        tuple(verbs.split()),
        path,
        tuple(forbid.split()),
        options(need),
        need_letters,
        max_positional,
    )


def _subs(names: str, spec: Spec = ANY) -> dict[str, Spec]:
    return dict.fromkeys(names.split(), spec)


# Parts of an operation or resource name that mean it returns a credential.
SECRET_PARTS = frozenset(
    [
        "secret",
        "secrets",
        "password",
        "passwords",
        "passwd",
        "credential",
        "credentials",
        "creds",
        "token",
        "tokens",
        "key",
        "keys",
        "sas",
        "connection-string",
        "login",
        "decrypt",
        "access-token",
        "private",
    ]
)
# Read verbs that still write a file (`aws s3api get-object BUCKET KEY OUTFILE`).
WRITING_OPERATIONS = frozenset({"get-object", "get-object-torrent", "get-template-summary-file"})
_DOCKER = _spec(
    values="-H --host --context -c --config -l --log-level",
    sub={
        **_subs("ps images version info top port diff history events stats search"),
        "inspect": ANY,
        "logs": ANY,
        **{
            k: _spec(sub=_subs("ls list inspect history"))
            for k in ("image", "container", "network", "volume")
        },
        "system": _spec(sub=_subs("df info events")),
        "compose": _spec(
            values="-f --file -p --project-name --env-file --profile --project-directory",
            sub=_subs("ps logs config ls images top version"),
        ),
        "context": _spec(sub=_subs("ls list inspect show")),
        "buildx": _spec(sub=_subs("ls inspect version")),
        "manifest": _spec(sub=_subs("inspect")),
        **{
            k: _spec(sub=_subs("ls list ps inspect logs"))
            for k in ("node", "service", "stack", "plugin", "config")
        },
    },
)
_GIT = _spec(
    values="-C -c --git-dir --work-tree --namespace",
    sub={
        **_subs(
            "status show blame shortlog describe rev-parse ls-files ls-tree cat-file show-ref merge-base "
            "name-rev rev-list count-objects for-each-ref check-ignore check-attr var version help whatchanged "
            "grep cherry show-branch verify-commit verify-tag fsck range-diff ls-remote request-pull "
            "diff-tree diff-files diff-index annotate show-index verify-pack"
        ),
        "archive": _spec(deny="-o --output"),
        "bisect": _spec(sub=_subs("view visualize log")),
        "bundle": _spec(sub=_subs("verify list-heads")),
        "sparse-checkout": _spec(sub=_subs("list")),
        "rerere": _spec(sub=_subs("status diff remaining")),
        "lfs": _spec(sub=_subs("ls-files status env version locks")),
        "log": _spec(deny="--output"),
        "diff": _spec(deny="--output --ext-diff"),
        "branch": _spec(
            deny="-d -D -m -M -c -C --delete --move --copy --set-upstream-to -u --unset-upstream "
            "--edit-description -f --force",
            max_positional=0,
        ),
        "tag": _spec(
            need="-l --list -n --contains --points-at --merged --no-merged",
            deny="-d --delete -a -s -u -f --force",
        ),
        "remote": _spec(sub={"": ANY, "-v": ANY, "--verbose": ANY, "show": ANY, "get-url": ANY}),
        "stash": _spec(sub=_subs("list show")),
        "worktree": _spec(sub=_subs("list")),
        "reflog": _spec(sub={"": ANY, "show": ANY}),
        "config": _spec(need="--get --get-all --get-regexp --list -l --get-urlmatch --show-origin"),
        "submodule": _spec(sub={"": ANY, "status": ANY, "summary": ANY}),
        "notes": _spec(sub={"": ANY, "list": ANY, "show": ANY}),
    },
)
_KUBECTL = _spec(
    values="-n --namespace --context --cluster --user --kubeconfig -s --server -l --selector -o --output "
    "--field-selector -c --container --since --tail -L --label-columns --sort-by",
    sub={
        **_subs("get describe", _spec(forbid="*secret*")),
        **_subs(
            "logs top explain api-resources api-versions version cluster-info events completion wait diff"
        ),
        "config": _spec(
            sub={**_subs("get-contexts current-context get-clusters get-users"), "view": _spec(deny="--raw")}
        ),
        "auth": _spec(sub=_subs("can-i whoami")),
        "rollout": _spec(sub=_subs("status history")),
    },
)
_IP_SHOW = _spec(sub=_subs("show list ls lst sh get identify pids list-id") | {"": ANY})
_IP_OBJECTS: dict[str, Spec] = {}
for _object in [
    "address",
    "addrlabel",
    "link",
    "maddress",
    "mroute",
    "mrule",
    "neighbor",
    "neighbour",
    "netconf",
    "netns",
    "nexthop",
    "ntable",
    "route",
    "rule",
    "stats",
    "tcp_metrics",
    "token",
    "tunnel",
    "tuntap",
    "vrf",
    "xfrm",
    "mptcp",
    "l2tp",
]:
    for _end in range(1, len(_object) + 1):  # ip takes any prefix of an object name (`ip a`, `ip ro`)
        _IP_OBJECTS.setdefault(_object[:_end], _IP_SHOW)
_IP_OBJECTS.update({"monitor": ANY, "mo": ANY, "mon": ANY})  # `ip monitor` only listens
_CLOUD_VERBS = (
    "list list-* show show-* describe describe-* get get-* ls head-* version info help batch-get-* filter-* "
    "search-* lookup-* admin-list-* admin-get-* tail simulate-* validate-* exists query estimate-* preview-*"
)

TABLE: dict[str, Spec] = {
    # files and text
    **_subs(
        "ls dir vdir pwd echo printf cat tac nl head tail wc cut tr paste join comm cmp diff column rev fold fmt "
        "expand unexpand expr numfmt md5sum sha1sum sha224sum sha256sum sha384sum sha512sum b2sum cksum sum "
        "file stat du df basename dirname realpath readlink which whereis type true false test [ seq sleep "
        "grep egrep fgrep zgrep zcat bzcat xzcat ag ack jq strings od hexdump hd lsattr getfacl namei "
        "whoami id groups uname hostname uptime nproc tty locale lscpu lsblk lsusb lspci free vmstat "
        "iostat ps pgrep pidof lsof w who last ss netstat sw_vers system_profiler mdfind mdls getconf cal "
        "zipinfo tldr apropos whatis info"
    ),
    "sort": _spec(deny="-o --output --compress-program"),
    "command": _spec(need="-v -V -pv -pV"),
    "man": _spec(deny="-H --html -P --pager -X --gxditview -R --recode"),  # `man -H/bin/sh` runs it
    "uniq": _spec(max_positional=1),
    "tree": _spec(deny="-o"),
    "rg": _spec(deny="--pre --pre-glob"),
    "sed": _spec(deny="--in-place", letters="i"),
    "awk": _spec(deny="-f --file -i --include -l --load -E --exec"),
    "gawk": _spec(deny="-f --file -i --include -l --load -E --exec"),
    "mawk": _spec(deny="-f"),
    "yq": _spec(deny="-i --inplace"),
    "xxd": _spec(max_positional=1),
    "base64": _spec(deny="-o --output"),
    "base32": ANY,
    "iconv": _spec(deny="-o --output"),
    "find": _spec(deny="-delete -exec -execdir -ok -okdir -fprint -fprint0 -fprintf -fls"),
    "fd": _spec(deny="-x --exec -X --exec-batch"),
    "fdfind": _spec(deny="-x --exec -X --exec-batch"),
    "fzf": _spec(deny="--bind --preview --listen --listen-unsafe --with-shell --execute"),
    "date": _spec(deny="-s --set", letters="s"),
    "journalctl": _spec(
        deny="--vacuum-size --vacuum-time --vacuum-files --rotate --flush --sync --relinquish-var "
        "--smart-relinquish-var --setup-keys --update-catalog"
    ),
    "dmesg": _spec(deny="-C --clear -c --read-clear -D --console-off -E --console-on -n --console-level"),
    "sysctl": _spec(deny="-w --write -p -f --load --system", forbid="*=*"),
    # archives: listing and testing only
    "tar": _spec(
        need="--list -t --test-label",
        need_letters="t",
        deny="--to-command -I --use-compress-program"
        " --checkpoint-action -x -c -r -u -A --extract --get --create --append --update --delete",
    ),
    "unzip": _spec(need="-l -v -t -Z -z", need_letters="lvtZz"),
    "7z": _spec(sub=_subs("l t h i")),
    "7zz": _spec(sub=_subs("l t h i")),
    "gzip": _spec(need="-l --list -t --test -c --stdout", need_letters="ltc"),
    "gunzip": _spec(need="-l --list -t --test -c --stdout", need_letters="ltc"),
    "bzip2": _spec(need="-t --test -c --stdout", need_letters="tc"),
    "xz": _spec(need="-l --list -t --test -c --stdout", need_letters="ltc"),
    # version control
    "git": _GIT,
    "gh": _spec(
        values="-R --repo",
        verbs="list view status diff checks watch search",  # `gh GROUP VERB`, as for the cloud CLIs
        sub={
            "auth": _spec(sub=_subs("status")),
            "api": _spec(
                deny="-X --method -f --raw-field -F --field --input",
                forbid="*token* *secret* */keys* *credentials*",
            ),
        },
    ),
    # cloud CLIs: read verbs of their operations, never an operation that returns a credential
    "aws": _spec(
        values="--region --profile --output --query --endpoint-url --color --cli-read-timeout "
        "--cli-connect-timeout --ca-bundle",
        verbs=_CLOUD_VERBS,
        path=2,
        deny="--outfile --with-decryption",
    ),
    "az": _spec(values="--subscription -g --resource-group -o --output --query", verbs=_CLOUD_VERBS),
    "gcloud": _spec(
        values="--project --account --configuration --format --filter --region --zone", verbs=_CLOUD_VERBS
    ),
    "kubectl": _KUBECTL,
    "oc": _KUBECTL,
    "helm": _spec(
        values="-n --namespace --kube-context --kubeconfig -o --output",
        sub={
            **_subs("list ls status history show inspect search version env lint get completion verify help"),
            "template": _spec(deny="--output-dir"),
            **{k: _spec(sub=_subs("list ls")) for k in ("repo", "dependency", "dep", "plugin")},
        },
    ),
    "docker": _DOCKER,
    "podman": _DOCKER,
    "docker-compose": _spec(
        values="-f --file -p --project-name --env-file --profile --project-directory",
        sub=_subs("ps logs config ls images top version"),
    ),
    "terraform": _spec(
        values="-chdir",
        sub={
            **_subs("version show providers graph validate modules"),
            "state": _spec(sub=_subs("list show")),
            "workspace": _spec(sub=_subs("list show")),
            "fmt": _spec(need="-check"),
        },
    ),
    # package managers: what is installed, never install or publish
    "brew": _spec(
        sub={
            **_subs(
                "cat log --config "
                "list ls info search outdated deps uses config doctor leaves desc commands --prefix --version "
                "--cellar --repository --cache --env"
            ),
            "tap": _spec(max_positional=0, deny="--repair"),
            "services": _spec(sub=_subs("list info")),
            "bundle": _spec(sub=_subs("check list")),
            "analytics": _spec(sub={"": ANY, "state": ANY}),
        }
    ),
    **{
        k: _spec(
            sub={
                **_subs(
                    "ls list ll la view info show outdated why explain root prefix help --version -v query fund "
                    "search find ping bin"
                ),
                "owner": _spec(sub=_subs("ls list")),
                "audit": _spec(max_positional=0),
                "config": _spec(sub=_subs("get list ls")),
            }
        )
        for k in ("npm", "pnpm", "yarn")
    },
    **{
        k: _spec(
            sub={
                **_subs("list show freeze check --version help debug inspect"),
                "config": _spec(sub=_subs("list get debug")),
                "index": _spec(sub=_subs("versions")),
            }
        )
        for k in ("pip", "pip3")
    },
    "uv": _spec(
        sub={
            "pip": _spec(sub=_subs("list show freeze tree check")),
            **_subs("tree --version"),
            "version": _spec(max_positional=0, deny="--bump"),
            "python": _spec(sub=_subs("list find dir")),
            "tool": _spec(sub=_subs("list dir")),
            "cache": _spec(sub=_subs("dir")),
        }
    ),
    "cargo": _spec(
        sub=_subs(
            "--version version tree metadata search read-manifest locate-project pkgid info verify-project"
        )
    ),
    # linters and formatters in their checking modes (they may write a cache, nothing else)
    "ruff": _spec(
        sub={
            "check": _spec(deny="--fix --fix-only --unsafe-fixes --add-noqa -o --output-file --watch"),
            "format": _spec(need="--check --diff"),
            **_subs("version rule linter config --version"),
        }
    ),
    "black": _spec(need="--check --diff"),
    "isort": _spec(need="--check-only --check --diff -c"),
    "ansible-doc": ANY,
    "ansible-lint": _spec(deny="--fix --write"),
    "auth0": _spec(values="--tenant", verbs=_CLOUD_VERBS),
    # network state, read only
    "ip": _spec(values="-f -family -n -netns", sub=_IP_OBJECTS),
    "networksetup": _spec(need="-get* -list* -print* -show* -version -help"),
    "scutil": _spec(need="--get --dns --proxy --nwi -r", deny="--set"),
    # macOS state
    "launchctl": _spec(sub=_subs("list print print-disabled blame version")),
    "defaults": _spec(sub=_subs("read read-type domains find")),
    "diskutil": _spec(sub={**_subs("list info activity"), "apfs": _spec(sub=_subs("list"))}),
    "tmutil": _spec(
        sub=_subs(
            "listbackups latestbackup destinationinfo status machinedirectory "
            "listlocalsnapshots isexcluded version"
        )
    ),
    "pkgutil": _spec(
        need="--pkgs --pkg-info --files --lsbom --pkgs-plist --file-info --payload-files --pkg-info-plist"
    ),
    "codesign": _spec(
        need="-d --display -v --verify --validate-constraint", deny="-s --sign --remove-signature"
    ),
    "security": _spec(
        sub={
            **_subs("show-keychain-info find-certificate dump-trust-settings verify-cert"),
            **_subs("list-keychains default-keychain login-keychain", _spec(deny="-s -d")),  # -s sets them
        }
    ),
    "openssl": _spec(
        sub={
            **_subs("version ciphers list"),
            "x509": _spec(deny="-out -signkey -CAkey -req"),
            "verify": ANY,
            "dgst": _spec(deny="-out -sign -hmac -mac"),
        }
    ),
}
SYSTEM_DIRS = ("/bin/", "/usr/bin/", "/usr/local/bin/", "/sbin/", "/usr/sbin/", "/opt/homebrew/bin/")
"""A program given by path is only the one in the table when it lives here (``./ls`` is not ``ls``)."""
_VERSION_ONLY = frozenset({("--version",), ("-h",), ("help",), ("version",)})


def is_read_only(argv: tuple[str, ...], program: str = "") -> bool:
    """Is this simple command (after unwrapping) one the table says cannot change anything?"""
    if not argv:
        return False
    if program and "/" in program and not program.startswith(SYSTEM_DIRS):
        return False
    spec = TABLE.get(argv[0])
    if spec is None:
        return False
    if argv[1:] in _VERSION_ONLY or "--help" in argv[1:]:
        return True  # prints its version or help and exits
    return _matches(spec, list(argv[1:]))


def _matches(spec: Spec, args: list[str]) -> bool:
    positional: list[str] = []
    path: list[str] = []  # the leading positional words, before any option but a known global one
    path_open = True
    skip = False
    seen_need = not (spec.need or spec.need_letters)
    done = False
    for i, word in enumerate(args):
        if skip:
            skip = False
            continue
        if done or word == "-" or not word.startswith("-"):
            if spec.sub is not None and not positional and (word in spec.sub or not spec.verbs):
                sub = spec.sub.get(word)
                return sub is not None and seen_need and _matches(sub, args[i + 1 :])
            positional.append(word)
            if path_open:
                path.append(word)
            continue
        path_open = path_open and word.partition("=")[0] in spec.values
        if word == "--":
            done = True
            continue
        flag = word.partition("=")[0]
        if flag in spec.deny or (
            spec.letters and word[1:2] != "-" and any(c in spec.letters for c in word[1:])
        ):
            return False
        if (
            flag in spec.need
            or any("*" in n and fnmatch.fnmatchcase(flag, n) for n in spec.need)
            or (spec.need_letters and word[1:2] != "-" and any(c in spec.need_letters for c in word[1:]))
        ):
            seen_need = True
        if spec.sub is not None and not positional and word in spec.sub:
            return _matches(spec.sub[word], args[i + 1 :])  # `brew --prefix`, `cargo --version`
        skip = flag in spec.values and "=" not in word
    if not seen_need:
        return False
    if spec.verbs:
        # `file://x`, `fileb://x` and `@x` parameters send a local file's content to the service
        if any(w.partition("=")[2 if "=" in w else 0].startswith(("file://", "fileb://", "@")) for w in args):
            return False
        return _cloud_operation(spec, path)
    if spec.sub is not None:
        sub = spec.sub.get("")
        return sub is not None and not positional  # no subcommand: `git remote`, `ip addr`
    if 0 <= spec.max_positional < len(positional):
        return False
    return not any(fnmatch.fnmatchcase(w.lower(), p) for w in positional for p in spec.forbid)


_PART = re.compile(r"[-_.]")
# Operation words that change something; one before the read verb means the read verb is an argument
# (`gcloud compute instances delete list` deletes the instance called "list").
MUTATING = options(
    "create* delete* update* set* add* remove* start* stop* restart* reset* deploy* put* patch* apply* "
    "run-* invoke* attach* detach* import* export* ssh scp copy* cp mv rm sync enable* disable* tag-* "
    "untag* modify* terminate* reboot* register* deregister* upload* download* purge* rotate* grant* "
    "revoke* assign* unassign* move* rename* restore* resize* scale* exec* login logout init* connect* "
    "send* publish* write* edit* replace* cancel* approve* reject* accept* associate* disassociate*"
)


def _cloud_operation(spec: Spec, path: list[str]) -> bool:
    """``SERVICE [GROUP…] VERB [RESOURCE…]``: a read verb, nothing mutating or secret before it."""
    words = [w.lower() for w in path]
    candidates = [spec.path - 1] if spec.path else range(len(words))
    for index in candidates:
        if index >= len(words) or not any(fnmatch.fnmatchcase(words[index], p) for p in spec.verbs):
            continue
        head = words[: index + 1]
        if words[index] in WRITING_OPERATIONS:
            return False
        if any(fnmatch.fnmatchcase(w, p) for w in head[:-1] for p in MUTATING):
            return False
        parts = {part for w in head for part in (w, *_PART.split(w), *_pairs(w))}
        return not parts & SECRET_PARTS
    return False


def _pairs(word: str) -> list[str]:
    parts = word.split("-")
    return ["-".join(parts[i : i + 2]) for i in range(len(parts) - 1)]
