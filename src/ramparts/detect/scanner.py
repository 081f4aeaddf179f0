"""All detectors behind one call: ``Detectors(...).scan(text, key)`` → findings, never values.

The hook, the gateway, the egress proxy and ``ramparts scan`` build one :class:`Detectors` per process
(the rules and the compiled pattern databases are loaded once, from the cache when there is one) and
call ``scan`` on each text. Categories can be switched off per call.
"""

from __future__ import annotations

from .secrets import SecretScanner

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence
    from typing import Literal

    from ..model import Finding
    from ..policy.types import DetectSettings, InjectionModel
    from .injection_model import ModelSlot
    from .pii import Entity, PiiScanner

    Category = Literal["secret", "pii", "injection"]
CATEGORIES: tuple[Category, ...] = ("secret", "pii", "injection")


class Detectors:
    def __init__(
        self,
        categories: Iterable[Category] = CATEGORIES,
        *,
        cache_dir: str | None = None,
        backend: str = "auto",
        custom_entities: Sequence[Entity] = (),
        ip_addresses: bool = True,
        injection_high: float = 0.8,
        injection_medium: float = 0.5,
        injection_surfaces: Mapping[str, tuple[float, float]] | None = None,
        injection_model: InjectionModel | None = None,
        on_cold: Callable[[], object] | None = None,
    ) -> None:
        """``on_cold``: called when a scan needs a compiled database the cache does not hold yet (the
        hook's secret scanner loads its database only for a long text: :attr:`cold` cannot say it at
        once); a scanner found cold when built says it by :attr:`cold`."""
        self.categories = tuple(dict.fromkeys(categories))
        unknown = set(self.categories) - set(CATEGORIES)
        if unknown:
            raise ValueError(f"unknown detector categories: {', '.join(sorted(unknown))}")
        self.secrets = (
            SecretScanner(backend=backend, cache_dir=cache_dir, on_cold=on_cold)
            if "secret" in self.categories
            else None
        )
        self.pii: PiiScanner | None = None
        if "pii" in self.categories:  # imported only when asked for: a hook's Read scans for secrets only
            from .pii import BUILTIN, PiiScanner

            self.pii = PiiScanner(
                (*BUILTIN, *custom_entities), ip_addresses=ip_addresses, backend=backend, cache_dir=cache_dir
            )
        self.injection_high = injection_high
        self.injection_medium = injection_medium
        self.injection_surfaces: dict[str, tuple[float, float]] = dict(injection_surfaces or {})
        """surface → (high, medium); :meth:`scan` with a surface not listed uses the two above."""
        self.injection_model: ModelSlot | None = None
        """The policy's model slot, loaded and checked now: a broken one raises ModelError here."""
        if injection_model is not None and injection_model.path and "injection" in self.categories:
            from .injection_model import load_slot

            self.injection_model = load_slot(injection_model)

    @property
    def cold(self) -> bool:
        """A ``backend="cached"`` matcher found no compiled database and fell back to ``re`` (or, the
        hook's secret scanner, found the keywords' database missing when a long text needed it)."""
        return any(s is not None and s.matcher.cold for s in (self.secrets, self.pii))

    def expect(self, characters: int) -> None:
        """A hint that about this many characters are about to be scanned in all (a recursive read's
        files): the secret scanner then picks its prefilter for the whole rather than text by text."""
        if self.secrets is not None:
            self.secrets.expect(characters)

    def backend(self) -> str:
        return ", ".join(sorted({s.matcher.backend for s in (self.secrets, self.pii) if s is not None}))

    @classmethod
    def from_settings(
        cls,
        settings: DetectSettings,
        categories: Iterable[Category] = CATEGORIES,
        *,
        cache_dir: str | None = None,
        backend: str = "auto",
        on_cold: Callable[[], object] | None = None,
    ) -> Detectors:
        """The detectors a policy's ``detect`` section configures (custom entities, IPs, thresholds)."""
        categories = tuple(categories)
        custom: list[Entity] = []
        if "pii" in categories and settings.custom_entities:
            from .pii import custom_entity

            custom = [
                custom_entity(
                    e.name,
                    e.pattern,
                    context=e.context,
                    validator=e.validator,
                    base=e.confidence,
                    severity=e.severity,
                )
                for e in settings.custom_entities
            ]
        return cls(
            categories,
            cache_dir=cache_dir,
            backend=backend,
            custom_entities=custom,
            ip_addresses=settings.ip_addresses,
            injection_high=settings.injection_block,
            injection_medium=settings.injection_warn,
            injection_surfaces={name: (block, warn) for name, block, warn in settings.injection_surfaces},
            injection_model=settings.injection_model,
            on_cold=on_cold,
        )

    def scan(
        self,
        text: str,
        key: bytes,
        *,
        limit: int | None = None,
        categories: Iterable[Category] | None = None,
        all_scores: bool = False,
        surface: str | None = None,
    ) -> list[Finding]:
        """Findings of every enabled detector over the first ``limit`` characters, in text order.

        A span a secret rule reports is not reported again as personal data (a password that looks
        like a phone number is a password). ``surface`` (``tool_result``, ``prompt``,
        ``mcp_tool_description``) picks the policy's injection thresholds for where the text came from.
        """
        wanted = set(categories) if categories is not None else set(self.categories)
        if limit is not None:
            text = text[:limit]
        out: list[Finding] = []
        if self.secrets is not None and "secret" in wanted:
            out.extend(self.secrets.scan(text, key, excerpt=False))
        if self.pii is not None and "pii" in wanted:
            taken = [(f.start, f.end) for f in out]
            out.extend(
                f
                for f in self.pii.scan(text, key, excerpt=False)
                if not any(f.start < e and s < f.end for s, e in taken)
            )
        if out:
            # the excerpts made once, here, for both families: each masks every value found in it (a
            # secret's excerpt must not show a card number beside it in the clear)
            from .excerpt import excerpts

            masked = excerpts(text, [(f.start, f.end, f.detector) for f in out], key)
            out = [f._replace(excerpt=e) for f, e in zip(out, masked, strict=True)]
        if "injection" in wanted and "injection" in self.categories:
            from .injection import findings as injection_findings

            high, medium = self.injection_surfaces.get(
                surface or "", (self.injection_high, self.injection_medium)
            )
            out.extend(
                injection_findings(
                    text, key, high=high, medium=medium, all_scores=all_scores, model=self.injection_model
                )
            )
        return sorted(out, key=lambda f: (f.start, f.detector))
