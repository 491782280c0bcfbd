from django.urls import path

from . import views

urlpatterns = [
    path("", views.list_cutter_home, name="list_cutter_home"),
    path("csv_cutter/", views.upload_file_for_csv_cutter, name="csv_cutter"),
    path("export_csv/", views.export_csv, name="export_csv"),
    path("upload/", views.upload_file, name="upload_file"),
    path("list_saved_files/", views.list_saved_files, name="list_saved_files"),
    path("download/<str:filename>/", views.download_file, name="download_file"),
    path("delete/<str:file_id>/", views.delete_file, name="delete_file"),
    path("save_generated_file/", views.save_generated_file, name="save_generated_file"),
    # Legacy regression kept: file ids are uuids, so this route never matches one.
    path("update_tags/<int:file_id>/", views.update_tags, name="update_tags"),
    path("fetch_saved_file/<str:file_id>/", views.fetch_saved_file, name="fetch_saved_file"),
    path("fetch_file_lineage/<str:file_id>/", views.fetch_file_lineage, name="fetch_file_lineage"),
]
