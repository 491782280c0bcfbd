from django.urls import re_path

from . import views

# Each route answers with and without a trailing slash (no APPEND_SLASH redirect).
urlpatterns = [
    re_path(r"^echo/?$", views.echo, name="test-echo"),
    re_path(r"^cookies/?$", views.cookies, name="test-cookies"),
    re_path(r"^redirect/?$", views.redirect, name="test-redirect"),
    re_path(r"^slow/?$", views.slow, name="test-slow"),
    re_path(r"^status/?$", views.status, name="test-status"),
]
