"""Readers' story imports: POST /api/v1/novels/imports (file or URL),
PATCH/DELETE /api/v1/novels/{id}, GET /api/v1/users/me/novels, private
novels on the catalogue, and GET /api/internal/novels/{id}/access. ai's
ingest route is stubbed at the integrations.ai boundary."""

from __future__ import annotations

import threading
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from gaji_contracts.novels import ReaderIngestAccepted
from rest_framework.test import APIClient

from conftest import PASSWORD, assert_envelope, bearer_for
from integrations.ai import AiClient, AiUnavailable
from novels import services
from novels.models import Novel
from novels.tests.epub_factory import simple_epub

IMPORTS = "/api/v1/novels/imports"
MINE = "/api/v1/users/me/novels"
NOVELS = "/api/v1/novels"
STORY = ("The river ran past the old mill, and Mara counted the boats as they went by. " * 6).encode()
GUTENBERG = (
    b"The Project Gutenberg eBook of Tiny Tale\r\n\r\nTitle: Tiny Tale\r\nAuthor: Some Body\r\n\r\n"
    b"*** START OF THE PROJECT GUTENBERG EBOOK TINY TALE ***\r\n" + STORY + b"\r\n*** END OF THE PROJECT "
    b"GUTENBERG EBOOK TINY TALE ***\r\nlicence text"
)


@pytest.fixture
def ai(monkeypatch):
    """ai's ingest and vector-delete routes, recorded; `fail` makes them unavailable."""
    state = {"ingests": [], "deletes": [], "fail": False}

    def ingest(self, novel_id, ingest, *, request_id=None):
        if state["fail"]:
            raise AiUnavailable("ConnectError calling ai")
        assert Novel.objects.filter(id=novel_id).exists()  # committed before ai is called
        state["ingests"].append((novel_id, ingest))
        return ReaderIngestAccepted(job_id=f"job-{len(state['ingests'])}", estimated_duration_minutes=2.5)

    def delete(self, novel_id, *, request_id=None):
        state["deletes"].append(novel_id)
        if state["fail"]:
            raise AiUnavailable("ConnectError calling ai")

    monkeypatch.setattr(AiClient, "ingest_reader_novel", ingest)
    monkeypatch.setattr(AiClient, "delete_novel_vectors", delete)
    return state


def upload(client, name: str, data: bytes, **fields):
    return client.post(IMPORTS, {"file": SimpleUploadedFile(name, data), **fields}, format="multipart")


def client_for(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=bearer_for(user))
    return client


# --- uploads -----------------------------------------------------------------------------


def test_a_text_upload_becomes_the_readers_private_novel_and_is_ingested(auth_api, user, ai):
    response = upload(auth_api, "my story.txt", STORY, author="Me")
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["job_id"] == "job-1" and body["estimated_duration_minutes"] == 2.5
    novel = body["novel"]
    assert novel["title"] == "my story"  # the file name
    assert novel["owner_id"] == str(user.id)
    assert (novel["visibility"], novel["source"], novel["source_bytes"]) == ("private", "upload", len(STORY))
    assert novel["ingestion_status"] == "pending" and novel["ingest_job_id"] == "job-1"
    assert novel["slug"].startswith("my-story-") and novel["slug"] != "my-story"
    ((novel_id, ingest),) = ai["ingests"]
    assert str(novel_id) == novel["id"]
    assert ingest.text == STORY.decode() and ingest.created_by == user.id
    assert (ingest.title, ingest.author, ingest.filename) == ("my story", "Me", "my_story.txt")


def test_the_gutenberg_header_names_the_story(auth_api, ai):
    novel = upload(auth_api, "pg123.txt", GUTENBERG).json()["novel"]
    assert (novel["title"], novel["author"]) == ("Tiny Tale", "Some Body")


def test_an_explicit_title_and_visibility_win(auth_api, ai):
    response = upload(auth_api, "pg123.txt", GUTENBERG, title="Mine", visibility="unlisted", language="de")
    novel = response.json()["novel"]
    assert (novel["title"], novel["visibility"], novel["language"]) == ("Mine", "unlisted", "de")


def test_an_epub_is_read_in_spine_order_with_its_metadata(auth_api, ai):
    response = upload(auth_api, "book.epub", simple_epub())
    assert response.status_code == 202, response.content
    novel = response.json()["novel"]
    assert (novel["title"], novel["author"], novel["language"]) == ("The Test Book", "Ann Author", "fr")
    text = ai["ingests"][0][1].text
    assert text.index("CHAPTER 1. The Third") < text.index("CHAPTER 2. The First") < text.index("CHAPTER 3.")


def test_legacy_encodings_decode_as_ai_decodes_them(auth_api, ai):
    data = ("Café au lait, déjà vu. " * 20).encode("cp1252")
    assert upload(auth_api, "cafe.md", data).status_code == 202
    assert ai["ingests"][0][1].text.startswith("Café au lait, déjà vu.")


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("story.pdf", STORY, services.BAD_SUFFIX),
        ("story", STORY, services.BAD_SUFFIX),
        ("short.txt", b"Too short.", services.TOO_SHORT),
        ("bin.txt", bytes(range(256)) * 4, services.NOT_TEXT),
        ("bomb.epub", b"PK\x03\x04 not really", "The file is not an EPUB (not a readable zip archive)."),
    ],
)
def test_bad_files_are_refused_and_nothing_is_stored(auth_api, ai, name, data, message):
    body = assert_envelope(upload(auth_api, name, data), 400, "VALIDATION_ERROR")
    assert body["message"] == message and body["details"] == {"file": [message]}
    assert message in services.RULES_IN_WORDS
    assert not Novel.objects.exists() and ai["ingests"] == []


def test_a_zip_bomb_epub_is_refused(auth_api, ai):
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("META-INF/container.xml", "x")
        archive.writestr("OEBPS/big.xhtml", b"\0" * (3 * 1024 * 1024))
    body = assert_envelope(upload(auth_api, "bomb.epub", buffer.getvalue()), 400)
    assert "zip bomb" in body["message"]
    assert not Novel.objects.exists()


def test_a_file_over_the_size_cap_is_413(auth_api, ai, settings):
    settings.NOVEL_IMPORT_MAX_BYTES = 300
    body = assert_envelope(upload(auth_api, "big.txt", STORY * 2), 413, "PAYLOAD_TOO_LARGE")
    assert body["message"] == "The file is larger than 300 bytes."
    assert not Novel.objects.exists()


def test_file_and_url_are_exclusive_and_one_is_required(auth_api, ai):
    assert_envelope(auth_api.post(IMPORTS, {}, format="json"), 400)
    both = auth_api.post(
        IMPORTS, {"file": SimpleUploadedFile("a.txt", STORY), "url": "http://x.test/"}, format="multipart"
    )
    assert assert_envelope(both, 400)["message"] == services.FILE_OR_URL
    assert not Novel.objects.exists()


def test_unknown_fields_and_bad_visibility_are_refused(auth_api, ai):
    assert_envelope(auth_api.post(IMPORTS, {"url": "http://x.test/", "owner": "me"}, format="json"), 400)
    assert_envelope(
        auth_api.post(IMPORTS, {"url": "http://x.test/", "visibility": "secret"}, format="json"), 400
    )


def test_anonymous_imports_are_refused(api, ai):
    assert_envelope(upload(api, "a.txt", STORY), 401)


def test_ai_unavailable_is_503_and_leaves_nothing(auth_api, ai):
    ai["fail"] = True
    body = assert_envelope(upload(auth_api, "a.txt", STORY), 503, "AI_UNAVAILABLE")
    assert "not imported" in body["message"]
    assert not Novel.objects.exists()


# --- quota and rate ---------------------------------------------------------------------


def test_the_count_quota_is_409_and_deleting_frees_it(auth_api, ai, settings):
    settings.NOVEL_IMPORT_MAX_COUNT = 2
    first = upload(auth_api, "a.txt", STORY).json()["novel"]
    upload(auth_api, "b.txt", STORY)
    body = assert_envelope(upload(auth_api, "c.txt", STORY), 409, "CONFLICT")
    assert body["message"].startswith("Import quota reached: 2 of 2 stories")
    assert Novel.objects.count() == 2
    assert auth_api.delete(f"{NOVELS}/{first['id']}").status_code == 204
    assert upload(auth_api, "c.txt", STORY).status_code == 202


def test_the_byte_quota_is_409(auth_api, ai, settings):
    settings.NOVEL_IMPORT_MAX_TOTAL_BYTES = len(STORY) + 10
    assert upload(auth_api, "a.txt", STORY).status_code == 202
    body = assert_envelope(upload(auth_api, "b.txt", STORY), 409, "CONFLICT")
    assert "past" in body["message"] and body["details"]["quota"]
    assert Novel.objects.count() == 1


def test_quota_is_per_reader(auth_api, ai, settings, make_user):
    settings.NOVEL_IMPORT_MAX_COUNT = 1
    assert upload(auth_api, "a.txt", STORY).status_code == 202
    assert upload(client_for(make_user()), "a.txt", STORY).status_code == 202


def test_imports_are_rate_limited_per_reader(auth_api, ai, settings):
    settings.RATE_LIMIT_ENABLED = True
    settings.RATE_LIMIT_SCALE = 1.0
    settings.NOVEL_IMPORT_PER_HOUR = 2
    for _ in range(2):
        assert_envelope(upload(auth_api, "short.txt", b"x"), 400)  # refused imports count too
    response = upload(auth_api, "a.txt", STORY)
    assert_envelope(response, 429, "RATE_LIMITED")
    assert int(response["Retry-After"]) > 0


# --- the reader's list, update, delete --------------------------------------------------------


def test_my_novels_lists_own_imports_with_quota(auth_api, ai, make_user):
    mine = upload(auth_api, "a.txt", STORY).json()["novel"]
    upload(client_for(make_user()), "theirs.txt", STORY)
    Novel.objects.create(slug="catalogue", title="Catalogue")
    body = auth_api.get(MINE).json()
    assert [n["id"] for n in body["content"]] == [mine["id"]]
    assert body["content"][0]["ingest_job_id"] == "job-1"
    assert body["quota"] == {
        "used_count": 1,
        "max_count": 10,
        "used_bytes": len(STORY),
        "max_bytes": 50 * 1024 * 1024,
    }
    assert body["page"]["total_elements"] == 1


def test_private_novels_are_404_for_others_and_off_the_catalogue(auth_api, ai, api, make_user):
    novel = upload(auth_api, "a.txt", STORY).json()["novel"]
    Novel.objects.create(slug="catalogue", title="Catalogue")
    other = client_for(make_user())
    for client in (api, other):
        assert_envelope(client.get(f"{NOVELS}/{novel['id']}"), 404)
        assert_envelope(client.get(f"{NOVELS}/{novel['slug']}"), 404)
    assert auth_api.get(f"{NOVELS}/{novel['slug']}").json()["source_bytes"] == len(STORY)
    staff = client_for(make_user(is_staff=True))
    assert staff.get(f"{NOVELS}/{novel['id']}").status_code == 200
    for client in (api, auth_api):
        assert [n["slug"] for n in client.get(NOVELS).json()["content"]] == ["catalogue"]


def test_unlisted_novels_are_readable_by_link_but_not_listed(auth_api, ai, api):
    novel = upload(auth_api, "a.txt", STORY, visibility="unlisted").json()["novel"]
    body = api.get(f"{NOVELS}/{novel['id']}").json()
    assert body["visibility"] == "unlisted" and "source_url" not in body  # the owner's details stay theirs
    assert api.get(NOVELS).json()["content"] == []


def test_the_owner_renames_and_publishes(auth_api, ai, api):
    novel = upload(auth_api, "a.txt", STORY).json()["novel"]
    response = auth_api.patch(
        f"{NOVELS}/{novel['id']}", {"title": "Better", "visibility": "public"}, format="json"
    )
    assert response.status_code == 200, response.content
    assert (response.json()["title"], response.json()["slug"]) == ("Better", novel["slug"])
    assert [n["title"] for n in api.get(NOVELS).json()["content"]] == ["Better"]


def test_others_may_not_change_or_delete(auth_api, ai, make_user):
    private = upload(auth_api, "a.txt", STORY).json()["novel"]
    unlisted = upload(auth_api, "b.txt", STORY, visibility="unlisted").json()["novel"]
    other = client_for(make_user())
    assert_envelope(other.patch(f"{NOVELS}/{private['id']}", {"title": "x"}, format="json"), 404)
    assert_envelope(other.delete(f"{NOVELS}/{private['id']}"), 404)
    assert_envelope(other.patch(f"{NOVELS}/{unlisted['id']}", {"title": "x"}, format="json"), 403)
    assert_envelope(other.delete(f"{NOVELS}/{unlisted['id']}"), 403)
    catalogue = Novel.objects.create(slug="catalogue", title="Catalogue")
    assert_envelope(other.delete(f"{NOVELS}/{catalogue.id}"), 403)
    assert Novel.objects.count() == 3


def test_patch_validates(auth_api, ai):
    novel = upload(auth_api, "a.txt", STORY).json()["novel"]
    assert_envelope(auth_api.patch(f"{NOVELS}/{novel['id']}", {"visibility": "x"}, format="json"), 400)
    assert_envelope(auth_api.patch(f"{NOVELS}/{novel['id']}", {"slug": "x"}, format="json"), 400)
    assert_envelope(auth_api.patch(f"{NOVELS}/{novel['id']}", {"title": ""}, format="json"), 400)


def test_delete_drops_the_vectors_and_a_failure_there_is_not_a_500(auth_api, ai):
    first = upload(auth_api, "a.txt", STORY).json()["novel"]
    second = upload(auth_api, "b.txt", STORY).json()["novel"]
    assert auth_api.delete(f"{NOVELS}/{first['id']}").status_code == 204
    ai["fail"] = True
    assert auth_api.delete(f"{NOVELS}/{second['id']}").status_code == 204
    assert [str(n) for n in ai["deletes"]] == [first["id"], second["id"]]
    assert not Novel.objects.exists()


def test_staff_may_delete_a_readers_novel(auth_api, ai, make_user):
    novel = upload(auth_api, "a.txt", STORY).json()["novel"]
    assert client_for(make_user(is_staff=True)).delete(f"{NOVELS}/{novel['id']}").status_code == 204


# --- internal ---------------------------------------------------------------------------------


def test_internal_access_tells_ai_who_may_read(auth_api, ai, user, api, settings):
    novel = upload(auth_api, "a.txt", STORY).json()["novel"]
    service = {"HTTP_AUTHORIZATION": f"Bearer {settings.SERVICE_TOKEN}"}
    response = api.get(f"/api/internal/novels/{novel['id']}/access", **service)
    assert response.json() == {"id": novel["id"], "owner_id": str(user.id), "visibility": "private"}
    catalogue = Novel.objects.create(slug="catalogue", title="Catalogue")
    response = api.get(f"/api/internal/novels/{catalogue.id}/access", **service)
    assert response.json() == {"id": str(catalogue.id), "owner_id": None, "visibility": "public"}
    # The ai service sees private novels on its other internal routes too.
    assert api.get(f"/api/internal/novels/{novel['id']}", **service).json()["owner_id"] == str(user.id)
    assert_envelope(
        api.get("/api/internal/novels/00000000-0000-0000-0000-000000000000/access", **service), 404
    )
    assert_envelope(api.get(f"/api/internal/novels/{novel['id']}/access"), 401)
    assert_envelope(auth_api.get(f"/api/internal/novels/{novel['id']}/access"), 403, "SERVICE_TOKEN_REQUIRED")


# --- URL imports (a real server on 127.0.0.1) -------------------------------------------------------


class _Books(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path == "/tale.txt":
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.send_header("Content-Length", str(len(GUTENBERG)))
            self.end_headers()
            self.wfile.write(GUTENBERG)
        else:
            self.send_response(302)
            self.send_header("Location", "http://10.0.0.1/tale.txt")
            self.send_header("Content-Length", "0")
            self.end_headers()


@pytest.fixture(scope="module")
def books():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Books)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_url_import_is_refused_for_loopback_by_default(auth_api, ai, books):
    body = assert_envelope(auth_api.post(IMPORTS, {"url": f"{books}/tale.txt"}, format="json"), 400)
    assert "loopback address" in body["message"] and list(body["details"]) == ["url"]
    assert not Novel.objects.exists()


def test_url_import_happy_path_with_loopback_allowed(auth_api, ai, books, settings):
    settings.NOVEL_IMPORT_ALLOW_LOOPBACK = True
    response = auth_api.post(IMPORTS, {"url": f"{books}/tale.txt", "visibility": "public"}, format="json")
    assert response.status_code == 202, response.content
    novel = response.json()["novel"]
    assert (novel["title"], novel["source"], novel["source_url"]) == ("Tiny Tale", "url", f"{books}/tale.txt")
    assert novel["source_bytes"] == len(GUTENBERG)
    assert ai["ingests"][0][1].filename == "tale.txt"


def test_url_import_redirect_to_a_private_address_is_refused(auth_api, ai, books, settings):
    settings.NOVEL_IMPORT_ALLOW_LOOPBACK = True
    body = assert_envelope(auth_api.post(IMPORTS, {"url": f"{books}/elsewhere"}, format="json"), 400)
    assert "10.0.0.1, a private address" in body["message"] and body["details"]["url"]
    assert not Novel.objects.exists()


def test_url_import_other_schemes_are_refused(auth_api, ai):
    body = assert_envelope(auth_api.post(IMPORTS, {"url": "file:///etc/passwd"}, format="json"), 400)
    assert body["details"] == {"url": ["Only http and https URLs can be imported."]}


def test_account_deletion_takes_the_readers_hidden_imports_and_keeps_public_ones(
    auth_api, ai, user, django_capture_on_commit_callbacks
):
    private = upload(auth_api, "a.txt", STORY).json()["novel"]
    unlisted = upload(auth_api, "b.txt", STORY, visibility="unlisted").json()["novel"]
    public = upload(auth_api, "c.txt", STORY, visibility="public").json()["novel"]
    with django_capture_on_commit_callbacks(execute=True):
        response = auth_api.delete("/api/v1/users/me", {"password": PASSWORD}, format="json")
    assert response.status_code == 204, response.content
    assert list(Novel.objects.values_list("id", "owner_id")) == [(uuid.UUID(public["id"]), None)]
    assert {str(n) for n in ai["deletes"]} == {private["id"], unlisted["id"]}


# --- what a hostile server can answer (novels.services.fetch replaced) ---------------------------


def serve(monkeypatch, data: bytes, *, kind="text", charset: str | None = None, name="tale.txt"):
    """The URL import's fetch answers `data` as the server would have."""
    from novels.fetch import Fetched

    def fake_fetch(url, **_limits):
        return Fetched(data=data, kind=kind, charset=charset, filename=name, url=url)

    monkeypatch.setattr(services, "fetch", fake_fetch)


def import_url(client):
    return client.post(IMPORTS, {"url": "http://books.test/tale.txt"}, format="json")


@pytest.mark.parametrize(
    ("charset", "data"),
    [
        ("punycode", STORY),  # UnicodeError (not a UnicodeDecodeError): was a 500
        ("unicode_escape", b"\\ud800 " + STORY),  # a lone surrogate: was a 500 and a stored novel
        ("raw_unicode_escape", b"\\udfff " + STORY),
        ("utf-7", b"+2AA- " + STORY),
        ("idna", b"xn--zz9999 " + STORY),
        ("a\x00b", STORY),
    ],
)
def test_a_server_chosen_codec_that_is_no_charset_is_ignored(auth_api, ai, user, monkeypatch, charset, data):
    serve(monkeypatch, data, charset=charset)
    response = import_url(auth_api)
    assert response.status_code == 202, response.content
    text = ai["ingests"][0][1].text
    assert text == data.decode("utf-8", errors="replace") or text == data.decode("cp1252")
    assert not any("\ud800" <= char <= "\udfff" for char in text)


def test_a_real_server_charset_is_used(auth_api, ai, monkeypatch):
    serve(monkeypatch, ("Привет, мир. " * 30).encode("koi8-r"), charset="koi8-r")
    assert import_url(auth_api).status_code == 202
    assert ai["ingests"][0][1].text.startswith("Привет, мир.")


def test_nul_and_control_characters_never_reach_a_title(auth_api, ai, monkeypatch):
    page = b"<html><head><title>The\x00 Tale\x01\xc2\x85 Told</title></head><body><p>" + STORY
    page += b"</p></body>"
    serve(monkeypatch, page, kind="html", name="page")
    response = import_url(auth_api)  # was 400 "Malformed request." (PostgreSQL refuses NUL)
    assert response.status_code == 202, response.content
    assert response.json()["novel"]["title"] == "The Tale Told"
    assert ai["ingests"][0][1].title == "The Tale Told"


def test_a_gutenberg_header_with_control_characters_is_cleaned(auth_api, ai):
    data = GUTENBERG.replace(b"Title: Tiny Tale", b"Title: Tiny\x07 Tale\x00")
    data = data.replace(b"Some Body", b"Some\x1bBody")
    novel = upload(auth_api, "pg.txt", data).json()["novel"]
    assert (novel["title"], novel["author"]) == ("Tiny Tale", "Some Body")


def test_a_story_the_ingest_contract_refuses_is_refused_before_anything_is_stored(auth_api, ai, monkeypatch):
    contract = services.ReaderIngest

    def refusing(**fields):
        return contract(**{**fields, "created_by": "not a uuid"})

    monkeypatch.setattr(services, "ReaderIngest", refusing)
    body = assert_envelope(upload(auth_api, "a.txt", STORY), 400, "VALIDATION_ERROR")
    assert body["message"] == services.UNUSABLE and body["details"] == {"file": [services.UNUSABLE]}
    assert services.UNUSABLE in services.RULES_IN_WORDS
    assert not Novel.objects.exists() and ai["ingests"] == []


def test_any_failure_after_the_novel_is_stored_deletes_it_and_keeps_the_quota(user, ai, monkeypatch):
    from novels import selectors

    def broken(self, novel_id, ingest, *, request_id=None):
        assert Novel.objects.filter(id=novel_id).exists()
        raise RuntimeError("unexpected")

    monkeypatch.setattr(AiClient, "ingest_reader_novel", broken)
    source = services.ImportSource(data=STORY, filename="a.txt", kind="text", source="upload")
    with pytest.raises(RuntimeError):
        services.novel_import(owner=user, source=source)
    assert not Novel.objects.exists()
    assert selectors.quota_of(user).used_count == 0


def test_a_failure_reading_the_novel_back_deletes_it(user, ai, monkeypatch):
    def broken(self, *args, **kwargs):
        raise RuntimeError("database gone")

    source = services.ImportSource(data=STORY, filename="a.txt", kind="text", source="upload")
    monkeypatch.setattr(Novel, "refresh_from_db", broken)
    with pytest.raises(RuntimeError):
        services.novel_import(owner=user, source=source)
    assert not Novel.objects.exists() and len(ai["ingests"]) == 1
