"""The works registry: register works with their terms, match queries, keep store and index in step.

:class:`Registry` is what the CLI, the service and the signals integration use. It owns one
:class:`~rightful.registry.store.SqlRegistryStore` and its :class:`~rightful.registry.index.RegistryIndex`.
A registration writes the store first (the truth) and then updates the in-memory index; the index files are
saved at the end of a batch, and any other process catches up through the change log on its next query.
"""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from rightful.config import Settings
from rightful.errors import AlreadyRegistered, InvalidInput
from rightful.fingerprints.embedding import Embedder
from rightful.fingerprints.image import (
    QUERY_WINDOWS,
    ImageFingerprints,
    fingerprint_pil,
    load_image,
    window_fingerprints,
)
from rightful.fingerprints.text import decode_text, fingerprint_text, iter_text_file, normalise_text
from rightful.media import iter_files, media_type_for, read_capped, sniff
from rightful.models import Fingerprint, Match, MatchBand, Terms, Work
from rightful.registry.index import RegistryIndex
from rightful.registry.match import BAND_ORDER, Candidate, Thresholds, TokenCache, exact_pixels, match_image, match_text
from rightful.registry.store import NewWork, SqlRegistryStore, registry_exists

__all__ = ["MatchReport", "Registered", "Registry", "database_url"]

#: Query texts are matched up to this many bytes (a note says when the rest was left out).
MAX_QUERY_TEXT = 16 * 1024 * 1024
_TEXT_TYPES = ("text/plain", "text/markdown")


def database_url(settings: Settings) -> str:
    """``RIGHTFUL_DATABASE_URL``, or the SQLite file in ``RIGHTFUL_HOME``."""
    return settings.database_url or f"sqlite:///{settings.db_path}"


@dataclass(frozen=True, slots=True)
class Registered:
    """The outcome of registering one item: the work, whether it was new, and any notes or error."""

    source: str
    work: Work | None
    created: bool
    notes: tuple[str, ...] = ()
    error: str | None = None

    def to_dict(self) -> dict[str, object]:
        return {"source": self.source, "work_id": self.work.id if self.work else None, "created": self.created,
                "notes": list(self.notes), "error": self.error}  # fmt: skip


@dataclass(frozen=True, slots=True)
class MatchReport:
    """Matches, best first, and notes on the query (low-quality hash, animated image, text cut short)."""

    matches: tuple[Match, ...]
    notes: tuple[str, ...] = ()
    media_type: str = ""

    def to_dict(self) -> dict[str, object]:
        return {"matches": [m.to_dict() for m in self.matches], "notes": list(self.notes),
                "media_type": self.media_type}  # fmt: skip


@dataclass(slots=True)
class Registry:
    """An open registry: store, index, thresholds and (optionally) a learned descriptor model."""

    store: SqlRegistryStore
    index: RegistryIndex
    settings: Settings
    thresholds: Thresholds = field(default_factory=Thresholds)
    embedder: Embedder | None = None
    _tokens: TokenCache | None = None

    @classmethod
    def open(cls, settings: Settings | None = None, *, create: bool = True, embedder: Embedder | None = None,
             thresholds: Thresholds | None = None, busy_timeout: float = 10.0) -> Registry:  # fmt: skip
        """Open (and by default create) the registry that ``settings`` point at; the index repairs itself."""
        settings = settings or Settings.load()
        url = database_url(settings)
        if not create and not registry_exists(url):
            raise InvalidInput(f"no works registry at {settings.database_url or settings.db_path}: register a work "
                               "first (rightful register)")  # fmt: skip
        store = SqlRegistryStore(url, busy_timeout=busy_timeout)
        index_dir = settings.home / "index" if not settings.database_url else settings.home / "index" / _slug(url)
        index = RegistryIndex(index_dir, store).open()
        return cls(store, index, settings, thresholds or Thresholds(), embedder)

    def close(self) -> None:
        self.index.save(wait=False)
        self.store.close()

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- registration -------------------------------------------------------------------------------------

    def register_bytes(self, data: bytes, *, owner: str, terms: Terms, title: str | None = None,
                       source: str | None = None, media_type: str | None = None) -> Registered:  # fmt: skip
        """Register an image or a text given as bytes (the media type is sniffed; a hint breaks ties)."""
        kind = _kind(data, media_type or (media_type_for(source) if source else None))
        if kind == "text":
            return self.register_text(decode_text(data), owner=owner, terms=terms, title=title, source=source)
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        existing = self.store.find_by_digest(digest, owner=owner)
        if existing:
            return self._backfill(existing[0], data, source or digest)
        img, notes = load_image(data, max_pixels=self.settings.max_pixels)
        fps = fingerprint_pil(img, notes=notes)
        prints: list[Fingerprint] = list(fps.all())
        if self.embedder is not None:
            prints.append(self.embedder.fingerprint(img))
        item = NewWork(owner=owner, media_type=kind, digest=digest, terms=terms, title=title, source=source,
                       size=len(data), fingerprints=tuple(prints))  # fmt: skip
        return self._insert(item, fps.notes)

    def register_text(self, text: str | Iterable[str], *, owner: str, terms: Terms, title: str | None = None,
                      source: str | None = None) -> Registered:  # fmt: skip
        """Register a text (a string, or chunks of a huge file); its digest is that of the normalised text."""
        fps = fingerprint_text(text)
        existing = self.store.find_by_digest(fps.digest, owner=owner)
        if existing:
            return Registered(source or fps.digest, existing[0], False, ("already registered",))
        item = NewWork(owner=owner, media_type="text/plain", digest=fps.digest, terms=terms, title=title,
                       source=source, size=fps.tokens, fingerprints=fps.all(),
                       text=(fps.tokens, fps.normalised))  # fmt: skip
        return self._insert(item, ())

    def register_file(self, path: str | Path, *, owner: str, terms: Terms, title: str | None = None,
                      as_text: bool = False) -> Registered:  # fmt: skip
        """Register one file; texts are streamed, so a file of any size can be registered."""
        p = Path(path)
        head, _ = read_capped(p, max_bytes=65536)
        if as_text or _kind(head, media_type_for(p.name)) == "text":
            decode_text(head)  # refuses empty and binary files before streaming the rest
            with p.open("rb") as fh:
                chunks = iter_text_file(iter(lambda: fh.read(1 << 20), b""))
                return self.register_text(chunks, owner=owner, terms=terms, title=title or p.name, source=str(p))
        data, truncated = read_capped(p, max_bytes=self.settings.media_max_bytes * 8)
        if truncated:
            raise InvalidInput(f"{p} is larger than {self.settings.media_max_bytes * 8} bytes", path=str(p))
        return self.register_bytes(data, owner=owner, terms=terms, title=title or p.name, source=str(p))

    def register_paths(self, paths: Sequence[str | Path], *, owner: str, terms: Terms, as_text: bool = False,
                       progress: Callable[[int, int], None] | None = None) -> Iterator[Registered]:  # fmt: skip
        """Register files and folders (recursively). Resumable: works already registered are skipped by digest,
        and a bad file becomes a result with an error instead of stopping the run."""
        files = list(_walk(paths))
        try:
            for done, file in enumerate(files, 1):
                try:
                    yield self.register_file(file, owner=owner, terms=terms, as_text=as_text)
                except (InvalidInput, AlreadyRegistered) as exc:
                    yield Registered(str(file), None, False, error=str(exc))
                if progress is not None:
                    progress(done, len(files))
        finally:
            self.index.save()

    def _backfill(self, work: Work, data: bytes, source: str) -> Registered:
        """An image registered again: add the crop-window hashes if an older version registered it without."""
        if next(self.store.iter_fingerprints(["window-pdq"], work_ids=[work.id]), None) is not None:
            return Registered(source, work, False, ("already registered",))
        img, _ = load_image(data, max_pixels=self.settings.max_pixels)
        self.store.add_fingerprints(work.id, window_fingerprints(img))
        self.index.sync()
        return Registered(source, work, False, ("already registered", "crop-window hashes added"))

    def _insert(self, item: NewWork, notes: tuple[str, ...]) -> Registered:
        try:
            (work,) = self.store.add_works([item])
        except AlreadyRegistered:
            found = self.store.find_by_digest(item.digest, owner=item.owner)
            if not found:
                raise
            return Registered(item.source or item.digest, found[0], False, ("already registered",))
        self.index.sync()
        return Registered(item.source or item.digest, work, True, notes)

    # -- management ---------------------------------------------------------------------------------------

    def get(self, work_id: int, *, fingerprints: bool = False) -> Work:
        return self.store.get_work(work_id, fingerprints=fingerprints)

    def works(self, *, owner: str | None = None, limit: int = 100, offset: int = 0) -> list[Work]:
        return self.store.list_works(owner=owner, limit=limit, offset=offset)

    def set_terms(self, work_id: int, terms: Terms) -> Work:
        return self.store.set_terms(work_id, terms)

    def remove(self, work_id: int) -> None:
        """Remove a work and drop it from the index (saved at once, so other processes see it gone)."""
        self.store.remove_work(work_id)
        self.index.sync()
        self.index.save()

    def reindex(self) -> dict[str, object]:
        self.index.rebuild()
        return self.index.stats()

    def stats(self) -> dict[str, object]:
        s = self.store.stats()
        return {"works": s.works, "texts": s.texts, "fingerprints": s.fingerprints, "backend": s.backend,
                "last_change": s.last_change, "index": self.index.stats()}  # fmt: skip

    # -- matching -----------------------------------------------------------------------------------------

    def match(self, data: bytes, *, media_type: str | None = None, top_k: int = 10,
              min_band: MatchBand = MatchBand.SIMILAR) -> MatchReport:  # fmt: skip
        """Match image or text bytes; results are sorted by band, then distance or score."""
        self.index.sync()
        kind = _kind(data, media_type)
        if kind == "text":
            notes: tuple[str, ...] = ()
            if len(data) > MAX_QUERY_TEXT:
                data, notes = data[:MAX_QUERY_TEXT], (f"only the first {MAX_QUERY_TEXT} bytes were matched",)
            return self._finish(self._text_candidates(decode_text(data)), top_k, min_band, notes, "text/plain")
        img, notes = load_image(data, max_pixels=self.settings.max_pixels)
        fps = fingerprint_pil(img, windows=QUERY_WINDOWS, query=True, notes=notes)
        embedding = self.embedder.fingerprint(img) if self.embedder is not None else None
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        cands = match_image(fps, index=self.index, digest=digest, thresholds=self.thresholds, embedding=embedding,
                            image=img)  # fmt: skip
        notes = fps.notes
        if fps.low_quality:
            notes = (*notes, "its PDQ hash was not matched; exact copies and (unless the image is flat) the pHash "
                     "second opinion still were")  # fmt: skip
        return self._finish(cands, top_k, min_band, notes, kind, fps)

    def match_text(self, text: str, *, top_k: int = 10, min_band: MatchBand = MatchBand.SIMILAR) -> MatchReport:
        self.index.sync()
        return self._finish(self._text_candidates(text), top_k, min_band, (), "text/plain")

    def _text_candidates(self, text: str) -> dict[int, Candidate]:
        if self._tokens is None:
            self._tokens = TokenCache(self.store.text_of)
        digest = "sha256:" + hashlib.sha256(normalise_text(text).encode("utf-8")).hexdigest()
        return match_text(text, index=self.index, digest=digest, thresholds=self.thresholds, tokens_of=self._tokens)

    def _finish(self, cands: dict[int, Candidate], top_k: int, min_band: MatchBand, notes: tuple[str, ...],
                media_type: str, fps: ImageFingerprints | None = None) -> MatchReport:  # fmt: skip
        if fps is not None:
            zero = [c.work_id for c in cands.values() if c.distance == 0 and c.band is MatchBand.NEAR_DUPLICATE]
            exact_pixels(cands, fps, {w: self.store.get_work(w, fingerprints=True) for w in zero})
        kept = sorted((c for c in cands.values() if BAND_ORDER[c.band] <= BAND_ORDER[min_band]), key=_rank)[:top_k]
        works = self.store.get_works([c.work_id for c in kept])
        kept = [c for c in kept if c.work_id in works]  # removed since the index last caught up
        matches = tuple(Match(replace(works[c.work_id], fingerprints=()), c.band, c.kind, c.distance, c.score,
                              c.evidence) for c in kept)  # fmt: skip
        return MatchReport(matches, notes, media_type)


def _rank(c: Candidate) -> tuple[int, float]:
    return BAND_ORDER[c.band], float(c.distance) if c.distance is not None else -(c.score or 0.0)


def _kind(data: bytes, hint: str | None) -> str:
    """``text`` or the image media type; anything else is ``InvalidInput``."""
    sniffed = sniff(data[:4096])
    if sniffed is not None and sniffed.startswith("image/") and sniffed != "image/svg+xml":
        return sniffed
    textual = hint is not None and hint.startswith("text/") and hint != "text/html"
    if sniffed is None and (textual or b"\x00" not in data[:4096]):
        return "text"
    if sniffed is None:
        fmt = _pillow_format(data)
        if fmt is not None:
            return f"image/{fmt.lower()}"
        if hint is not None and hint.startswith("image/"):
            return hint  # the decoder will say what is wrong with it
    raise InvalidInput(f"cannot fingerprint {sniffed or hint or 'this content'}: images and plain text only")


def _pillow_format(data: bytes) -> str | None:
    """Formats the magic-number sniffer does not know (BMP, ICO, PPM…) that Pillow can still identify."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            return img.format
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        return None


def _walk(paths: Sequence[str | Path]) -> Iterator[Path]:
    for raw in paths:
        if not Path(raw).exists():
            raise InvalidInput(f"{raw}: no such file or folder", path=str(raw))
        yield from iter_files([raw])


def _slug(url: str) -> str:
    return hashlib.sha256(url.encode()).hexdigest()[:12]
