"""Secret rules: every shipped rule's own examples, the engine's checks, and backends that agree."""

from __future__ import annotations

import random
import string
import zlib
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ramparts.detect.matcher import available_backends
from ramparts.detect.secrets import (
    RuleError,
    SecretRule,
    SecretScanner,
    entropy,
    github_crc32,
    is_placeholder,
    jwt,
    load_rules,
    pem,
)

KEY = b"k" * 32
RULES = load_rules()
SCANNER = SecretScanner(RULES)
BY_ID = {rule.id: rule for rule in RULES}


def test_the_pack_has_at_least_150_rules() -> None:
    assert len(RULES) >= 150
    assert len(BY_ID) == len(RULES)


@pytest.mark.parametrize("rule_id", sorted(BY_ID))
def test_each_rule_finds_its_positive_examples_and_not_its_negatives(rule_id: str) -> None:
    rule = BY_ID[rule_id]
    assert rule.positive, f"{rule_id} has no positive example"
    assert rule.negative, f"{rule_id} has no negative example"
    single = SecretScanner([rule], backend="re")  # the backends are compared below, all rules at once
    for example in rule.positive:
        hits = [h for h in single.hits(example) if not h.suppressed]
        assert hits, f"{rule_id} misses its example"
    for example in rule.negative:
        assert not [h for h in single.hits(example) if not h.suppressed], f"{rule_id} fires on {example!r}"


def _random_token(alphabet: str, n: int, seed: int) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice(alphabet) for _ in range(n))


def _github(prefix: str, seed: int) -> str:
    body = _random_token(string.ascii_letters + string.digits, 30, seed)
    number = zlib.crc32(body.encode()) & 0xFFFFFFFF
    alphabet = string.digits + string.ascii_uppercase + string.ascii_lowercase
    check = ""
    while number:
        number, digit = divmod(number, 62)
        check = alphabet[digit] + check
    return prefix + body + check.rjust(6, "0")


def test_github_checksum() -> None:
    token = _github("ghp_", 1)
    assert github_crc32(token)
    assert not github_crc32(token[:-1] + ("A" if token[-1] != "A" else "B"))


def test_a_valid_github_checksum_raises_confidence() -> None:
    good = _github("ghp_", 2)
    bad = good[:-1] + ("A" if good[-1] != "A" else "B")
    confidence = {
        h.value: h.confidence for h in SCANNER.hits(f"a={good} b={bad}") if h.rule.id.startswith("github")
    }
    assert confidence[good] > confidence[bad]


def test_jwt_and_pem_validators() -> None:
    assert jwt("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl")
    assert not jwt("eyJub3RhbGciOjF9.eyJzdWIiOiIxIn0.c2ln")
    assert jwt("eyJhbGciOiJub25lIn0.eyJzdWIiOiIxIn0")  # unsigned: no third part
    assert not jwt("a.b")
    assert not jwt("a.b.c.d")
    key = "-----BEGIN PRIVATE KEY-----\n" + "QUJD" * 20 + "\n-----END PRIVATE KEY-----"
    assert pem(key)
    assert not pem("-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----")


@pytest.mark.parametrize(
    "value",
    [
        "AKIAIOSFODNN7EXAMPLE",
        "xxxxxxxxxxxxxxxx",
        "<your-api-key>",
        "${API_TOKEN}",
        "{{ secret }}",
        "aaaaaaaaaaaa",
        "sk_live_changeme",
        "my-dummy-token",
        "********",
    ],
)
def test_placeholders(value: str) -> None:
    assert is_placeholder(value)


@pytest.mark.parametrize(
    "value", [_github("ghp_", 3), "wJalrXUtnFEMIK7MDENGbPxRfiCYzQ2d8a9b3c1e", "Zq3v9Ls0Pm2Kx8Nt"]
)
def test_random_values_are_not_placeholders(value: str) -> None:
    assert not is_placeholder(value)


def test_entropy() -> None:
    assert entropy("") == 0
    assert entropy("aaaa") == 0
    assert entropy("abcd") == 2


def test_made_up_looking_values_are_reported_with_less_confidence() -> None:
    real = [h for h in SCANNER.hits("stripe_key = sk_live_" + "Zq3v9Ls0Pm2Kx8NtWb4Yc7Jd") if not h.suppressed]
    made_up = [
        h for h in SCANNER.hits("stripe_key = sk_live_" + "1234567890Kx8NtWb4Yc7Jd") if not h.suppressed
    ]
    assert len(real) == len(made_up) == 1  # one value, one finding: the overlapping generic rule is folded
    assert made_up[0].confidence < real[0].confidence


def test_placeholders_are_suppressed_and_counted() -> None:
    text = "aws_access_key_id = AKIAIOSFODNN7EXAMPLE"
    hits = SCANNER.hits(text)
    assert hits and all(h.suppressed == "placeholder" for h in hits)
    assert SCANNER.scan(text, KEY) == []


def test_findings_never_carry_the_value() -> None:
    token = _github("ghp_", 4)
    text = f"export GITHUB_TOKEN={token}\nnext line\n"
    findings = SCANNER.scan(text, KEY)
    assert findings
    for f in findings:
        assert token not in f.excerpt and token[4:20] not in f.excerpt
        assert f.fingerprint.startswith("b2mac:")
        assert f.line == 1 and f.category == "secret"


def test_large_inputs_are_scanned_in_overlapping_pieces() -> None:
    token = _github("ghp_", 5)
    filler = "x = 1\n" * 200_000  # about 1.2 MB: the token sits across the first piece's end
    text = filler[: (1 << 20) - 10] + " " + token + " " + filler
    hits = [h for h in SCANNER.hits(text) if h.value == token]
    assert len(hits) == 1
    assert SCANNER.hits(text, limit=1000) == []


@pytest.mark.parametrize("backend", available_backends())
def test_every_backend_gives_the_same_findings(backend: str) -> None:
    scanner = SecretScanner(RULES, backend=backend)
    assert scanner.backend == backend
    for rule in RULES:
        for example in (*rule.positive, *rule.negative):
            assert scanner.hits(example) == SCANNER.hits(example), (backend, rule.id, example[:20])


def test_the_keyword_database_gives_the_same_findings(tmp_path: Path) -> None:
    """The hook's prefilter (the rules' keywords alone) against the rules' own database: every rule's
    examples, the same with a character that lower-cases into ASCII (K, the Kelvin sign, makes "key"),
    and a text past KEYWORD_TEXT_MAX, which loads the rules' own database."""
    if "hyperscan" not in available_backends():
        pytest.skip("hyperscan is not installed")
    from ramparts.detect.secrets import KEYWORD_TEXT_MAX

    scanner = SecretScanner(RULES, backend="hyperscan", cache_dir=str(tmp_path), keyword_database=True)
    assert scanner.matcher.keywords_only and list(tmp_path.glob("hs-kw-*.db"))
    cached = SecretScanner(RULES, backend="cached", cache_dir=str(tmp_path))  # the hook's: from the cache
    assert cached.matcher.keywords_only and not cached.matcher.cold
    for rule in RULES:
        for example in (*rule.positive, *rule.negative):
            for text in (example, f"\u212aey: {example} \u0130", f"k\u00e9y {example.upper()}"):
                assert cached.hits(text) == SCANNER.hits(text), (rule.id, text[:20])
    token = _github("ghp_", 5)
    long = "x = 1\n" * (KEYWORD_TEXT_MAX // 6) + token
    assert cached._full is None
    assert [h.value for h in cached.hits(long)] == [h.value for h in SCANNER.hits(long)] == [token]
    assert cached._full is not None and not cached._full.keywords_only  # loaded for the long text


def test_the_hook_s_scanner_loads_the_keyword_database_only_past_the_index_budget(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The hook's scanner looks short texts up in Python (no database needed, never cold); once its texts
    pass KEYWORD_INDEX_MAX characters it loads the keywords' database, and when that is not in the cache
    says so (cold, on_cold called: the hook starts a warm-up) and goes on with the index, the same
    findings all along; it looks again later and takes the database once a warm-up has built it."""
    if "hyperscan" not in available_backends():
        pytest.skip("hyperscan is not installed")
    from ramparts.detect import keywords

    calls: list[int] = []
    scanner = SecretScanner(RULES, backend="cached", cache_dir=str(tmp_path), on_cold=lambda: calls.append(1))
    assert scanner.matcher.keywords_only and not scanner.matcher.cold and scanner.backend == "keywords"
    token = _github("ghp_", 5)
    assert [h.value for h in scanner.hits(f"x {token} y")] == [token]
    assert (scanner.backend, scanner.matcher.cold, calls) == ("keywords", False, [])
    long = "x = 1\n" * (keywords.KEYWORD_INDEX_MAX // 6) + token
    assert [h.value for h in scanner.hits(long)] == [h.value for h in SCANNER.hits(long)] == [token]
    assert (scanner.backend, scanner.matcher.cold, calls) == ("keywords", True, [1])
    assert [h.value for h in scanner.hits(long)] == [token]
    assert calls == [1]  # not looked for again at once
    SecretScanner(RULES, cache_dir=str(tmp_path), keyword_database=True)  # what the warm-up builds
    monkeypatch.setattr(keywords, "RETRY_SECONDS", 0.0)
    scanner.matcher._retry_at = 0.0  # type: ignore[union-attr]  # as if ten seconds had passed
    assert [h.value for h in scanner.hits(long)] == [token]
    assert (scanner.backend, scanner.matcher.cold, calls) == ("hyperscan", False, [1])
    for rule in RULES[:50]:
        for example in rule.positive:
            assert scanner.hits(example) == SCANNER.hits(example), rule.id


def test_the_hook_s_scanner_makes_only_the_candidates_rules(tmp_path: Path) -> None:
    """Built from the cached rules (the hook's), the scanner makes a rule only of a candidate; all of
    them when asked for ``rules``, equal to the parsed ones."""
    load_rules(cache_dir=str(tmp_path))
    scanner = SecretScanner(backend="cached", cache_dir=str(tmp_path))
    token = _github("ghp_", 5)
    text = f"token = {token}"
    assert [(h.rule.id, h.value, h.suppressed) for h in scanner.hits(text)] == [
        (h.rule.id, h.value, h.suppressed) for h in SCANNER.hits(text)
    ]
    assert 0 < len(scanner._made) < len(RULES) and scanner._rules is None
    assert scanner.rules == tuple(r._replace(positive=(), negative=()) for r in RULES)


def test_the_compiled_database_is_cached(tmp_path: Path) -> None:
    if "hyperscan" not in available_backends():
        pytest.skip("hyperscan is not installed")
    first = SecretScanner(RULES, backend="hyperscan", cache_dir=str(tmp_path))
    assert list(tmp_path.glob("hs-*.db"))
    second = SecretScanner(RULES, backend="hyperscan", cache_dir=str(tmp_path))
    example = RULES[0].positive[0]
    assert first.hits(example) == second.hits(example)


def test_rule_cache_round_trips(tmp_path: Path) -> None:
    assert load_rules(cache_dir=str(tmp_path)) == RULES  # parsed from YAML, then cached
    assert list(tmp_path.glob("rules-*.marshal"))
    cached = load_rules(cache_dir=str(tmp_path))
    assert cached == tuple(r._replace(positive=(), negative=()) for r in RULES)  # examples are left out
    assert all(type(r) is SecretRule and type(r.keywords) is tuple for r in cached)


@pytest.mark.parametrize(
    "damage",
    [b"", b"\x00garbage", b"truncate", b"wrong shape"],
)
def test_rule_cache_that_does_not_load_is_rebuilt(tmp_path: Path, damage: bytes) -> None:
    import marshal

    load_rules(cache_dir=str(tmp_path))
    (cache,) = tmp_path.glob("rules-*.marshal")
    if damage == b"truncate":
        cache.write_bytes(cache.read_bytes()[:1000])
    elif damage == b"wrong shape":
        cache.write_bytes(marshal.dumps((("id", "name"),)))  # rows of another width
    else:
        cache.write_bytes(damage)
    assert load_rules(cache_dir=str(tmp_path)) == RULES  # parsed from YAML again
    assert load_rules(cache_dir=str(tmp_path)) == tuple(r._replace(positive=(), negative=()) for r in RULES)


@pytest.mark.parametrize("record", [b"\x00garbage", b"", "marshal"])
def test_a_damaged_rule_record_has_the_cache_rebuilt(tmp_path: Path, record: object) -> None:
    """The cached rules are read one record per rule, on first use (the hook's scanner reads only its
    candidates'): a record that does not decode to a rule's row has the copy rebuilt from the YAML."""
    import marshal

    load_rules(cache_dir=str(tmp_path))
    (cache,) = tmp_path.glob("rules-*.marshal")
    tag, records = marshal.loads(cache.read_bytes())
    github = next(i for i, r in enumerate(RULES) if r.id == "github-classic-pat")
    bad = marshal.dumps(("github-classic-pat", "too short")) if record == "marshal" else record
    cache.write_bytes(marshal.dumps((tag, (*records[:github], bad, *records[github + 1 :]))))
    scanner = SecretScanner(backend="cached", cache_dir=str(tmp_path))
    token = _github("ghp_", 5)
    assert [h.value for h in scanner.hits(f"x {token} y") if not h.suppressed] == [token]
    assert scanner.rules == tuple(r._replace(positive=(), negative=()) for r in RULES)
    assert marshal.loads(cache.read_bytes())[1][github] == records[github]  # written whole again
    cache.write_bytes(marshal.dumps((tag, (*records[:github], bad, *records[github + 1 :]))))
    assert load_rules(cache_dir=str(tmp_path)) == tuple(r._replace(positive=(), negative=()) for r in RULES)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("rules: [{id: Bad_Id, pattern: x}]", "kebab-case"),
        ("rules: [{id: a, pattern: '('}]", "bad pattern"),
        ("rules: [{id: a, pattern: x}, {id: a, pattern: y}]", "duplicate id"),
        ("rules: [{id: a, pattern: x, colour: red}]", "unknown keys"),
        ("rules: [{id: a, pattern: x, validator: nope}]", "unknown validator"),
        ("rules: [{id: a, pattern: x, severity: huge}]", "severity"),
        ("nope: 1", "'rules' list"),
    ],
)
def test_bad_rule_files_are_named(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(body)
    with pytest.raises(RuleError, match=message):
        load_rules([str(path)])


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=400))
def test_scan_never_raises_and_never_returns_a_value(text: str) -> None:
    for f in SCANNER.scan(text, KEY):
        value = text[f.start : f.end]
        assert len(value) < 8 or value not in f.excerpt


def test_live_verification_is_an_opt_in_plug_in() -> None:
    from ramparts.detect.secrets import register_verifier, unregister_verifier

    good, bad = _github("ghp_", 11), _github("ghp_", 12)
    calls: list[str] = []

    def verifier(rule: object, value: str) -> bool | None:
        calls.append(value)
        return value == good

    register_verifier("github-", verifier)
    try:
        assert len(SecretScanner(RULES).scan(f"{good} {bad}", KEY)) == 2 and calls == []  # off by default
        found = SecretScanner(RULES, verify=True).scan(f"{good} {bad}", KEY)
        assert [f.confidence for f in found] == [1.0] and set(calls) == {good, bad}
    finally:
        unregister_verifier("github-")


def test_field_name_pairs_are_placeholders() -> None:
    from ramparts.detect.secrets import is_stand_in

    assert is_stand_in("user:pass")
    assert is_stand_in("'login':'secret'")
    assert not is_stand_in("password")  # alone, in a connection string, it may be the real weak one
    assert not is_stand_in("deploy:Zq3v9Ls0Pm2Kx8")
    hits = SCANNER.hits('curl --user "username:token" https://api.corp.net/me')
    assert all(h.suppressed for h in hits)


def test_a_made_up_value_from_a_provider_rule_stays_reported_at_the_default_threshold() -> None:
    [hit] = [h for h in SCANNER.hits("STRIPE=sk_live_1234567890Kx8NtWb4Yc7Jd") if not h.suppressed]
    assert 0.5 <= hit.confidence < hit.rule.confidence
    [generic] = [h for h in SCANNER.hits("api_token = 'Qm1234567890rTyZw'") if not h.suppressed]
    assert generic.confidence < 0.5


def test_publishable_keys_are_below_the_default_threshold() -> None:
    [hit] = [h for h in SCANNER.hits("Stripe.setPublishableKey('pk_live_Zq3v9Ls0Pm2Kx8NtWb4Yc7Jd')")]
    assert not hit.suppressed and hit.confidence < 0.5


def test_a_value_repeating_its_name_is_a_stand_in() -> None:
    from ramparts.detect.secrets import echoes_name

    assert echoes_name("password", "password")
    assert echoes_name("api-key", "API_KEY")
    assert echoes_name("some_test_password", "PASSWORD")  # the name's noun inside the value
    assert echoes_name("nopasswd", "MYSQL_PWD")  # one family: password, passwd, pwd
    assert not echoes_name("Zq3v9Ls0Pm2Kx8", "password")
    assert not echoes_name("key-3ax6xnjp29jd6fds4gc373sgvjxteol0", "api_key")  # "key" alone is no echo
    [hit] = SCANNER.hits('String password = "password";')
    assert hit.suppressed == "placeholder"


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("db_password", True),
        ("apiToken", True),
        ("AWS_SECRET_ACCESS_KEY", True),
        ("password2", True),
        ("client_secret_prod", True),
        ("DB_PASS", True),
        ("credentials", True),
        ("token_type", False),
        ("password_change_template", False),
        ("SecretTargetAttachment", False),
        ("passenv", False),
        ("PAssociation", False),
        ("bypass", False),
        ("api_key_id", False),
    ],
)
def test_the_name_must_say_the_value_is_a_secret(name: str, secret: bool) -> None:
    from ramparts.detect.secrets import names_a_secret

    assert names_a_secret(name) is secret


def test_names_made_of_words_are_not_key_material() -> None:
    from ramparts.detect.secrets import is_identifier

    for value in (
        "StackRefactorActions",
        "content-transfer-encoding",
        "SYMMETRIC_DEFAULT",
        "AIWorkloadConfigs",
    ):
        assert is_identifier(value), value
    for value in ("KQsk6FsZiu3yg2rdqTZRpS1v9mDFS5ii", "zJfXwBLDMhVaoWuYVaRhRVWSCi", "short"):
        assert not is_identifier(value), value
    rng = random.Random(7)
    alphabet = string.ascii_letters + string.digits
    tokens = ["".join(rng.choice(alphabet) for _ in range(20)) for _ in range(5000)]
    assert sum(map(is_identifier, tokens)) <= 5  # generated values almost never read as words
    [hit] = SCANNER.hits('"result_key": "ReservedInstanceModifications"')
    assert hit.suppressed == "reference"


def test_code_is_a_reference_not_a_value() -> None:
    from ramparts.detect.secrets import is_reference

    for value in ("get_password()", "CharField(", "settings.SECRET_KEY", "user.pass_word", "raw_password"):
        assert is_reference(value), value
    for value in ("Zq3v9Ls0Pm2Kx8", "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", "p@ss.w0rd"):
        assert not is_reference(value), value
    # unquoted in an assignment: code; quoted: a literal, whatever it looks like
    assert all(h.suppressed for h in SCANNER.hits("password = admin.portal\n"))
    assert [h for h in SCANNER.hits('password = "admin.portal"\n') if not h.suppressed]


def test_generic_values_need_enough_key_material() -> None:
    from ramparts.detect.secrets import key_bits

    assert key_bits("5e0b9a7c3d1f2e4a") == 64  # 16 hex digits
    assert 95 < key_bits("Zq3v9Ls0Pm2Kx8Nt") < 96  # 16 base62 characters
    assert [h.suppressed for h in SCANNER.hits('"AccessKey": "5e0b9a7c3d1f2e4a"')] == ["entropy"] * 2
    assert [h for h in SCANNER.hits('"AccessKey": "5e0b9a7c3d1f2e4a9b8c"') if not h.suppressed]  # 80 bits


def test_url_credentials_made_of_field_names_are_stand_ins() -> None:
    hits = SCANNER.hits("http://userid:password@example.org:8080/")
    assert hits and all(h.suppressed == "placeholder" for h in hits)
    assert [h for h in SCANNER.hits("https://deploy:Zq3v9Ls0Pm2Kx8@git.corp.net/") if not h.suppressed]


def test_pairs_of_field_names_and_leetspeak_echoes_are_stand_ins() -> None:
    from ramparts.detect.secrets import echoes_name, is_stand_in

    assert is_stand_in("access_key_id:secret_access_key")
    assert is_stand_in("myUsername:myPassword")
    assert not is_stand_in("admin:Zq3v9Ls0")  # a real account name with a real-looking password
    assert echoes_name("P@55w0rd!", "password")
    assert not echoes_name("Xk7#pQ2m!vR9wL", "password")


def test_type_annotations_are_code() -> None:
    from ramparts.detect.secrets import is_reference

    assert is_reference("Optional[str]") and is_reference("list[str],")
    assert not is_reference("Xk7[pQ2")  # brackets inside a password do not make it code


def test_hex_and_decimal_keys_are_held_to_what_random_ones_show() -> None:
    from ramparts.detect.secrets import low_entropy, random_entropy

    assert 3.5 < random_entropy(32, 16) < 3.7 and 2.7 < random_entropy(16, 10) < 2.95
    rng = random.Random(3)
    hex_keys = ["".join(rng.choice("0123456789abcdef") for _ in range(32)) for _ in range(300)]
    assert sum(low_entropy(k, 3.6) for k in hex_keys) <= 3  # the base62 threshold alone drops 41 %
    assert low_entropy("abcdefabcdefabcdefabcdefabcdefab", 3.0)  # repetition still fails
    assert low_entropy("3eCa3P", 2.5, generated=False)  # a chosen password keeps the rule's threshold


@pytest.mark.parametrize("keyword_database", [False, True])
def test_threads_scan_at_once_with_the_answers_of_one(tmp_path: Path, keyword_database: bool) -> None:
    """The gateway scans short texts on several threads of one process: each thread has its own
    Hyperscan scratch space (one shared by two scans at once fails with "scratch in use")."""
    if "hyperscan" not in available_backends():
        pytest.skip("hyperscan is not installed")
    import sys
    import threading

    scanner = SecretScanner(
        RULES, backend="hyperscan", cache_dir=str(tmp_path), keyword_database=keyword_database
    )
    texts = [f"{rule.positive[0]} {i}\n" * 8 for i, rule in enumerate(RULES) if rule.positive]
    expected = [[h.value for h in scanner.hits(t)] for t in texts]
    got: dict[int, list[list[str]]] = {}
    errors: list[BaseException] = []

    def run(number: int) -> None:
        try:
            got[number] = [[h.value for h in scanner.hits(t)] for t in texts]
        except BaseException as exc:  # reported below
            errors.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads often, inside the match callbacks too
    try:
        threads = [threading.Thread(target=run, args=(n,)) for n in range(3)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
    finally:
        sys.setswitchinterval(interval)
    assert not errors, errors[0]
    assert all(got[n] == expected for n in range(3))


def test_each_thread_gets_its_own_scratch_space() -> None:
    if "hyperscan" not in available_backends():
        pytest.skip("hyperscan is not installed")
    import threading

    import hyperscan

    from ramparts.detect.matcher import _Scratches

    database = hyperscan.Database()
    database.compile(expressions=[b"abc"], ids=[0], flags=[0])
    scratches = _Scratches(hyperscan.Scratch(database))
    mine = scratches.get()
    assert scratches.get() is mine
    other: list[object] = []
    thread = threading.Thread(target=lambda: other.append(scratches.get()))
    thread.start()
    thread.join()
    assert other[0] is not mine and other[0] is not scratches._first
