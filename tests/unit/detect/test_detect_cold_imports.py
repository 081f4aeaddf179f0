"""The detectors on the cold hook's path load C extension modules, not their packages (issue 21).

Hyperscan's and RE2's packages import ``typing`` and ``functools``; the detectors load
``hyperscan._hs_ext`` and ``re2._re2`` alone (:mod:`ramparts.detect._native`), and RE2's Python wrapper
only when a candidate rule really matches (:class:`ramparts.detect.matcher._DeferredRe2`). These tests
check that the answers are those of the packages: the same compiled-database key (so a cache built by a
process that imported the package is the one the hook loads), the same matches, groups and errors.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import ramparts
from ramparts.detect import matcher

SRC = str(Path(ramparts.__file__).resolve().parent.parent)


def _fresh(code: str, *args: str) -> Any:
    """Run ``code`` in a fresh ``python -I`` with this source tree first on the path; its JSON output."""
    prelude = f"import json, sys\nsys.path.insert(0, {SRC!r})\n"
    done = subprocess.run(
        [sys.executable, "-I", "-c", prelude + code, *args], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


def test_the_flags_are_re_s() -> None:
    assert (matcher.ASCII, matcher.IGNORECASE, matcher.DOTALL) == (re.ASCII, re.IGNORECASE, re.DOTALL)
    assert matcher.flags(True) == re.ASCII | re.IGNORECASE and matcher.flags(False) == re.ASCII


def test_hyperscan_alone_keys_its_databases_as_the_package_does() -> None:
    pytest.importorskip("hyperscan")
    probe = """
from ramparts.detect import matcher
if sys.argv[1] == "package":
    import hyperscan
module = matcher.hyperscan_module()
out = {"name": module.__name__, "version": matcher.hyperscan_version(module),
       "package_loaded": "hyperscan" in sys.modules}
import hyperscan
out["package_version"] = hyperscan.__version__
out["same_database_type"] = module.Database is hyperscan.Database
print(json.dumps(out))
"""
    alone = _fresh(probe, "alone")
    package = _fresh(probe, "package")
    assert alone["name"] == "hyperscan._hs_ext" and not alone["package_loaded"]
    assert package["name"] == "hyperscan" and package["package_loaded"]
    # the extension has a __version__ of its own (the library's): the key must not use it
    assert alone["version"] == package["version"] == package["package_version"]
    assert alone["same_database_type"], "a later `import hyperscan` reuses the extension loaded alone"


def test_a_database_cached_by_the_package_is_loaded_by_the_extension_alone(tmp_path: Path) -> None:
    pytest.importorskip("hyperscan")
    probe = """
from ramparts.detect import matcher
if sys.argv[2] == "package":
    import hyperscan
def refuse(*args, **kwargs):
    raise AssertionError("compiled instead of loaded")
if sys.argv[2] == "alone":
    matcher._compile = refuse
m = matcher.Matcher([matcher.Pattern("ghp_[A-Za-z0-9]{36}", ("ghp_",))], backend="cached", cache_dir=sys.argv[1])
print(json.dumps({"backend": m.backend, "cold": m.cold, "hits": sorted(m.scan("x ghp_" + "a" * 36)[0]),
                  "package": "hyperscan" in sys.modules}))
"""
    matcher_built = _fresh(probe.replace('backend="cached"', 'backend="hyperscan"'), str(tmp_path), "package")
    assert matcher_built["package"] and list(tmp_path.glob("hs-*.db"))
    alone = _fresh(probe, str(tmp_path), "alone")
    assert alone == {"backend": "hyperscan", "cold": False, "hits": [0], "package": False}


PATTERNS = [
    (r"(?P<secret>ghp_[A-Za-z0-9]{36})", False),
    (r"(?:api[_-]?key)\s*[:=]\s*[\"']?(?P<secret>[A-Za-z0-9]{20,})", True),
    (r"(?P<name>[a-z_]+)\s*=\s*(?P<secret>\S{8,})", False),
    (r"k\w+", True),  # (?i)k matches the Kelvin sign under RE2's UTF-8 case folding
]
TEXTS = [
    "",
    "nothing to see here",
    "token ghp_" + "Ab1" * 12 + " and again ghp_" + "Zz9" * 12,
    "API_KEY = 'abcdefghijklmnopqrstuvwxyz0123'",
    "password = hunter2hunter2\nuser_token = s3cr3t-v4lue",
    "über \u212aelvin kilo ÄPI-KEY: ÄÖÜäöüßabcdefghijklmnop",
]


def _deferred(monkeypatch: pytest.MonkeyPatch, source: str | bytes, ci: bool) -> Any:
    monkeypatch.delitem(sys.modules, "re2", raising=False)  # as in a fresh hook: the package not loaded
    compiled = matcher.compile_regex(
        source if isinstance(source, str) else source.decode(), ci, binary=isinstance(source, bytes)
    )
    assert isinstance(compiled, matcher._DeferredRe2)
    return compiled


@pytest.mark.parametrize(("pattern", "ci"), PATTERNS)
def test_a_deferred_re2_pattern_matches_as_re2_does(
    monkeypatch: pytest.MonkeyPatch, pattern: str, ci: bool
) -> None:
    re2 = pytest.importorskip("re2")
    options = re2.Options()
    options.case_sensitive = not ci
    options.max_mem = 64 << 20
    reference = re2.compile(pattern, options)
    deferred = _deferred(monkeypatch, pattern, ci)
    assert deferred.groupindex == reference.groupindex
    assert deferred.groups == reference.groups and deferred.pattern == reference.pattern
    for text in TEXTS:
        got = [(m.span(), m.groups(), m.group(0)) for m in deferred.finditer(text)]
        assert got == [(m.span(), m.groups(), m.group(0)) for m in reference.finditer(text)], text
        window = [m.span() for m in deferred.finditer(text, 1, max(1, len(text) - 1))]
        assert window == [m.span() for m in reference.finditer(text, 1, max(1, len(text) - 1))]
    with pytest.raises(UnicodeEncodeError):
        next(iter(reference.finditer("a\ud800b")))
    lazy = deferred.finditer("a\ud800b")  # a generator, as the wrapper's: raises on its first step
    with pytest.raises(UnicodeEncodeError):
        next(lazy)
    wrapped = deferred._wrapper()  # the wrapper is built around the program compiled once, not anew
    assert type(wrapped).__name__ == "_Regexp" and wrapped._regexp is deferred._regexp


def test_a_deferred_pattern_over_bytes_and_its_raw_spans(monkeypatch: pytest.MonkeyPatch) -> None:
    re2 = pytest.importorskip("re2")
    deferred = _deferred(monkeypatch, b"[0-9]{3}-[0-9]{4}", False)
    data = b"call 555-0100 or 555-0199 \x7f 12-34"
    options = re2.Options()
    options.case_sensitive = True
    options.max_mem = 64 << 20
    reference = re2.compile(b"[0-9]{3}-[0-9]{4}", options)
    expected = [m.span() for m in reference.finditer(data)]
    assert [m.span() for m in deferred.finditer(data)] == expected == [(5, 13), (17, 25)]
    assert list(matcher.spans(deferred, data)) == expected


def test_a_text_no_candidate_matches_leaves_re2_s_wrapper_unloaded() -> None:
    pytest.importorskip("re2")
    probe = """
from ramparts.detect import matcher
regex = matcher.compile_regex(r"(?P<secret>ghp_[A-Za-z0-9]{36})", False)
none = list(regex.finditer("a ghp_ that is too short"))
before = "re2" in sys.modules
found = [m.span(1) for m in regex.finditer("x ghp_" + "a" * 36)]
print(json.dumps({"none": none, "before": before, "found": found, "after": "re2" in sys.modules,
                  "type": type(regex).__name__}))
"""
    out = _fresh(probe)
    assert out == {"none": [], "before": False, "found": [[2, 42]], "after": True, "type": "_DeferredRe2"}


def test_a_read_s_secret_scan_imports_no_thread_process_or_package(tmp_path: Path) -> None:
    """What the hook's scan of a Read loads: RE2's extension alone, no threading or subprocess, no RE2
    wrapper while no candidate rule matches (here ``ghp_`` and ``AKIA`` make candidates, too short), and
    no Hyperscan at all for a short text (its keywords are looked up by ``detect.keywords``' index)."""
    pytest.importorskip("hyperscan")
    build = """
from ramparts.detect.secrets import SecretScanner
SecretScanner(cache_dir=sys.argv[1], backend="hyperscan", keyword_database=True)  # as `scan --warm`
print("{}")
"""
    _fresh(build, str(tmp_path))
    probe = """
from ramparts.detect.scanner import Detectors
detectors = Detectors(("secret",), cache_dir=sys.argv[1], backend="cached")
found = detectors.scan("the ghp_ and AKIA prefixes are documented here", b"k" * 32)
print(json.dumps({"cold": detectors.cold, "found": len(found), "compiled": len(detectors.secrets._compiled),
    "modules": sorted(m for m in sys.modules if m.split(".")[0] in
                      ("hyperscan", "re2", "threading", "subprocess", "signal", "selectors"))}))
"""
    out = _fresh(probe, str(tmp_path))
    assert out["cold"] is False and out["found"] == 0 and out["compiled"] >= 1
    assert out["modules"] == ["re2._re2"], out["modules"]


def test_a_package_another_thread_is_still_importing_is_not_used(monkeypatch: pytest.MonkeyPatch) -> None:
    """``import hyperscan`` in one thread (the injection scorer's warm-up) while another takes the
    module from ``sys.modules`` (a scan): the package's ``__init__`` may not have defined its names
    yet ("partially initialized module 'hyperscan' has no attribute 'HS_FLAG_ALLOWEMPTY'", seen in a
    gateway's first request). Such a module, its ``__spec__`` marked initializing as the import system
    marks it, is passed over for the complete extension module, and the databases' key is the same."""
    import importlib.machinery
    import types

    import hyperscan
    import hyperscan._hs_ext as ext

    from ramparts.detect import _native

    partial = types.ModuleType("hyperscan")
    partial.__spec__ = importlib.machinery.ModuleSpec("hyperscan", None)
    partial.__spec__._initializing = True  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "hyperscan", partial)
    assert matcher.hyperscan_module() is ext
    assert matcher.hyperscan_version(ext) == hyperscan.__version__ != ""
    monkeypatch.setitem(sys.modules, "hyperscan._hs_ext", partial)
    assert _native.submodule("hyperscan", "_hs_ext") is None  # the caller's own import then waits
    partial.__spec__._initializing = False  # type: ignore[attr-defined]
    assert _native.initialised(partial) is partial
