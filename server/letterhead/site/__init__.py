"""The Jekyll site model: configuration, permalinks, and what Jekyll 4.3 outputs for each file."""

from letterhead.site.config import (
    CollectionConfig,
    ConfigProblem,
    DefaultRule,
    SiteConfig,
    load_config,
    parse_config,
)
from letterhead.site.kinds import EntryKind, SourceFile, Status
from letterhead.site.model import Entry, Site, read_front_matter
from letterhead.site.permalinks import (
    STYLE_TO_PERMALINK,
    expand,
    normalize_url,
    slugify,
    url_to_output_path,
)

__all__ = [
    "STYLE_TO_PERMALINK",
    "CollectionConfig",
    "ConfigProblem",
    "DefaultRule",
    "Entry",
    "EntryKind",
    "Site",
    "SiteConfig",
    "SourceFile",
    "Status",
    "expand",
    "load_config",
    "normalize_url",
    "parse_config",
    "read_front_matter",
    "slugify",
    "url_to_output_path",
]
