"""Ready-made site mixes for the :class:`~rightful.testing.publisher.Publisher`.

Two mixes: a deterministic, realistic one for the benchmark (:func:`bench_sites` with :func:`bench_urls`:
robots.txt variants, tdmrep.json, ai.txt, HTML with robots/TDM meta, small images with IPTC XMP, opt-out
headers) and a small one with a clear story for the demo (:func:`demo_sites`). Pages of the bench mix are
answered by a ``default`` function over a handful of shared resources, so 1,000 pages per origin cost no more
memory than 10; any path outside the mix is a 404.

The XMP packets are written by hand (not with a metadata library) so the bytes under test are exactly the ones
a reader meets in the wild: the IPTC ``plus:DataMining`` property in element form in JPEG APP1 segments and in
attribute form in PNG ``iTXt`` chunks (both forms occur in real files).
"""

from __future__ import annotations

import functools
import io
import json
import random
import re
import struct
import zlib
from collections.abc import Callable, Iterator, Sequence

from rightful.testing.publisher import Resource, Site

__all__ = [
    "DEMO_PAGES",
    "DMI",
    "bench_sites",
    "bench_urls",
    "demo_sites",
    "demo_urls",
    "iter_bench_urls",
    "jpeg_bytes",
    "png_bytes",
    "xmp_packet",
]

#: The IPTC Data Mining vocabulary prefix (values are ``DMI + "PROHIBITED-AIMLTRAINING"`` and so on).
DMI = "http://ns.useplus.org/ldf/vocab/DMI-"
_JPEG_XMP_HEADER = b"http://ns.adobe.com/xap/1.0/\x00"
_HTML = "text/html; charset=utf-8"
_AI_TOKENS = ("GPTBot", "CCBot", "ClaudeBot", "Google-Extended", "Applebot-Extended", "Bytespider")


def xmp_packet(*, data_mining: str | None = None, licence: str | None = None, attributes: bool = False) -> bytes:
    """An XMP packet with IPTC ``plus:DataMining`` (a full URI or a bare code) and/or a ``cc:license``."""
    props: list[tuple[str, str]] = []
    if data_mining is not None:
        props.append(("plus:DataMining", data_mining if "/" in data_mining else DMI + data_mining))
    if licence is not None:
        props.append(("cc:license", licence))
    namespaces = (
        'xmlns:plus="http://ns.useplus.org/ldf/xmp/1.0/" xmlns:cc="http://creativecommons.org/ns#"'
        ' xmlns:xmpRights="http://ns.adobe.com/xap/1.0/rights/"'
    )
    if attributes:
        attrs = "".join(f' {name}="{value}"' for name, value in props)
        description = f'<rdf:Description rdf:about="" {namespaces}{attrs}/>'
    else:
        elements = "".join(f"\n   <{name}>{value}</{name}>" for name, value in props)
        description = f'<rdf:Description rdf:about="" {namespaces}>{elements}\n  </rdf:Description>'
    packet = (
        '<?xpacket begin="\ufeff" id="W5M0MpCehiHzreSzNTczkc9d"?>\n'
        '<x:xmpmeta xmlns:x="adobe:ns:meta/">\n'
        ' <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">\n'
        f"  {description}\n"
        " </rdf:RDF>\n"
        "</x:xmpmeta>\n"
        '<?xpacket end="r"?>'
    )
    return packet.encode("utf-8")


@functools.cache
def _plain_image(fmt: str, color: tuple[int, int, int]) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), color).save(out, format=fmt)
    return out.getvalue()


def jpeg_bytes(*, xmp: bytes | None = None, color: tuple[int, int, int] = (200, 80, 40)) -> bytes:
    """A tiny JPEG, with ``xmp`` as an APP1 segment right after the JFIF header when given."""
    data = _plain_image("JPEG", color)
    if xmp is None:
        return data
    payload = _JPEG_XMP_HEADER + xmp
    segment = b"\xff\xe1" + struct.pack(">H", len(payload) + 2) + payload
    insert_at = 2
    if data[2:4] == b"\xff\xe0":  # keep JFIF APP0 first, as writers do
        insert_at = 4 + struct.unpack(">H", data[4:6])[0]
    return data[:insert_at] + segment + data[insert_at:]


def png_bytes(*, xmp: bytes | None = None, color: tuple[int, int, int] = (40, 120, 200)) -> bytes:
    """A tiny PNG, with ``xmp`` in an ``iTXt`` chunk (keyword ``XML:com.adobe.xmp``) after IHDR when given."""
    data = _plain_image("PNG", color)
    if xmp is None:
        return data
    content = b"XML:com.adobe.xmp\x00\x00\x00\x00\x00" + xmp  # no compression, no language, no translation
    chunk = struct.pack(">I", len(content)) + b"iTXt" + content
    chunk += struct.pack(">I", zlib.crc32(b"iTXt" + content) & 0xFFFFFFFF)
    ihdr_end = 8 + 4 + 4 + 13 + 4
    return data[:ihdr_end] + chunk + data[ihdr_end:]


def _html(title: str, *, meta: str = "", text: str = "") -> bytes:
    paragraph = text or "Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 8
    return (
        "<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
        f"<title>{title}</title>{meta}</head>\n<body><article><h1>{title}</h1>\n<p>{paragraph}</p>"
        "</article></body></html>\n"
    ).encode()


# ---------------------------------------------------------------------------------------------- bench mix

_BENCH_PATH = re.compile(r"/(p|a|img)/(\d+)\.(html|jpg|png)")
_GONE = Resource(status=404, body=b"not found\n", content_type="text/plain; charset=utf-8")


def _bench_path(index: int) -> str:
    """60 % HTML pages, 20 % JPEG, 20 % PNG, decided by the index so URLs and sites agree without state."""
    slot = index % 5
    if slot < 3:
        return f"/p/{index}.html"
    return f"/img/{index}.{'jpg' if slot == 3 else 'png'}"


def iter_bench_urls(origins: Sequence[str], urls_per_origin: int) -> Iterator[str]:
    """The bench URLs, origins interleaved (as in a shuffled dataset): page 0 of every origin, then page 1..."""
    for index in range(urls_per_origin):
        path = _bench_path(index)
        for origin in origins:
            yield origin + path


def bench_urls(origins: Sequence[str], urls_per_origin: int) -> list[str]:
    return list(iter_bench_urls(origins, urls_per_origin))


def _mix(*values: int) -> int:
    """A cheap deterministic hash in [0, 100) (Python's hash() of str is salted per process)."""
    h = 2166136261
    for value in values:
        h = ((h ^ (value & 0xFFFFFFFF)) * 16777619) & 0xFFFFFFFF
    return (h ^ (h >> 15)) % 100


@functools.cache
def _variants() -> dict[str, tuple[Resource, ...]]:
    """The shared pool every bench page is drawn from; weights are applied in :func:`_pick`."""
    noai, tdm, usage = ("X-Robots-Tag", "noai"), ("tdm-reservation", "1"), ("Content-Usage", "train-ai=n")
    html = (
        Resource(body=_html("Plain article"), content_type=_HTML),
        Resource(body=_html("Meta noai", meta='<meta name="robots" content="noai, noimageai">'), content_type=_HTML),
        Resource(body=_html("Meta TDM", meta='<meta name="tdm-reservation" content="1">'), content_type=_HTML),
        Resource(body=_html("Header noai"), headers=(noai,), content_type=_HTML),
        Resource(body=_html("Header TDM"), headers=(tdm,), content_type=_HTML),
        Resource(body=_html("Header aipref"), headers=(usage,), content_type=_HTML),
    )
    images: dict[str, tuple[Resource, ...]] = {}
    for ext, make, ctype, attributes in (
        ("jpg", jpeg_bytes, "image/jpeg", False),
        ("png", png_bytes, "image/png", True),
    ):
        ai = make(xmp=xmp_packet(data_mining="PROHIBITED-AIMLTRAINING", attributes=attributes))
        genai = make(xmp=xmp_packet(data_mining="PROHIBITED-GENAIMLTRAINING", attributes=attributes))
        images[ext] = (
            Resource(body=make(), content_type=ctype),
            Resource(body=ai, content_type=ctype),
            Resource(body=genai, content_type=ctype),
            Resource(body=make(), headers=(noai,), content_type=ctype),
            Resource(body=make(), headers=(tdm,), content_type=ctype),
        )
    return {"html": html, **images}


# Cumulative weights (percent) over each pool above: mostly plain, a few of each signal.
_HTML_WEIGHTS = (70, 80, 85, 90, 95, 100)
_IMAGE_WEIGHTS = (70, 85, 90, 95, 100)


def _pick(pool: tuple[Resource, ...], weights: tuple[int, ...], roll: int) -> Resource:
    return next(r for r, w in zip(pool, weights, strict=True) if roll < w)


def _bench_default(origin_index: int, urls_per_origin: int, seed: int) -> Callable[[str], Resource]:
    variants = _variants()

    def page(path: str) -> Resource:
        match = _BENCH_PATH.fullmatch(path)
        if match is None:
            return _GONE
        area, index, ext = match[1], int(match[2]), match[3]
        if index >= urls_per_origin or (area != "a" and _bench_path(index) != path):
            return _GONE
        roll = _mix(seed, origin_index, index)
        if area == "p" and roll == 42:  # 1 %: moved (one redirect, realistic for old links)
            return Resource(status=301, redirect=f"/a/{index}.html")
        if area != "a" and _mix(index, seed, origin_index) == 7:  # 1 %: gone
            return _GONE
        if ext == "html":
            return _pick(variants["html"], _HTML_WEIGHTS, roll)
        return _pick(variants[ext], _IMAGE_WEIGHTS, roll)

    return page


def _bench_robots(rng: random.Random) -> Resource | str | None:
    roll = rng.random()
    if roll < 0.30:  # the most common real-world AI opt-out: name the AI crawlers, leave search open
        groups = "".join(f"User-agent: {token}\n" for token in rng.sample(_AI_TOKENS, 3))
        return f"# news-style\n{groups}Disallow: /\n\nUser-agent: *\nAllow: /\nDisallow: /private/\n"
    if roll < 0.50:
        return "User-agent: *\nDisallow: /p/1\nDisallow: /img/*.png$\nSitemap: /sitemap.xml\n"
    if roll < 0.60:
        return "User-agent: *\nAllow: /\nContent-Usage: train-ai=n, search=y\nContent-Usage: /p/ train-ai=y\n"
    if roll < 0.75:
        return "User-agent: *\nDisallow:\n"
    if roll < 0.95:
        return None  # 404: no restrictions
    return Resource(status=503, body=b"try later\n", content_type="text/plain")  # unreachable: all disallowed


_TDM_POLICY = json.dumps(
    {
        "@context": ["http://www.w3.org/ns/odrl.jsonld", {"tdm": "http://www.w3.org/ns/tdmrep#"}],
        "@type": "Offer",
        "profile": "http://www.w3.org/ns/tdmrep",
        "uid": "{{origin}}/tdm-policy.json",
        "assigner": {"uid": "{{origin}}", "vcard:hasEmail": "licensing@publisher.example"},
        "permission": [{"target": "{{origin}}/img/", "action": "tdm:mine", "duty": [{"action": "compensate"}]}],
    }
)


def _bench_site(index: int, urls_per_origin: int, seed: int) -> Site:
    rng = random.Random(f"rightful-bench:{seed}:{index}")
    tdmrep = None
    pages: dict[str, Resource] = {}
    if rng.random() < 0.30:
        entries: list[dict[str, object]] = [
            {"location": "/img/*", "tdm-reservation": 1, "tdm-policy": "{{origin}}/tdm-policy.json"},
            {"location": "/p/*.html$", "tdm-reservation": 0},
        ]
        tdmrep = json.dumps(entries)
        pages["/tdm-policy.json"] = Resource(body=_TDM_POLICY.encode(), content_type="application/json")
    ai_txt = "User-Agent: *\nDisallow: *.jpg\nDisallow: *.png\nAllow: /\n" if rng.random() < 0.10 else None
    return Site(
        robots_txt=_bench_robots(rng),
        tdmrep_json=tdmrep,
        ai_txt=ai_txt,
        pages=pages,
        default=_bench_default(index, urls_per_origin, seed),
        name=f"bench-{index}",
    )


def bench_sites(n_origins: int, urls_per_origin: int, *, seed: int = 0) -> list[Site]:
    """``n_origins`` sites that answer the paths :func:`bench_urls` lists (and 404 elsewhere)."""
    return [_bench_site(index, urls_per_origin, seed) for index in range(n_origins)]


# ----------------------------------------------------------------------------------------------- demo mix

_NEWS_ROBOTS = (
    "# The Daily Planet: search engines welcome, AI training crawlers are not.\n"
    + "".join(f"User-agent: {token}\n" for token in _AI_TOKENS)
    + "Disallow: /\n\nUser-agent: *\nAllow: /\n"
)

_PHOTO_TDMREP = json.dumps(
    [
        {"location": "/photos/*", "tdm-reservation": 1, "tdm-policy": "{{origin}}/tdm-policy.json"},
        {"location": "/", "tdm-reservation": 0},
    ],
    indent=1,
)

_PHOTO_POLICY = json.dumps(
    {
        "@context": ["http://www.w3.org/ns/odrl.jsonld", {"tdm": "http://www.w3.org/ns/tdmrep#"}],
        "@type": "Offer",
        "profile": "http://www.w3.org/ns/tdmrep",
        "uid": "{{origin}}/tdm-policy.json",
        "assigner": {"uid": "{{origin}}", "vcard:fn": "Lumen Licensing", "vcard:hasEmail": "licensing@lumen.example"},
        "permission": [{"target": "{{origin}}/photos/", "action": "tdm:mine", "duty": [{"action": "obtainConsent"}]}],
    },
    indent=1,
)

#: ``(site index, path)`` of the pages the demo checks, in the order it tells the story.
DEMO_PAGES: tuple[tuple[int, str], ...] = (
    (0, "/2025/03/city-council.html"),
    (1, "/photos/harbour.jpg"),
    (1, "/photos/skyline.png"),
    (1, "/about.html"),
    (2, "/posts/hello.html"),
    (2, "/media/sunset.jpg"),
    (3, "/index.html"),
    (3, "/gallery/piece-1.jpg"),
    (4, "/"),
)


def demo_sites() -> list[Site]:
    """Five sites, one story each: AI bots blocked in robots.txt; TDMRep + IPTC-tagged photos; an open blog
    with a CC BY image; an artist who says ``noai`` in headers and meta; an origin whose robots.txt is down."""
    return [
        Site(
            name="The Daily Planet (news)",
            robots_txt=_NEWS_ROBOTS,
            pages={
                "/": Resource(body=_html("The Daily Planet"), content_type=_HTML),
                "/2025/03/city-council.html": Resource(body=_html("City council votes"), content_type=_HTML),
            },
        ),
        Site(
            name="Lumen Photo Agency",
            robots_txt="User-agent: *\nAllow: /\n",
            tdmrep_json=_PHOTO_TDMREP,
            pages={
                "/photos/harbour.jpg": Resource(
                    body=jpeg_bytes(xmp=xmp_packet(data_mining="PROHIBITED-AIMLTRAINING")), content_type="image/jpeg"
                ),
                "/photos/skyline.png": Resource(
                    body=png_bytes(xmp=xmp_packet(data_mining="PROHIBITED-GENAIMLTRAINING", attributes=True)),
                    content_type="image/png",
                ),
                "/about.html": Resource(body=_html("About Lumen"), content_type=_HTML),
                "/tdm-policy.json": Resource(body=_PHOTO_POLICY.encode(), content_type="application/json"),
            },
        ),
        Site(
            name="Open Commons Blog",
            robots_txt="User-agent: *\nAllow: /\nContent-Usage: train-ai=y, search=y\n",
            tdmrep_json='[{"location": "/", "tdm-reservation": 0}]',
            pages={
                "/posts/hello.html": Resource(
                    body=_html("Hello, world"), headers=(("Content-Usage", "train-ai=y, search=y"),), content_type=_HTML
                ),
                "/media/sunset.jpg": Resource(
                    body=jpeg_bytes(
                        xmp=xmp_packet(data_mining="ALLOWED", licence="https://creativecommons.org/licenses/by/4.0/")
                    ),
                    content_type="image/jpeg",
                ),
            },
        ),
        Site(
            name="Indie artist portfolio",
            pages={
                "/index.html": Resource(
                    body=_html("Portfolio", meta='<meta name="robots" content="noai, noimageai">'),
                    headers=(("Content-Usage", "train-ai=n"),),
                    content_type=_HTML,
                ),
                "/gallery/piece-1.jpg": Resource(
                    body=jpeg_bytes(color=(30, 30, 30)),
                    headers=(("X-Robots-Tag", "noai, noimageai"), ("TDM-Reservation", "1")),
                    content_type="image/jpeg",
                ),
            },
        ),
        Site(
            name="Flaky host (robots.txt answers 503)",
            robots_txt=Resource(status=503, body=b"maintenance\n", content_type="text/plain"),
            pages={"/": Resource(body=_html("Back soon"), content_type=_HTML)},
        ),
    ]


def demo_urls(origins: Sequence[str]) -> list[str]:
    """The URLs the demo checks, given the origins a publisher of :func:`demo_sites` is serving."""
    return [origins[site] + path for site, path in DEMO_PAGES]
