from django.apps import AppConfig


class ListCutterConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "list_cutter"
