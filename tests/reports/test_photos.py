"""Report photos: what is refused, and that what is kept is a small JPEG without metadata."""

from __future__ import annotations

import io
import struct
import zlib

import pytest
from PIL import ExifTags, Image, ImageCms, TiffImagePlugin

from ovoz.reports.photos import PhotoError, ProcessedPhoto, process_photo, thumbnail

MB = 1024 * 1024
LIMIT = 10 * MB
GPS = ExifTags.GPS
Rational = TiffImagePlugin.IFDRational


def encode(image: Image.Image, format: str, **params: object) -> bytes:
    out = io.BytesIO()
    image.save(out, format, **params)
    return out.getvalue()


def gps_exif(
    latitude: tuple[int, int, float], lat_ref: str, longitude: tuple[int, int, float], lon_ref: str
) -> Image.Exif:
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "CheapPhone"
    gps = exif.get_ifd(ExifTags.IFD.GPSInfo)
    gps[GPS.GPSLatitudeRef] = lat_ref
    gps[GPS.GPSLatitude] = tuple(Rational(part) for part in latitude)
    gps[GPS.GPSLongitudeRef] = lon_ref
    gps[GPS.GPSLongitude] = tuple(Rational(part) for part in longitude)
    return exif


# Tashkent: 41°18'36" N = 41.31, 69°16'48" E = 69.28.
TASHKENT = ((41, 18, 36.0), "N", (69, 16, 48.0), "E")


def png_header(width: int, height: int) -> bytes:
    """A PNG that claims the given size: only the header and a token of compressed data."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64))


def decoded(photo: ProcessedPhoto | bytes) -> Image.Image:
    data = photo.data if isinstance(photo, ProcessedPhoto) else photo
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


def assert_clean_jpeg(data: bytes) -> None:
    image = decoded(data)
    assert image.format == "JPEG"
    assert image.mode == "RGB"
    assert not image.getexif()
    assert "icc_profile" not in image.info and "comment" not in image.info
    assert b"Exif" not in data and b"ICC_PROFILE" not in data and b"CheapPhone" not in data


def test_phone_jpeg_is_oriented_resized_stripped_and_its_position_kept() -> None:
    exif = gps_exif(*TASHKENT)
    exif[ExifTags.Base.Orientation] = 6  # the camera was held upright: rotate 90° clockwise
    # Left half red, right half blue, so the rotation can be seen in the pixels.
    image = Image.new("RGB", (4000, 2000), "red")
    image.paste("blue", (2000, 0, 4000, 2000))
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    upload = encode(image, "JPEG", exif=exif, icc_profile=icc, comment=b"CheapPhone secret")

    photo = process_photo(upload, LIMIT)

    assert photo.media_type == "image/jpeg"
    assert (photo.width, photo.height) == (800, 1600)
    assert photo.gps == pytest.approx((41.31, 69.28))
    assert_clean_jpeg(photo.data)
    out = decoded(photo)
    assert out.size == (800, 1600)
    assert out.info.get("progressive") or out.info.get("progression")
    # Rotated clockwise, the former left (red) half is now on top.
    red, _, blue = out.getpixel((400, 100))
    assert red > 200 and blue < 50
    red, _, blue = out.getpixel((400, 1500))
    assert blue > 200 and red < 50


def test_orientation_6_turns_a_landscape_into_a_portrait() -> None:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = 6
    upload = encode(Image.new("RGB", (200, 100), "green"), "JPEG", exif=exif)

    photo = process_photo(upload, LIMIT)

    assert (photo.width, photo.height) == (100, 200)
    assert decoded(photo).size == (100, 200)
    assert photo.gps is None


@pytest.mark.parametrize(
    ("position", "expected"),
    [
        (((41, 18, 36.0), "S", (69, 16, 48.0), "W"), (-41.31, -69.28)),
        (((33, 52, 4.8), "S", (151, 12, 36.0), "E"), (-33.868, 151.21)),
        (((40, 42, 46.08), "N", (74, 0, 21.6), "W"), (40.7128, -74.006)),
    ],
)
def test_gps_hemispheres_give_the_sign(
    position: tuple[tuple[int, int, float], str, tuple[int, int, float], str],
    expected: tuple[float, float],
) -> None:
    upload = encode(Image.new("RGB", (64, 48)), "JPEG", exif=gps_exif(*position))

    assert process_photo(upload, LIMIT).gps == pytest.approx(expected)


def test_unusable_gps_costs_the_position_not_the_photo() -> None:
    exif = gps_exif(*TASHKENT)
    exif.get_ifd(ExifTags.IFD.GPSInfo)[GPS.GPSLatitudeRef] = "X"
    upload = encode(Image.new("RGB", (64, 48)), "JPEG", exif=exif)

    photo = process_photo(upload, LIMIT)

    assert photo.gps is None
    assert_clean_jpeg(photo.data)


def test_transparent_png_is_flattened_onto_white() -> None:
    image = Image.new("RGBA", (300, 200), (0, 0, 0, 0))
    image.paste((200, 0, 0, 255), (0, 0, 150, 200))
    upload = encode(image, "PNG")

    photo = process_photo(upload, LIMIT)

    assert (photo.width, photo.height) == (300, 200)  # small images are never enlarged
    assert_clean_jpeg(photo.data)
    out = decoded(photo)
    assert all(channel > 245 for channel in out.getpixel((250, 100)))
    red, green, _ = out.getpixel((50, 100))
    assert red > 180 and green < 30


def test_palette_png_with_transparent_index_is_flattened_onto_white() -> None:
    image = Image.new("P", (40, 40), 0)
    image.putpalette([0, 0, 0, 0, 0, 255])
    image.paste(1, (0, 0, 20, 40))
    upload = encode(image, "PNG", transparency=0)

    out = decoded(process_photo(upload, LIMIT))

    assert all(channel > 245 for channel in out.getpixel((30, 20)))
    assert out.getpixel((10, 20))[2] > 200


def test_webp_is_accepted_and_resized_keeping_the_aspect_ratio() -> None:
    upload = encode(Image.new("RGB", (3000, 1000), "orange"), "WEBP", quality=50)

    photo = process_photo(upload, LIMIT, max_side=1200)

    assert (photo.width, photo.height) == (1200, 400)
    assert decoded(photo).size == (1200, 400)
    assert_clean_jpeg(photo.data)


def test_gif_is_not_an_image() -> None:
    # process_photo takes no file name at all: "photo.jpg" or not, only the content decides.
    upload = encode(Image.new("RGB", (64, 64), "red"), "GIF")

    with pytest.raises(PhotoError) as refused:
        process_photo(upload, LIMIT)

    assert refused.value.code == "not_an_image"


@pytest.mark.parametrize(
    "upload", [b"", b"Not a photo at all, just text pretending to be photo.jpg\n" * 10]
)
def test_text_is_not_an_image(upload: bytes) -> None:
    with pytest.raises(PhotoError) as refused:
        process_photo(upload, LIMIT)

    assert refused.value.code == "not_an_image"
    assert isinstance(refused.value, ValueError)


def test_oversize_upload_is_refused_before_decoding() -> None:
    # Not an image at all: had it been decoded, the code would be not_an_image.
    with pytest.raises(PhotoError) as refused:
        process_photo(b"\xff" * (LIMIT + 1), LIMIT)

    assert refused.value.code == "too_large"


def test_upload_exactly_at_the_limit_is_accepted() -> None:
    upload = encode(Image.new("RGB", (64, 48)), "PNG")

    assert process_photo(upload, len(upload)).width == 64


@pytest.mark.parametrize(
    "size",
    [
        (20000, 20000),  # beyond twice Pillow's own limit: its DecompressionBombError
        (10000, 10000),  # beyond Pillow's own limit: its DecompressionBombWarning
        (8000, 8000),  # beyond ours only
    ],
)
def test_decompression_bomb_is_refused_without_decoding(size: tuple[int, int]) -> None:
    with pytest.raises(PhotoError) as refused:
        process_photo(png_header(*size), LIMIT)

    assert refused.value.code == "too_many_pixels"


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_decompression_bomb_is_refused_where_pillow_only_warns() -> None:
    with pytest.raises(PhotoError) as refused:
        process_photo(png_header(10000, 10000), LIMIT)

    assert refused.value.code == "too_many_pixels"


def test_truncated_jpeg_is_damaged() -> None:
    upload = encode(Image.effect_noise((800, 600), 64).convert("RGB"), "JPEG")

    with pytest.raises(PhotoError) as refused:
        process_photo(upload[: len(upload) // 2], LIMIT)

    assert refused.value.code == "damaged"


def test_png_with_corrupt_data_is_damaged() -> None:
    upload = bytearray(encode(Image.effect_noise((200, 200), 64).convert("RGB"), "PNG"))
    upload[len(upload) // 2] ^= 0xFF  # the chunk checksum no longer matches

    with pytest.raises(PhotoError) as refused:
        process_photo(bytes(upload), LIMIT)

    assert refused.value.code == "damaged"


def test_thumbnail_is_a_small_jpeg_keeping_the_aspect_ratio() -> None:
    photo = process_photo(encode(Image.new("RGB", (2000, 1500), "teal"), "JPEG"), LIMIT)

    small = thumbnail(photo)

    assert_clean_jpeg(small)
    assert decoded(small).size == (320, 240)
    assert decoded(thumbnail(photo, side=100)).size == (100, 75)
