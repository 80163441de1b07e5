"""The Django admin for staff: changelists, search, filters, creating a
user with a password, and the deactivate action."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from accounts import services
from accounts.models import User
from conftest import PASSWORD, assert_envelope
from social.models import Follow


@pytest.fixture
def staff(make_user) -> User:
    return make_user(email="boss@example.com", username="the_boss", is_staff=True, is_superuser=True)


@pytest.fixture
def admin_client(staff) -> Client:
    client = Client()
    client.force_login(staff)
    return client


def test_admin_requires_staff(make_user):
    client = Client()
    assert client.get("/admin/accounts/user/").status_code == 302
    client.force_login(make_user())  # a reader, not staff
    response = client.get("/admin/accounts/user/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_admin_index(admin_client):
    response = admin_client.get("/admin/")
    assert response.status_code == 200
    html = response.content.decode()
    for model_path in ("/admin/accounts/user/", "/admin/social/follow/", "/admin/token_blacklist/"):
        assert model_path in html


def test_user_changelist_search_and_filter(admin_client, make_user):
    target = make_user(email="needle@example.com", username="needle_user")
    make_user(email="hay@example.com", username="haystack", is_active=False)

    response = admin_client.get("/admin/accounts/user/", {"q": "needle@example.com"})
    assert response.status_code == 200
    html = response.content.decode()
    assert "needle@example.com" in html and "hay@example.com" not in html
    assert list(response.context["cl"].result_list) == [target]

    response = admin_client.get("/admin/accounts/user/", {"q": "HAYSTACK"})
    assert [u.username for u in response.context["cl"].result_list] == ["haystack"]

    response = admin_client.get("/admin/accounts/user/", {"is_active__exact": "1"})
    assert response.status_code == 200
    shown = {u.username for u in response.context["cl"].result_list}
    assert "needle_user" in shown and "haystack" not in shown

    response = admin_client.get("/admin/accounts/user/", {"is_staff__exact": "1"})
    assert [u.username for u in response.context["cl"].result_list] == ["the_boss"]


def test_user_changelist_columns(admin_client):
    response = admin_client.get("/admin/accounts/user/")
    assert response.status_code == 200
    assert list(response.context["cl"].list_display)[1:] == [
        "email",
        "username",
        "is_staff",
        "is_active",
        "created_at",
    ]


def test_user_change_page_has_readonly_id_and_dates(admin_client, make_user):
    user = make_user()
    response = admin_client.get(f"/admin/accounts/user/{user.id}/change/")
    assert response.status_code == 200
    form = response.context["adminform"].form
    assert "id" not in form.fields and "created_at" not in form.fields and "updated_at" not in form.fields
    assert str(user.id) in response.content.decode()


def test_staff_can_create_user_with_password(admin_client, api):
    assert admin_client.get("/admin/accounts/user/add/").status_code == 200
    response = admin_client.post(
        "/admin/accounts/user/add/",
        {
            "email": "New.Person@Example.com",
            "username": "new_person",
            "usable_password": "true",
            "password1": "Adm1nMade!pw",
            "password2": "Adm1nMade!pw",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    created = User.objects.get(username="new_person")
    assert created.email == "new.person@example.com"
    assert created.password.startswith("argon2$argon2id$")
    assert created.check_password("Adm1nMade!pw")
    login = api.post(
        "/api/v1/auth/login", {"email": created.email, "password": "Adm1nMade!pw"}, format="json"
    )
    assert login.status_code == 200


@pytest.mark.parametrize(
    ("fields", "error_field"),
    [
        ({"email": "BOSS@example.com", "username": "someone"}, "email"),
        ({"email": "x@example.com", "username": "THE_BOSS"}, "username"),
        ({"email": "x@example.com", "username": "bad name"}, "username"),
        ({"email": "x@example.com", "username": "profile"}, "username"),
    ],
)
def test_admin_create_refuses_duplicates_and_bad_names(admin_client, fields, error_field):
    response = admin_client.post(
        "/admin/accounts/user/add/",
        {**fields, "usable_password": "true", "password1": "Adm1nMade!pw", "password2": "Adm1nMade!pw"},
    )
    assert response.status_code == 200
    assert error_field in response.context["adminform"].form.errors
    assert User.objects.count() == 1


def test_deactivate_action(admin_client, staff, make_user, api):
    a, b, keep = make_user(), make_user(), make_user()
    response = admin_client.post(
        "/admin/accounts/user/",
        {"action": "deactivate_selected", "_selected_action": [str(a.id), str(b.id), str(staff.id)]},
    )
    assert response.status_code == 302
    assert set(User.objects.filter(is_active=False).values_list("id", flat=True)) == {a.id, b.id}
    staff.refresh_from_db()
    keep.refresh_from_db()
    assert staff.is_active and keep.is_active  # never yourself, never the unselected

    login = api.post("/api/v1/auth/login", {"email": a.email, "password": PASSWORD}, format="json")
    assert_envelope(login, 401, "INVALID_CREDENTIALS")
    assert (
        api.post("/api/v1/auth/login", {"email": keep.email, "password": PASSWORD}, format="json").status_code
        == 200
    )


def test_deactivate_action_is_listed(admin_client):
    response = admin_client.get("/admin/accounts/user/")
    choices = dict(response.context["action_form"].fields["action"].choices)
    assert choices["deactivate_selected"] == "Deactivate selected accounts"


def test_follow_changelist(admin_client, make_user, django_assert_max_num_queries):
    users = [make_user(username=f"fol_{n}", email=f"fol{n}@example.com") for n in range(4)]
    for follower in users[1:]:
        Follow.objects.create(follower=follower, following=users[0])
    with django_assert_max_num_queries(12):  # list_select_related: no query per row
        response = admin_client.get("/admin/social/follow/")
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == 3

    response = admin_client.get("/admin/social/follow/", {"q": "fol_2"})
    assert response.status_code == 200
    assert [f.follower.username for f in response.context["cl"].result_list] == ["fol_2"]

    response = admin_client.get("/admin/social/follow/", {"q": "fol1@example.com"})
    assert [f.follower.username for f in response.context["cl"].result_list] == ["fol_1"]


def test_follow_change_page_uses_raw_id_widgets(admin_client, make_user):
    follow = Follow.objects.create(follower=make_user(), following=make_user())
    response = admin_client.get(f"/admin/social/follow/{follow.id}/change/")
    assert response.status_code == 200
    from django.contrib.admin.widgets import ForeignKeyRawIdWidget

    form = response.context["adminform"].form
    for name in ("follower", "following"):
        assert isinstance(form.fields[name].widget, ForeignKeyRawIdWidget)


def test_token_blacklist_changelists(admin_client, user):
    tokens = services.user_login(email=user.email, password=PASSWORD)[1]
    services.user_logout(user=user, refresh_token=tokens["refresh_token"])
    assert OutstandingToken.objects.count() == 1 and BlacklistedToken.objects.count() == 1
    for path in ("/admin/token_blacklist/outstandingtoken/", "/admin/token_blacklist/blacklistedtoken/"):
        response = admin_client.get(path)
        assert response.status_code == 200, path
        assert len(response.context["cl"].result_list) == 1


def test_admin_edit_refuses_non_http_avatar_url(admin_client, make_user):
    user = make_user()
    response = admin_client.post(
        f"/admin/accounts/user/{user.id}/change/",
        {
            "email": user.email,
            "username": user.username,
            "bio": "",
            "avatar_url": "ftp://x.example/a.jpg",
            "is_active": "on",
        },
    )
    assert response.status_code == 200
    assert "avatar_url" in response.context["adminform"].form.errors
    user.refresh_from_db()
    assert user.avatar_url == ""


def test_admin_edit_saves_profile(admin_client, make_user):
    user = make_user()
    original_email = user.email
    response = admin_client.post(
        f"/admin/accounts/user/{user.id}/change/",
        {
            "email": user.email.upper(),
            "username": user.username,
            "bio": "edited by staff",
            "avatar_url": "https://example.com/a.jpg",
            "is_active": "on",
        },
    )
    assert response.status_code == 302, response.context["adminform"].form.errors
    user.refresh_from_db()
    assert (user.bio, user.avatar_url) == ("edited by staff", "https://example.com/a.jpg")
    assert user.email == original_email  # submitted upper-cased, stored lower-cased
