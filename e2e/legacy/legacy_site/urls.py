"""URL map of the legacy backend (`config/urls.py`).

list_cutter is mounted twice, under api/list_cutter/ and at the root, exactly
as legacy did. Every route ends with a slash; APPEND_SLASH (the default) makes
a GET without it answer 301. Stored files are public under /media/ while DEBUG
is on, as in legacy.
"""
from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import include, path

urlpatterns = []

if settings.TEST_ENDPOINTS:
    urlpatterns.append(path("__test__/", include("testsupport.urls")))

urlpatterns += [
    path("admin/", admin.site.urls),
    path("api/list_cutter/", include("list_cutter.urls")),
    path("api/accounts/", include("accounts.urls")),
    path("", include("list_cutter.urls")),
] + static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)
