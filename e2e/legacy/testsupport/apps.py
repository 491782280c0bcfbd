from django.apps import AppConfig


class TestsupportConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "testsupport"
    verbose_name = "Test fixture endpoints and dev commands"
