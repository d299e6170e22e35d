"""Images stored by content: real files made with Pillow, checked through the public functions."""

from __future__ import annotations

import hashlib
import io
import random
import re
import struct
import zlib
from pathlib import Path

import pytest
from PIL import Image

from scheduler.errors import BadInput, CampaignError
from scheduler.media import MediaDir, fit_image, image_from_bytes, load_image
from scheduler.model import StoredImage

BLUESKY_IMAGE = 2_000_000


@pytest.fixture
def media(tmp_path: Path) -> MediaDir:
    return MediaDir(tmp_path / "data" / "media")


def picture(width: int = 120, height: int = 80, mode: str = "RGB") -> Image.Image:
    colour: tuple[int, ...] = (30, 120, 200, 128) if mode == "RGBA" else (30, 120, 200)
    image = Image.new(mode, (width, height), colour)
    for x in range(0, width, 7):  # a little structure, so encoders have something to do
        image.putpixel((x, x % height), (255, 255, 255, 255) if mode == "RGBA" else (255,) * 3)
    return image


def encoded(image: Image.Image, fmt: str, **options: object) -> bytes:
    out = io.BytesIO()
    image.save(out, fmt, **options)
    return out.getvalue()


def noise(width: int, height: int, seed: int = 1) -> Image.Image:
    return Image.frombytes(
        "RGB", (width, height), random.Random(seed).randbytes(width * height * 3)
    )


def write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def gps_exif(orientation: int = 1) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    gps = exif.get_ifd(0x8825)
    gps.update({1: "N", 2: (40.0, 26.0, 46.0), 3: "E", 4: (44.0, 30.0, 0.0)})
    return exif


def stored_pillow(media: MediaDir, image: StoredImage) -> Image.Image:
    return Image.open(io.BytesIO(media.read(image.sha256)))


# -- the store --------------------------------------------------------------------------------


def test_put_stores_bytes_under_their_hash_once(media: MediaDir) -> None:
    data = encoded(picture(), "PNG")
    digest = media.put(data)
    assert digest == hashlib.sha256(data).hexdigest()
    assert media.path(digest).read_bytes() == data
    assert media.put(data) == digest
    assert [p.name for p in media.root.iterdir()] == [digest]  # no temporary file left


def test_a_lost_image_is_named_with_its_hash(media: MediaDir) -> None:
    digest = media.put(b"some bytes")
    media.path(digest).unlink()
    with pytest.raises(CampaignError, match=rf"{digest}.*the data directory lost it"):
        media.read(digest)


def test_a_name_that_is_not_a_hash_never_becomes_a_path(media: MediaDir) -> None:
    with pytest.raises(CampaignError, match="not the SHA-256"):
        media.path("../../etc/passwd")


# -- loading --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "suffix", "mime"),
    [
        ("PNG", "png", "image/png"),
        ("JPEG", "jpg", "image/jpeg"),
        ("WEBP", "webp", "image/webp"),
        ("GIF", "gif", "image/gif"),
    ],
)
def test_each_format_is_stored_as_it_is(
    tmp_path: Path, media: MediaDir, fmt: str, suffix: str, mime: str
) -> None:
    data = encoded(picture(), fmt)
    path = write(tmp_path, f"chart.{suffix}", data)
    image = load_image(path, "A bar chart of arrests by month", media)
    assert image == StoredImage(
        sha256=hashlib.sha256(data).hexdigest(),
        mime=mime,
        width=120,
        height=80,
        size=len(data),
        alt="A bar chart of arrests by month",
    )
    assert media.read(image.sha256) == data


def test_a_moved_original_does_not_matter(tmp_path: Path, media: MediaDir) -> None:
    data = encoded(picture(), "PNG")
    path = write(tmp_path, "flyer.png", data)
    image = load_image(path, "The march flyer", media)
    path.rename(tmp_path / "elsewhere.png")
    assert media.read(image.sha256) == data


def test_no_alt_means_an_empty_description(tmp_path: Path, media: MediaDir) -> None:
    path = write(tmp_path, "a.png", encoded(picture(), "PNG"))
    assert load_image(path, None, media).alt == ""


def test_an_empty_description_asks_for_alt_or_no_alt(tmp_path: Path, media: MediaDir) -> None:
    path = write(tmp_path, "a.png", encoded(picture(), "PNG"))
    with pytest.raises(BadInput, match="give --alt, or --no-alt to publish it without"):
        load_image(path, "   ", media)


def test_a_description_over_1000_characters_is_refused(tmp_path: Path, media: MediaDir) -> None:
    path = write(tmp_path, "a.png", encoded(picture(), "PNG"))
    assert load_image(path, "x" * 1000, media).alt == "x" * 1000
    with pytest.raises(BadInput, match="1,001 characters; X takes at most 1,000"):
        load_image(path, "x" * 1001, media)


def test_the_displayed_size_follows_exif_orientation(tmp_path: Path, media: MediaDir) -> None:
    data = encoded(picture(300, 200), "JPEG", exif=gps_exif(orientation=6))
    image = load_image(write(tmp_path, "turned.jpg", data), "A photo", media)
    assert (image.width, image.height) == (200, 300)
    assert media.read(image.sha256) == data  # the original bytes, EXIF and all


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda p: p, r"missing\.png does not exist"),
        (lambda p: (p.mkdir(), p)[1], r"missing\.png is a directory, not an image"),
    ],
)
def test_a_missing_file_or_a_directory_is_refused(
    tmp_path: Path, media: MediaDir, make: object, message: str
) -> None:
    path = tmp_path / "missing.png"
    assert callable(make)
    make(path)
    with pytest.raises(BadInput, match=message):
        load_image(path, "alt", media)


def test_a_40_mb_file_is_refused_with_its_size(tmp_path: Path, media: MediaDir) -> None:
    path = tmp_path / "huge.png"
    with path.open("wb") as file:
        file.truncate(40_000_000)  # sparse: its size is all that is looked at
    with pytest.raises(BadInput, match=r"huge\.png is 40 MB, over the 20 MB an image may be"):
        load_image(path, "alt", media)


def test_a_text_file_named_png_is_not_an_image(tmp_path: Path, media: MediaDir) -> None:
    path = write(tmp_path, "x.png", b"I am not a picture\n" * 20)
    with pytest.raises(BadInput, match=r"x\.png is not an image \(PNG, JPEG, WebP or GIF\)"):
        load_image(path, "alt", media)


def test_another_image_format_is_named(tmp_path: Path, media: MediaDir) -> None:
    path = write(tmp_path, "scan.bmp", encoded(picture(), "BMP"))
    with pytest.raises(BadInput, match=r"scan\.bmp is a BMP image; only PNG, JPEG, WebP or GIF"):
        load_image(path, "alt", media)


def test_a_truncated_jpeg_is_refused(tmp_path: Path, media: MediaDir) -> None:
    data = encoded(noise(200, 200), "JPEG")
    path = write(tmp_path, "cut.jpg", data[: len(data) // 2])
    with pytest.raises(BadInput, match=r"cut\.jpg is damaged or cut short"):
        load_image(path, "alt", media)
    assert not media.root.exists()  # nothing was stored


def png_declaring(width: int, height: int) -> bytes:
    """A PNG header that claims `width` x `height`: a decompression bomb in 60 bytes."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b""))


@pytest.mark.parametrize("side", [10_000, 50_000])  # past Pillow's warning, past its error
def test_a_decompression_bomb_is_refused(tmp_path: Path, media: MediaDir, side: int) -> None:
    path = write(tmp_path, "bomb.png", png_declaring(side, side))
    with pytest.raises(BadInput, match=r"bomb\.png declares .* pixels"):
        load_image(path, "alt", media)


def test_bytes_from_elsewhere_are_checked_the_same_way(media: MediaDir) -> None:
    with pytest.raises(BadInput, match=r"https://example\.org/a\.png is not an image"):
        image_from_bytes(b"<html>", "https://example.org/a.png", "", media)


# -- fitting --------------------------------------------------------------------------------


def test_an_image_that_fits_is_left_alone(tmp_path: Path, media: MediaDir) -> None:
    image = load_image(write(tmp_path, "a.png", encoded(picture(), "PNG")), "alt", media)
    assert fit_image(image, BLUESKY_IMAGE, media, label="a.png", platform_name="Bluesky") == (
        image,
        None,
    )


def test_a_big_photo_is_re_encoded_under_the_cap(tmp_path: Path, media: MediaDir) -> None:
    data = encoded(noise(1800, 1200), "JPEG", quality=95, exif=gps_exif())
    assert len(data) > BLUESKY_IMAGE
    image = load_image(write(tmp_path, "photo.jpg", data), "The crowd", media)
    fitted, warning = fit_image(
        image, BLUESKY_IMAGE, media, label="photo.jpg", platform_name="Bluesky"
    )
    assert fitted.size <= BLUESKY_IMAGE
    assert (fitted.mime, fitted.alt) == ("image/jpeg", "The crowd")
    stored = media.read(fitted.sha256)
    assert len(stored) == fitted.size and hashlib.sha256(stored).hexdigest() == fitted.sha256
    with stored_pillow(media, fitted) as reread:
        assert reread.size == (fitted.width, fitted.height)
        assert not reread.getexif().get_ifd(0x8825)  # no GPS position in the copy
    assert warning is not None
    assert re.fullmatch(
        rf"photo\.jpg: {image.size / 1e6:.1f} MB is over Bluesky's 2 MB, (resized to|re-encoded at)"
        rf" {fitted.width}x{fitted.height} \({fitted.size / 1e6:.1f} MB\)",
        warning,
    ), warning


def test_a_photo_far_over_the_cap_is_downscaled(tmp_path: Path, media: MediaDir) -> None:
    data = encoded(noise(1800, 1200), "JPEG", quality=95)
    image = load_image(write(tmp_path, "photo.jpg", data), "alt", media)
    fitted, warning = fit_image(image, 400_000, media, label="photo.jpg", platform_name="X")
    assert fitted.size <= 400_000
    assert fitted.width < 1800 and fitted.width / fitted.height == pytest.approx(1.5, rel=0.01)
    assert warning is not None and f"resized to {fitted.width}x{fitted.height}" in warning


def test_a_turned_photo_is_turned_in_its_copy(tmp_path: Path, media: MediaDir) -> None:
    data = encoded(noise(900, 600), "JPEG", quality=95, exif=gps_exif(orientation=6))
    image = load_image(write(tmp_path, "turned.jpg", data), "alt", media)
    fitted, _ = fit_image(image, len(data) // 2, media, label="turned.jpg", platform_name="X")
    assert fitted.height > fitted.width  # shown as the phone showed it, with no EXIF to say so
    with stored_pillow(media, fitted) as reread:
        assert reread.size == (fitted.width, fitted.height)
        assert reread.getexif().get(0x0112) is None


def test_a_transparent_png_stays_png_when_it_fits_smaller(tmp_path: Path, media: MediaDir) -> None:
    logo = Image.new("RGBA", (1200, 1200), (0, 0, 0, 0))
    logo.paste(noise(600, 600).convert("RGBA"), (300, 300))
    data = encoded(logo, "PNG")
    image = load_image(write(tmp_path, "logo.png", data), "Our logo", media)
    fitted, warning = fit_image(
        image, len(data) // 2, media, label="logo.png", platform_name="Bluesky"
    )
    assert fitted.mime == "image/png" and fitted.size <= len(data) // 2
    with stored_pillow(media, fitted) as reread:
        assert reread.mode == "RGBA" and reread.getpixel((0, 0)) == (0, 0, 0, 0)
    assert warning is not None and "resized to" in warning


def test_a_transparent_png_too_big_as_png_becomes_a_jpeg_on_white(
    tmp_path: Path, media: MediaDir
) -> None:
    art = noise(1000, 1000).convert("RGBA")
    art.putalpha(200)
    art.paste((0, 0, 0, 0), (0, 0, 100, 100))
    data = encoded(art, "PNG")
    image = load_image(write(tmp_path, "art.png", data), "alt", media)
    fitted, _ = fit_image(image, 150_000, media, label="art.png", platform_name="Bluesky")
    assert fitted.mime == "image/jpeg" and fitted.size <= 150_000
    with stored_pillow(media, fitted) as reread:
        assert reread.convert("RGB").getpixel((1, 1)) == pytest.approx((255, 255, 255), abs=8)


def test_an_animated_gif_over_the_cap_keeps_its_first_frame(
    tmp_path: Path, media: MediaDir
) -> None:
    frames = [noise(300, 200, seed) for seed in range(3)]
    out = io.BytesIO()
    frames[0].save(out, "GIF", save_all=True, append_images=frames[1:], duration=100)
    image = load_image(write(tmp_path, "anim.gif", out.getvalue()), "alt", media)
    fitted, warning = fit_image(image, 60_000, media, label="anim.gif", platform_name="Bluesky")
    assert fitted.size <= 60_000
    assert warning is not None and warning.endswith("; only its first frame is posted")
    with stored_pillow(media, fitted) as reread:
        assert getattr(reread, "n_frames", 1) == 1


def test_strip_metadata_removes_a_position_from_an_image_that_fits(
    tmp_path: Path, media: MediaDir
) -> None:
    data = encoded(picture(300, 200), "JPEG", exif=gps_exif())
    image = load_image(write(tmp_path, "march.jpg", data), "alt", media)
    same, warning = fit_image(image, BLUESKY_IMAGE, media, label="march.jpg", platform_name="X")
    assert (same, warning) == (image, None)  # not asked: uploaded as it is
    clean, warning = fit_image(
        image, BLUESKY_IMAGE, media, label="march.jpg", platform_name="X", strip_metadata=True
    )
    assert clean.sha256 != image.sha256 and (clean.width, clean.height) == (300, 200)
    assert warning == "march.jpg: its location (EXIF GPS) was removed"
    with stored_pillow(media, clean) as reread:
        assert not reread.getexif().get_ifd(0x8825)


def test_strip_metadata_leaves_an_image_without_a_position(tmp_path: Path, media: MediaDir) -> None:
    image = load_image(write(tmp_path, "a.jpg", encoded(picture(), "JPEG")), "alt", media)
    assert fit_image(
        image, BLUESKY_IMAGE, media, label="a.jpg", platform_name="X", strip_metadata=True
    ) == (image, None)


def test_an_image_that_cannot_shrink_enough_is_refused(tmp_path: Path, media: MediaDir) -> None:
    image = load_image(write(tmp_path, "a.jpg", encoded(noise(300, 200), "JPEG")), "alt", media)
    with pytest.raises(BadInput, match=r"a\.jpg cannot be made smaller than 0 MB for X"):
        fit_image(image, 100, media, label="a.jpg", platform_name="X")
