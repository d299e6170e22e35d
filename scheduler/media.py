"""Images in the data directory, by content: each stored once under its SHA-256.

No database, no network, no clock. Pillow does all the image work; an image is judged by
its bytes, never by its name or a server's content type.

Conventions:
- A file in `media/` is named by the SHA-256 of its bytes and has no extension: the name
  alone finds it, and its type travels in `StoredImage.mime`. Writes go to a temporary file
  in the same folder and are renamed into place, so a reader never sees half an image.
- `load_image` stores the user's file as it is. `fit_image` makes a re-encoded copy (stored
  under its own hash) only when a platform's cap or the user's privacy asks for one; the
  original is uploaded untouched only when it fits, so EXIF the user did not ask us to strip
  goes out with it unless `strip_metadata` is set.
- Sizes are decimal (1 MB = 1,000,000 bytes), as the platforms count them.
"""

from __future__ import annotations

import hashlib
import io
import os
import re
import tempfile
import warnings
from collections.abc import Iterator
from pathlib import Path

from PIL import Image, ImageOps, UnidentifiedImageError

from scheduler.errors import BadInput, CampaignError
from scheduler.model import StoredImage

__all__ = [
    "MAX_ALT_CHARS",
    "MAX_INPUT_BYTES",
    "MAX_PIXELS",
    "MediaDir",
    "fit_image",
    "image_from_bytes",
    "load_image",
]

# X: POST /2/media/metadata takes alt_text.text of at most 1,000 characters (the v2 OpenAPI
# spec, maxLength 1000; the v1.1 media/metadata/create reference: "Must be <= 1000 chars").
# Bluesky: app.bsky.embed.images#image sets no maxLength on `alt` (bluesky-social/atproto,
# lexicons/app/bsky/embed/images.json); its app stops at 2,000 (bluesky-social/social-app,
# src/lib/constants.ts, MAX_ALT_TEXT). One text goes to both, so X's 1,000 is the cap.
MAX_ALT_CHARS = 1_000
MAX_INPUT_BYTES = 20_000_000
# Pillow's own decompression-bomb threshold (about 89 megapixels, a 1 GB RGB frame / 3 / 4):
# anything larger is refused rather than decoded.
MAX_PIXELS = 89_478_485

# Pillow's format name -> (MIME type, the name people know it by).
_FORMATS = {
    "PNG": ("image/png", "PNG"),
    "JPEG": ("image/jpeg", "JPEG"),
    "WEBP": ("image/webp", "WebP"),
    "GIF": ("image/gif", "GIF"),
}
_KINDS = "PNG, JPEG, WebP or GIF"
_SHA256 = re.compile(r"[0-9a-f]{64}")
_ORIENTATION = 0x0112  # EXIF tag; 5..8 turn the picture a quarter
_GPS_IFD = 0x8825
# Re-encoding: JPEG qualities tried at each size; each size step shrinks by at least 10%.
_QUALITIES = (90, 82, 74, 66)
_MIN_SIDE = 64  # below this a picture says nothing: give up instead


class MediaDir:
    """The data directory's `media/` folder: bytes in, a hash out, and back."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def put(self, data: bytes) -> str:
        """Store `data` under its SHA-256 (once: a second put of the same bytes is a no-op)."""
        digest = hashlib.sha256(data).hexdigest()
        target = self.path(digest)
        if target.is_file() and target.stat().st_size == len(data):
            return digest
        self.root.mkdir(parents=True, exist_ok=True)
        fd, temp = tempfile.mkstemp(dir=self.root, prefix=".incoming-")
        try:
            with os.fdopen(fd, "wb") as out:
                out.write(data)
                out.flush()
                os.fsync(out.fileno())
            os.replace(temp, target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise
        return digest

    def path(self, sha256: str) -> Path:
        if not _SHA256.fullmatch(sha256):
            raise CampaignError(f"{sha256!r} is not the SHA-256 of a stored image")
        return self.root / sha256

    def read(self, sha256: str) -> bytes:
        path = self.path(sha256)
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            raise CampaignError(
                f"image {sha256} is missing from {self.root}: the data directory lost it, "
                "so queue the post again with its image"
            ) from None
        if hashlib.sha256(data).hexdigest() != sha256:
            raise CampaignError(
                f"image {sha256} in {self.root} has been changed since it was stored; "
                "queue the post again with its image"
            )
        return data


def load_image(
    path: Path,
    alt: str | None,
    media: MediaDir,
    *,
    max_input_bytes: int = MAX_INPUT_BYTES,
) -> StoredImage:
    """Check the user's image and copy it into `media` as it is.

    `alt=None` means --no-alt: published without a description. Width and height are the
    picture as shown, after its EXIF orientation, though the stored bytes are the original.
    """
    name = str(path)
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise BadInput(f"{name} does not exist") from None
    except OSError as error:
        raise BadInput(f"{name} cannot be read ({error.strerror or error})") from None
    if path.is_dir():
        raise BadInput(f"{name} is a directory, not an image")
    if size > max_input_bytes:
        raise BadInput(f"{name} is {_mb(size)}, over the {_mb(max_input_bytes)} an image may be")
    text = _alt_text(alt, name)
    try:
        with path.open("rb") as file:
            data = file.read(max_input_bytes + 1)
    except OSError as error:
        raise BadInput(f"{name} cannot be read ({error.strerror or error})") from None
    if len(data) > max_input_bytes:  # it grew while we looked
        raise BadInput(f"{name} is over the {_mb(max_input_bytes)} an image may be")
    return image_from_bytes(data, name, text, media)


def image_from_bytes(data: bytes, label: str, alt: str, media: MediaDir) -> StoredImage:
    """Check `data` is a whole PNG, JPEG, WebP or GIF and store it as it is; `label` names
    it in the one-sentence BadInput that refuses it."""
    with _opened(data, label) as image:
        mime = _FORMATS[str(image.format)][0]
        width, height = image.size
        if _exif_orientation(image) in (5, 6, 7, 8):
            width, height = height, width
    return StoredImage(
        sha256=media.put(data),
        mime=mime,
        width=width,
        height=height,
        size=len(data),
        alt=alt,
    )


def fit_image(
    image: StoredImage,
    max_bytes: int,
    media: MediaDir,
    *,
    label: str,
    platform_name: str,
    strip_metadata: bool = False,
) -> tuple[StoredImage, str | None]:
    """`image` itself when it fits in `max_bytes`, else a smaller copy stored under its own
    hash, with a sentence saying what was done (for the user, naming `label`).

    The copy keeps the alt text and drops all metadata (EXIF with its GPS position, XMP,
    text chunks); only the colour profile is kept. With `strip_metadata`, an image that
    fits but carries a GPS position is re-encoded too, at full size.
    """
    data = media.read(image.sha256)
    located = strip_metadata and _has_location(data)
    if image.size <= max_bytes and not located:
        return image, None
    with _opened(data, label) as original:
        animated = getattr(original, "n_frames", 1) > 1
        original.seek(0)
        picture = ImageOps.exif_transpose(original)  # the EXIF that turned it goes
        icc = original.info.get("icc_profile")
        fmt = str(original.format)
    encoded = _fit(picture, fmt, max_bytes, icc, keep_size=image.size <= max_bytes)
    if encoded is None:
        raise BadInput(f"{label} cannot be made smaller than {_mb(max_bytes)} for {platform_name}")
    fitted_bytes, fitted_format, (width, height) = encoded
    fitted = StoredImage(
        sha256=media.put(fitted_bytes),
        mime=_FORMATS[fitted_format][0],
        width=width,
        height=height,
        size=len(fitted_bytes),
        alt=image.alt,
    )
    done = []
    if image.size > max_bytes:
        resized = (width, height) != (image.width, image.height)
        how = "resized to" if resized else "re-encoded at"
        done.append(
            f"{_mb(image.size)} is over {platform_name}'s {_mb(max_bytes)}, "
            f"{how} {width}x{height} ({_mb(fitted.size)})"
        )
    if located:
        done.append("its location (EXIF GPS) was removed")
    if animated:
        done.append("only its first frame is posted")
    return fitted, f"{label}: {'; '.join(done)}"


# -- checking -----------------------------------------------------------------------------------


class _Opened:
    """A Pillow image opened from bytes and closed on exit (a context manager)."""

    def __init__(self, image: Image.Image) -> None:
        self.image = image

    def __enter__(self) -> Image.Image:
        return self.image

    def __exit__(self, *_: object) -> None:
        self.image.close()


def _opened(data: bytes, label: str) -> _Opened:
    """Open `data` as an image Pillow has fully decoded once (so a cut-short or corrupt
    file, a decompression bomb or an unsupported format is refused here, by content)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as probe:
                fmt = probe.format
                if fmt not in _FORMATS:
                    raise BadInput(f"{label} is a {fmt} image; only {_KINDS} images can be posted")
                _check_pixels(probe.size, label)
                probe.verify()
            image = Image.open(io.BytesIO(data))
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise BadInput(
            f"{label} declares more than {MAX_PIXELS:,} pixels, too many to open safely"
        ) from None
    except UnidentifiedImageError:
        raise BadInput(f"{label} is not an image ({_KINDS})") from None
    except (OSError, SyntaxError, ValueError, EOFError, IndexError) as error:
        raise BadInput(f"{label} is damaged or cut short ({error})") from None
    return _Opened(image)


def _check_pixels(size: tuple[int, int], label: str) -> None:
    if size[0] * size[1] > MAX_PIXELS:
        raise BadInput(
            f"{label} declares {size[0]}x{size[1]} pixels, more than the {MAX_PIXELS:,} "
            "that can be opened safely"
        )


def _alt_text(alt: str | None, name: str) -> str:
    if alt is None:
        return ""
    text = alt.strip()
    if not text:
        raise BadInput(
            f"the description of {name} is empty: give --alt, or --no-alt to publish it "
            "without a description"
        )
    if len(text) > MAX_ALT_CHARS:
        raise BadInput(
            f"the description of {name} is {len(text):,} characters; X takes at most "
            f"{MAX_ALT_CHARS:,}"
        )
    return text


def _exif_orientation(image: Image.Image) -> int:
    value = image.getexif().get(_ORIENTATION, 1)
    return value if isinstance(value, int) else 1


def _has_location(data: bytes) -> bool:
    """The image's EXIF carries a GPS block (XMP positions are not looked for)."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            return bool(image.getexif().get_ifd(_GPS_IFD))
    except Exception:  # a store of checked images: unreadable EXIF is no position
        return False


def _mb(size: int) -> str:
    return f"{size / 1_000_000:.1f}".removesuffix(".0") + " MB"


# -- re-encoding --------------------------------------------------------------------------------


def _fit(
    picture: Image.Image,
    fmt: str,
    max_bytes: int,
    icc: bytes | None,
    *,
    keep_size: bool,
) -> tuple[bytes, str, tuple[int, int]] | None:
    """The first encoding that fits: a transparent picture as PNG at shrinking sizes, then
    anything as JPEG (on white) at falling qualities and shrinking sizes. `keep_size`: the
    original fits and is re-encoded only to lose its metadata: same format when it can."""
    transparent = _has_alpha(picture)
    if keep_size and fmt in ("PNG", "WEBP", "JPEG") and not (fmt == "JPEG" and transparent):
        data = _encode(picture, fmt, icc, quality=95)
        if len(data) <= max_bytes:
            return data, fmt, picture.size
    if transparent:
        for frame in _shrinking(picture):  # down to half its width; JPEG does better then
            data = _encode(frame, "PNG", icc)
            if len(data) <= max_bytes:
                return data, "PNG", frame.size
    flat = _on_white(picture)
    side = 1.0
    while True:
        frame = flat if side == 1.0 else _scaled(flat, side)
        if min(frame.size) < _MIN_SIDE:
            return None
        smallest = 0
        for quality in _QUALITIES:
            data = _encode(frame, "JPEG", icc, quality=quality)
            if len(data) <= max_bytes:
                return data, "JPEG", frame.size
            smallest = len(data)
        # Bytes go roughly with the pixel count: aim just under the cap, shrinking by
        # between 10% and 50% a step.
        side *= min(0.9, max(0.5, (max_bytes / smallest) ** 0.5 * 0.95))


def _shrinking(picture: Image.Image) -> Iterator[Image.Image]:
    """`picture` at 100%, 80%, 64% and 51% of its width."""
    side = 1.0
    while side > 0.5 and min(picture.size) * side >= _MIN_SIDE:
        yield picture if side == 1.0 else _scaled(picture, side)
        side *= 0.8


def _scaled(picture: Image.Image, side: float) -> Image.Image:
    width = max(1, round(picture.width * side))
    height = max(1, round(picture.height * side))
    return picture.resize((width, height), Image.Resampling.LANCZOS)


def _has_alpha(picture: Image.Image) -> bool:
    return picture.mode in ("RGBA", "LA", "PA") or (
        picture.mode == "P" and "transparency" in picture.info
    )


def _on_white(picture: Image.Image) -> Image.Image:
    if not _has_alpha(picture):
        return picture.convert("RGB")
    rgba = picture.convert("RGBA")
    white = Image.new("RGB", rgba.size, (255, 255, 255))
    white.paste(rgba, mask=rgba.getchannel("A"))
    return white


def _encode(picture: Image.Image, fmt: str, icc: bytes | None, quality: int = 90) -> bytes:
    """`picture` in `fmt` with nothing of the original's metadata but its colour profile."""
    clean = picture.copy()
    clean.info = {}  # no EXIF, XMP or text chunks ride along
    if fmt == "JPEG" and clean.mode not in ("RGB", "L"):
        clean = _on_white(clean)
    if fmt == "PNG" and clean.mode not in ("RGB", "RGBA", "L", "LA", "P", "1"):
        clean = clean.convert("RGBA")
    out = io.BytesIO()
    options: dict[str, object] = {}
    if icc:
        options["icc_profile"] = icc
    if fmt == "JPEG":
        options.update(quality=quality, optimize=True)
    elif fmt == "WEBP":
        options.update(quality=quality)
    else:
        options.update(optimize=True)
    clean.save(out, fmt, **options)
    return out.getvalue()
