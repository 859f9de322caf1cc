"""The registry as a signal source of the check verbs: a stripped copy of a registered work is recognised."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rightful import check_bytes, check_file, check_url
from rightful.config import Settings
from rightful.models import Decision
from rightful.registry import Registry
from rightful.registry.findings import close_cached
from rightful.testing.publisher import Publisher, Resource, Site

from .registry_helpers import RESERVED, encode, scene


def test_check_file_reports_a_registered_work_without_metadata(registry: Registry, tmp_path: Path) -> None:
    """A re-encoded copy with no metadata at all is reserved through the registry, naming the work."""
    work = registry.register_bytes(encode(scene(5)), owner="ann", terms=RESERVED, title="Harbour").work
    assert work is not None
    copy = tmp_path / "copy.jpg"
    copy.write_bytes(encode(scene(5), "JPEG", quality=70))
    result = check_file(copy)
    assert result.decision("ai-training") is Decision.RESERVED
    (signal,) = [s for s in result.verdicts["ai-training"].deciding if s.protocol == "registry"]
    assert signal.details["work_id"] == work.id
    unrelated = check_bytes(encode(scene(77)), name="other.png")
    assert unrelated.decision("ai-training") is Decision.UNKNOWN


def test_check_url_consults_the_registry_for_fetched_images(
    registry: Registry, publisher: Callable[..., Publisher]
) -> None:
    """An image fetched from an open site is still reserved when it is a registered work."""
    registry.register_bytes(encode(scene(9)), owner="bob", terms=RESERVED)
    image = Resource(body=encode(scene(9), "JPEG", quality=80), content_type="image/jpeg")
    pub = publisher(Site(robots_txt="User-agent: *\nAllow: /\n", pages={"/a.jpg": image}))
    result = check_url(pub.url(0, "/a.jpg"), settings=Settings.load(allow_private=True))
    assert result.decision("ai-training") is Decision.RESERVED
    assert "registry" in {s.protocol for s in result.verdicts["ai-training"].deciding}


def test_a_registry_created_after_a_check_is_seen(settings: Settings, tmp_path: Path) -> None:
    """The 'no registry here' memory is dropped as soon as the database changes."""
    close_cached()
    data = encode(scene(11))
    assert check_bytes(data, name="x.png").decision("ai-training") is Decision.UNKNOWN
    reg = Registry.open(settings)
    try:
        reg.register_bytes(data, owner="cy", terms=RESERVED)
        assert check_bytes(data, name="x.png").decision("ai-training") is Decision.RESERVED
    finally:
        reg.close()
        close_cached()
