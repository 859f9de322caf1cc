"""``rightful tag``: write an AI reservation into files themselves (XMP: IPTC Data Mining, licence, TDMRep in PDF).

For each file: sniff the format, refuse what cannot be tagged safely (unsupported formats, corrupt or truncated
containers, read-only files, files whose C2PA manifest the change would invalidate), merge our properties into
the file's XMP packet (:mod:`rightful.protect.xmpwrite`), put the packet back into the container
(:mod:`rightful.protect.containers`: image data and every other byte are copied as they were), read the result
back to make sure it says what we meant, and only then replace the file — through a temporary file in the same
folder and an atomic rename, so a crash or a full disk never leaves a half-written file.

A file that already states exactly this reservation is left untouched (``unchanged``): rerunning a batch after
an interruption only does the remaining work. In a batch (:func:`tag_files`) a failing file becomes a result with
its error and the others go on.

C2PA: given a signing identity (the keys of ``rightful keys init``; :func:`rightful.protect.tagc2pa.resolve_identity`
picks it for ``--c2pa auto|always|never``), JPEG, PNG, WebP and TIFF files also get a signed manifest with a
``cawg.training-mining`` assertion (:mod:`rightful.protect.tagc2pa`), signed *after* the XMP is in place so the
signature covers it. A file that already carries a manifest keeps it, as the new manifest's parent ingredient;
without a signing identity such a file is refused, since any change would break its signature.
"""

from __future__ import annotations

import os
import stat
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Final

from rightful.errors import InvalidInput, ProtectionError, RightfulError
from rightful.media import iter_files, read_capped
from rightful.protect import containers
from rightful.protect.tagc2pa import SIGNABLE_TYPES, describe_manifest, manifest_states, sign_tagged
from rightful.protect.terms import Reservation
from rightful.protect.xmpwrite import CC, PLUS, TDM, XMP_RIGHTS, XmpField, merge_packet, rights_fields, states_fields

if TYPE_CHECKING:
    from rightful.provenance.keys import SigningIdentity

__all__ = [
    "MAX_TAG_BYTES",
    "TAGGABLE_SUFFIXES",
    "TagProgress",
    "TagResult",
    "TagStatus",
    "iter_taggable",
    "tag_file",
    "tag_files",
]

#: Largest file tagged (the whole file is held in memory while its new version is built and checked).
MAX_TAG_BYTES: Final = 1024 * 1024 * 1024
#: Files picked up when a folder is given (explicitly named files are sniffed whatever their name).
TAGGABLE_SUFFIXES: Final = frozenset({".jpg", ".jpeg", ".jpe", ".png", ".webp", ".tif", ".tiff", ".pdf"})
_PREFIX: Final = {PLUS: "plus", XMP_RIGHTS: "xmpRights", CC: "cc", TDM: "tdm"}


class TagStatus(StrEnum):
    TAGGED = "tagged"
    UNCHANGED = "unchanged"  # the file already states exactly this reservation
    WOULD_TAG = "would-tag"  # --dry-run
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class TagResult:
    """What happened to one file: ``fields`` are the properties written (or that would be)."""

    path: Path
    status: TagStatus
    media_type: str | None = None
    fields: tuple[str, ...] = ()
    error: str | None = None
    size_before: int | None = None
    size_after: int | None = None
    c2pa: bool = False  # the file carries (or, in a dry run, would carry) our signed manifest

    def to_dict(self) -> dict[str, object]:
        return {"path": str(self.path), "status": str(self.status), "media_type": self.media_type,
                "fields": list(self.fields), "error": self.error, "size_before": self.size_before,
                "size_after": self.size_after, "c2pa": self.c2pa}  # fmt: skip


@dataclass(frozen=True, slots=True)
class TagProgress:
    done: int
    total: int
    failed: int
    current: Path | None = None


def _describe(fields: Iterable[XmpField]) -> tuple[str, ...]:
    """``plus:DataMining=http://…`` lines for reports."""
    out = []
    for f in fields:
        value = "; ".join(f"{name}={text}" for _, name, text in f.value) if isinstance(f.value, tuple) else f.value
        out.append(f"{_PREFIX.get(f.namespace, f.namespace)}:{f.name}={value}")
    return tuple(out)


def tag_file(
    path: str | Path, reservation: Reservation, *, dry_run: bool = False, identity: SigningIdentity | None = None
) -> TagResult:
    """Tag one file in place (XMP, and a signed C2PA manifest when ``identity`` is given and the format allows).

    Raises InvalidInput (bad input) or ProtectionError (cannot write safely).
    """
    given = Path(path)
    target = given.resolve()  # a symlink: tag the file it points to, keep the link
    if not target.is_file():
        raise InvalidInput(f"{given}: no such file" if not target.exists() else f"{given} is not a regular file")
    data, truncated = read_capped(target, max_bytes=MAX_TAG_BYTES)
    if truncated:
        raise InvalidInput(f"{given} is larger than {MAX_TAG_BYTES >> 20} MiB; not tagged", path=str(given))
    media_type = containers.media_kind(data)
    fields = rights_fields(reservation, pdf=media_type == "application/pdf")
    sign = identity is not None and media_type in SIGNABLE_TYPES
    shown = _describe(fields) + ((describe_manifest(reservation),) if sign else ())
    existing = containers.read_xmp(media_type, data)
    xmp_done = states_fields(existing, fields)
    if xmp_done and (not sign or manifest_states(data, media_type, reservation)):
        return TagResult(given, TagStatus.UNCHANGED, media_type, shown, size_before=len(data), size_after=len(data),
                         c2pa=sign)  # fmt: skip
    if containers.has_c2pa(data) and not sign:
        raise ProtectionError(f"{given} carries a C2PA manifest: adding metadata changes the bytes its signature "
                              "covers and would invalidate it. Tag the original before it is signed, or sign the "
                              "tag too (keys from 'rightful keys init'; the manifest is then kept as the parent "
                              "ingredient).", path=str(given))  # fmt: skip
    updated = data if xmp_done else _build(media_type, data, existing, fields, name=str(given))
    if dry_run:
        return TagResult(given, TagStatus.WOULD_TAG, media_type, shown, size_before=len(data), size_after=len(updated),
                         c2pa=sign)  # fmt: skip
    _check_writable(target, shown=given)
    if sign:
        assert identity is not None
        updated = sign_tagged(data, updated, reservation, identity=identity, name=str(given), media_type=media_type)
        if not states_fields(containers.read_xmp(media_type, updated), fields):
            raise ProtectionError(f"{given}: the XMP did not survive C2PA signing; file left unchanged")
    _replace(target, updated, shown=given)
    return TagResult(given, TagStatus.TAGGED, media_type, shown, size_before=len(data), size_after=len(updated),
                     c2pa=sign)  # fmt: skip


def _build(media_type: str, data: bytes, existing: bytes | None, fields: tuple[XmpField, ...], *, name: str) -> bytes:
    """The new file bytes, read back and checked before anyone writes them."""
    packet = merge_packet(existing, fields)
    try:
        updated = containers.write_xmp(media_type, data, packet)
    except ProtectionError:
        if media_type != "image/jpeg":
            raise
        updated = containers.write_xmp(media_type, data, merge_packet(existing, fields, padding=0))  # 64 KiB cap
    if not states_fields(containers.read_xmp(media_type, updated), fields):
        raise ProtectionError(f"{name}: the written metadata did not read back as intended; file left unchanged")
    return updated


def _check_writable(target: Path, *, shown: Path) -> None:
    """A file without write permission is the owner's way of saying "do not change": honour it, even as root."""
    mode = target.stat().st_mode
    if not mode & stat.S_IWUSR or not os.access(target, os.W_OK):
        raise ProtectionError(f"{shown} is read-only: not changed (make it writable to tag it)", path=str(shown))


def _replace(target: Path, data: bytes, *, shown: Path) -> None:
    """Write ``data`` to a temporary file next to ``target``, flush it to disk, then rename it over ``target``."""
    info = target.stat()
    try:
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".rightful-tmp")
    except OSError as exc:
        raise ProtectionError(f"cannot write next to {shown}: {exc.strerror or exc}", path=str(shown)) from exc
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, stat.S_IMODE(info.st_mode))
        os.replace(tmp, target)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise ProtectionError(f"cannot write {shown}: {exc.strerror or exc}; original left as it was",
                              path=str(shown)) from exc  # fmt: skip
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def iter_taggable(paths: Iterable[str | Path]) -> Iterator[Path]:
    """Files named, and in folders (recursively, sorted, hidden entries skipped) files with a taggable suffix."""
    return iter_files(paths, accept=lambda name: Path(name).suffix.lower() in TAGGABLE_SUFFIXES)


def tag_files(
    paths: Iterable[str | Path],
    reservation: Reservation,
    *,
    dry_run: bool = False,
    identity: SigningIdentity | None = None,
    progress: Callable[[TagProgress], None] | None = None,
) -> Iterator[TagResult]:
    """Tag many files and folders; each file's failure is a ``failed`` result, the batch goes on."""
    files = list(iter_taggable(paths))
    failed = 0
    for done, path in enumerate(files):
        if progress is not None:
            progress(TagProgress(done=done, total=len(files), failed=failed, current=path))
        try:
            result = tag_file(path, reservation, dry_run=dry_run, identity=identity)
        except RightfulError as exc:
            failed += 1
            result = TagResult(path, TagStatus.FAILED, error=str(exc))
        yield result
    if progress is not None:
        progress(TagProgress(done=len(files), total=len(files), failed=failed))
