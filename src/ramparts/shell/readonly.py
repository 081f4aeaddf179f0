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

from .._lexical import fnmatchcase
from .._recache import compile as re_compile
from .._tuples import NamedTuple
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
    options_first: bool = False
    """Words after the first positional are never options (``unzip A.zip -x -l``: ``-l`` is a name)."""
    outfile: bool = False
    """A positional after the operation is a file it writes (aws, except ``aws s3``)."""
    booleans: frozenset[str] | None = None
    """When set, every ``--long`` option takes a value except these (aws: ``--filters X``)."""
    listing: frozenset[str] = frozenset()
    """Options that make positional words patterns to list by, lifting ``max_positional``
    (``git tag -l 'v1.*'``, ``git branch --list 'feature/*'``)."""


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
    options_first: bool = False,
    outfile: bool = False,
    booleans: str | None = None,
    listing: str = "",
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
        options_first,
        outfile,
        None if booleans is None else options(booleans),
        options(listing),
    )


def _subs(names: str, spec: Spec = ANY) -> dict[str, Spec]:
    return dict.fromkeys(names.split(), spec)


# Parts of an operation or resource name that mean it returns a credential.
SECRET_PARTS = frozenset(
    options(
        "secret secrets password passwords passwd credential credentials creds token tokens key keys sas "
        "connection-string connection-strings login decrypt access-token private configure appsettings "
        "access-details publishing-profiles publish-profile kubeconfig env"
    )
)
POSITIONAL_SERVICES = frozenset({"s3"})
"""aws services whose commands take positional arguments (``aws s3 ls s3://bucket``)."""
# Read verbs that still write a file (`aws s3api get-object BUCKET KEY OUTFILE`).
WRITING_OPERATIONS = frozenset({"get-object", "get-object-torrent", "get-template-summary-file"})
_DOCKER = _spec(
    # -H ssh://host runs ssh; another context or config can point anywhere
    deny="-H --host --context -c --config",
    values="-l --log-level",
    sub={
        **_subs("ps images version info top port diff history events stats search logs"),
        **{k: _spec(sub=_subs("ls list history")) for k in ("container", "network", "volume")},
        "image": _spec(sub=_subs("ls list inspect history")),  # a container's inspect shows its environment
        "system": _spec(sub=_subs("df info events")),
        "compose": _spec(
            values="-f --file -p --project-name --profile --project-directory",
            sub=_subs("ps logs ls images top version"),  # `config` prints values from .env
        ),
        "context": _spec(sub=_subs("ls list show")),
        "buildx": _spec(sub={**_subs("ls version"), "inspect": _spec(deny="--bootstrap")}),
        "manifest": _spec(sub=_subs("inspect")),
        **{k: _spec(sub=_subs("ls list ps logs")) for k in ("node", "service", "stack", "plugin")},
    },
)
_NO_EXT = "--ext-diff --textconv --output"
_GIT = _spec(
    # --git-dir/--work-tree point git at another repository, whose config can run programs; `-C DIR`
    # is opaque unless DIR is in the same repository (the adapter checks), and `-c KEY=VALUE` unless
    # the key only changes how git shows things
    deny="--git-dir --work-tree --config-env --exec-path",
    values="--namespace -c -C",
    sub={
        **_subs(
            "status shortlog describe rev-parse ls-files ls-tree show-ref merge-base name-rev rev-list "
            "count-objects for-each-ref check-ignore check-attr var version help cherry show-branch "
            "verify-commit verify-tag range-diff request-pull diff-files diff-index show-index verify-pack"
        ),
        **_subs(
            "show log whatchanged blame annotate diff-tree grep",
            _spec(deny=_NO_EXT + " -O --open-files-in-pager"),
        ),
        "diff": _spec(deny=_NO_EXT),
        "fsck": _spec(deny="--lost-found"),
        "ls-remote": _spec(deny="--upload-pack -u"),
        "archive": _spec(deny="-o --output --exec --remote"),
        "bisect": _spec(sub=_subs("view visualize log")),
        "bundle": _spec(sub=_subs("verify list-heads")),
        "sparse-checkout": _spec(sub=_subs("list")),
        "rerere": _spec(sub=_subs("status diff remaining")),
        "lfs": _spec(sub=_subs("ls-files status env version locks")),
        # a positional word names a branch or tag to create, unless a listing option makes it a pattern
        "branch": _spec(
            deny="-d -D -m -M -c -C --delete --move --copy --set-upstream-to -u --unset-upstream "
            "--edit-description -f --force --track -t --no-track --create-reflog --recurse-submodules",
            values="--contains --no-contains --merged --no-merged --points-at --sort --format --color "
            "--column --abbrev",
            listing="-l --list --contains --no-contains --merged --no-merged --points-at -v -vv --verbose",
            max_positional=0,
        ),
        "tag": _spec(
            deny="-d --delete -a --annotate -s --sign -u --local-user -f --force -m --message -F --file "
            "-e --edit --create-reflog --cleanup --trailer",
            values="--contains --no-contains --merged --no-merged --points-at --sort --format --color --column",
            listing="-l --list --contains --no-contains --points-at --merged --no-merged -n",
            max_positional=0,
        ),
        # the type, size or existence of an object; its content (`-p`) only once the hook has run it
        # and scanned what it prints (the analysis keeps it opaque until then); never `--batch`
        "cat-file": _spec(
            need="-t -s -e -p", deny="--batch --batch-command --textconv --filters", max_positional=1
        ),
        "remote": _spec(sub={"": ANY, "show": ANY, "get-url": ANY}),
        "stash": _spec(sub={"list": _spec(deny=_NO_EXT), "show": _spec(deny=_NO_EXT)}),
        "worktree": _spec(sub=_subs("list")),
        "reflog": _spec(sub={"": ANY, "show": ANY}),
        "config": _spec(
            need="--get --get-all --get-regexp --list -l --get-urlmatch --show-origin",
            deny="-f --file --blob -e --edit",  # `git config -f secrets.ini -l` prints any INI file
        ),
        "submodule": _spec(sub={"": ANY, "status": ANY, "summary": ANY}),
        "notes": _spec(sub={"": ANY, "list": ANY, "show": ANY}),
    },
)
_KUBECTL = _spec(
    # another server or kubeconfig receives (or runs) the credentials; --raw reaches any API path
    deny="-s --server --kubeconfig --insecure-skip-tls-verify --tls-server-name --token --as --raw "
    "--certificate-authority --client-key --client-certificate",
    values="-n --namespace --context --cluster --user -l --selector -o --output "
    "--field-selector -c --container --since --tail -L --label-columns --sort-by",
    sub={
        **_subs("get describe", _spec(forbid="*secret*")),
        # not `diff`: it writes both sides to temporary files and runs an external diff program
        **_subs("logs top explain api-resources api-versions version events completion wait"),
        "cluster-info": _spec(sub={"": ANY}),  # `cluster-info dump` writes files
        "config": _spec(
            sub={
                **_subs("get-contexts current-context get-clusters get-users"),
                "view": _spec(deny="--raw --flatten"),
            }
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
    "search-* lookup-* admin-list-* admin-get-* tail validate-* exists query estimate-* preview-*"
)

TABLE: dict[str, Spec] = {
    # files and text
    **_subs(
        "ls dir vdir pwd echo printf cat tac nl head tail wc cut tr paste join comm cmp diff column rev fold fmt "
        "expand unexpand expr numfmt md5sum sha1sum sha224sum sha256sum sha384sum sha512sum b2sum cksum sum "
        "file stat du df basename dirname realpath readlink which whereis type true false test [ seq sleep "
        "grep egrep fgrep zgrep zcat bzcat xzcat ag ack strings od hexdump hd lsattr getfacl namei "
        "whoami id groups uname uptime nproc tty locale lscpu lsblk lsusb lspci free vmstat "
        "iostat pgrep pidof lsof w who last netstat sw_vers system_profiler mdfind mdls getconf cal "
        "zipinfo tldr apropos whatis info cd pushd popd dirs"
    ),
    "sort": _spec(deny="-o --output --compress-program"),
    "jq": _spec(forbid="*env*"),  # `jq -n env` and `$ENV` print the environment
    "hostname": _spec(max_positional=0, deny="-F --file -b --boot"),  # `hostname NAME` sets it
    # BSD-style `e` shows other processes' environments (`ps ewwx`)
    "ps": _spec(
        forbid="*e*",
        deny="-E --env",
        values="-C -p -u -U -g -G -o -O -t -q --pid --ppid --user --group --sort --format",
    ),
    "ss": _spec(deny="-K --kill -D --diag", max_positional=0),  # a filter's host names go to DNS
    "command": _spec(need="-v -V -pv -pV", options_first=True),  # `command curl -v` runs curl
    "man": _spec(deny="-H --html -P --pager -X --gxditview -R --recode"),  # `man -H/bin/sh` runs it
    "uniq": _spec(max_positional=1),
    "tree": _spec(deny="-o --fromfile"),
    "rg": _spec(deny="--pre --pre-glob"),
    "sed": _spec(deny="--in-place -f --file -s --separate", letters="i"),
    "awk": _spec(deny="-f --file -i --include -l --load -E --exec -W"),
    "gawk": _spec(deny="-f --file -i --include -l --load -E --exec -W"),
    "mawk": _spec(deny="-f -W"),
    # nawk is whichever awk the system links there (mawk on Debian, the one true awk on BSD): every
    # option any of them reads a program from, loads or runs with is out
    "nawk": _spec(deny="-f --file -i --include -l --load -E --exec -W --safe"),
    "yq": _spec(deny="-i --inplace -s --split-exp", forbid="*env*"),  # `yq -n env` prints the environment
    "mktemp": _spec(need="-u --dry-run", need_letters="u"),  # -u: print a fresh name, make nothing
    "xxd": _spec(max_positional=1, values="-c -cols -g -groupsize -l -len -o -offset -s -seek -n -name"),
    "base64": _spec(deny="-o --output"),
    "base32": ANY,
    "iconv": _spec(deny="-o --output"),
    "find": _spec(deny="-delete -exec -execdir -ok -okdir -fprint -fprint0 -fprintf -fls -files0-from"),
    "fd": _spec(deny="-x --exec -X --exec-batch"),
    "fdfind": _spec(deny="-x --exec -X --exec-batch"),
    "fzf": _spec(deny="--bind --preview --listen --listen-unsafe --with-shell --execute"),
    "date": _spec(deny="-s --set -f --file", letters="s", forbid="[0-9]*"),  # `date 010100002030` sets it
    "journalctl": _spec(
        deny="--vacuum-size --vacuum-time --vacuum-files --rotate --flush --sync --relinquish-var "
        "--smart-relinquish-var --setup-keys --update-catalog --cursor-file"
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
    "unzip": _spec(need="-l -v -t -Z -z", need_letters="lvtZz", options_first=True),
    "7z": _spec(sub=_subs("l t h i")),
    "7zz": _spec(sub=_subs("l t h i")),
    "gzip": _spec(need="-l --list -t --test -c --stdout", need_letters="ltc", values="-S --suffix"),
    "gunzip": _spec(need="-l --list -t --test -c --stdout", need_letters="ltc", values="-S --suffix"),
    "bzip2": _spec(need="-t --test -c --stdout", need_letters="tc"),
    "xz": _spec(need="-l --list -t --test -c --stdout", need_letters="ltc"),
    # version control
    "git": _GIT,
    "gh": _spec(
        values="-R --repo",
        verbs="list view status diff checks watch",  # `gh GROUP VERB` (the verb's place is fixed)
        path=2,
        sub={
            "auth": _spec(sub={"status": _spec(deny="-t --show-token")}),
            **_subs("status search"),
            "api": _spec(
                deny="-X --method -f --raw-field -F --field --input",
                forbid="*token* *secret* */keys* *credentials*",
            ),
        },
    ),
    # cloud CLIs: read verbs of their operations, never an operation that returns a credential
    "aws": _spec(
        values="--region --profile --output --query --color --cli-read-timeout --cli-connect-timeout --ca-bundle",
        verbs=_CLOUD_VERBS + " simulate-*",
        path=2,
        deny="--outfile --with-decryption --endpoint-url --debug --no-verify-ssl",
        outfile=True,
        booleans="--no-paginate --paginate --dry-run --no-dry-run --no-sign-request --no-cli-pager "
        "--cli-auto-prompt --no-cli-auto-prompt --generate-cli-skeleton --no-include-email --recursive "
        "--human-readable --summarize --request-payer --only-show-errors --no-progress",
    ),
    "az": _spec(values="--subscription -g --resource-group -o --output --query", verbs=_CLOUD_VERBS),
    "gcloud": _spec(  # not `help`: it opens a pager and looks for updates over the network
        deny="--destination --log-http --access-token-file",
        values="--project --account --configuration --format --filter --region --zone",
        verbs=_CLOUD_VERBS.replace(" help ", " "),
    ),
    "kubectl": _KUBECTL,
    "oc": _KUBECTL,
    "helm": _spec(
        deny="--kubeconfig --kube-apiserver --kube-token --kube-insecure-skip-tls-verify",
        values="-n --namespace --kube-context -o --output",
        sub={
            # not `get`: `helm get values/manifest` prints the release's secrets
            **_subs("list ls status history show inspect search version env completion verify help"),
            **_subs("template lint", _spec(deny="--output-dir --post-renderer --post-renderer-args")),
            **{k: _spec(sub=_subs("list ls")) for k in ("repo", "dependency", "dep", "plugin")},
        },
    ),
    "docker": _DOCKER,
    "podman": _DOCKER,
    "docker-compose": _spec(
        values="-f --file -p --project-name --profile --project-directory",
        sub=_subs("ps logs ls images top version"),
    ),
    "terraform": _spec(
        values="-chdir",
        sub={
            **_subs("version graph validate modules"),
            "show": _spec(deny="-json"),  # the JSON form carries sensitive values in clear
            "providers": _spec(sub={"": ANY, "schema": ANY}),
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
            **_subs("missing options tap-info"),
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
        for k in ("npm",)
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
    # yarn and pnpm run a package.json script of the same name when a word is not a built-in
    **{k: _spec(sub=_subs("list ls why outdated --version")) for k in ("pnpm", "yarn")},
    "uv": _spec(
        sub={
            "pip": _spec(sub=_subs("list show freeze tree check")),
            **_subs("--version"),
            "version": _spec(max_positional=0, deny="--bump"),
            "python": _spec(sub=_subs("list find dir")),
            "tool": _spec(sub=_subs("list dir")),
            "cache": _spec(sub=_subs("dir")),
        }
    ),
    # not `cargo metadata/tree`: they run a rustc-wrapper the project's .cargo/config.toml names
    "cargo": _spec(sub=_subs("--version version search help")),
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
    "ip": _spec(values="-f -family -n -netns", deny="-b -batch -force", sub=_IP_OBJECTS),
    "networksetup": _spec(need="-get* -list* -print* -show* -version -help"),
    "scutil": _spec(need="--get --dns --proxy --nwi -r", deny="--set"),
    # macOS state
    "launchctl": _spec(
        sub=_subs(
            # not `procinfo`, `print-cache`, `dumpstate`: they print processes' or jobs' environments
            "list print print-disabled blame version hostinfo managerpid manageruid managername "
            "variant error plist dumpjpcategory resolveport"
        )
    ),
    # extended attributes: listing and printing (-w writes, -d and -c remove)
    "xattr": _spec(deny="-w -d -c"),
    # `ifconfig`, `ifconfig -a`, `ifconfig IF`; any word after the interface configures it (`eth0 -arp`)
    "ifconfig": _spec(max_positional=1, options_first=True),
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
            "x509": _spec(deny="-out -signkey -CAkey -req -writerand -engine -provider -provider-path"),
            "verify": ANY,
            "dgst": _spec(deny="-out -sign -hmac -mac"),
        }
    ),
}
SYSTEM_DIRS = ("/bin/", "/usr/bin/", "/usr/local/bin/", "/sbin/", "/usr/sbin/", "/opt/homebrew/bin/")
"""A program given by path is only the one in the table when it lives here (``./ls`` is not ``ls``)."""
_VERSION_ONLY = frozenset({("--version",), ("--help",), ("-h",), ("-V",), ("help",), ("version",)})
_ANY_VERSION = frozenset({("--version",), ("--help",)})
EXACT: dict[str, frozenset[tuple[str, ...]]] = {
    "arch": frozenset({()}),  # prints the machine's architecture (with words it runs a program: macOS)
    "sqlite3": frozenset({("-version",), ("-help",)}),  # anything else opens a database and runs SQL
    "mawk": frozenset({("-W", "version"), ("-Wversion",), ("-Wv",)}),
}
"""Programs read-only only in these exact forms (single-dash version queries)."""
_NO_HELP = frozenset({"eval", "exec", "source", ".", "xargs", "parallel", "watch", "yes"})
"""Programs whose ``--help`` is not theirs to print (they run or repeat their arguments)."""


def is_read_only(argv: tuple[str, ...], program: str = "") -> bool:
    """Is this simple command (after unwrapping) one the table says cannot change anything?"""
    if not argv:
        return False
    if program and "/" in program and not program.startswith(SYSTEM_DIRS):
        return False
    spec = TABLE.get(argv[0])
    args = argv[1:]
    if args in EXACT.get(argv[0], ()):
        return True
    if spec is None:
        # `PROG --version`, `PROG --help` of any program on PATH prints and exits (GNU, BSD and most
        # others); a short or bare word is not taken for it (`shutdown -h` halts the machine)
        return args in _ANY_VERSION and argv[0] not in _NO_HELP
    if argv[0] == "gcloud" and "help" in args:
        return False  # gcloud's help pages open a pager and reach the network
    if argv[0] in _PACKAGE_CLIENTS and any(_elsewhere(word, argv[0]) for word in args):
        return False  # `npm view x --registry=http://any-host/`: a lookup sent where the agent chose
    if argv[0] == "ip":  # iproute2 reads `-br`…`-brief` as -brief; `-b` alone (and -ba…) is -batch FILE
        args = tuple("--brief" if w in ("-br", "-bri", "-brie", "-brief") else w for w in args)
    if argv[0] == "tar" and args and args[0].isalpha():
        args = ("-" + args[0], *args[1:])  # `tar tzf A`: the old-style key is the first word's letters
    if args in _VERSION_ONLY or (len(args) == 2 and args[1] == "--help" and not args[0].startswith("-")):
        return True  # `PROG --version`, `PROG SUB --help`: prints and exits (a `--help` elsewhere may be a value)
    return _matches(spec, list(args))


_PACKAGE_CLIENTS = frozenset({"npm", "pnpm", "yarn", "pip", "pip3", "uv", "cargo", "gem", "go", "poetry"})
"""Package tools whose read-only subcommands still ask a registry: a word that names another registry,
index, proxy, config file or a URL/VCS package spec sends the lookup (and its arguments) elsewhere."""
_ELSEWHERE = ("registry", "index", "find-links", "proxy", "userconfig", "globalconfig", "config-file", "://")
_VCS_SPECS = ("git+", "git:", "github:", "gitlab:", "bitbucket:", "gist:", "file:", "http:", "https:")


def _elsewhere(word: str, program: str) -> bool:
    text = unquote(word).lower()
    if any(part in text for part in _ELSEWHERE) or text.startswith(_VCS_SPECS) or text in ("-i", "-f"):
        return True
    # npm's `user/repo` is a GitHub repository (`@scope/name` is a registry package)
    return program in ("npm", "pnpm", "yarn") and "/" in text and not text.startswith(("@", "-"))


def _long_match(flag: str, names: frozenset[str]) -> bool:
    """``flag`` is one of ``names``, or a prefix getopt would expand to one (``--o`` for ``--output``)."""
    if flag in names:
        return True
    return (
        flag.startswith("--")
        and len(flag) >= 3
        and any(n.startswith(flag) for n in names if n.startswith("--"))
    )


def _letters(word: str, spec: Spec, wanted: str) -> bool:
    """Does a short-option cluster (``-Tc``) carry one of ``wanted``? Stops at a letter that takes a
    value, since the rest is that value (``gzip -Sltc`` is ``-S ltc``)."""
    if not wanted or word[1:2] == "-":
        return False
    for ch in word[1:]:
        if ch in wanted:
            return True
        if f"-{ch}" in spec.values:
            return False
    return False


def _matches(spec: Spec, args: list[str], inherited: frozenset[str] = frozenset()) -> bool:
    deny = spec.deny | inherited
    positional: list[str] = []
    path: list[str] = []  # the leading positional words, before any option but a known global one
    path_open = True
    skip = False
    seen_need = not (spec.need or spec.need_letters)
    listing = False
    done = False
    for i, word in enumerate(args):
        if skip:
            skip = False
            continue
        if done or word == "-" or not word.startswith("-") or (spec.options_first and positional):
            if spec.sub is not None and not positional and (word in spec.sub or not spec.verbs):
                sub = spec.sub.get(word)
                return sub is not None and seen_need and _matches(sub, args[i + 1 :], deny)
            positional.append(word)
            if path_open:
                path.append(word)
            continue
        flag = word.partition("=")[0]
        path_open = path_open and flag in spec.values
        if word == "--":
            done = True
            continue
        if _long_match(flag, deny) or _letters(word, spec, spec.letters):
            return False
        listing = listing or flag in spec.listing
        if (
            flag in spec.need
            or any("*" in n and fnmatchcase(flag, n) for n in spec.need)
            or _letters(word, spec, spec.need_letters)
        ):
            seen_need = True
        if spec.sub is not None and not positional and word in spec.sub:
            return _matches(spec.sub[word], args[i + 1 :], deny)  # `brew --prefix`, `cargo --version`
        skip = word in spec.values or (  # `-n 5` (not `-n5`, not `--lines=5`)
            spec.booleans is not None
            and word.startswith("--")
            and "=" not in word
            and word not in spec.booleans
        )
    if not seen_need:
        return False
    if any(fnmatchcase(unquote(w).lower(), p) for w in positional for p in spec.forbid):
        return False
    if spec.verbs:
        # `file://x`, `fileb://x` and `@x` parameters send a local file's content to the service
        if any(
            w.partition("=")[2 if "=" in w else 0].startswith(("file://", "fileb://", "@"))
            and w not in ("@me", "@copilot")  # gh's names for the user, not files
            for w in args
        ):
            return False
        return _cloud_operation(spec, path, len(positional))
    if spec.sub is not None:
        sub = spec.sub.get("")
        return sub is not None and not positional  # no subcommand: `git remote`, `ip addr`
    return listing or not 0 <= spec.max_positional < len(positional)


_PART = re_compile(r"[-_.]")
_PERCENT = re_compile(r"%([0-9A-Fa-f]{2})")


def unquote(word: str) -> str:
    """Percent-decoding, enough to see ``%73ecrets`` as ``secrets`` (``urllib.parse`` costs the hook 2 ms)."""
    return _PERCENT.sub(lambda m: chr(int(m.group(1), 16)), word) if "%" in word else word


# Operation words that change something; one before the read verb means the read verb is an argument
# (`gcloud compute instances delete list` deletes the instance called "list").
MUTATING = options(
    "create* delete* update* set* add* remove* start* stop* restart* reset* deploy* put* patch* apply* "
    "run-* invoke* attach* detach* import* export* ssh scp copy* cp mv rm sync enable* disable* tag-* "
    "untag* modify* terminate* reboot* register* deregister* upload* download* purge* rotate* grant* "
    "revoke* assign* unassign* move* rename* restore* resize* scale* exec* login logout init* connect* "
    "send* publish* write* edit* replace* cancel* approve* reject* accept* associate* disassociate*"
)


def _cloud_operation(spec: Spec, path: list[str], positional: int) -> bool:
    """``SERVICE [GROUP…] VERB [RESOURCE…]``: a read verb, nothing mutating before it, and no word of the
    command (resource names included: ``aws configure get aws_secret_access_key``) about credentials."""
    words = [w.lower() for w in path]
    parts = {part for w in words for part in (w, *_PART.split(w), *_pairs(w))}
    if parts & SECRET_PARTS:
        return False
    candidates = [spec.path - 1] if spec.path else range(len(words))
    for index in candidates:
        if index >= len(words) or not any(fnmatchcase(words[index], p) for p in spec.verbs):
            continue
        if words[index] in WRITING_OPERATIONS:
            return False
        if spec.outfile and positional > index + 1 and words[0] not in POSITIONAL_SERVICES:
            return False  # an aws operation's only positional is the file it writes (`… get-job-output OUT`)
        return not any(fnmatchcase(w, p) for w in words[:index] for p in MUTATING)
    return False


def _pairs(word: str) -> list[str]:
    parts = word.split("-")
    return ["-".join(parts[i : i + 2]) for i in range(len(parts) - 1)]
