"""letterhead's own settings: the `letterhead:` section of `_config.yml`, every option defaulted.

`Settings.from_mapping` never raises: anything it cannot use is kept at its default and reported
as a `SettingProblem` (rule CF001 turns these into findings at the offending key).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Any

from letterhead.findings import Severity

DEFAULT_SALUTATION = "_**Dear {{ page.addressee }}**, {{ page.position }},_"

# Keys Jekyll or a typical review site gives meaning to; FM005 accepts these and `known_keys`.
STANDARD_KEYS: dict[str, str] = {
    "title": "The review's title; `:title` in the permalink comes from the file name, not this.",
    "layout": "The layout from `_layouts/` that renders the page.",
    "author": "The author's handle, a key of `_data/authors.yml`.",
    "date": "Publication date (`YYYY-MM-DD HH:MM:SS +/-TTTT`); overrides the file name's date.",
    "categories": "A list of categories; they may become part of the URL (`:categories`).",
    "category": "A single category (Jekyll also accepts `categories`).",
    "tags": "A list of tags. Give a list: a string is split on spaces.",
    "published": "`false` keeps the review off the built site.",
    "permalink": "A URL for this page alone, overriding the site's pattern.",
    "slug": "Overrides the slug taken from the file name (`:slug` in permalinks).",
    "excerpt": "A short summary shown in lists; empty uses the first paragraph.",
    "excerpt_separator": "Where the automatic excerpt ends.",
    "imdb": "The film's IMDb id: `tt` followed by 7 or 8 digits.",
    "image": "The review's image, a file in an image folder (or a site path starting with `/`).",
    "stars": "The rating: a number from 0 to 5 in steps of 0.5.",
    "addressee": "Who the letter is written to; the salutation names them.",
    "position": "The addressee's role in the film (director, actor, ...).",
    "comments": "Whether comments are open (`true` or `false`).",
    "description": "A description for search engines and feeds.",
    "redirect_from": "Old URLs that should redirect here.",
    "last_modified_at": "When the review was last changed.",
    "lang": "The language of the page.",
    "sitemap": "Whether the page appears in the sitemap.",
}

TYPED_BOOLEAN_KEYS = ("published", "comments")


@dataclass(frozen=True, slots=True)
class SettingProblem:
    key_path: tuple[str, ...]  # e.g. ("letterhead", "rules", "TX001")
    message: str


@dataclass(frozen=True, slots=True)
class TaxonomyPolicy:
    allowed_file: str | None = (
        None  # e.g. "_data/tags.yml": a list, or a mapping whose keys are allowed
    )
    aliases: dict[str, str] = field(default_factory=dict)  # alias -> canonical
    case: str = "preserve"  # "preserve" or "lower"
    new_warns: bool = False  # a tag used nowhere else is reported (TX004-style) when true


@dataclass(frozen=True, slots=True)
class Settings:
    letter_layouts: tuple[str, ...] = ("review", "letter")
    required_keys: tuple[str, ...] = ("title", "layout", "author")
    letter_required_keys: tuple[str, ...] = ("addressee", "position")
    image_dirs: tuple[str, ...] = ("images", "assets/images", "img")
    extra_layouts: tuple[str, ...] = ()
    known_keys: tuple[str, ...] = ()
    salutation: str = DEFAULT_SALUTATION
    signature_tag: str = "contentfor"
    signature_block: str = "signature"
    liquid_tags: tuple[str, ...] = ()  # extra Liquid tag names the site's plugins define
    tags: TaxonomyPolicy = TaxonomyPolicy()
    categories: TaxonomyPolicy = TaxonomyPolicy()
    severities: dict[str, Severity | None] = field(default_factory=dict)  # code -> None means off
    fail_on: Severity = Severity.WARNING
    max_file_bytes: int = 2_000_000

    @classmethod
    def from_mapping(cls, raw: Any) -> tuple[Settings, list[SettingProblem]]:
        problems: list[SettingProblem] = []
        if raw is None:
            return cls(), problems
        if not isinstance(raw, dict):
            problems.append(
                SettingProblem(("letterhead",), "`letterhead:` must be a mapping of settings")
            )
            return cls(), problems
        reader = _Reader(raw, problems)
        defaults = cls()
        settings = cls(
            letter_layouts=reader.names("letter_layouts", defaults.letter_layouts),
            required_keys=reader.names("required_keys", defaults.required_keys),
            letter_required_keys=reader.names(
                "letter_required_keys", defaults.letter_required_keys
            ),
            image_dirs=reader.names("image_dirs", defaults.image_dirs),
            extra_layouts=reader.names("extra_layouts", defaults.extra_layouts),
            known_keys=reader.names("known_keys", defaults.known_keys),
            salutation=reader.text("salutation", defaults.salutation),
            signature_tag=reader.text("signature_tag", defaults.signature_tag),
            signature_block=reader.text("signature_block", defaults.signature_block),
            liquid_tags=reader.names("liquid_tags", defaults.liquid_tags),
            tags=reader.taxonomy("tags"),
            categories=reader.taxonomy("categories"),
            severities=reader.severities(),
            fail_on=reader.severity("fail_on", defaults.fail_on),
            max_file_bytes=reader.integer("max_file_bytes", defaults.max_file_bytes),
        )
        for key in raw:
            if key not in _KNOWN_SETTINGS:
                near = difflib.get_close_matches(str(key), sorted(_KNOWN_SETTINGS), n=1)
                hint = (
                    f"did you mean `{near[0]}`?"
                    if near
                    else f"known settings: {', '.join(sorted(_KNOWN_SETTINGS))}"
                )
                problems.append(
                    SettingProblem(("letterhead", str(key)), f"unknown setting `{key}`; {hint}")
                )
        return settings, problems

    def severity_of(self, code: str, name: str, default: Severity) -> Severity | None:
        """The configured severity of a rule (by code or name), None when it is turned off."""
        for key in (code, name):
            if key in self.severities:
                return self.severities[key]
        # Family settings such as `TX: off` apply to every rule of the family.
        family = code.rstrip("0123456789")
        if family in self.severities:
            return self.severities[family]
        return default

    def is_letter_layout(self, layout: Any) -> bool:
        return isinstance(layout, str) and layout in self.letter_layouts


_KNOWN_SETTINGS = {
    "letter_layouts",
    "required_keys",
    "letter_required_keys",
    "image_dirs",
    "extra_layouts",
    "known_keys",
    "salutation",
    "signature_tag",
    "signature_block",
    "liquid_tags",
    "tags",
    "categories",
    "rules",
    "fail_on",
    "max_file_bytes",
}


class _Reader:
    """Reads one setting at a time, keeping the default and noting a problem when it is unusable."""

    def __init__(self, raw: dict[Any, Any], problems: list[SettingProblem]) -> None:
        self.raw = raw
        self.problems = problems

    def _problem(self, path: tuple[str, ...], message: str) -> None:
        self.problems.append(SettingProblem(("letterhead", *path), message))

    def names(self, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
        if key not in self.raw or self.raw[key] is None:
            return default
        value = self.raw[key]
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            self._problem((key,), f"`{key}` must be a list of names")
            return default
        return tuple(value)

    def text(self, key: str, default: str) -> str:
        value = self.raw.get(key)
        if value is None:
            return default
        if not isinstance(value, str) or not value.strip():
            self._problem((key,), f"`{key}` must be a non-empty string")
            return default
        return value

    def integer(self, key: str, default: int) -> int:
        value = self.raw.get(key)
        if value is None:
            return default
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            self._problem((key,), f"`{key}` must be a positive whole number")
            return default
        return value

    def severity(self, key: str, default: Severity) -> Severity:
        value = self.raw.get(key)
        if value is None:
            return default
        parsed = Severity.parse(value) if isinstance(value, str) else None
        if parsed is None:
            self._problem((key,), f"`{key}` must be one of error, warning, info, hint")
            return default
        return parsed

    def severities(self) -> dict[str, Severity | None]:
        value = self.raw.get("rules")
        if value is None:
            return {}
        if not isinstance(value, dict):
            self._problem(("rules",), "`rules` must map rule codes or names to a severity or `off`")
            return {}
        result: dict[str, Severity | None] = {}
        for rule_key, level in value.items():
            key = str(rule_key)
            if level is False or (isinstance(level, str) and level.strip().lower() == "off"):
                result[key] = None
                continue
            parsed = Severity.parse(level) if isinstance(level, str) else None
            if parsed is None:
                self._problem(
                    ("rules", key),
                    f"`{key}`: expected error, warning, info, hint or off, not `{level}`",
                )
                continue
            result[key] = parsed
        return result

    def taxonomy(self, key: str) -> TaxonomyPolicy:
        value = self.raw.get(key)
        if value is None:
            return TaxonomyPolicy()
        if not isinstance(value, dict):
            self._problem((key,), f"`{key}` must be a mapping (allowed, aliases, case, new)")
            return TaxonomyPolicy()
        allowed = value.get("allowed")
        if allowed is not None and not isinstance(allowed, str):
            self._problem(
                (key, "allowed"), "`allowed` must be the path of a data file, e.g. _data/tags.yml"
            )
            allowed = None
        aliases_raw = value.get("aliases") or {}
        aliases: dict[str, str] = {}
        if not isinstance(aliases_raw, dict):
            self._problem((key, "aliases"), "`aliases` must map an alias to its canonical spelling")
        else:
            for alias, canonical in aliases_raw.items():
                if isinstance(canonical, str):
                    aliases[str(alias)] = canonical
                else:
                    self._problem(
                        (key, "aliases", str(alias)), f"alias `{alias}` must name one canonical tag"
                    )
        case = value.get("case", "preserve")
        if case not in ("preserve", "lower"):
            self._problem((key, "case"), "`case` must be `preserve` or `lower`")
            case = "preserve"
        new = value.get("new", "allow")
        if new not in ("allow", "warn"):
            self._problem((key, "new"), "`new` must be `allow` or `warn`")
            new = "allow"
        for sub in value:
            if sub not in ("allowed", "aliases", "case", "new"):
                self._problem(
                    (key, str(sub)),
                    f"unknown `{key}` setting `{sub}`: use allowed, aliases, case or new",
                )
        return TaxonomyPolicy(
            allowed_file=allowed, aliases=aliases, case=case, new_warns=new == "warn"
        )
