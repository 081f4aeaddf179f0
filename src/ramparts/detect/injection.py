"""Prompt-injection scoring: signatures, hidden content, encoded payloads and a small classifier.

Text that reaches the agent from a tool (a web page, a file, a command's output) may carry
instructions meant for the model rather than for the user. :func:`score` combines four layers into
one number in 0..1 and keeps the evidence (which signal, where, which layer), so a decision can say
why it blocked:

- ``signature``: phrases that override instructions, fake role or delimiter markers, requests that
  coerce a coding agent (run this, read ``~/.ssh``, disable the hooks, send it to a URL), and
  markdown images or links whose URL carries data out;
- ``hidden``: what a human reviewer would not see: Unicode tag characters, variation-selector and
  invisible-operator smuggling (decoded and scanned again), zero-width and bidi controls, HTML
  comments and CSS-hidden text;
- ``encoded``: base64, base32, hex, URL-encoded and rot13 payloads, decoded and scanned again, at
  most :data:`MAX_DEPTH` levels deep and :data:`MAX_DECODES` payloads per call;
- ``classifier``: logistic regression over hashed word n-grams, trained by
  ``bench/train_injection.py`` and shipped as ``data/injection_model.json``. It scores the best
  window of the text, so one injected sentence in a long document is not averaged away.

A transformer classifier the user has locally (ONNX or other) plugs in with
:func:`register_classifier`; none is used by default. The module is pure apart from reading its
weights file, once per process, on first use. Work on large inputs is bounded: the head, the tail,
a sample of the middle and the neighbourhood of any invisible character are scanned.
"""

from __future__ import annotations

import binascii
import codecs
import itertools
import math
import os
import unicodedata
import zlib
from _operator import sub as _subtract  # operator.sub itself (operator is not imported for it)
from _thread import _local  # threading.local itself (threading is imported only to start a thread)

from .._json import loads as json_loads
from .._recache import compile as re_compile
from .._tuples import NamedTuple
from ..errors import ScanError
from ..model import Finding
from .matcher import ASCII, DOTALL
from .redact import fingerprint, redact_text

TYPE_CHECKING = False
if TYPE_CHECKING:
    import re
    from collections.abc import Callable, Iterable, Iterator
    from typing import Any, Literal, Protocol

    InjectionVerdict = Literal["block", "warn", "log"]

    class TextClassifier(Protocol):
        """A pluggable classifier: the probability in 0..1 that a text carries an injection.

        Meant for a transformer model the user runs locally (an ONNX export of a prompt-injection
        classifier, for instance). It receives the bounded view of the text the other layers scan.
        """

        def __call__(self, text: str, /) -> float: ...

    class ModelScore(Protocol):
        """The policy's model slot (:class:`ramparts.detect.injection_model.ModelSlot`), as :func:`score`
        uses it: the model's probability for the bounded text, and how it combines with the built-in
        score. Errors it raises are not swallowed (the caller fails closed)."""

        name: str

        def __call__(self, text: str, /) -> float: ...

        def combine(self, builtin: float, probability: float) -> float: ...


MODEL_PATH = os.path.join(os.path.dirname(__file__), "data", "injection_model.json")
FULL_SCAN = 32 * 1024
"""Texts up to this many characters are scanned whole ..."""
HEAD = 12 * 1024
"""... longer ones by their first and last ``HEAD`` characters ..."""
SAMPLES = 4
SAMPLE = 2 * 1024
"""... plus ``SAMPLES`` evenly spaced pieces of the middle and ``SAMPLE`` characters around invisible
characters, which the cheap full-text search finds anywhere."""
MAX_DEPTH = 3
"""How many times a decoded payload is decoded again (base64 in hex in base64 is three)."""
MAX_DECODES = 12
"""Decoded payloads rescanned per call; candidates that fail to decode cost little and are capped
separately by ``MAX_ATTEMPTS``."""
MAX_ATTEMPTS = 64
MAX_PAYLOAD = 8 * 1024
MIN_PAYLOAD = 16
_TOKEN = re_compile(r"[^\W_]+(?:[\u00ad\u200b-\u200d\u2060\ufeff]+[^\W_]+)*|[^\w\s]")
"""Words (zero-width characters inside a word stay inside its token, and are dropped by
:func:`_canonical`, so "ig<U+200B>nore" is one word) and single punctuation marks."""
_ASCII_TOKEN = re_compile(r"[a-zA-Z0-9]+|[^\w\s\x1c-\x1f]", ASCII)
"""The same tokens for lower-cased ASCII text (no zero-width characters there), found faster."""


def _tokenize(low: str) -> list[str]:
    """:data:`_TOKEN` over lower-cased text, by the ASCII pattern when the text is ASCII."""
    return _ASCII_TOKEN.findall(low) if low.isascii() else _TOKEN.findall(low)


class Evidence(NamedTuple):
    """One reason for the score: the layer (``signature``, ``hidden``, ``encoded``, ``classifier``,
    ``plugin``), a stable signal id, the span in the scored text, and the weight it contributed."""

    layer: str
    signal: str
    start: int
    end: int
    weight: float


class InjectionResult(NamedTuple):
    """The combined score in 0..1, its evidence (strongest first) and the verdict for the thresholds."""

    score: float
    evidence: tuple[Evidence, ...]
    verdict: InjectionVerdict


_plugins: list[TextClassifier] = []


def register_classifier(fn: TextClassifier | Callable[[str], float]) -> None:
    """Add a classifier whose probability joins the score as the ``plugin`` layer (the max is taken).

    It runs on every call, so it must be fast enough for the hook. An exception it raises is not
    swallowed: on the decision path a failing detector fails closed. NaN counts as 1.0.
    """
    if fn not in _plugins:
        _plugins.append(fn)


def unregister_classifier(fn: TextClassifier | Callable[[str], float]) -> None:
    """Remove a classifier added with :func:`register_classifier` (no error when absent)."""
    if fn in _plugins:
        _plugins.remove(fn)


# -- signatures ----------------------------------------------------------------------------------


class _Sig(NamedTuple):
    id: str
    weight: float
    pattern: str
    """Compiled when its gates first pass (``re``'s own cache keeps it): a fresh hook process that
    screens one benign tool result compiles few or none of them."""
    gates: tuple[tuple[frozenset[str], tuple[str, ...]], ...]
    """Cheap pre-checks, all of which must pass: each holds words (one must be among the text's
    tokens) and substrings (or one must occur). Most texts skip most regexes this way."""
    decoded_only: bool
    """Only counts inside decoded or hidden content (``<script>`` is normal in a web page, not in
    a base64 payload)."""
    starts: tuple[str, ...] = ()
    """Strings every match begins with, when the pattern says so: the pattern is then tried only
    where one occurs (found by ``str.find``) instead of at every position of the text. Same matches
    (a property test compares with ``finditer``); a fast path for the costliest patterns."""


def _sig(
    id: str, weight: float, pattern: str, *gates: str, decoded_only: bool = False, starts: str = ""
) -> _Sig:
    """A signature over lower-cased text; each gate is a space-separated list of words or substrings."""
    parsed = []
    for gate in gates:
        items = gate.split()
        words = frozenset(i for i in items if i.isalnum())
        parsed.append((words, tuple(i for i in items if not i.isalnum())))
    return _Sig(id, weight, pattern, tuple(parsed), decoded_only, tuple(starts.split()))


_DET = r"(?:(?:all|any|every|each|the|your|my|our|these|those|its|of|whatever|that)\s+){0,3}"
_PRIOR = r"(?:previous|prior|above|preceding|earlier|foregoing|initial|original|system|former)"
_RULES = (
    r"(?:instructions?|prompts?|directions?|directives?|rules?|guidelines?|commands?|context|messages?"
    r"|orders?|tasks?|requests?|constraints?|programming|restrictions?|policies|guardrails?|conversation)"
)
_SENSITIVE = (
    r"(?:\.env\b|env(?:ironment)?\s+(?:variables|vars|file)|ssh\s+keys?|private\s+keys?|api[\s_-]?keys?"
    r"|credentials|secrets|passwords?|access\s+tokens?|auth(?:entication)?\s+tokens?|~/\.ssh|id_rsa"
    r"|\.aws|aws\s+(?:keys?|credentials)|system\s+prompt|(?:initial|original|hidden)\s+instructions)"
)
_URLISH = r"(?:https?://|www\.|[a-z0-9-]+\.(?:com|net|org|io|xyz|ru|cn|tk|top|site|dev|app|me|co)\b)"
_PLACEHOLDER = (
    r"(?:\{[^}\s)]{0,40}\}|\[[a-z_ ]{2,30}\]|%7b|%5b|\$\{?[a-z_]|<[a-z_ ]{2,30}>"
    r"|(?<==)(?:data|secrets?|summary|conversation|history|info|password|token|keys?|chat|context"
    r"|messages?|query|input|memory|credentials?|user_?data)\b(?!:))"
)
_OVERRIDE_VERBS = "ignore ignoring disregard forget override overlook neglect abandon discard bypass"
_OUTPUT = (
    r"(?:responses?|answers?|repl(?:y|ies)|output|summar(?:y|ies)|translation|code\s+implementation|implementation"
    r"|solution|final\s+answer|rewrite|explanation)"
)
"""The model's own output: "in your response", "at the end of your answer"."""
_FORM = (
    r"(?:a\s+|an\s+|the\s+)?(?:form\s+of\s+|style\s+of\s+)?(?:french|spanish|german|portuguese|italian|chinese"
    r"|japanese|russian|arabic|hindi|korean|dutch|swedish|polish|turkish|greek|hebrew|latin|pig\s+latin|klingon"
    r"|esperanto|base\s?-?\d+|hex(?:adecimal)?|binary|morse|reverse(?:d)?|backwards|upper\s*case|all\s+caps"
    r"|emojis?|(?:\w+\s+)?cipher|caesar|rot-?13|leet(?:speak)?|rhym\w*|verse|poem|limerick|haiku|sonnet|song"
    r"|riddle|shakespearean|pirate)\b"
)
"""A form for the model's answer that only changes how it reads: another language (English, the
default, is not one), an encoding, a cipher, verse. "Render your response in Portuguese"."""
_OUTPUT_GATE = (
    "response responses answer answers reply replies output summary summaries translation implementation"
    " solution rewrite explanation"
)
_AI = (
    r"(?:ai|a\.i\.|assistant|ai\s+assistant|ai\s+model|ai\s+agent|model|llm|chatbot|bot|claude|chatgpt|gpt|gemini"
    r"|copilot|agent|coding\s+agent|language\s+model|large\s+language\s+model)"
)
"""Names for the model a text may address."""
_AI_GATE = "ai assistant model llm chatbot bot claude chatgpt gpt gemini copilot agent"
_CODECS = (
    r"(?:base\s*(?:64|32|16|85|2048)|hex|rot-?13|ascii85|uu|uuencoded?|morse|braille|zalgo|ecoji|atbash|leet(?:speak)?"
    r"|nato|mime|quoted-printable|unicode\s+tags?|(?:unicode\s+)?variant\s+selectors?|binary)"
)

_SIGNATURES: tuple[_Sig, ...] = (
    # instruction override
    _sig(
        "override.ignore_previous",
        0.9,
        r"\b(?:ignor(?:e|ing)|disregard|forget|override|overlook|neglect|abandon|discard|bypass)\s+"
        rf"{_DET}{_PRIOR}\s+(?:and\s+\w+\s+)?{_RULES}",
        _OVERRIDE_VERBS,
        starts="ignor disregard forget override overlook neglect abandon discard bypass",
    ),
    _sig(
        "override.ignore_rules",
        0.75,
        r"\b(?:ignor(?:e|ing)|disregard(?:ing)?|forget(?:ting)?|overrid(?:e|ing)|bypass(?:ing)?|discard(?:ing)?)\s+"
        r"(?:(?:all\s+(?:of\s+)?your|all\s+(?:of\s+)?the|all|any|every|your)\s+(?:other\s+|own\s+|current\s+)?"
        rf"(?:{_PRIOR}\s+)?|(?:the|these|those|my)\s+{_PRIOR}\s+|{_PRIOR}\s+)"
        r"(?:text|evidence|instructions?|rules|guidelines|directions|directives|prompts?|programming|restrictions"
        r"|guardrails|system\s+prompts?|safety\s+(?:rules|guidelines))\b"
        r"|\b(?:ignor(?:e|ing)|disregard(?:ing)?|forget(?:ting)?)\s+(?:the|all|any)\s+(?:text|instructions?|rules"
        r"|directions|directives|prompts?|guidelines)\s+(?:above|before|so\s+far|you\s+(?:were|have\s+been)\s+given)\b",
        _OVERRIDE_VERBS,
        starts="ignor disregard forget overrid bypass discard",
    ),
    _sig(
        "override.disregard_above",
        0.75,
        r"\b(?:ignore|disregard|forget|discard)\s+(?:(?:all|everything)\s+(?:of\s+)?)?(?:the\s+|that\s+)?"
        r"(?:above|previous|prior|preceding|foregoing|before|said\s+before|you\s+(?:were|have\s+been)\s+told)"
        r"(?=\s*(?:[.,;:!\n]|and\b|then\b|$))",
        "ignore disregard forget discard",
        starts="ignore disregard forget discard",
    ),
    _sig(
        "override.ignore_everything",
        0.6,
        r"\b(?:ignore|disregard|forget)\s+(?:about\s+)?(?:all|everything|anything)\s+(?:else\s+)?"
        r"(?:and|you\b|above|before|previously|that|in\s+this)",
        "ignore disregard forget",
        starts="ignore disregard forget",
    ),
    _sig(
        "override.new_instructions",
        0.7,
        r"\b(?:new|updated|revised|real|actual|true|additional|secret|hidden|override)\s+"
        r"(?:system\s+)?(?:instructions?|directives?|system\s+prompt|task|orders?)\s*(?::|are\s*:|follow)",
        "instruction instructions directive directives prompt task order orders",
    ),
    _sig(
        "override.instead",
        0.5,
        r"\b(?:instead|rather)\s*,?\s+(?:you\s+(?:should|must|will|need\s+to)\s+|just\s+|only\s+)?"
        r"(?:say|print|output|respond|reply|write|return|answer|tell|type|repeat)\b",
        "instead rather",
    ),
    _sig(
        "override.you_are_now",
        0.55,
        r"\byou\s+are\s+now\s+(?:a|an|the|my|no\s+longer|free|going\s+to|acting|operating|named|called"
        r"|playing|in\s+\w+\s+mode|dan\b|unrestricted|unfiltered|jailbroken|evil|uncensored)",
        "now",
    ),
    _sig(
        "override.jailbreak",
        0.8,
        r"\b(?:do\s+anything\s+now|developer\s+mode\s+(?:enabled|output|activated)|jailbr(?:oken|eak\s+mode)"
        r"|no\s+longer\s+(?:bound|restricted|limited)\s+by|free\s+(?:of|from)\s+(?:all\s+)?(?:restrictions|rules"
        r"|guidelines|filters)|without\s+any\s+(?:ethical|moral)\s+(?:restrictions|guidelines|constraints)"
        r"|(?:stay|remain)\s+in\s+character|pretend\s+(?:that\s+)?you\s+(?:are|have)\s+no\s+(?:rules|restrictions))",
        "anything developer jailbroken jailbreak bound restricted limited free ethical moral character pretend",
    ),
    _sig(
        "override.from_now_on",
        0.45,
        r"\bfrom\s+now\s+on,?\s+(?:you\s+(?:will|must|are|shall|should)|always|only|respond|answer|act|reply)\b",
        "now",
    ),
    _sig(
        "override.stop_task",
        0.55,
        r"\b(?:stop|cease|halt|abort)\s+(?:what\s+you\s+are\s+doing|(?:the|your)\s+current\s+task"
        r"|(?:summari[sz]|translat|analy[sz])ing)|\binstead\s+of\s+(?:summari[sz]|translat|answer)ing\b",
        "stop cease halt abort instead",
    ),
    _sig(
        "override.prompt_leak",
        0.6,
        r"\b(?:print|reveal|repeat|output|show|display|leak|tell\s+me|give\s+me|what\s+(?:is|are|was|were))\s+"
        rf"{_DET}(?:system\s+prompt|initial\s+(?:prompt|instructions)|hidden\s+(?:prompt|instructions)"
        r"|(?:previous|prior|original|above)\s+(?:prompt|instructions)|instructions\s+(?:above|you\s+were\s+given))",
        "prompt instructions",
    ),
    # role and delimiter hijack
    _sig(
        "role.tool_result_close",
        0.85,
        r"</\s*(?:tool_result|tool_use|function_results?|function_calls?|tool_response|tool_output"
        r"|search_results?|document_content|untrusted[_-]?\w*|external[_-]?content|user_query)\s*>",
        "</",
    ),
    _sig(
        "role.system_tag",
        0.65,
        r"<\s*/?\s*(?:system|system[_-]?(?:prompt|message|instructions?)|sys|admin|developer|instructions?"
        r"|im_start|im_end|assistant|human|user_instructions?)\s*>|\[/?(?:inst|sys|system)\]|<</?sys>>",
        "system sys admin developer instruction instructions im assistant human user inst",
        "< [",
    ),
    _sig(
        "role.chatml",
        0.9,
        r"<\|(?:im_start|im_end|system|user|assistant|endoftext|eot_id|start_header_id|end_header_id"
        r"|begin_of_text|end_of_turn|start_of_turn)\|>",
        "<|",
    ),
    _sig("role.turn_marker", 0.6, r"(?:^|\n)[ \t]*(?:human|assistant)\s*:[ \t]*\S", "human assistant"),
    _sig(
        "role.system_line",
        0.4,
        r"(?:^|\n)[ \t>*_]*(?:system|sys(?:tem)?\s*message|admin)\s*:[ \t]*[a-z]",
        "system sys admin",
    ),
    _sig(
        "role.markdown_system",
        0.7,
        r"(?:^|\n)[ \t]*#{1,6}[ \t]*(?:system|system\s+prompt|admin|developer|assistant|new\s+instructions?)"
        r"(?:[ \t]+(?:message|prompt|instructions?|override|note))?[ \t]*:",
        "system admin developer assistant instruction instructions",
        "#",
    ),
    # tool-call coercion aimed at coding agents
    _sig(
        "coerce.run_command",
        0.25,
        r"\b(?:run|execute|exec|invoke|paste|enter)\s+(?:the\s+|this\s+|following\s+|these\s+|that\s+|below\s+)*"
        r"(?:shell\s+|bash\s+|terminal\s+|python\s+|powershell\s+)?(?:command|commands|script|code|one-liner)\b",
        "run execute exec invoke paste enter",
        "command script code one-liner",
    ),
    _sig(
        "coerce.agent_must_run",
        0.3,
        r"\b(?:you|assistant|ai|agent|claude|the\s+model|llm)\s+(?:must|should|need\s+to|have\s+to"
        r"|are\s+required\s+to|will)\s+(?:now\s+|immediately\s+|first\s+|also\s+)?(?:run|execute|invoke"
        r"|use\s+the\s+\w+\s+tool\s+to|curl|wget|delete|push|send|upload|post|email|exfiltrate)\b",
        "you assistant ai agent claude model llm",
        "must should need have required will",
    ),
    _sig(
        "coerce.covert",
        0.6,
        r"\b(?:without\s+(?:(?:asking|telling|informing|notifying|alerting)\s+(?:the\s+)?(?:user|human|anyone|them)\b"
        r"(?!\s+(?:to|for|whether|if|about)\b)|the\s+user(?:'s)?\s+(?:knowledge|consent|noticing))"
        r"|do\s+not\s+(?:tell|inform|notify|alert|mention\s+(?:this|it)\s+to|ask)\s+(?:the\s+)?(?:user|human|anyone)"
        r"|don't\s+(?:tell|inform|notify|alert|ask)\s+(?:the\s+)?(?:user|human|anyone)"
        r"|(?:silently|secretly|quietly|covertly)\s+(?:run|execute|send|upload|post|delete|push|install|add"
        r"|modify|include|append|insert|download))",
        "without not don silently secretly quietly covertly",
    ),
    _sig(
        "coerce.pipe_shell",
        0.3,
        r"\b(?:curl|wget|iwr|invoke-webrequest)\b[^\n|;]{1,200}\|\s*(?:sudo\s+)?(?:ba|z|da|k)?sh\b"
        r"|\b(?:ba)?sh\s+(?:-c\s+)?[\"']?\$?<?\(\s*(?:curl|wget)\b|\biex\s*\(\s*(?:new-object|iwr|invoke-webrequest)",
        "curl wget iwr invoke iex",
    ),
    _sig(
        "coerce.read_secrets",
        0.4,
        r"\b(?:read|cat|print|dump|reveal|show|output|leak|copy|share|include|paste|list|display|extract"
        r"|give\s+me|collect|grab|steal|access)\s+(?:me\s+|us\s+)?"
        rf"{_DET}(?:contents?\s+of\s+(?:the\s+)?)?{_SENSITIVE}",
        "read cat print dump reveal show output leak copy share include paste list display extract give collect"
        " grab steal access",
        "env environment ssh private api apikey credentials secrets password passwords access auth"
        " authentication rsa aws prompt instructions",
    ),
    _sig(
        "coerce.secret_path",
        0.25,
        r"(?:~|\$home|\$\{home\}|/home/[\w.-]+|/root|%userprofile%)/\.(?:ssh|aws|gnupg|kube|docker|netrc|npmrc"
        r"|pypirc|git-credentials|config/gh)|\bid_(?:rsa|ed25519|ecdsa|dsa)\b(?!\.pub)|/etc/shadow\b",
        "/. id_ /etc/shadow",
    ),
    _sig(
        "coerce.git_push",
        0.45,
        r"\b(?:push|commit\s+and\s+push|upload|publish|mirror)\s+(?:all\s+|the\s+|this\s+|your\s+|these\s+)*"
        r"(?:code|changes|repo(?:sitory)?|commits?|branch|source|project|codebase|files?)\s+to\s+"
        r"(?:my\s+|the\s+|this\s+|a\s+|our\s+)?"
        rf"(?:{_URLISH}|(?:new\s+|following\s+|external\s+|public\s+)?(?:remote|fork|repo(?:sitory)?|server|github))",
        "push upload publish mirror",
    ),
    _sig(
        "coerce.git_remote",
        0.25,
        r"\bgit\s+remote\s+(?:add|set-url)\s+\S+\s+(?:https?://|git@)|\bgit\s+push\s+[^\n]{0,60}--force\b",
        "remote push",
    ),
    _sig(
        "coerce.disable_guard",
        0.65,
        r"\b(?:disable|turn\s+off|switch\s+off|bypass|skip|remove|deactivate|circumvent|uninstall|delete|kill"
        r"|stop|ignore|override|comment\s+out)\s+(?:the\s+|all\s+|any\s+|your\s+|its\s+|their\s+|these\s+)*"
        r"(?:security\s+|safety\s+|claude(?:\s+code)?\s+|git\s+|pre-?commit\s+)?(?:hooks?|permissions?\s*(?:checks?"
        r"|prompts?|system|rules)?|guardrails?|safety\s+(?:checks?|filters?|guidelines?|measures?|rules)"
        r"|security\s+(?:checks?|controls?|policies|policy|scanning|scanners?|features?|rules)|content\s+filters?"
        r"|sandbox(?:ing)?|ramparts|monitoring|audit(?:ing|\s+log(?:s|ging)?)?|approval\s+prompts?)\b(?![.(\w])"
        r"|--dangerously-skip-permissions|\bbypasspermissions\b|\bdisableallhooks\b",
        "hook hooks permission permissions guardrail guardrails safety security content sandbox sandboxing"
        " ramparts monitoring audit auditing approval dangerously bypasspermissions disableallhooks",
    ),
    _sig(
        "coerce.send_to_url",
        0.6,
        r"\b(?:send|post|upload|transmit|forward|exfiltrate|submit|leak|email|beacon|report|append)\s+"
        r"(?:it|them|this|that|everything|(?:all\s+|the\s+|your\s+|its\s+|their\s+|any\s+)*(?:contents?|data|output"
        r"|results?|files?|conversation|chat(?:\s+history)?|history|summary|response|answers?|keys?|tokens?"
        r"|secrets?|credentials|passwords?|information|info|logs?|environment(?:\s+variables)?|messages?)"
        r"(?:\s+of\s+(?:the\s+|your\s+|this\s+|that\s+)?\S+(?:\s+(?:file|files|folder|directory|repo))?)?)"
        r"\s+(?:back\s+)?to\s+(?:"
        + _URLISH
        + r"|(?:this|the\s+following|my|our|an?\s+external|the\s+attacker'?s?)\s+(?:url|endpoint|server|webhook"
        r"|address|link|site|domain|email))",
        "send post upload transmit forward exfiltrate submit leak email beacon report append",
        "to",
    ),
    _sig(
        "coerce.curl_upload",
        0.6,
        r"\b(?:curl|wget)\b[^\n]{0,200}(?:-d|--data(?:-binary|-raw|-urlencode)?|-f|--form|-t|--upload-file"
        r"|--post-file|--post-data)[\s=]*[\"']?(?:@|[^\s\"']*\$\()[^\s\"']*(?:~|\.env|\.ssh|id_rsa|/etc/|env\b"
        r"|printenv|credentials|\.aws|history)|https?://[^\s\"')]*\$\((?:cat|env|printenv|whoami|hostname|base64)\b",
        "curl wget http https",
        starts="curl wget http",
    ),
    # data-exfiltration markup
    _sig(
        "exfil.markdown_image",
        0.8,
        rf"!\[[^\]\n]{{0,200}}\]\(\s*<?https?://[^\s)]*?[?&#/=]{_PLACEHOLDER}",
        "](",
    ),
    _sig(
        "exfil.markdown_link",
        0.6,
        rf"(?:\[[^\]\n]{{0,200}}\]\(\s*<?|(?:^|\n)\s*\[[^\]\n]{{1,60}}\]:\s*)https?://[^\s)]*?[?&#/=]{_PLACEHOLDER}",
        "]( ]:",
    ),
    _sig(
        "exfil.fill_placeholder",
        0.5,
        r"\b(?:replace|substitute|fill\s+in|swap|encode|append|add|include|insert|put)\s+\S{1,40}\s+(?:with|by)\s+"
        r"(?:a\s+|the\s+|your\s+|my\s+|our\s+|brief\s+|short\s+|full\s+|entire\s+|base64[- ]encoded\s+"
        r"|url[- ]encoded\s+|\d+\s+character\s+)*"
        r"(?:summary|conversation|chat|history|previous|user'?s?|personal|private|data|secrets?|passwords?|info"
        r"|api\s+keys?|tokens?|credentials|context|messages?)",
        "replace substitute fill swap encode append add include insert put",
        "summary conversation chat history previous user users personal private data secret secrets password"
        " passwords info api token tokens credentials context message messages",
    ),
    _sig(
        "exfil.render_image",
        0.45,
        r"\b(?:render|display|print|show|output|include|insert|add|append|embed)\s+(?:the\s+|this\s+|a\s+|an\s+"
        r"|following\s+)*(?:markdown\s+|invisible\s+|tiny\s+|1x1\s+|tracking\s+)?(?:image|img|pixel)\b[^\n]{0,80}"
        r"(?:https?://|url|link)",
        "image img pixel",
    ),
    # addressing the model: who is spoken to, who claims to speak, what its output must hold
    _sig(
        "task.output_directive",
        0.55,
        r"\b(?:in|into|to|within|throughout|at\s+the\s+(?:start|end|beginning|top|bottom)\s+of)\s+"
        r"(?:each\s+of\s+|every\s+|all\s+(?:of\s+)?)?your\s+(?:final\s+|next\s+|generated\s+|whole\s+|entire\s+)?"
        rf"{_OUTPUT}\b",
        "your",
        _OUTPUT_GATE,
    ),
    _sig(
        "task.output_form",
        0.7,
        rf"\byour\s+(?:final\s+|next\s+|whole\s+|entire\s+)?(?:responses?|answers?|repl(?:y|ies)|output)\b"
        rf"[^.!?\n]{{0,40}}?\b(?:in|into|using|with|as)\s+{_FORM}"
        rf"|\b(?:use|using|employ|with)\s+{_FORM}[^.!?\n]{{0,40}}?\byour\s+(?:final\s+|whole\s+|entire\s+)?"
        r"(?:responses?|answers?|repl(?:y|ies)|output)\b",
        "your",
        "response responses answer answers reply replies output",
    ),
    _sig(
        "task.edit_output",
        0.45,
        r"(?:^|[.!?\n:|]\s*)(?:please\s+|also\s+|now\s+|kindly\s+|then\s+|and\s+)?(?:enhance|modify|augment|enrich|alter"
        r"|change|adjust|rewrite|scramble|reverse|remove|replace|format|structure|end|begin|start|conclude|finish"
        r"|close|prefix|encode|translate|encrypt|obfuscate|display|present|write|deliver|express|compose|craft"
        r"|render|embed|insert|include|append|introduce|inject|weave|integrate|incorporate|blend|supplement"
        r"|enlist|adopt|leverage|feature|spice\s+up|infuse|garnish|decorate|sprinkle|punctuate|pepper)\b"
        r"[^.!?\n]{0,80}?\byour\s+(?:final\s+|next\s+|whole\s+|entire\s+)?(?:responses?|repl(?:y|ies)|answers?|output"
        r"|implementation|solution(?:\s+logic)?|codebase|code\s+foundation|algorithm|program\s+logic|elucidation"
        r"|explanation)\b",
        "your",
        "response responses reply replies answer answers output implementation solution codebase foundation"
        " algorithm logic elucidation explanation",
    ),
    _sig(
        "override.ignore_rest",
        0.75,
        r"\b(?:ignore|ignoring|disregard|forget|skip|overlook)\s+(?:all\s+|any\s+)?(?:of\s+)?(?:the\s+)?(?:rest|remainder)"
        r"\s+of\s+(?:the|this|these|that|my|your|its)\s+[\w-]+(?:\s+[\w-]+)?\s*(?:,|;|:|\.|and\b|then\b)\s*(?:and\s+)?"
        r"(?:then\s+|just\s+|only\s+|instead\s+)?(?:print|say|output|write|respond|reply|answer|return|tell|state"
        r"|repeat|summari[sz]e|translate|follow|do|report|recommend|send)\b",
        "ignore ignoring disregard forget skip overlook",
        "rest remainder",
        starts="ignor disregard forget skip overlook",
    ),
    _sig(
        "override.ignore_all_but",
        0.6,
        r"\b(?:ignore|disregard|forget)\s+(?:all|everything|any(?:thing)?)\s+(?:[\w-]+\s+){0,3}?(?:except|but|apart\s+from"
        r"|other\s+than)\b|\b(?:ignore|disregard)\s+(?:your\s+|the\s+|all\s+|any\s+)?(?:instructions|directives"
        r"|guidelines|programming)\s*(?:[,.;:!]|and\b)",
        "ignore disregard forget",
        starts="ignore disregard forget",
    ),
    _sig(
        "task.conditional_reply",
        0.55,
        r"\b(?:if|when|whenever|once)\s+(?:the\s+|a\s+|any\s+)?user\s+(?:asks?|requests?|queries|wants|says|inquires)\b"
        r"[^.\n]{0,80}?\b(?:reply|respond|answer|say|output|print|tell|state|return|write)\b",
        "user",
        "reply respond answer say output print tell state return write",
    ),
    _sig(
        "role.user_turn",
        0.5,
        r"(?:^|\n)[ \t>*]*(?:user|human|system)\s*:[ \t]*(?:next|now|please|ignore|repeat|forget|also|from\s+now"
        r"|instead|disregard|new\s+task|actually)\b",
        "user human system",
    ),
    _sig(
        "role.bracket_authority",
        0.6,
        r"\[\s*(?:admin|administrator|system|developer|root|security|operator|assistant)(?:\s+|_|-)?"
        r"(?:request|message|override|instructions?|command|directive|note|notice)?\s*::|\[\s*(?:admin|administrator|system"
        r"|developer|operator)[\s_-]+(?:request|override|instructions?|command|directive)\s*[:\]]",
        "admin administrator system developer root security operator assistant",
        "[",
    ),
    _sig(
        "addr.user_claim",
        0.6,
        r"\b(?:this\s+is\s+(?:the\s+|your\s+)?user\b|(?:message|note|request|instructions?)\s+from\s+(?:the\s+|your\s+)?user"
        r"\s+to\b|the\s+user\s+(?:wants|asked|asks|has\s+asked|instructs|requests|requested|would\s+like|needs)\s+you\s+to\b"
        r"|i\s+am\s+(?:the\s+|your\s+)?(?:user|developer|administrator|admin|operator)\s+(?:and|of|speaking|here)\b)",
        "user developer administrator admin operator",
    ),
    _sig(
        "addr.vocative",
        0.55,
        r"(?:^|[\n.!?:]\s*)(?:dear\s+|hey\s+|hi\s+|hello\s+|note\s+(?:to|for)\s+(?:the\s+|any\s+)?|attention\s*,?\s*"
        r"|message\s+(?:to|for)\s+(?:the\s+|any\s+)?|important\s+(?:note\s+)?(?:to|for)\s+(?:the\s+|any\s+)?)"
        rf"{_AI}\s*[,:!\-]",
        _AI_GATE,
    ),
    _sig(
        "addr.if_you_are_ai",
        0.6,
        rf"\bif\s+you\s+are\s+(?:an?\s+|the\s+)?(?:\w+\s+)?{_AI}\b(?:\s+(?:reading|processing|summari[sz]ing|parsing"
        r"|analy[sz]ing|handling|seeing)\b|\s*,)",
        _AI_GATE,
    ),
    _sig(
        "encoded.decode_request",
        0.85,
        r"\b(?:decode|decipher|decrypt|unscramble|deobfuscate)\s+(?:the\s+|this\s+|following\s+|below\s+|these\s+"
        r"|that\s+)+[^\n]{0,60}?(?:in\s+your\s+(?:monologue|head|mind|thoughts|reasoning|response)"
        r"|and\s+(?:then\s+)?(?:follow|execute|obey|do|run|carry\s+out|act\s+on|perform)\b|system\s+message)",
        "decode decipher decrypt unscramble deobfuscate",
    ),
    _sig(
        "encoded.completion_bait",
        0.8,
        r"(?:^|\n)[^\n]{0,60}?\b(?:de(?:coded|crypted|ciphered|obfuscated)|plain\s*text)(?:\s+(?:string|text|message"
        r"|version|output|value))?\s*:[ \t]*\s*$",
        "decoded decrypted deciphered deobfuscated plaintext plain",
    ),
    _sig(
        "encoded.labelled_payload",
        0.4,
        rf"\b{_CODECS}\s+(?:encoded|encrypted|ciphered|obfuscated)\s+(?:string|text|message|payload|instructions?)\s*:",
        "encoded encrypted ciphered obfuscated",
    ),
    # active content, only suspicious once decoded or hidden
    _sig(
        "decoded.active_content",
        0.5,
        r"<\s*script\b|\bjavascript\s*:|\bon(?:error|load|mouseover)\s*=|<\s*iframe\b|\balert\s*\(",
        decoded_only=True,
    ),
    _sig(
        "decoded.shell",
        0.5,
        r"\b(?:rm\s+-[rf]{1,2}\s+[/~]|curl\s+\S|wget\s+\S|nc\s+-[elvp]|/bin/(?:ba)?sh\b|chmod\s+\+x|powershell\b"
        r"|subprocess|os\.system|eval\s*\(|exec\s*\()",
        decoded_only=True,
    ),
    _sig(
        "decoded.sql",
        0.4,
        r"\b(?:drop\s+table|union\s+select|or\s+1\s*=\s*1|;\s*--|xp_cmdshell)\b",
        decoded_only=True,
    ),
)


def _lower(text: str) -> str:
    """Lower-cased text with the same length, so offsets found in it hold in the original."""
    low = text.lower()
    if len(low) == len(text):
        return low
    return "".join(ch if len(ch.lower()) != 1 else ch.lower() for ch in text)


def tokens(text: str) -> list[str]:
    """The classifier's units: lower-cased words and single punctuation marks, in order."""
    return _tokenize(_lower(text))


def _gates_pass(sig: _Sig, low: str, words: set[str] | frozenset[str], present: dict[str, bool]) -> bool:
    """Whether every gate of ``sig`` passes (substring tests shared between signatures in ``present``)."""
    for gate_words, substrings in sig.gates:
        if gate_words and not gate_words.isdisjoint(words):
            continue
        for sub in substrings:
            found = present.get(sub)
            if found is None:
                found = present[sub] = sub in low
            if found:
                break
        else:
            return False
    return True


def _anchored(pattern: re.Pattern[str], low: str, starts: tuple[str, ...]) -> Iterator[re.Match[str]]:
    """``pattern.finditer(low)`` for a pattern whose every match begins with one of ``starts``: tried
    only where one occurs, in order, skipping positions inside the last match."""
    positions: set[int] = set()
    for start in starts:
        at = low.find(start)
        while at >= 0:
            positions.add(at)
            at = low.find(start, at + 1)
    end = 0
    for at in sorted(positions):
        if at < end:
            continue
        m = pattern.match(low, at)
        if m is not None:
            end = max(m.end(), at + 1)
            yield m


_prefilter: Any = None
"""``(database, always)`` once :func:`use_hyperscan` has compiled the signatures."""
_scratch = _local()
"""Each thread's Hyperscan scratch space for the database it last scanned with (a scratch may not be
shared by threads scanning at once: the in-process gateway and the resident hook score in threads)."""
_SPACES = bytes.maketrans(b"\x0b\x0c\x1c\x1d\x1e\x1f", b"      ")
"""ASCII characters that ``re`` counts as ``\\s`` in a str pattern and Hyperscan may not: scanned as
spaces (which both count as ``\\s``, and which match every other pattern element they match)."""
_ONLY_RE_SPACES = tuple(bytes([c]) for c in b"\x0b\x0c\x1c\x1d\x1e\x1f")
_STAND_IN_ERRORS = "ramparts-injection-stand-in"
_stand_ins: dict[str, str] = {}


def _stand_in_for(ch: str) -> str:
    """The ASCII character scanned in place of a non-ASCII one (for the prefilter only).

    It matches every pattern element the original matches (a superset is all a prefilter needs): a
    decimal digit (``\\d``, ``\\w``) stands as ``0``, another letter or digit (``\\w``) as ``q``,
    white space (``\\s``) as a space, anything else (``\\W``, ``\\S``) as ``\\x01``. No signature
    names a non-ASCII character, and none of these four occurs in a negated class or a negative
    look-around of a signature except as ``\\s`` or ``\\w``, which the original matches alike; so
    ``re`` finds on the stand-in text at least what it finds on the original
    (``tests/unit/detect/test_injection_fast_paths.py`` holds every signature to this)."""
    held = _stand_ins.get(ch)
    if held is None:
        held = "0" if ch.isdecimal() else "q" if ch.isalnum() else " " if ch.isspace() else "\x01"
        if len(_stand_ins) < 65536:
            _stand_ins[ch] = held
    return held


def _stand_in_errors(exc: UnicodeError) -> tuple[str, int]:
    if not isinstance(exc, UnicodeEncodeError):
        raise exc
    return "".join(map(_stand_in_for, exc.object[exc.start : exc.end])), exc.end


codecs.register_error(_STAND_IN_ERRORS, _stand_in_errors)


def _prefilter_bytes(low: str) -> bytes:
    """``low`` as the ASCII bytes the prefilter scans: one byte a character (offsets hold), non-ASCII
    characters and the spaces only ``re`` knows replaced by :func:`_stand_in_for` and spaces."""
    data = low.encode("ascii", _STAND_IN_ERRORS)
    # most texts hold none of these: six searches for a byte cost less than translating every byte
    return data.translate(_SPACES) if any(c in data for c in _ONLY_RE_SPACES) else data


def use_hyperscan(enabled: bool = True, cache_dir: str | None = None) -> bool:
    """One Hyperscan pass over a text (non-ASCII characters stood in for, :func:`_stand_in_for`) names the signatures that may match it; only those are
    then run by ``re``, which gives the matches. Every pattern is compiled in Hyperscan's prefilter
    mode, which may name a signature that ``re`` then does not match but never misses one, so the
    evidence is the same as without it (``tests/unit/detect/test_injection_fast_paths.py``).

    Compiling takes seconds, so the database is kept in ``cache_dir`` (keyed by the patterns and the
    Hyperscan version) and loaded from there next time: for long-lived processes (the gateway's
    detector workers), like :func:`use_numpy`. Returns whether it is on."""
    global _prefilter
    if not enabled:
        _prefilter = None
        return False
    try:
        import hyperscan
    except ImportError:
        return False
    from .matcher import cached_database

    flags = hyperscan.HS_FLAG_PREFILTER | hyperscan.HS_FLAG_SINGLEMATCH | hyperscan.HS_FLAG_ALLOWEMPTY
    expressions = [sig.pattern.encode() for sig in _SIGNATURES]
    expressions += ["".join(f"\\x{b:02x}" for b in literal.encode()).encode() for literal in _LITERALS]
    # a signature Hyperscan cannot express even as a prefilter is left out: always run by ``re``
    database, always = cached_database(
        hyperscan, expressions, [flags] * len(expressions), cache_dir, "injection-signatures"
    )
    _prefilter = (database, frozenset(always))
    return True


def use_hyperscan_in_background(cache_dir: str | None) -> None:
    """:func:`use_hyperscan` in a daemon thread: a long-lived scorer starts at once on ``re`` alone and
    takes the prefilter when it is ready (the same evidence either way). Hyperscan's compiler releases
    the GIL, so the seconds a cold cache costs do not stall the scans meanwhile."""
    import threading  # here: a thread is started

    threading.Thread(
        target=use_hyperscan, kwargs={"cache_dir": cache_dir}, name="ramparts-injection-hs", daemon=True
    ).start()


_LITERALS = ("<!--", "style", "hidden", "\\x", "%", "&#")
"""Strings :func:`_hidden` and :func:`_encoded` look for before a costlier search, also in the
prefilter's database (after the signatures, as :data:`_LITERAL_IDS`): the one pass that finds which
signatures may match says which of these cannot occur, sparing a search of the text for each."""
_LITERAL_IDS = {literal: len(_SIGNATURES) + n for n, literal in enumerate(_LITERALS)}
Found = set[int] | frozenset[int] | None
"""What :func:`_candidate_signatures` reported on a text (``None``: no prefilter)."""


def _may_hold(found: Found, literal: str) -> bool:
    """Whether ``literal`` may occur in the text (lower-cased or not, look-alikes folded or not) whose
    prefilter pass reported ``found``: false only when the pass ran and did not see it. Lower-casing
    and folding look-alikes never remove an ASCII string (they change only letters to letters, and
    non-ASCII characters), and the bytes scanned hold every ASCII character of the text as itself."""
    return found is None or _LITERAL_IDS[literal] in found


def _add_candidate(sig_id: int, start: int, end: int, flags: int, found: set[int]) -> None:
    found.add(sig_id)


def _candidate_signatures(low: str) -> Found:
    """The indexes of the signatures that may match ``low`` (Hyperscan), or ``None``: try them all;
    with those of the :data:`_LITERALS` that occur in it."""
    if _prefilter is None:
        return None
    database, always = _prefilter
    scratch = getattr(_scratch, "space", None)
    if scratch is None or _scratch.database is not database:
        import hyperscan

        scratch = _scratch.space = hyperscan.Scratch(database)
        _scratch.database = database
    found: set[int] = set(always)
    database.scan(_prefilter_bytes(low), match_event_handler=_add_candidate, scratch=scratch, context=found)
    return found


def _signatures(low: str, words: set[str] | frozenset[str], decoded: bool, out: list[Evidence]) -> Found:
    """Adds the signatures' evidence to ``out``; returns what the prefilter reported (see :data:`Found`)."""
    present: dict[str, bool] = {}
    candidates = _candidate_signatures(low)
    for index, sig in enumerate(_SIGNATURES):
        if sig.decoded_only and not decoded:
            continue
        if candidates is not None and index not in candidates:
            continue
        if not _gates_pass(sig, low, words, present):
            continue
        pattern = re_compile(sig.pattern)
        found = _anchored(pattern, low, sig.starts) if sig.starts else pattern.finditer(low)
        for n, m in enumerate(found):
            out.append(Evidence("signature", sig.id, m.start(), m.end(), sig.weight))
            if n >= 2:
                break
    return candidates


# -- hidden content -------------------------------------------------------------------------------

_INVISIBLE = re_compile(
    "[\u00ad\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff\ufe00-\ufe0f"
    "\U000e0000-\U000e007f\U000e0100-\U000e01ef]+"
)
_ZERO_WIDTH = frozenset("\u200b\u200c\u200d\u2060\u180e\ufeff\u00ad")
_BIDI = frozenset("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")
_HTML_COMMENT = re_compile(r"<!--(.{12,4000}?)-->", DOTALL)
_STYLED = re_compile(
    r"<(?P<tag>[a-z][a-z0-9]{0,10})\b(?P<attrs>[^>]{0,500})>"
    r"(?P<body>[^<]{0,3000}(?:<(?!/(?P=tag)\s*>)[^<]{0,600}){0,20})</(?P=tag)\s*>"
)
_HIDING_STYLE = re_compile(
    r"display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0(?:\.0+)?(?:px|pt|em|rem|%)?\s*(?:[;\"'!]|$)"
    r"|opacity\s*:\s*0(?:\.0+)?\s*(?:[;\"'!]|$)|(?:max-)?height\s*:\s*0(?:px)?\s*;[^\"']*overflow\s*:\s*hidden"
    r"|(?:left|top|text-indent|margin-left)\s*:\s*-\d{3,}|clip\s*:\s*rect\(\s*0|transform\s*:\s*scale\(\s*0\s*\)"
    r"|(?:^|\s)hidden(?:\s|=|$)"
)
_COLOR = re_compile(r"(?:^|[;\s\"'])(background(?:-color)?|color)\s*:\s*([#\w(),.\s%]+?)\s*(?:[;\"'!]|$)")
_TAG_STRIP = re_compile(r"<[^>]{0,500}>")
_WORD = re_compile(r"[^\W\d_]{2,}")
_WHITE = frozenset({"#fff", "#ffffff", "white", "rgb(255,255,255)"})


def _same_colors(attrs: str) -> bool:
    """Text coloured like its background (or transparent): invisible on screen, read by the model."""
    fg = bg = ""
    for m in _COLOR.finditer(attrs):
        value = m.group(2).replace(" ", "")
        if m.group(1) == "color":
            fg = value
        else:
            bg = value
    return bool(fg) and (
        fg == bg or (fg in _WHITE and bg in _WHITE) or fg in ("transparent", "rgba(0,0,0,0)")
    )


class _Budget:
    """Work left for one call, shared by every level of decoding."""

    __slots__ = ("attempts", "decodes")

    def __init__(self) -> None:
        self.attempts = MAX_ATTEMPTS
        self.decodes = MAX_DECODES


def _inner(text: str, depth: int, budget: _Budget) -> tuple[float, str]:
    """Score a decoded or smuggled text one level deeper; its score and strongest signal."""
    if budget.decodes <= 0 or depth >= MAX_DEPTH or not text.strip():
        return 0.0, ""
    budget.decodes -= 1
    value, evidence = _scan(text, depth + 1, budget)
    if not evidence:
        return value, ""
    precise = [e for e in evidence if e.layer != "classifier" and e.weight >= 0.3]
    return value, (precise[0] if precise else evidence[0]).signal


def _nested(
    layer: str, signal: str, start: int, end: int, inner: tuple[float, str], floor: float
) -> Evidence:
    """Evidence for a payload: what was found inside counts a little more for having been hidden."""
    value, inner_signal = inner
    if value < 0.3:
        return Evidence(layer, signal, start, end, floor)
    return Evidence(layer, f"{signal}>{inner_signal}", start, end, max(floor, min(1.0, value + 0.1)))


def _decode_variation_selectors(run: str) -> str:
    data = bytearray()
    for ch in run:
        cp = ord(ch)
        if 0xFE00 <= cp <= 0xFE0F:
            data.append(cp - 0xFE00)
        elif 0xE0100 <= cp <= 0xE01EF:
            data.append(cp - 0xE0100 + 16)
    return data.decode("utf-8", "replace")


def _decode_bits(run: str) -> str:
    """Invisible-operator smuggling: U+2062 is a 0 bit, U+2064 a 1 bit, in 8- or 7-bit characters."""
    bits = "".join("0" if ch == "\u2062" else "1" for ch in run if ch in "\u2062\u2064")
    best = ""
    for width in (8, 7):
        if len(bits) >= width:
            decoded = "".join(
                chr(int(bits[i : i + width], 2)) for i in range(0, len(bits) - width + 1, width)
            )
            if _printable_ratio(decoded) > _printable_ratio(best):
                best = decoded
    return best


def _printable_ratio(text: str) -> float:
    if not text:
        return 0.0
    return sum(1 for ch in text if ch.isprintable() or ch in "\n\r\t") / len(text)


def _hidden(
    text: str, low: str, depth: int, budget: _Budget, out: list[Evidence], prefiltered: Found = None
) -> None:
    if not text.isascii() and _INVISIBLE.search(text):
        _invisible(text, depth, budget, out)
    if _may_hold(prefiltered, "<!--") and "<!--" in text:
        for n, m in enumerate(_HTML_COMMENT.finditer(text)):
            if n >= 8:
                break
            body = m.group(1)
            if len(_WORD.findall(body)) >= 3:
                out.append(_nested("hidden", "hidden.html_comment", m.start(), m.end(), _shallow(body), 0.02))
    if (_may_hold(prefiltered, "style") and "style" in low) or (
        _may_hold(prefiltered, "hidden") and "hidden" in low
    ):
        found = 0
        for m in _STYLED.finditer(low):
            attrs = m.group("attrs")
            if not (_HIDING_STYLE.search(attrs) or ("color" in attrs and _same_colors(attrs))):
                continue
            body = _TAG_STRIP.sub(" ", text[m.start("body") : m.end("body")])
            if len(_WORD.findall(body)) < 3:
                continue
            out.append(_nested("hidden", "hidden.css_hidden", m.start(), m.end(), _shallow(body), 0.15))
            found += 1
            if found >= 8:
                break


def _shallow(text: str) -> tuple[float, str]:
    """Signatures and classifier over a hidden span of the same text (nothing decoded, so no depth)."""
    low = _lower(text)
    toks = _TOKEN.findall(low)
    evidence: list[Evidence] = []
    _signatures(low, set(toks), True, evidence)
    sig = _combine(_per_signal(evidence).values())
    cls, _, _ = _classify(toks)
    best = max(evidence, key=lambda e: e.weight).signal if evidence and sig >= cls else "classifier.ngram_lr"
    return _merge(sig, cls), best


def _invisible(text: str, depth: int, budget: _Budget, out: list[Evidence]) -> None:
    zero_width = bidi = 0
    first = last = -1
    for n, m in enumerate(_INVISIBLE.finditer(text)):
        if n >= 256:
            break
        run = m.group(0)
        start, end = m.span()
        tags = [ord(ch) for ch in run if 0xE0000 <= ord(ch) <= 0xE007F]
        if tags:
            flag = start > 0 and text[start - 1] == "\U0001f3f4" and run.endswith("\U000e007f")
            if not flag:  # a subdivision flag (England, Scotland, Wales) is the one ordinary use
                decoded = "".join(chr(cp - 0xE0000) for cp in tags if 0xE0020 <= cp <= 0xE007E)
                out.append(
                    _nested("hidden", "hidden.tag_chars", start, end, _inner(decoded, depth, budget), 0.6)
                )
            continue
        if sum(1 for ch in run if 0xFE00 <= ord(ch) <= 0xFE0F or 0xE0100 <= ord(ch) <= 0xE01EF) >= 3:
            inner = _inner(_decode_variation_selectors(run), depth, budget)
            out.append(_nested("hidden", "hidden.variation_selectors", start, end, inner, 0.6))
            continue
        if sum(1 for ch in run if "\u2061" <= ch <= "\u2064") >= 8:
            out.append(
                _nested(
                    "hidden",
                    "hidden.invisible_bits",
                    start,
                    end,
                    _inner(_decode_bits(run), depth, budget),
                    0.6,
                )
            )
            continue
        before = text[start - 1] if start > 0 else ""
        after = text[end] if end < len(text) else ""
        for i, ch in enumerate(run):
            if ch in _BIDI:
                bidi += 1
            elif ch in _ZERO_WIDTH:
                if ch == "\ufeff" and start + i == 0:
                    continue  # a byte-order mark
                if ch in "\u200c\u200d\u00ad" and not (before.isascii() and after.isascii()):
                    continue  # joiners in emoji and in the scripts that need them
                if ch == "\u00ad" and before.isalpha() and after.isalpha():
                    continue  # a soft hyphen inside a word
                zero_width += 1
            else:
                continue
            first = start if first < 0 else first
            last = end
    if not (zero_width or bidi):
        return
    weight = min(0.45, 0.15 + 0.03 * zero_width) if zero_width else 0.0
    if bidi:
        weight = max(weight, 0.35)
    signal = "hidden.bidi_control" if bidi >= zero_width else "hidden.zero_width"
    out.append(Evidence("hidden", signal, first, last, weight))
    # Zero-width characters inside words ("ig\u200bnore") hide a phrase from signatures: rescan without them.
    stripped = "".join(ch for ch in text if ch not in _ZERO_WIDTH and ch not in _BIDI)
    if stripped != text:
        low = _lower(stripped)
        words = set(_TOKEN.findall(low))
        found: list[Evidence] = []
        _signatures(low, words, False, found)
        plain = _lower(text)
        seen: list[Evidence] = []
        _signatures(plain, set(_TOKEN.findall(plain)), False, seen)
        known = {e.signal for e in seen}
        for e in found:
            if e.signal not in known:
                out.append(
                    Evidence(
                        "hidden", f"hidden.split_words>{e.signal}", first, last, min(1.0, e.weight + 0.1)
                    )
                )


# -- encoded payloads ----------------------------------------------------------------------------

_BASE64 = re_compile(r"(?<![A-Za-z0-9+/_-])[A-Za-z0-9+/_-]{16,}={0,2}")
"""Runs of base64 characters. Every match of the plain ``[A-Za-z0-9+/_-]{16,}={0,2}`` begins where a
run begins (greedy, it takes the whole run; a shorter run never matches), so the look-behind finds the
same matches while failing at once inside a run, where the plain pattern rescanned the run from every
position (a text of short words cost a regex attempt a character)."""
_BASE32_CHARS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567=")
_HEX_CHARS = frozenset("0123456789abcdefABCDEF")
_HEX = re_compile(r"[0-9a-f]{16,}")
_HEX_ESCAPES = re_compile(r"\\x[0-9a-f]{2}(?:\\x[0-9a-f]{2}){5,}")
_PERCENT = re_compile(r"%[0-9a-f]{2}[^\s%]{0,40}(?:%[0-9a-f]{2}[^\s%]{0,40}){2,}")
"""``(?:\\x..){6,}`` and ``(?:%..[^\\s%]{0,40}){3,}`` with the first repetition written out: the same
matches, and ``re`` then searches for the literal prefix instead of trying the group at every position."""
_ENTITY = re_compile(r"&#(?:\d{2,7}|[xX][0-9a-fA-F]{2,6});")
"""Numeric character references: letters written as ``&#105;`` hide words (named ones like ``&amp;``
are ordinary HTML)."""
_PERCENT_ESCAPE = re_compile(r"%([0-9A-Fa-f]{2})")
_ROT13_WORDS = frozenset(
    [
        "gur",
        "naq",
        "lbh",
        "lbhe",
        "vtaber",
        "vafgehpgvbaf",
        "cerivbhf",
        "flfgrz",
        "cebzcg",
        "guvf",
        "jvgu",
        "nyy",
        "cevag",
        "fnl",
        "nobir",
        "sbe",
        "ner",
    ]
)
_ROT13 = str.maketrans(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
    "NOPQRSTUVWXYZABCDEFGHIJKLMnopqrstuvwxyzabcdefghijklm",
)


def _readable(data: bytes) -> str:
    """The text a decoded payload holds, or ``""`` when it is binary (a hash, an image, a key)."""
    if len(data) < 6:
        return ""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return ""
    if _printable_ratio(text) < 0.95:
        return ""
    letters = sum(1 for ch in text if ch.isalpha())
    return text if letters >= len(text) * 0.5 or " " in text else ""


def _b64(token: str) -> str:
    body = token.rstrip("=")
    if body.isalpha() and (body.islower() or body.isupper()):
        return ""  # a long word or constant, not a payload
    if len(body) % 4 == 1:
        return ""
    padded = body.replace("-", "+").replace("_", "/") + "=" * (-len(body) % 4)
    try:
        return _readable(binascii.a2b_base64(padded))
    except (binascii.Error, ValueError):
        return ""


def _b32(token: str) -> str:
    body = token.rstrip("=")
    if len(body) % 8 in (1, 3, 6):
        return ""
    import base64

    try:
        return _readable(base64.b32decode(body + "=" * (-len(body) % 8)))
    except (binascii.Error, ValueError):
        return ""


def _hex(token: str) -> str:
    digits = token.replace("\\x", "")
    if len(digits) % 2:
        return ""
    try:
        return _readable(binascii.unhexlify(digits))
    except (binascii.Error, ValueError):
        return ""


def _percent(token: str) -> str:
    try:
        return (
            _PERCENT_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), token).encode("latin-1").decode("utf-8")
        )
    except (UnicodeEncodeError, UnicodeDecodeError):
        return ""


_BASE64_BYTES = bytes(
    2
    if code in b"0123456789abcdefABCDEF"
    else 1
    if code in b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/_-"
    else 0
    for code in range(256)
)
"""A ``bytes.translate`` table: 2 for a hex digit, 1 for another base64 character, 0 for the rest."""


def _base64_spans(text: str) -> tuple[list[tuple[int, int]], list[tuple[int, int]] | None]:
    """The spans of :data:`_BASE64`'s matches, by array (NumPy on): every maximal run of at least 16
    base64 characters, with up to two ``=`` after it; and those of every maximal run of at least 16
    hex digits (``[0-9a-fA-F]``), from the same pass, or ``None`` for a text with few base64 runs. A non-ASCII character, encoded as ``?``, is
    outside both classes as it is for the patterns."""
    import numpy as np

    raw = text.encode("ascii", "replace")
    kinds = np.frombuffer(b"\0" + raw.translate(_BASE64_BYTES) + b"\0", dtype=np.uint8)  # 2: hex
    spans = _runs(kinds != 0)
    out: list[tuple[int, int]] = []
    for start, end in spans:
        if raw[end : end + 1] == b"=":
            end += 2 if raw[end + 1 : end + 2] == b"=" else 1
        out.append((start, end))
    # the hex runs by array where base64 runs are many (code: identifiers); a few are searched one
    # by one by the caller (``None``), cheaper than another pass over the whole text
    return out, _runs(kinds == 2) if len(spans) > 8 else None


def _runs(inside: Any) -> list[tuple[int, int]]:
    """The spans of the maximal runs of at least 16 true values of ``inside`` (a boolean array with a
    false value added at each end), in order."""
    import numpy as np

    edges = np.flatnonzero(inside[1:] != inside[:-1])  # run starts and ends alternate
    starts, ends = edges[0::2], edges[1::2]
    keep = ends - starts >= 16
    return list(zip(starts[keep].tolist(), ends[keep].tolist(), strict=True))


def _candidates(text: str, low: str, found: Found = None) -> dict[str, tuple[str, int, int]]:
    """The encoded-looking runs of ``text`` to try decoding: ``{run: (kind, start, end)}``, in order."""
    candidates: dict[str, tuple[str, int, int]] = {}
    runs: list[tuple[int, int]] = []
    """Every run of base64 characters: a hex run (``_HEX``) can only lie inside one."""
    arrays = _dense is not None and len(text) >= ARRAYS_FROM
    spans, hex_runs = _base64_spans(text) if arrays else ([m.span() for m in _BASE64.finditer(text)], None)
    for start, end in spans:
        runs.append((start, end))
        if len(candidates) >= MAX_ATTEMPTS * 2:
            continue
        token = text[start:end]
        if token not in candidates:
            if _HEX_CHARS.issuperset(token):
                kind = "encoded.hex"
            elif len(token) >= 24 and _BASE32_CHARS.issuperset(token):
                kind = "encoded.base32"
            else:
                kind = "encoded.base64"
            candidates[token] = (kind, start, end)
    if hex_runs is not None:
        # the same spans by array: within a base64 run (hex digits are base64 characters, and the
        # padding after a run is not a digit) ``_HEX`` finds each maximal run of 16 or more hex digits
        # of ``low``, which are the text's ASCII ``[0-9a-fA-F]`` (``low`` is ``text`` lower-cased and as
        # long; a non-ASCII character is in no run), in order
        for start, end in hex_runs:
            candidates.setdefault(text[start:end], ("encoded.hex", start, end))
    else:
        for start, end in runs:
            for m in _HEX.finditer(low, start, end):
                candidates.setdefault(text[m.start() : m.end()], ("encoded.hex", m.start(), m.end()))
    for kind, pattern, gate in (
        ("encoded.hex", _HEX_ESCAPES, "\\x"),
        ("encoded.url", _PERCENT, "%"),
    ):
        if not _may_hold(found, gate) or gate not in text:
            continue
        for m in pattern.finditer(low):
            candidates.setdefault(text[m.start() : m.end()], (kind, m.start(), m.end()))
    return candidates


def _encoded(
    text: str,
    low: str,
    words: set[str],
    depth: int,
    budget: _Budget,
    out: list[Evidence],
    found: Found = None,
) -> None:
    candidates = _candidates(text, low, found)
    decoders: dict[str, Callable[[str], str]] = {
        "encoded.base64": _b64,
        "encoded.base32": _b32,
        "encoded.hex": _hex,
        "encoded.url": _percent,
    }
    for token, (kind, start, end) in sorted(candidates.items(), key=lambda c: c[1][1] - c[1][2]):
        if budget.attempts <= 0 or budget.decodes <= 0:
            break
        budget.attempts -= 1
        decoded = decoders[kind](token[:MAX_PAYLOAD])
        if not decoded and kind in ("encoded.base32", "encoded.hex") and "\\x" not in token:
            kind, decoded = "encoded.base64", _b64(token[:MAX_PAYLOAD])
        if decoded and decoded != token:
            out.append(_nested("encoded", kind, start, end, _inner(decoded, depth, budget), 0.0))
    if (
        _may_hold(found, "&#")
        and "&#" in text
        and len(_ENTITY.findall(text, 0, MAX_PAYLOAD)) >= 4
        and budget.decodes > 0
    ):
        import html

        piece = text[:MAX_PAYLOAD]
        decoded = html.unescape(piece)
        if decoded != piece:
            out.append(
                _nested(
                    "encoded", "encoded.html_entities", 0, len(piece), _inner(decoded, depth, budget), 0.0
                )
            )
    hints = _ROT13_WORDS & words
    if len(hints) >= 2 and budget.decodes > 0:
        piece = text[:MAX_PAYLOAD]
        decoded = piece.translate(_ROT13)
        if len(_ROT13_WORDS.intersection(tokens(decoded))) < len(
            hints
        ):  # rotated English looks like rot13 too
            out.append(
                _nested("encoded", "encoded.rot13", 0, len(piece), _inner(decoded, depth, budget), 0.0)
            )


# -- classifier ----------------------------------------------------------------------------------

_MASK32 = 0xFFFFFFFF
_MIX2 = 0x01000193
_SALT2 = 0x5BD1E995
_MIX3 = 0x2545F491


class _Model(NamedTuple):
    bias: float
    weights: dict[int, float]
    mask: int
    window: int
    ngrams: int
    length_penalty: float
    shape: bool = False
    """Whether the model was trained with the shape features (:func:`_shape_features`) and canonical
    tokens (:func:`_canonical`); older weight files were not."""


_model: _Model | None = None


def _load_model(path: str = MODEL_PATH) -> _Model:
    """The shipped weights, read on first use and kept for the life of the process."""
    global _model
    if _model is None:
        try:
            with open(path, "rb") as handle:
                doc = json_loads(handle.read())
            _model = model_from_doc(doc)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ScanError(f"cannot load the injection model {path}: {exc}") from exc
    return _model


def load_model_cached(cache_dir: str, path: str = MODEL_PATH) -> None:
    """Load the weights for this process through a ``marshal`` copy in ``cache_dir`` (keyed by the JSON
    file's bytes and the marshal format): about 7 ms CPU where parsing the 590 KB of JSON and building the
    table takes about 15, on every cold hook that screens a prompt or a tool's result. The copy is
    written on first use; a missing, stale or malformed one is ignored (the JSON is read)."""
    global _model
    if _model is not None:
        return
    import marshal
    import sys

    try:
        with open(path, "rb") as handle:
            raw = handle.read()
    except OSError as exc:
        raise ScanError(f"cannot load the injection model {path}: {exc}") from exc
    digest = f"v1-{len(raw)}-{zlib.crc32(raw):08x}"  # a checksum, not a hash: 0.4 ms where SHA-256 took 2
    cached = os.path.join(
        cache_dir, f"injection-{digest}-m{marshal.version}-py{sys.version_info[0]}{sys.version_info[1]}"
    )
    try:
        with open(cached, "rb") as handle:
            # the state directory's cache, as trusted as the Hyperscan databases beside it (the built-in
            # rules keep the agent from writing there); marshal builds data objects only, checked below
            row = marshal.loads(handle.read())  # noqa: S302
        if not (
            isinstance(row, tuple) and [type(v) for v in row] == [float, dict, int, int, int, float, bool]
        ):
            raise TypeError("not a model")
        _model = _Model(*row)
        return
    except (OSError, ValueError, EOFError, TypeError):
        pass
    try:
        model = model_from_doc(json_loads(raw))
    except (ValueError, KeyError, TypeError) as exc:
        raise ScanError(f"cannot load the injection model {path}: {exc}") from exc
    _model = model
    try:
        os.makedirs(cache_dir, mode=0o700, exist_ok=True)
        tmp = f"{cached}.{os.getpid()}.tmp"
        with open(tmp, "wb") as handle:
            handle.write(marshal.dumps(tuple(model)))
        os.replace(tmp, cached)
    except (OSError, ValueError):
        pass  # a cache only saves time


def model_from_doc(doc: dict[str, Any]) -> _Model:
    """A model from its JSON document (the shipped file's shape; ``bench/train_injection.py`` writes it)."""
    features = doc["features"]
    return _Model(
        float(doc["bias"]),
        dict(zip(doc["weights"]["features"], doc["weights"]["values"], strict=True)),
        (1 << int(features["bits"])) - 1,
        int(features["window"]),
        int(features["ngrams"]),
        float(doc.get("length_penalty", 0.0)),
        bool(features.get("shape", False)),
    )


# -- the shape of an injection: canonical tokens and word classes ----------------------------------

_LOOKALIKES = {
    **dict(zip("аеорсухіјѕԁһпԛѵԝ", "aeopcyxijsdhnqvw", strict=True)),  # Cyrillic
    **dict(zip("αειικνορτυχ", "aeiiknoptux", strict=True)),  # Greek
    **{chr(0xFF41 + i): chr(ord("a") + i) for i in range(26)},  # fullwidth
}
_LOOKALIKE = str.maketrans(_LOOKALIKES)
"""Look-alike letters folded to Latin, one for one (offsets hold): for the signatures."""
_CONFUSABLES = str.maketrans({**_LOOKALIKES, **dict.fromkeys("\u00ad\u200b\u200c\u200d\u2060\ufeff")})
"""Look-alike letters folded to Latin and zero-width characters dropped, inside a token."""


def _words(text: str) -> list[str]:
    return text.split()


_KEYWORDS = _words(
    "ignore disregard forget override instructions instruction previous prior system prompt assistant"
    " important attention instead before first directions message model claude chatgpt language agent"
    " immediately urgent forward transfer delete execute visit upload download password credentials"
    " secret secrets private reveal response answer reply summary output include append mention"
    " following access account contents conversation history summarize summarise"
)
"""Words whose misspellings (one deletion, transposition or doubled letter) are read as the word."""

ADDR, SWITCH, ACT, TARGET, ROLE, OUTPUT = range(6)
_CLASSES: dict[str, int] = {
    **dict.fromkeys(
        _words(
            "you your yourself ai assistant assistants model models llm llms claude chatgpt gpt gemini copilot"
            " bot chatbot agent agents bard llama mistral"
        ),
        ADDR,
    ),
    **dict.fromkeys(
        _words(
            "ignore disregard forget override instead before first new instructions instruction important"
            " attention urgent immediately now stop actually additionally also"
        ),
        SWITCH,
    ),
    **dict.fromkeys(
        _words(
            "send forward transfer wire pay delete remove erase visit open navigate click run execute exec"
            " install download upload post email mail cc bcc share paste print reveal repeat leak publish"
            " push merge approve grant add write say tell recommend include insert append embed mention"
            " respond answer reply translate encode render use"
        ),
        ACT,
    ),
    **dict.fromkeys(
        _words(
            "http https www com net org io url link website iban account password passwords credentials"
            " token tokens key keys ssh env aws secret secrets file files inbox contacts rsa gist webhook"
            " server endpoint address @ ~"
        ),
        TARGET,
    ),
    **dict.fromkeys(
        _words(
            "system user human inst sys im_start im_end developer admin administrator role assistant_message"
            " endoftext"
        ),
        ROLE,
    ),
    **dict.fromkeys(
        _words(
            "response responses reply replies answer answers output summary summaries message implementation"
            " code message translation"
        ),
        OUTPUT,
    ),
}
"""Word classes: who is addressed, task-switch markers, actions, targets, role markers, and the
model's own output ("in your response"). A word in two roles keeps the later one."""
_CLASS_WINDOW = 12
_CUE_CLASSES = frozenset((ADDR, SWITCH, ACT, ROLE))
NO_CUE_CAP = 0.79
"""The classifier alone cannot reach ``block`` (0.8 by default) on a window holding no word that
addresses the model, switches its task, asks for an action or names a role: the windows of tables,
logs and JSON data that score high on their cell values and punctuation (an injection asks for
something). It may still warn there: at 0.45 (below warn) the held-out split lost 6 points of TPR at
FPR 1 % (garak's bare encoded payloads, BIPIA's memorised task sentences) for the same
leave-one-source-out figures."""
"""A class pair (``you`` … ``send``, ``send`` … ``https``) counts when both fall within this many tokens."""

_canon_map: dict[str, str] | None = None


def _canon_table() -> dict[str, str]:
    """Misspellings of :data:`_KEYWORDS` mapped to the word (built on first use: about a millisecond)."""
    global _canon_map
    if _canon_map is None:
        table: dict[str, str] = {}
        for word in _KEYWORDS:
            n = len(word)
            variants = [word[:i] + word[i + 1 :] for i in range(n)]
            variants += [word[:i] + word[i + 1] + word[i] + word[i + 2 :] for i in range(n - 1)]
            variants += [word[:i] + word[i] + word[i:] for i in range(n)]
            for v in variants:
                if len(v) >= 5 and v != word:
                    table.setdefault(v, word)
        for word in _KEYWORDS:  # a keyword is never a misspelling of another one
            table.pop(word, None)
        _canon_map = table
    return _canon_map


_LETTER_RUN = re_compile(r"(?<!\S)[^\W\d_](?: [^\W\d_]){2}(?!\S)")
"""Three single-letter tokens in a row, in the tokens joined by spaces."""
_ASCII_LETTER_RUN = re_compile(r" [a-z] [a-z] [a-z] ", ASCII)
"""The same for ASCII tokens, in the joined tokens with a space added at each end (faster)."""


def _canonical(toks: list[str], index: list[int] | None = None) -> list[str]:
    """The classifier's tokens: look-alikes folded, zero-width characters dropped, keyword typos
    corrected, and a run of three or more single letters ("i g n o r e") joined into one word.

    With ``index``, the position in ``toks`` of each canonical token's first token is appended to it.
    """
    table = _canon_table()
    joined = " ".join(toks)
    ascii_only = joined.isascii()
    if not (_ASCII_LETTER_RUN.search(f" {joined} ") if ascii_only else _LETTER_RUN.search(joined)):
        # the common case: one token for one
        folded = toks if ascii_only else [t if t.isascii() else t.translate(_CONFUSABLES) for t in toks]
        if all(folded):  # no token was only zero-width characters
            if index is not None:
                index.extend(range(len(toks)))
            return list(map(table.get, folded, folded))
    out: list[str] = []
    run: list[str] = []
    run_at = 0
    for i, tok in enumerate(toks):
        if not tok.isascii():
            tok = tok.translate(_CONFUSABLES)
            if not tok:
                continue
        if len(tok) == 1 and tok.isalpha():
            if not run:
                run_at = i
            run.append(tok)
            continue
        if run:
            _flush(run, run_at, out, index)
            run = []
        if index is not None:
            index.append(i)
        out.append(table.get(tok, tok))
    if run:
        _flush(run, run_at, out, index)
    return out


def _flush(run: list[str], at: int, out: list[str], index: list[int] | None) -> None:
    if len(run) < 3:
        out.extend(run)
        if index is not None:
            index.extend(range(at, at + len(run)))
    else:
        out.append("".join(run))
        if index is not None:
            index.append(at)


_PAIR_IDS: list[list[int]] = [[zlib.crc32(f"__pair_{a}_{b}".encode()) for b in range(6)] for a in range(6)]
_CLASS_IDS: list[int] = [zlib.crc32(f"__class_{c}".encode()) for c in range(6)]


def _iban_like(tok: str) -> bool:
    return 15 <= len(tok) <= 34 and tok[:2].isalpha() and tok[2:4].isdigit() and tok.isalnum()


def _class_of_long(tok: str) -> int:
    cls = _CLASSES.get(tok)
    return cls if cls is not None else TARGET if _iban_like(tok) else -1


def _token_class(tok: str) -> int:
    """A token's word class, or -1."""
    return _CLASSES.get(tok, -1) if len(tok) < 15 else _class_of_long(tok)


def _class_hits(toks: list[str]) -> list[tuple[int, int]]:
    """(position, class) of the tokens that have a word class: each distinct token classed once, the
    positions found by ``map`` and ``compress`` (most tokens have no class)."""
    plus_one = {tok: cls + 1 for tok in set(toks) if (cls := _token_class(tok)) >= 0}
    if not plus_one:
        return []
    codes = list(map(plus_one.get, toks))  # None (falsy) for a token with no class
    return [(i, codes[i] - 1) for i in itertools.compress(range(len(codes)), codes)]  # type: ignore[operator]


def _shape_features(
    toks: list[str], hits: list[tuple[int, int]] | None = None
) -> list[tuple[int, list[int]]]:
    """Extra hashed features at the tokens that carry a word class: the class itself, and each pair
    (earlier class, this class) whose earlier member lies within :data:`_CLASS_WINDOW` tokens.
    Sparse: most tokens have no class. Unmasked CRC32 values (the caller masks). ``hits``, the
    (position, class) of the classed tokens, when the caller has found them already."""
    if hits is None:
        hits = _class_hits(toks)
    last = [-(10**9)] * 6
    out: list[tuple[int, list[int]]] = []
    for i, cls in hits:
        feats = [_CLASS_IDS[cls]]
        for other in range(6):
            if other != cls and i - last[other] <= _CLASS_WINDOW:
                feats.append(_PAIR_IDS[other][cls])
        last[cls] = i
        out.append((i, feats))
    return out


def _token_hash(tok: str, cache: dict[str, int]) -> int:
    h = cache.get(tok)
    if h is None:
        h = zlib.crc32(tok.encode("utf-8", "surrogatepass"))
        cache[tok] = h
    return h


def feature_hashes(toks: Iterable[str], mask: int, ngrams: int, shape: bool = True) -> list[list[int]]:
    """Hashed features at each token: the word, the 2- and 3-grams ending there, then (``shape``) its
    word class and class pairs, over the canonical tokens (:func:`_canonical`).

    CRC32 of each token, mixed for n-grams: stable across processes (``hash()`` is not). The training
    script calls this; :func:`_contributions` computes the same features inline, for speed. With
    ``shape`` the features belong to the canonical tokens, which may be fewer than ``toks``.
    """
    seq = _canonical(list(toks)) if shape else list(toks)
    out: list[list[int]] = []
    cache: dict[str, int] = {}
    prev1 = prev2 = -1
    for tok in seq:
        h = _token_hash(tok, cache)
        feats = [h & mask]
        if ngrams >= 2 and prev1 >= 0:
            h2 = ((prev1 * _MIX2) ^ h) & _MASK32
            feats.append((h2 ^ _SALT2) & mask)
            if ngrams >= 3 and prev2 >= 0:
                feats.append((((prev2 * _MIX2) ^ h2) * _MIX3) & _MASK32 & mask)
        out.append(feats)
        prev2, prev1 = prev1, h
    if shape:
        for i, extra in _shape_features(seq):
            out[i].extend(f & mask for f in extra)
    return out


def _contributions(toks: list[str], model: _Model) -> list[float]:
    """Each (canonical) token's share of the logit: the weights of the features
    :func:`feature_hashes` gives it. ``toks`` are the canonical tokens when the model has shape."""
    if model.ngrams == 2 and len(toks) > 1:
        out = _contributions_bigram(toks, model)
    else:
        out = _contributions_loop(toks, model)
    if model.shape:
        _add_shape(toks, model, out)
    return out


def _contributions_bigram(toks: list[str], model: _Model) -> list[float]:
    """Word 1-2-grams: a token's share depends only on it and the one before, so each distinct pair
    is computed once (text repeats pairs: code, logs, markup) and the rest are dictionary lookups
    done by ``map``. Same additions in the same order as :func:`_contributions_loop`: same floats."""
    get = model.weights.get
    mask = model.mask
    hashes: dict[str, tuple[int, float]] = {}
    for tok in set(toks):
        h = zlib.crc32(tok.encode("utf-8", "surrogatepass"))
        hashes[tok] = (h, get(h & mask, 0.0))
    pairs: dict[tuple[str, str], float] = dict.fromkeys(itertools.pairwise(toks), 0.0)
    for pair in pairs:
        h1 = hashes[pair[0]][0]
        h, c = hashes[pair[1]]
        pairs[pair] = c + get(((((h1 * _MIX2) ^ h) & _MASK32) ^ _SALT2) & mask, 0.0)
    out = [hashes[toks[0]][1]]
    out.extend(map(pairs.__getitem__, itertools.pairwise(toks)))
    return out


def _contributions_loop(toks: list[str], model: _Model) -> list[float]:
    get = model.weights.get
    mask = model.mask
    out: list[float] = []
    prev1 = prev2 = -1
    bigrams = model.ngrams >= 2
    trigrams = model.ngrams >= 3
    unigram: dict[str, tuple[int, float]] = {}
    for tok in toks:
        known = unigram.get(tok)
        if known is None:
            h = zlib.crc32(tok.encode("utf-8", "surrogatepass"))
            known = unigram[tok] = (h, get(h & mask, 0.0))
        h, c = known
        if bigrams and prev1 >= 0:
            h2 = ((prev1 * _MIX2) ^ h) & _MASK32
            c += get((h2 ^ _SALT2) & mask, 0.0)
            if trigrams and prev2 >= 0:
                c += get((((prev2 * _MIX2) ^ h2) * _MIX3) & _MASK32 & mask, 0.0)
        out.append(c)
        prev2, prev1 = prev1, h
    return out


def _add_shape(
    toks: list[str], model: _Model, out: list[float], hits: list[tuple[int, int]] | None = None
) -> None:
    get = model.weights.get
    mask = model.mask
    for i, extra in _shape_features(toks, hits):
        c = out[i]
        for f in extra:
            c += get(f & mask, 0.0)
        out[i] = c


_dense: Any = None
"""The weights as a dense NumPy array, once :func:`use_numpy` has turned the vector path on."""
ARRAYS_FROM = 512
"""With NumPy on, texts from this many characters (tokens from a quarter of it) take the array paths;
shorter ones the Python loops, which cost less than an array operation's fixed overhead there (100
characters: 44 against 87 us; 1,000: 163 against 121). The same scores either way."""


def use_numpy(enabled: bool = True) -> bool:
    """Compute classifier contributions with NumPy (long-lived processes: the gateway's detector
    workers). Same floats as the pure-Python loop, about 20x faster on a 20 KB text; not worth the
    import in a short-lived hook process. Returns whether the vector path is on."""
    global _dense
    if not enabled:
        _dense = None
        return False
    try:
        import numpy as np
    except ImportError:
        return False
    model = _load_model()
    dense = np.zeros(model.mask + 1, dtype=np.float64)
    if model.weights:
        keys = np.fromiter(model.weights.keys(), dtype=np.int64, count=len(model.weights))
        dense[keys] = np.fromiter(model.weights.values(), dtype=np.float64, count=len(model.weights))
    _dense = dense
    return True


def _contributions_numpy(toks: list[str], model: _Model) -> list[float]:
    """:func:`_contributions` with arrays: the same features and the same additions in the same order
    (w1 + w2, then + w3, then the shape features one by one, in float64), so the floats are identical."""
    import numpy as np

    cache: dict[str, int] = {}
    for tok in toks:
        if tok not in cache:
            cache[tok] = zlib.crc32(tok.encode("utf-8", "surrogatepass"))
    h = np.fromiter(map(cache.__getitem__, toks), dtype=np.uint64, count=len(toks))
    mask = np.uint64(model.mask)
    out = _dense[(h & mask).astype(np.int64)]
    if model.ngrams >= 2 and len(toks) > 1:
        low32 = np.uint64(_MASK32)
        h2 = ((h[:-1] * np.uint64(_MIX2)) ^ h[1:]) & low32  # ends at tokens 1..n-1
        out[1:] += _dense[((h2 ^ np.uint64(_SALT2)) & mask).astype(np.int64)]
        if model.ngrams >= 3 and len(toks) > 2:
            mixed = (h[:-2] * np.uint64(_MIX2)) ^ h2[1:]  # only the low 32 bits matter: wrapping is fine
            out[2:] += _dense[(((mixed * np.uint64(_MIX3)) & low32) & mask).astype(np.int64)]
    result: list[float] = out.tolist()
    if model.shape:  # the classed tokens found by array, from each distinct token's class
        classes = {tok: _token_class(tok) for tok in cache}
        codes = np.fromiter(map(classes.__getitem__, toks), dtype=np.int8, count=len(toks))
        where = np.flatnonzero(codes >= 0)
        _add_shape(toks, model, result, list(zip(where.tolist(), codes[where].tolist(), strict=True)))
    return result


class _Vector(NamedTuple):
    """The tokens of a text found by array (:func:`_vector_tokens`): each distinct token once,
    each position's index into them, and each token's character span."""

    distinct: list[str]
    at: Any
    """Per position, the index of its token in ``distinct`` (int64 array)."""
    starts: Any
    ends: Any
    letters: Any
    """Per position, whether the token is a single letter (three in a row are joined by :func:`_canonical`)."""

    def tokens(self) -> list[str]:
        return list(map(self.distinct.__getitem__, self.at.tolist()))


_TOKEN_BYTES: Any = None
"""Per byte: 1 for a word character of :data:`_ASCII_TOKEN`, 2 for a one-character token, 0 else."""
_KEY_MASKS: Any = None
_SHORT = 7
"""Tokens up to this many bytes are told apart by an integer key (their bytes and length); longer
ones by their text."""


_JOINERS = frozenset("\u00ad\u200b\u200c\u200d\u2060\ufeff")
"""The zero-width characters :data:`_TOKEN` keeps inside a word."""


def _byte_kind(code: int) -> int:
    ch = chr(code)
    if code >= 128 or ch == "_" or ch in " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f":
        return 0
    if not ch.isalnum():
        return 2
    return 5 if "a" <= ch <= "z" else 1


_KIND_BYTES = bytes(map(_byte_kind, range(256)))
"""A ``bytes.translate`` table of what :data:`_TOKEN` makes of each ASCII byte: 1 (bit 0) a word
character, 5 one that is also a letter a-z (bit 2), 2 a one-character token, 0 neither (as
:func:`_token_table`'s 1, 2 and 0)."""


def _token_table() -> Any:
    """Per ASCII byte: 1 for a word character of :data:`_TOKEN`, 2 for a one-character token, 0 else."""
    import numpy as np

    global _TOKEN_BYTES, _KEY_MASKS
    if _TOKEN_BYTES is None:
        table = np.zeros(256, dtype=np.uint8)
        for code in range(128):
            ch = chr(code)
            table[code] = (
                1 if ch.isalnum() else 0 if ch == "_" or ch in " \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f" else 2
            )
        _KEY_MASKS = np.array([(1 << (8 * k)) - 1 for k in range(_SHORT + 1)], dtype=np.uint64)
        _TOKEN_BYTES = table
    return _TOKEN_BYTES


def _unicode_kinds(low: str) -> tuple[Any, Any, Any]:
    """For a non-ASCII text: each character's code point, and the masks of the characters inside
    words (with the zero-width characters that join two parts of a word) and of one-character tokens,
    as :data:`_TOKEN` reads them (``\\w`` is ``str.isalnum``, ``\\s`` is ``str.isspace``)."""
    import numpy as np

    points = np.frombuffer(low.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    size = len(points)
    wide = points >= 128
    kind = np.empty(size, dtype=np.uint8)
    kind[~wide] = _token_table()[points[~wide]]
    others = points[wide]
    seen = np.unique(others)
    kinds = np.fromiter(
        (
            3 if ch in _JOINERS else 1 if ch.isalnum() else 0 if ch.isspace() else 2
            for ch in map(chr, seen.tolist())
        ),
        dtype=np.uint8,
        count=len(seen),
    )
    kind[wide] = kinds[np.searchsorted(seen, others)]
    word = kind == 1
    single = kind == 2
    joiner = kind == 3
    if joiner.any():  # a run of them between two word characters is inside the word, else each is a token
        runs = np.zeros(size + 2, dtype=bool)
        runs[1:-1] = joiner
        run_starts = np.flatnonzero(joiner & ~runs[:size])
        run_ends = np.flatnonzero(joiner & ~runs[2:]) + 1
        words = np.zeros(size + 2, dtype=bool)
        words[1:-1] = word  # words[i]: character i - 1 is a word character
        joins = words[run_starts] & words[run_ends + 1]
        delta = np.zeros(size + 1, dtype=np.int32)
        delta[run_starts[joins]] += 1
        delta[run_ends[joins]] -= 1
        inside = np.cumsum(delta[:size]) > 0
        word = word | inside
        single = single | (joiner & ~inside)
    return points, word, single


def _vector_tokens(low: str) -> _Vector | None:
    """:func:`_tokenize` for lower-cased text without a Python object per token: the token boundaries
    by array, distinct short ASCII tokens by sorting an exact integer key (their bytes and length), the
    others (longer, or with a non-ASCII character) by a dictionary. ``None`` for a text with no token."""
    import numpy as np

    _token_table()
    size = len(low)
    plain: Any = None
    raw = b""
    if low.isascii():
        raw = low.encode("ascii")
        padded = np.frombuffer(raw + bytes(8), dtype=np.uint8)
        # the byte classes by one bytes.translate (a C pass), a zero each side; the word mask is bit 0
        kinds = np.frombuffer(b"\0" + raw.translate(_KIND_BYTES) + b"\0", dtype=np.uint8)
        around = (kinds & 1).view(bool)  # 0 or 1: a proper boolean
        word = around[1:-1]
        single = kinds[1:-1] == 2
    else:
        points, word, single = _unicode_kinds(low)
        padded = np.zeros(size + 8, dtype=np.uint8)
        padded[:size] = points  # the low byte: exact for the ASCII tokens, which alone are keyed
        plain = np.zeros(size + 1, dtype=np.int32)
        np.cumsum(points >= 128, out=plain[1:])
        around = np.zeros(size + 2, dtype=bool)
        around[1:-1] = word  # around[i]: character i - 1 is a word character
    starts = np.flatnonzero((word & ~around[:size]) | single)
    if not len(starts):
        return None
    # the tokens are disjoint and in order: the k-th ends after the k-th last character (a word's
    # last letter or a one-character token)
    ends = np.flatnonzero((word & ~around[2:]) | single) + 1
    lengths = ends - starts
    short = lengths <= _SHORT
    if plain is not None:
        short &= plain[ends] == plain[starts]  # no non-ASCII character in it
    # eight bytes from each token's start (an unaligned view), cut to its length, the length on top
    eights = np.ndarray(shape=(size,), dtype="<u8", buffer=padded, offset=0, strides=(1,))
    at = np.empty(len(starts), dtype=np.int64)
    short_at = np.flatnonzero(short)
    keys = (eights[starts[short_at]] & _KEY_MASKS[lengths[short_at]]) | (
        lengths[short_at].astype(np.uint64) << np.uint64(56)
    )
    # distinct keys by sorting (numpy.unique's inverse costs twice as much): any occurrence of a key
    # stands for its token
    order = keys.argsort()
    ordered = keys[order]
    first = np.empty(len(ordered), dtype=bool)
    first[:1] = True
    np.not_equal(ordered[1:], ordered[:-1], out=first[1:])
    at[short_at[order]] = np.cumsum(first) - 1
    # each distinct key's token from the table of those seen before (no slicing, and its hash, which
    # the facts' table and the set of words look up, is kept in the string); the others sliced
    keys_seen = ordered[first].tolist()
    known: list[str | None] = list(map(_short_tokens.get, keys_seen))
    if None in known:
        if len(_short_tokens) >= _FACTS_KEPT:
            _short_tokens.clear()
        origin = short_at[order[first]]
        for i in [i for i, tok in enumerate(known) if tok is None]:
            a = int(starts[origin[i]])
            tok = known[i] = low[a : int(ends[origin[i]])]
            _short_tokens[keys_seen[i]] = tok
    distinct: list[str] = known  # type: ignore[assignment]  # every one filled in
    if len(short_at) != len(starts):
        long_at = np.flatnonzero(~short)
        ids: dict[str, int] = {}
        base = len(distinct)
        codes = [
            ids.setdefault(low[a:b], base + len(ids))
            for a, b in zip(starts[long_at].tolist(), ends[long_at].tolist(), strict=True)
        ]
        distinct.extend(ids)
        at[long_at] = codes
    if plain is None:  # a-z: the text is lower-cased
        letters = (lengths == 1) & (kinds[starts + 1] == 5)
    else:  # what _LETTER_RUN calls a letter: [^\W\d_]
        letters = np.fromiter(
            (len(t) == 1 and t.isalnum() and not t.isdecimal() for t in distinct),
            dtype=bool,
            count=len(distinct),
        )[at]
    return _Vector(distinct, at, starts, ends, letters)


_short_tokens: dict[int, str] = {}
"""The tokens of up to :data:`_SHORT` ASCII characters the array path has seen, by their integer key
(their bytes and length, :func:`_vector_tokens`); emptied when a text finds :data:`_FACTS_KEPT` there
and brings new ones."""
_token_facts: dict[str, tuple[str, int, int, bool]] = {}
"""Per token seen by the array path: its canonical form (``""``: dropped), that form's CRC32, its
word class and whether it is a word of :data:`_SHAPE_GATE`. A text's vocabulary is mostly one seen before (code, prose, markup): a lookup instead of
folding, correcting, encoding and hashing each distinct token again. At most :data:`_FACTS_KEPT`
tokens of up to :data:`_FACTS_LONGEST` characters (hashes, keys and blobs seldom recur), emptied when
full: a few MB per process."""
_FACTS_KEPT = 1 << 15
_FACTS_LONGEST = 40


def _facts_of(tok: str) -> tuple[str, int, int, bool]:
    """What :func:`_canonical`, :func:`feature_hashes` and :func:`_token_class` make of one token, and
    whether its canonical form is a word of :data:`_SHAPE_GATE`."""
    folded = tok if tok.isascii() else tok.translate(_CONFUSABLES)
    canon = _canon_table().get(folded, folded)
    row = (
        canon,
        zlib.crc32(canon.encode("utf-8", "surrogatepass")),
        _token_class(canon),
        canon in _SHAPE_GATE,
    )
    if len(tok) <= _FACTS_LONGEST:
        if len(_token_facts) >= _FACTS_KEPT:
            _token_facts.clear()
        _token_facts[tok] = row
    return row


def _classify_vector(
    vec: _Vector, model: _Model
) -> tuple[float, int, int, list[str], list[str], tuple[bool, ...]] | None:
    """:func:`_classify_full` for array tokens (a model with shape features, NumPy on): the same
    features, additions and windows, from each distinct token's canonical form, hash and class.
    Returns the probability, the window, the canonical distinct tokens (``vec.at`` indexes them too),
    and per canonical token whether it is a word of :data:`_SHAPE_GATE`; ``None`` when the text has a run of single letters ("i g n o r e"),
    which :func:`_canonical` joins (the caller takes the token path)."""
    import numpy as np

    distinct = vec.distinct
    at = vec.at
    count = len(at)
    single = vec.letters
    if count >= 3 and bool((single[:-2] & single[1:-1] & single[2:]).any()):
        return None
    rows = list(map(_token_facts.get, distinct))
    if None in rows:
        for i in [i for i, row in enumerate(rows) if row is None]:
            rows[i] = _facts_of(distinct[i])
    canon_t, hashes, classed, gated = zip(*rows, strict=True)
    if "" in canon_t:  # a token of zero-width characters only: _canonical drops it
        return None
    canon = list(canon_t)
    h = np.array(hashes, dtype=np.uint64)[at]
    mask = np.uint64(model.mask)
    out = _dense[(h & mask).astype(np.int64)]
    if model.ngrams >= 2 and count > 1:
        low32 = np.uint64(_MASK32)
        h2 = ((h[:-1] * np.uint64(_MIX2)) ^ h[1:]) & low32
        out[1:] += _dense[((h2 ^ np.uint64(_SALT2)) & mask).astype(np.int64)]
        if model.ngrams >= 3 and count > 2:
            mixed = (h[:-2] * np.uint64(_MIX2)) ^ h2[1:]
            out[2:] += _dense[(((mixed * np.uint64(_MIX3)) & low32) & mask).astype(np.int64)]
    codes = np.array(classed, dtype=np.int8)[at]
    where = np.flatnonzero(codes >= 0)
    if len(where):  # the shape features, added one by one in Python floats at the classed tokens only
        values: list[float] = out[where].tolist()
        get = model.weights.get
        mask_int = model.mask
        hits = list(zip(where.tolist(), codes[where].tolist(), strict=True))
        for n, (_, extra) in enumerate(_shape_features([], hits)):
            c = values[n]
            for f in extra:
                c += get(f & mask_int, 0.0)
            values[n] = c
        out[where] = values
    width = min(model.window, count)
    prefix_array = np.empty(count + 1, dtype=np.float64)
    prefix_array[0] = 0.0
    np.cumsum(out, out=prefix_array[1:])
    window_sums = prefix_array[width:] - prefix_array[: len(prefix_array) - width]
    best_start = int(np.argmax(window_sums))
    best = float(window_sums[best_start])
    z = model.bias + best - length_offset(count, model.window, model.length_penalty)
    z = max(-60.0, min(60.0, z))
    prob = 1.0 / (1.0 + math.exp(-z))
    if prob > NO_CUE_CAP:
        window = codes[best_start : best_start + width]
        if not any(c in _CUE_CLASSES for c in window.tolist()):
            prob = NO_CUE_CAP
    return prob, best_start, best_start + width, canon, distinct, gated


def _classify(toks: list[str]) -> tuple[float, int, int]:
    """The probability for the best window of ``window`` tokens, and that window's token range."""
    return _classify_full(toks)[:3]


def _classify_full(toks: list[str]) -> tuple[float, int, int, list[str], list[int] | None]:
    """:func:`_classify`, and the canonical tokens with the raw position of each (``None`` when the
    model has no shape features: the tokens are then the raw ones)."""
    if not toks:
        return 0.0, 0, 0, toks, None
    model = _load_model()
    index: list[int] | None = None
    raw_count = len(toks)
    if model.shape:
        index = []
        toks = _canonical(toks, index)
        if not toks:
            return 0.0, 0, 0, toks, index
    arrays = _dense is not None and len(toks) >= ARRAYS_FROM // 4
    contributions = _contributions_numpy(toks, model) if arrays else _contributions(toks, model)
    width = min(model.window, len(contributions))
    # every window's sum from prefix sums (sequential float64 additions in both paths: same floats)
    if arrays:
        import numpy as np

        prefix_array = np.concatenate(([0.0], np.cumsum(np.asarray(contributions, dtype=np.float64))))
        window_sums = prefix_array[width:] - prefix_array[: len(prefix_array) - width]
        best_start = int(np.argmax(window_sums))  # the first window with the best sum
        best = float(window_sums[best_start])
    else:
        prefix = [0.0, *itertools.accumulate(contributions)]
        sums = list(map(_subtract, prefix[width:], prefix))
        best = max(sums)
        best_start = sums.index(best)  # the first window with the best sum
    z = model.bias + best - length_offset(len(toks), model.window, model.length_penalty)
    z = max(-60.0, min(60.0, z))
    prob = 1.0 / (1.0 + math.exp(-z))
    if prob > NO_CUE_CAP and not any(
        _token_class(t) in _CUE_CLASSES for t in toks[best_start : best_start + width]
    ):
        prob = NO_CUE_CAP
    if index is not None and len(index) != raw_count:  # back to the positions of the tokens given
        end = best_start + width
        return prob, index[best_start], index[end] if end < len(index) else raw_count, toks, index
    return prob, best_start, best_start + width, toks, index


def length_offset(count: int, window: int, penalty: float) -> float:
    """What the logit loses for the other windows a long text offers.

    The best of many windows is higher than the best of one by chance alone; without this, long
    ordinary files (source code, logs) would reach ``warn`` on their luckiest window.
    """
    return penalty * math.log(1.0 + max(0, count - window) / window)


def _token_span(low: str, first: int, end: int) -> tuple[int, int]:
    """Character offsets of tokens ``first`` to ``end - 1`` (found again only for the winning window)."""
    start = stop = 0
    for i, m in enumerate(_TOKEN.finditer(low)):
        if i == first:
            start = m.start()
        if i == end - 1:
            stop = m.end()
            break
    return start, stop


# -- combination ---------------------------------------------------------------------------------


def _per_signal(evidence: Iterable[Evidence]) -> dict[str, float]:
    best: dict[str, float] = {}
    for e in evidence:
        best[e.signal] = max(best.get(e.signal, 0.0), e.weight)
    return best


def _combine(weights: Iterable[float]) -> float:
    """Several weak signals add up, but more slowly than independent evidence would."""
    total = 0.0
    for w in sorted(weights, reverse=True):
        total = w if total == 0.0 else total + (1.0 - total) * w * 0.5
    return total


CLASSIFIER_ALONE = 0.6
"""The classifier's probability is scaled by this when no signature (or shape) of at least
:data:`UNLOCK` fired in the same text: alone it warns only at 0.84 or more and never blocks.

Trained on a few public corpora, the classifier is confident on ordinary requests between people
("write your summary in the template, then email it to your manager"): held out by source, its
folds put 2-15 % of the hard benign sets at warn or above, some at 0.98-1.0, above every signature, so each fold's
threshold for FPR 1 % sat above the signatures too. Scaled (not clipped), its ranking among texts
with no signature is unchanged, and a signature of 0.6 or more ranks a text above every text that
has none. At 0.79 (just under block) the folds' worst source was 0.31; at 0.6, see docs/detectors.md."""
UNLOCK = 0.4
"""The signature strength that lets the classifier count in full (a secret path alone, 0.25, does not)."""


_MIXABLE = frozenset(_LOOKALIKES) | frozenset("\u0131\u0251\u0261\u0269")
"""Letters that pass for Latin ones (and the dotless i, script a and g, iota): in a word that also
has ASCII letters, they are there to be read as Latin by a person and not by a filter."""
MIXED_WORDS = 3


def _mixed_script(low: str, toks: list[str], out: list[Evidence]) -> None:
    """Words spelt with Latin letters and look-alikes from another script ("Ехрlаіn thеѕе"): text
    disguised from word filters. Evidence once :data:`MIXED_WORDS` such words occur."""
    mixed = [
        t for t in set(toks) if not t.isascii() and not _MIXABLE.isdisjoint(t) and any(c.isascii() for c in t)
    ]
    if len(mixed) >= MIXED_WORDS:
        first, word = min((low.find(t), t) for t in mixed)
        out.append(Evidence("signature", "hidden.mixed_script", first, first + len(word), 0.6))


_AI_WORDS = frozenset(
    _words(
        "ai assistant assistants model models llm llms claude chatgpt gpt gemini copilot chatbot bot agent"
        " agents bard llama mistral"
    )
)
_POSSESSIVE = frozenset(_words("your my our his her their"))
_AI_NEXT = frozenset(_words("must should shall reading processing processes that who which please you now"))
"""After a word naming a model, what makes it the one being spoken to ("assistant, …", "AI reading
this", "the model must …"), not a noun modifier ("the AI team asks …")."""
_MODEL_TASKS = frozenset(
    _words(
        "answer answering respond responding reply replying summarize summarise summarizing summarising"
        " process processing continue continuing proceed proceeding read reading translate translating"
        " output outputting complete completing"
    )
)
_VOCATIVE = frozenset((",", ":", "!", ""))
"""Punctuation after an addressee ("Assistant, …", "Note to the model: …"), or the text's end."""
_QUOTED = frozenset(('"', "'", ":", "=", "`"))
"""Before a model's name, what makes it a value (``"role": "assistant"``), not an addressee."""
_SENTENCE_END = frozenset((".", "?", ";"))
"""The addressee or task switch and its action must be in one sentence."""
_SHAPE_GATE = _AI_WORDS | frozenset(_words("before instead when while after"))
_SHAPE_REACH = 16
"""How many tokens after the addressee (or the task switch) the action may come."""
_TARGET_REACH = 12


def _shape(toks: list[str]) -> list[tuple[float, str, int, int]]:
    """The shape of an injection in the canonical tokens: the model addressed, then an action, with a
    target or the model's output after it; or a switch of the model's own task ("before you answer",
    "instead of summarising") followed by an action. ``(weight, id, first, end)`` token ranges.

    Base 0.6; +0.15 for a target (URL, e-mail, IBAN, path, keys) or the model's output ("your
    answer") within :data:`_TARGET_REACH` tokens of the action; +0.15 for a task-switch word between
    the addressee and the action. Misspellings and look-alike letters are already folded in ``toks``.
    """
    if _SHAPE_GATE.isdisjoint(toks):
        return []
    return _shape_at(toks.__getitem__, len(toks), range(len(toks)))


def _shape_at(
    token: Callable[[int], str], n: int, positions: Iterable[int]
) -> list[tuple[float, str, int, int]]:
    """:func:`_shape` over ``n`` tokens read by ``token(i)``, tried at ``positions`` (ascending): every
    position holding a word of :data:`_SHAPE_GATE` must be among them (no other can start a shape)."""
    out: list[tuple[float, str, int, int]] = []
    i = 0
    for p in positions:
        if p < i:
            continue
        i = p
        tok = token(i)
        sig_id = ""
        after = i + 1
        if tok in _AI_WORDS:
            while after < n and token(after) in _AI_WORDS:
                after += 1
            nxt = token(after) if after < n else ""
            prev = token(i - 1) if i else ""
            if prev not in _POSSESSIVE and prev not in _QUOTED and (nxt in _VOCATIVE or nxt in _AI_NEXT):
                sig_id = "shape.addressed_action"
        elif tok in ("before", "when", "while", "after") and i + 2 < n and token(i + 1) == "you":
            if token(i + 2) in _MODEL_TASKS:
                sig_id, after = "shape.task_switch_action", i + 3
        elif tok == "instead" and i + 2 < n and token(i + 1) == "of" and token(i + 2) in _MODEL_TASKS:
            sig_id, after = "shape.task_switch_action", i + 3
        if not sig_id:
            i += 1
            continue
        switch = sig_id == "shape.task_switch_action"
        found = False
        for j in range(after, min(n, after + _SHAPE_REACH)):
            tok_j = token(j)
            if tok_j in _SENTENCE_END:
                break
            cls = _token_class(tok_j)
            if cls == SWITCH:
                switch = True
            elif cls == ACT:
                weight = 0.6 + (0.15 if switch else 0.0)
                end = j + 1
                for k in range(j + 1, min(n, j + 1 + _TARGET_REACH)):
                    kc = _token_class(token(k))
                    if kc == TARGET or (kc == OUTPUT and token(k - 1) == "your"):
                        weight += 0.15
                        end = k + 1
                        break
                out.append((round(weight, 2), sig_id, i, end))
                found = True
                i = end
                break
        if not found:
            i += 1
    return out


def _merge(signature: float, classifier: float) -> float:
    """Signatures and classifier: the stronger counts, raised when the other agrees."""
    top, low = max(signature, classifier), min(signature, classifier)
    return top + (1.0 - top) * low * 0.5


def _scan(text: str, depth: int, budget: _Budget) -> tuple[float, list[Evidence]]:
    """Every layer over one piece of text; evidence offsets are relative to it."""
    low = _lower(text)
    evidence: list[Evidence] = []
    fast = _scan_vector(low, depth, evidence) if _dense is not None and len(low) >= ARRAYS_FROM else None
    if fast is not None:
        words, cls, (start, stop), found = fast
    else:
        toks = _tokenize(low)
        words = set(toks)
        if low.isascii():
            found = _signatures(low, words, depth > 0, evidence)
        else:
            folded = low.translate(_LOOKALIKE)
            # the same tokens folded: look-alikes are letters for letters, so no boundary moves
            found = _signatures(folded, {t.translate(_LOOKALIKE) for t in words}, depth > 0, evidence)
            _mixed_script(low, toks, evidence)
        cls, first, end, canon, index = _classify_full(toks)
        for weight, sig_id, a, b in _shape(canon):
            if index is not None:
                a, b = index[a], index[b - 1] + 1
            start, stop = _token_span(low, a, b)
            evidence.append(Evidence("signature", sig_id, start, stop, weight))
        start = stop = -1  # the classifier's span, found below only when it counts
    sig = _combine(_per_signal(evidence).values())
    if sig < UNLOCK:
        cls *= CLASSIFIER_ALONE
    if cls >= 0.05:
        if start < 0:
            start, stop = _token_span(low, first, end)
        evidence.append(Evidence("classifier", "classifier.ngram_lr", start, stop, round(cls, 4)))
    value = _merge(sig, cls)
    extra: list[Evidence] = []
    _hidden(text, low, depth, budget, extra, found)
    if depth < MAX_DEPTH:
        _encoded(text, low, words, depth, budget, extra, found)
    for e in extra:
        value += (1.0 - value) * e.weight
    evidence.extend(extra)
    evidence.sort(key=lambda e: (-e.weight, e.start))
    return min(1.0, max(0.0, value)), evidence


def _scan_vector(
    low: str, depth: int, evidence: list[Evidence]
) -> tuple[set[str], float, tuple[int, int], Found] | None:
    """The token layers of :func:`_scan` by array (NumPy on, a shape model): signatures, shapes and
    the classifier, the same evidence. Returns the distinct tokens, the classifier's probability,
    its window's span and what the signatures' prefilter reported; ``None`` where the token path must run (a run of single letters, a token of
    zero-width characters only, no tokens), having added no evidence."""
    model = _load_model()
    if not model.shape:
        return None
    vec = _vector_tokens(low)
    if vec is None:
        return None
    classified = _classify_vector(vec, model)
    if classified is None:
        return None
    cls, first, end, canon, distinct, gated = classified
    words = set(distinct)
    if low.isascii():
        found = _signatures(low, words, depth > 0, evidence)
    else:  # as the token path: signatures over the look-alikes folded, then mixed scripts
        folded = {t if t.isascii() else t.translate(_LOOKALIKE) for t in distinct}
        # look-alikes are letters, so all inside tokens: none folded, the text is its own folding
        same = len(folded) == len(words) and folded == words
        found = _signatures(low if same else low.translate(_LOOKALIKE), folded, depth > 0, evidence)
        _mixed_script(low, distinct, evidence)
    if any(gated):
        import numpy as np

        gate = np.array(gated, dtype=bool)
        positions = np.flatnonzero(gate[vec.at]).tolist()
        starts, ends = vec.starts, vec.ends
        at = vec.at.tolist()  # a list only here: most texts have no gate word
        for weight, sig_id, a, b in _shape_at(lambda i: canon[at[i]], len(at), positions):
            evidence.append(Evidence("signature", sig_id, int(starts[a]), int(ends[b - 1]), weight))
    return words, cls, (int(vec.starts[first]), int(vec.ends[end - 1])), found


def _views(text: str) -> list[tuple[int, str]]:
    """The pieces of a text that are scanned: all of it when small, else head, tail and samples."""
    if len(text) <= FULL_SCAN:
        return [(0, text)]
    starts = [0, len(text) - HEAD]
    step = (len(text) - 2 * HEAD) // (SAMPLES + 1)
    starts += [HEAD + step * (i + 1) - SAMPLE // 2 for i in range(SAMPLES)]
    for n, m in enumerate(_INVISIBLE.finditer(text, HEAD, len(text) - HEAD)):
        if n >= 4:
            break
        starts.append(max(0, m.start() - SAMPLE // 2))
    views = []
    for start in sorted(set(starts)):
        size = HEAD if start in (0, len(text) - HEAD) else SAMPLE
        views.append((start, text[start : start + size]))
    return views


def score(
    text: str, *, high: float = 0.8, medium: float = 0.5, model: ModelScore | None = None
) -> InjectionResult:
    """How likely ``text`` carries a prompt injection (0..1), why, and the verdict for the thresholds.

    ``block`` when the score reaches ``high``, ``warn`` when it reaches ``medium``, else ``log``;
    the thresholds come from the policy. ``model``: the policy's model slot, combined last.
    """
    if not 0.0 <= medium <= high <= 1.0:
        raise ValueError(f"thresholds must satisfy 0 <= medium <= high <= 1, got medium={medium} high={high}")
    budget = _Budget()
    value = 0.0
    evidence: list[Evidence] = []
    views = _views(text)
    for offset, piece in views:
        piece_value, piece_evidence = _scan(piece, 0, budget)
        value = max(value, piece_value)
        evidence.extend(e._replace(start=e.start + offset, end=e.end + offset) for e in piece_evidence)
    if _plugins:
        bounded = text if len(views) == 1 else "\n".join(piece for _, piece in views)
        for plugin in _plugins:
            prob = float(plugin(bounded))
            prob = 1.0 if prob != prob else min(1.0, max(0.0, prob))
            name = getattr(plugin, "__name__", type(plugin).__name__)
            evidence.append(Evidence("plugin", f"plugin.{name}", 0, len(text), round(prob, 4)))
            value = max(value, prob)
    if model is not None:  # the policy's model slot (detect/injection_model.py); its span is unlocated
        prob = model(text if len(views) == 1 else "\n".join(piece for _, piece in views))
        evidence.append(Evidence("model", model.name, 0, 0, round(prob, 4)))
        value = model.combine(value, prob)
    evidence = [e for e in evidence if e.weight > 0.0]
    evidence.sort(key=lambda e: (-e.weight, e.start))
    value = round(min(1.0, max(0.0, value)), 4)
    verdict: InjectionVerdict = "block" if value >= high else "warn" if value >= medium else "log"
    return InjectionResult(value, tuple(evidence), verdict)


# -- findings ------------------------------------------------------------------------------------

_SEVERITY: dict[str, Literal["low", "medium", "high"]] = {"block": "high", "warn": "medium", "log": "low"}
EXCERPT_CONTEXT = 40


def _escape(text: str) -> str:
    """Make control and invisible characters visible (``\\u200b``), so an excerpt cannot hide anything."""
    out = []
    for ch in text:
        if ch in "\n\r\t":
            out.append({"\n": "\\n", "\r": "\\r", "\t": "\\t"}[ch])
        elif (
            ch.isprintable() and unicodedata.category(ch) not in ("Cf", "Mn", "Me", "Co", "Cs")
        ) or ch == " ":
            out.append(ch)
        else:
            cp = ord(ch)
            out.append(f"\\u{cp:04x}" if cp <= 0xFFFF else f"\\U{cp:08x}")
    return "".join(out)


def findings(
    text: str,
    key: bytes,
    *,
    high: float = 0.8,
    medium: float = 0.5,
    all_scores: bool = False,
    model: ModelScore | None = None,
) -> tuple[Finding, ...]:
    """The injection score as a :class:`~ramparts.model.Finding`, when it reaches ``medium`` (or always).

    The finding points at the strongest evidence, preferring a signature, hidden or encoded span to
    the classifier's window when it is nearly as strong (it says more precisely what was found). It
    carries a keyed fingerprint of that span and a redacted, escaped excerpt of a short window around
    it, never the raw text.
    """
    result = score(text, high=high, medium=medium, model=model)
    if result.score < medium and not all_scores:
        return ()
    return (finding_of(result, text, key),)


def finding_of(result: InjectionResult, text: str, key: bytes) -> Finding:
    """The :class:`~ramparts.model.Finding` for ``result``, the score of ``text`` (what :func:`findings`
    gives, for a caller that has scored the text already and must not score it twice)."""
    located = [e for e in result.evidence if e.end > e.start]
    precise = (
        [e for e in located if e.layer != "classifier" and e.weight >= 0.5 * located[0].weight]
        if located
        else []
    )
    if located:
        start, end = (precise or located)[0][2:4]
    else:
        start, end = 0, min(len(text), 80)
    window = text[max(0, start - EXCERPT_CONTEXT) : min(len(text), end + EXCERPT_CONTEXT, start + 200)]
    return Finding(
        detector="injection",
        category="injection",
        severity=_SEVERITY[result.verdict],
        confidence=result.score,
        start=start,
        end=end,
        line=text.count("\n", 0, start) + 1,
        fingerprint=fingerprint(text[start:end], key),
        excerpt=redact_text(_escape(window), key, limit=240),
    )
