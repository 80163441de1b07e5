"""Avatar upload: judged by its bytes, re-encoded as a 400x400 JPEG without
metadata, served under /media/avatars/."""

from __future__ import annotations

import functools
import io
import struct
import zlib
from pathlib import Path
from urllib.parse import urlparse

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from accounts import services
from accounts.models import User
from conftest import assert_envelope, bearer_for

AVATAR = "/api/v1/users/profile/avatar"
GPS_IFD = 0x8825


@pytest.fixture
def media(settings, tmp_path) -> Path:
    root = tmp_path / "media"
    settings.MEDIA_ROOT = str(root)
    return root


def image_bytes(fmt: str, *, size=(640, 480), mode="RGB", color=(200, 30, 30), **save) -> bytes:
    buf = io.BytesIO()
    Image.new(mode, size, color).save(buf, format=fmt, **save)
    return buf.getvalue()


def upload(client, data: bytes, name="avatar.jpg", content_type="image/jpeg", field="avatar"):
    return client.post(
        AVATAR, {field: SimpleUploadedFile(name, data, content_type=content_type)}, format="multipart"
    )


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


@functools.cache
def png_bomb(width=20000, height=20000) -> bytes:
    """A valid 1-bit PNG of width x height (400 megapixels) that is only ~50 KB
    on the wire: all-zero scanlines compress ~1000:1."""
    row = b"\x00" * (1 + (width + 7) // 8)  # filter byte + packed bits
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)  # bit depth 1, greyscale
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", idat)
        + _png_chunk(b"IEND", b"")
    )


def stored_file(media: Path, url: str) -> Path:
    path = urlparse(url).path
    assert path.startswith("/media/avatars/"), url
    return media / path.removeprefix("/media/")


def fetch(client, url: str):
    response = client.get(urlparse(url).path)
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return response, content


@pytest.mark.parametrize(
    ("fmt", "mode", "color", "name", "content_type"),
    [
        ("JPEG", "RGB", (200, 30, 30), "a.jpg", "image/jpeg"),
        ("PNG", "RGBA", (0, 0, 255, 255), "a.png", "image/png"),
        ("PNG", "P", 3, "p.png", "image/png"),
        ("GIF", "P", 5, "a.gif", "image/gif"),
        ("WEBP", "RGB", (20, 200, 20), "a.webp", "image/webp"),
    ],
)
def test_upload_accepts_common_formats(auth_api, user, media, fmt, mode, color, name, content_type):
    data = image_bytes(fmt, mode=mode, color=color)
    response = upload(auth_api, data, name=name, content_type=content_type)
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"avatar_url", "uploaded_at"}
    url = body["avatar_url"]
    assert url.startswith("http://testserver/media/avatars/") and url.endswith(".jpg")
    user.refresh_from_db()
    assert user.avatar_url == url

    path = stored_file(media, url)
    assert path.is_file()
    with Image.open(path) as stored:
        assert stored.format == "JPEG"
        assert stored.size == (400, 400)
        assert stored.mode == "RGB"

    served, content = fetch(auth_api, url)
    assert served.status_code == 200
    assert content == path.read_bytes()
    assert content[:3] == b"\xff\xd8\xff"
    assert served["Content-Type"] == "image/jpeg"


def test_served_avatar_is_public(api, auth_api, media):
    url = upload(auth_api, image_bytes("PNG")).json()["avatar_url"]
    served, content = fetch(api, url)
    assert served.status_code == 200
    with Image.open(io.BytesIO(content)) as image:
        assert image.size == (400, 400)


def test_non_square_image_is_cropped_to_square(auth_api, media):
    url = upload(auth_api, image_bytes("JPEG", size=(1200, 300))).json()["avatar_url"]
    with Image.open(stored_file(media, url)) as stored:
        assert stored.size == (400, 400)


def test_transparent_png_gets_white_background(auth_api, media):
    data = image_bytes("PNG", mode="RGBA", color=(0, 0, 0, 0))
    url = upload(auth_api, data, name="t.png", content_type="image/png").json()["avatar_url"]
    with Image.open(stored_file(media, url)) as stored:
        r, g, b = stored.getpixel((200, 200))
        assert min(r, g, b) > 240


def test_gps_exif_is_stripped(auth_api, media):
    exif = Image.Exif()
    exif[0x010F] = "SpyCam"  # Make
    exif[GPS_IFD] = {1: "N", 2: (48.0, 51.0, 30.0), 3: "E", 4: (2.0, 17.0, 40.0)}
    data = image_bytes("JPEG", exif=exif)
    with Image.open(io.BytesIO(data)) as original:  # the upload really carries GPS
        assert original.getexif().get_ifd(GPS_IFD)
    url = upload(auth_api, data).json()["avatar_url"]
    stored = stored_file(media, url).read_bytes()
    with Image.open(io.BytesIO(stored)) as image:
        assert "exif" not in image.info
        assert len(image.getexif()) == 0
        assert not image.getexif().get_ifd(GPS_IFD)
    assert b"SpyCam" not in stored


def test_text_file_named_jpg_refused(auth_api, user, media):
    body = assert_envelope(upload(auth_api, b"just some text, not an image\n" * 10), 400, "VALIDATION_ERROR")
    assert "avatar" in body["details"]
    user.refresh_from_db()
    assert user.avatar_url == ""
    assert not (media / "avatars").exists() or not any((media / "avatars").iterdir())


@pytest.mark.parametrize(("fmt", "name"), [("BMP", "a.bmp"), ("TIFF", "a.tiff"), ("BMP", "disguised.jpg")])
def test_disallowed_formats_refused(auth_api, user, media, fmt, name):
    body = assert_envelope(upload(auth_api, image_bytes(fmt), name=name), 400, "VALIDATION_ERROR")
    assert body["details"]["avatar"] == ["Avatar must be a JPG, PNG, GIF or WEBP image."]
    user.refresh_from_db()
    assert user.avatar_url == ""


def test_truncated_image_refused(auth_api, media):
    data = image_bytes("PNG", size=(300, 300), mode="RGB")
    assert_envelope(upload(auth_api, data[: len(data) // 2], name="a.png"), 400, "VALIDATION_ERROR")


def test_decompression_bomb_refused(auth_api, user, media):
    bomb = png_bomb()
    assert len(bomb) < 200_000  # tiny on the wire ...
    with _open_unchecked(bomb) as probe:
        assert probe.size == (20000, 20000)  # ... but 400 megapixels
    body = assert_envelope(upload(auth_api, bomb, name="bomb.png", content_type="image/png"), 400)
    assert "avatar" in body["details"]
    user.refresh_from_db()
    assert user.avatar_url == ""


def _open_unchecked(data: bytes):
    """Open (headers only) without Pillow's bomb check, to prove the fixture's size."""
    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        return Image.open(io.BytesIO(data))
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def test_image_over_pixel_budget_refused(auth_api, settings, media):
    settings.AVATAR_MAX_PIXELS = 100 * 100
    body = assert_envelope(upload(auth_api, image_bytes("PNG", size=(101, 100)), name="a.png"), 400)
    assert body["details"]["avatar"] == ["Avatar image dimensions are too large."]
    assert upload(auth_api, image_bytes("PNG", size=(100, 100)), name="b.png").status_code == 200


def test_file_over_5_mb_refused_with_413(auth_api, user, media, settings):
    assert settings.AVATAR_MAX_BYTES == 5 * 1024 * 1024
    body = assert_envelope(
        upload(auth_api, b"\xff" * (settings.AVATAR_MAX_BYTES + 1)), 413, "PAYLOAD_TOO_LARGE"
    )
    assert "5 MB" in body["message"]
    user.refresh_from_db()
    assert user.avatar_url == ""


def test_declared_content_length_over_limit_refused_before_view(auth_api, media, monkeypatch):
    def boom(**kwargs):
        raise AssertionError("the view must not run")

    monkeypatch.setattr(services, "avatar_upload", boom)
    response = auth_api.post(
        AVATAR,
        data=b"--x--\r\n",
        content_type="multipart/form-data; boundary=x",
        CONTENT_LENGTH=str(6 * 1024 * 1024),
    )
    body = assert_envelope(response, 413, "PAYLOAD_TOO_LARGE")
    assert body["message"].startswith("Request body exceeds")


def test_real_body_over_limit_refused_by_middleware(auth_api, media, monkeypatch):
    monkeypatch.setattr(services, "avatar_upload", lambda **kw: pytest.fail("view reached"))
    response = upload(auth_api, b"\x00" * (6 * 1024 * 1024))
    body = assert_envelope(response, 413, "PAYLOAD_TOO_LARGE")
    assert body["message"].startswith("Request body exceeds")


def test_missing_field(auth_api, media):
    body = assert_envelope(upload(auth_api, image_bytes("PNG"), field="picture"), 400, "VALIDATION_ERROR")
    assert body["details"] == {"avatar": ["This field is required."]}


def test_json_body_refused(auth_api, media):
    response = auth_api.post(AVATAR, {"avatar": "https://example.com/a.jpg"}, format="json")
    assert_envelope(response, 415, "UNSUPPORTED_MEDIA_TYPE")


@pytest.mark.django_db
def test_anonymous_refused(api, media):
    assert_envelope(upload(api, image_bytes("JPEG")), 401, "NOT_AUTHENTICATED")
    assert not (media / "avatars").exists()


def test_reupload_deletes_previous_file(auth_api, user, media, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = upload(auth_api, image_bytes("JPEG")).json()["avatar_url"]
    first_path = stored_file(media, first)
    assert first_path.is_file()
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        second = upload(auth_api, image_bytes("PNG", color=(1, 2, 3)), name="b.png").json()["avatar_url"]
    assert len(callbacks) == 1
    assert second != first
    assert stored_file(media, second).is_file()
    assert not first_path.exists()
    assert sorted(p.name for p in (media / "avatars").iterdir()) == [stored_file(media, second).name]
    assert fetch(auth_api, first)[0].status_code == 404


def test_reupload_leaves_external_avatar_url_alone(auth_api, user, media, django_capture_on_commit_callbacks):
    User.objects.filter(id=user.id).update(avatar_url="https://example.com/avatars/x.jpg")
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        assert upload(auth_api, image_bytes("JPEG")).status_code == 200
    assert callbacks == []


def test_users_avatars_do_not_collide(api, make_user, media):
    urls = set()
    for _ in range(2):
        api.credentials(HTTP_AUTHORIZATION=bearer_for(make_user()))
        urls.add(upload(api, image_bytes("JPEG")).json()["avatar_url"])
    assert len(urls) == 2


@pytest.mark.django_db
def test_media_route_serves_only_avatar_jpegs(api, media):
    (media / "avatars").mkdir(parents=True)
    (media / "secret.txt").write_text("nope")
    (media / "avatars" / "x.png").write_bytes(b"png")
    assert_envelope(api.get("/media/secret.txt"), 404)
    assert_envelope(api.get("/media/avatars/x.png"), 404)
    assert_envelope(api.get("/media/avatars/../secret.txt"), 404)


def test_uploading_never_deletes_another_users_avatar(
    api, make_user, media, django_capture_on_commit_callbacks
):
    victim, attacker = make_user(), make_user()
    api.credentials(HTTP_AUTHORIZATION=bearer_for(victim))
    with django_capture_on_commit_callbacks(execute=True):
        victim_url = upload(api, image_bytes("JPEG")).json()["avatar_url"]
    victim_file = stored_file(media, victim_url)
    # The attacker points their own avatar_url at the victim's file ...
    api.credentials(HTTP_AUTHORIZATION=bearer_for(attacker))
    put = api.put(
        "/api/v1/users/profile",
        {"avatar_url": "https://evil.example" + urlparse(victim_url).path},
        format="json",
    )
    assert put.status_code == 200
    # ... then uploads: only their own earlier files may be deleted.
    with django_capture_on_commit_callbacks(execute=True):
        assert upload(api, image_bytes("PNG"), name="a.png").status_code == 200
    assert victim_file.is_file()


def test_large_palette_image_is_shrunk_before_conversion(auth_api, media):
    """A tiny file describing a big palette image: decoded, shrunk in its
    own mode, and only then converted (no full-size RGBA copy)."""
    buf = io.BytesIO()
    Image.new("P", (3000, 3000), 7).save(buf, format="PNG")
    response = upload(auth_api, buf.getvalue(), name="p.png", content_type="image/png")
    assert response.status_code == 200
    with Image.open(stored_file(media, response.json()["avatar_url"])) as stored:
        assert stored.size == (400, 400)


def test_exif_orientation_is_applied(auth_api, media):
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise on display
    buf = io.BytesIO()
    left_red = Image.new("RGB", (800, 400), (0, 0, 255))
    left_red.paste((255, 0, 0), (0, 0, 400, 400))  # left half red
    left_red.save(buf, format="JPEG", exif=exif)
    response = upload(auth_api, buf.getvalue())
    assert response.status_code == 200
    with Image.open(stored_file(media, response.json()["avatar_url"])) as stored:
        # Displayed upright the red half is on top, blue below. Ignoring the
        # orientation would put red on the left instead: these two corners flip.
        rgb = stored.convert("RGB")
        top_right, bottom_left = rgb.getpixel((350, 50)), rgb.getpixel((50, 350))
        assert top_right[0] > 200 and top_right[2] < 60
        assert bottom_left[2] > 200 and bottom_left[0] < 60
        assert not stored.getexif()
