"""Artist tools: write reservations into files (``tag_files``), publish them for a website (``build_site_kit``)
and cloak images against style mimicry (``cloak_image``, with the ``[protect]`` extra).

Every output round-trips through Rightful's own checker; the guide is docs/artist-tools.md. The cloak's names
are imported on first use, so ``import rightful.protect`` needs neither numpy nor torch.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from rightful.protect.sitekit import SiteKit, build_site_kit, write_site_kit
from rightful.protect.tag import TagProgress, TagResult, TagStatus, iter_taggable, tag_file, tag_files
from rightful.protect.terms import RESERVE_CHOICES, Contact, Reservation, parse_contacts

if TYPE_CHECKING:
    from rightful.protect.cloak import CloakOptions, CloakOutcome, CloakProgress, CloakResult, cloak_files, cloak_image
    from rightful.protect.vae import Vae, load_vae

__all__ = [
    "RESERVE_CHOICES",
    "CloakOptions",
    "CloakOutcome",
    "CloakProgress",
    "CloakResult",
    "Contact",
    "Reservation",
    "SiteKit",
    "TagProgress",
    "TagResult",
    "TagStatus",
    "Vae",
    "build_site_kit",
    "cloak_files",
    "cloak_image",
    "iter_taggable",
    "load_vae",
    "parse_contacts",
    "tag_file",
    "tag_files",
    "write_site_kit",
]

_LAZY = {
    "CloakOptions": "cloak", "CloakOutcome": "cloak", "CloakProgress": "cloak", "CloakResult": "cloak",
    "cloak_files": "cloak", "cloak_image": "cloak", "Vae": "vae", "load_vae": "vae",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'rightful.protect' has no attribute {name!r}")
    return getattr(import_module(f"rightful.protect.{module}"), name)
