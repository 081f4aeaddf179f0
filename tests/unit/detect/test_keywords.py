"""The hook's pure-Python keyword prefilter (:mod:`ramparts.detect.keywords`) gives the patterns ``in``
gives, and the scanner built on it the findings of the rules' own database; a short text's scan in a
fresh process loads no Hyperscan (issue 21)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import ramparts
from ramparts.detect.keywords import KEYWORD_INDEX_MAX, KeywordIndex, ascii_keywords
from ramparts.detect.matcher import available_backends, keywords_in_ascii, lower_ascii_bytes
from ramparts.detect.secrets import Hit, SecretScanner, load_rules

RULES = load_rules()
KEYWORDS = ascii_keywords([r.keywords for r in RULES])
INDEX = KeywordIndex.build(KEYWORDS)
WORDS = sorted({k.decode() for ks in KEYWORDS for k in ks})
SRC = str(Path(ramparts.__file__).resolve().parent.parent)


def _by_in(haystack: bytes, keywords: list[tuple[bytes, ...]] = KEYWORDS) -> set[int]:
    return {i for i, ks in enumerate(keywords) if not ks or any(k in haystack for k in ks)}


# texts made of the keywords themselves, pieces of them, separators and non-ASCII characters
_piece = st.one_of(
    st.sampled_from(WORDS),
    st.sampled_from(WORDS).map(lambda w: w[: max(1, len(w) - 1)]),
    st.sampled_from(WORDS).map(lambda w: w[1:]),
    st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-.:/$~ \n", max_size=6),
    st.text(max_size=3),
    st.sampled_from(["\u212a", "\u0130", "\u00e9", "\x7f", "\U0001f600"]),
)


@settings(max_examples=400, deadline=None)
@given(st.lists(_piece, max_size=40).map("".join))
def test_the_index_finds_what_in_finds(text: str) -> None:
    haystack = (
        lower_ascii_bytes(text) if keywords_in_ascii(text) else text.lower().encode("utf-8", "surrogatepass")
    )
    assert INDEX.patterns(haystack) == _by_in(haystack)


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=300))
def test_the_index_finds_what_in_finds_in_any_bytes(data: bytes) -> None:
    assert INDEX.patterns(data) == _by_in(data)


def test_every_keyword_alone_and_at_each_end_of_a_text() -> None:
    for word in WORDS:
        raw = word.encode()
        for haystack in (raw, b"x" + raw, raw + b"x", b"ab " + raw + b" cd", raw[:-1], raw[1:]):
            assert INDEX.patterns(haystack) == _by_in(haystack), (word, haystack)


def test_short_keywords_and_patterns_without_any() -> None:
    keywords = [(), (b"a",), (b"od",), (b"sk_",), (b"ghp_",), (b"abcdefgh", b"zz"), (b"",)]
    index = KeywordIndex.build(keywords)
    for haystack in (
        b"",
        b"a",
        b"o",
        b"od",
        b"todo",
        b"sk_x",
        b"ghp",
        b"ghp_",
        b"xabcdefgx",
        b"abcdefgh",
        b"zz",
    ):
        assert index.patterns(haystack) == _by_in(haystack, keywords), haystack
    assert index.patterns(b"") == {0, 6}  # no keyword, an empty keyword: always


def test_a_rule_wider_than_the_text_is_no_candidate() -> None:
    """The index's widths drop a rule no match of which fits in the text: "od" (in "todo") is a keyword
    of the Discord token's rule, whose matches span at least 58 characters."""
    from ramparts.detect.keywords import KeywordMatcher
    from ramparts.detect.matcher import least_width

    widths = [least_width(r.pattern, r.case_insensitive) for r in RULES]
    discord = next(i for i, r in enumerate(RULES) if r.id == "discord-bot-token")
    assert widths[discord] == 58
    plain = KeywordMatcher(KeywordIndex.build(KEYWORDS), lambda: [r.keywords for r in RULES], cache_dir=None)
    sized = KeywordMatcher(
        KeywordIndex.build(KEYWORDS, widths), lambda: [r.keywords for r in RULES], cache_dir=None
    )
    text = "# Demo project\n\nTODO: write more.\n"
    assert discord in plain.candidates(text) and discord not in sized.candidates(text)
    longer = text + " " * 40
    assert discord in sized.candidates(longer)
    assert all(widths[i] <= len(longer) for i in sized.candidates(longer))
    assert set(sized.candidates(longer)) == {i for i in plain.candidates(longer) if widths[i] <= len(longer)}


def test_the_index_is_kept_and_read_back(tmp_path: Path) -> None:
    built: list[int] = []

    def keywords() -> list[tuple[bytes, ...]]:
        built.append(1)
        return KEYWORDS

    first = KeywordIndex.cached(keywords, str(tmp_path), "k1")
    second = KeywordIndex.cached(keywords, str(tmp_path), "k1")
    assert built == [1]
    text = b"ghp_ token akia sk_live -----begin todo"
    assert first.patterns(text) == second.patterns(text) == _by_in(text)
    (cached,) = tmp_path.glob("kwindex-k1-*.marshal")
    cached.write_bytes(b"\x00garbage")
    assert KeywordIndex.cached(keywords, str(tmp_path), "k1").patterns(text) == _by_in(text)
    assert built == [1, 1]  # rebuilt


def test_the_hook_s_scanner_finds_what_the_rules_database_finds(tmp_path: Path) -> None:
    """Every rule's examples through the hook's scanner (index only: a fresh scanner per text, so none
    reaches the database's budget) against the default scanner, also at the budget's length exactly."""
    reference = SecretScanner(RULES)
    load_rules(cache_dir=str(tmp_path))
    for rule in RULES:
        for example in (*rule.positive, *rule.negative):
            for text in (example, f"\u212aey: {example} \u0130"):
                hook = SecretScanner(backend="cached", cache_dir=str(tmp_path))
                assert _seen(hook.hits(text)) == _seen(reference.hits(text)), (rule.id, text[:20])
                assert hook.backend == "keywords"
    positive = next(r.positive[0] for r in RULES if r.id.startswith("github"))
    at_budget = positive + " " + "y" * (KEYWORD_INDEX_MAX - len(positive) - 1)
    assert len(at_budget) == KEYWORD_INDEX_MAX
    hook = SecretScanner(backend="cached", cache_dir=str(tmp_path))
    assert _seen(hook.hits(at_budget)) == _seen(reference.hits(at_budget)) and hook.backend == "keywords"
    assert not hook.matcher.cold  # the budget reached, not passed: no database looked for


def _seen(hits: list[Hit]) -> list[tuple[str, int, int, str, float, str]]:
    """A scan's hits without the rules' examples (the cached rules leave them out)."""
    return [(h.rule.id, h.start, h.end, h.value, h.confidence, h.suppressed) for h in hits]


def _fresh(code: str, *args: str) -> dict[str, object]:
    prelude = f"import json, sys\nsys.path.insert(0, {SRC!r})\n"
    done = subprocess.run(
        [sys.executable, "-I", "-c", prelude + code, *args], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_a_short_text_s_scan_loads_no_hyperscan_in_a_fresh_process(tmp_path: Path) -> None:
    if "hyperscan" not in available_backends():
        pytest.skip("hyperscan is not installed: nothing to leave unloaded")
    from ramparts.cli.scan import warm

    assert warm(str(tmp_path)) == 0  # every database in the cache, as after the hook's warm-up
    probe = """
from ramparts.detect.secrets import SecretScanner
scanner = SecretScanner(backend="cached", cache_dir=sys.argv[1])
found = [h.rule.id for h in scanner.hits(sys.argv[2] * int(sys.argv[3]))]
print(json.dumps({"hyperscan": sorted(m for m in sys.modules if m.startswith("hyperscan")),
                  "re2": sorted(m for m in sys.modules if m.startswith("re2")),
                  "backend": scanner.backend, "found": found[:1], "compiled": len(scanner._compiled)}))
"""
    # "todo" holds "od", a keyword of a rule whose matches span 58 characters or more: not compiled
    short = _fresh(probe, str(tmp_path), "# Demo project\n\nTODO: write more.\n", "1")
    assert short == {"hyperscan": [], "re2": [], "backend": "keywords", "found": [], "compiled": 0}
    token = _fresh(probe, str(tmp_path), "ghp_" + "a1B2" * 9, "1")
    assert token["hyperscan"] == [] and token["compiled"] and token["found"]  # a real candidate
    line = "x = 1 # todo\n"
    long = _fresh(probe, str(tmp_path), line, str(KEYWORD_INDEX_MAX // len(line) + 1))
    assert long["backend"] == "hyperscan" and long["hyperscan"]  # past the budget: the database
