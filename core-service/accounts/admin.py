"""The staff console for accounts: search, filter, create with a password,
deactivate in bulk."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import AdminUserCreationForm, UserChangeForm
from django.core.validators import URLValidator
from django.db.models.functions import Lower

from accounts.models import User
from accounts.validators import validate_username


def _clean_email(form: forms.ModelForm) -> str:
    email = form.cleaned_data["email"].strip().lower()
    taken = User.objects.filter(email=email).exclude(pk=form.instance.pk)
    if taken.exists():
        raise forms.ValidationError("A user with this email already exists.")
    return email


class UserCreateForm(AdminUserCreationForm):
    class Meta:
        model = User
        fields = ("email", "username")

    def clean_email(self) -> str:
        return _clean_email(self)

    def clean_username(self):
        username = self.cleaned_data.get("username") or ""
        validate_username(username)
        return super().clean_username()  # case-insensitive uniqueness


class UserEditForm(UserChangeForm):
    # Same rule as the API: an http(s) URL or nothing.
    avatar_url = forms.URLField(
        max_length=500,
        required=False,
        assume_scheme="https",
        validators=[URLValidator(schemes=["http", "https"])],
    )

    class Meta:
        model = User
        fields = "__all__"

    def clean_email(self) -> str:
        return _clean_email(self)

    def clean_username(self) -> str:
        username = self.cleaned_data["username"]
        validate_username(username)
        taken = (
            User.objects.alias(username_ci=Lower("username"))
            .filter(username_ci=username.lower())
            .exclude(pk=self.instance.pk)
        )
        if taken.exists():
            raise forms.ValidationError("A user with this username already exists.")
        return username


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = UserEditForm
    add_form = UserCreateForm
    list_display = ("email", "username", "is_staff", "is_active", "created_at")
    list_filter = ("is_staff", "is_active", "created_at")
    search_fields = ("email", "username")
    ordering = ("-created_at",)
    readonly_fields = ("id", "created_at", "updated_at", "last_login")
    date_hierarchy = "created_at"
    actions = ["deactivate_selected"]
    fieldsets = (
        (None, {"fields": ("id", "email", "username", "password")}),
        ("Profile", {"fields": ("bio", "avatar_url")}),
        ("Permissions", {"fields": ("is_active", "is_staff", "is_superuser", "groups", "user_permissions")}),
        ("Dates", {"fields": ("last_login", "created_at", "updated_at")}),
    )
    add_fieldsets = (
        (
            None,
            {
                "classes": ("wide",),
                "fields": ("email", "username", "usable_password", "password1", "password2"),
            },
        ),
    )

    @admin.action(description="Deactivate selected accounts", permissions=["change"])
    def deactivate_selected(self, request, queryset):
        own = queryset.filter(pk=request.user.pk).exists()
        count = queryset.exclude(pk=request.user.pk).filter(is_active=True).update(is_active=False)
        self.message_user(request, f"Deactivated {count} account(s).", messages.SUCCESS)
        if own:
            self.message_user(request, "Your own account was left active.", messages.WARNING)
