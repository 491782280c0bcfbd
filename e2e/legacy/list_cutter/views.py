"""The legacy list_cutter API (`list_cutter/views.py` at the last Django-only
state), status codes, bodies and quirks included. See README.md for the list
of quirks kept on purpose."""
import functools
import logging
import os
import uuid

from django.conf import settings
from django.http import FileResponse, HttpResponse, JsonResponse
from django.utils import timezone
from rest_framework.decorators import api_view, parser_classes, permission_classes
from rest_framework.parsers import MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from . import file_utils
from .lineage import file_lineage
from .models import FileRelationship, SavedFile

logger = logging.getLogger(__name__)


def list_cutter_home(request):
    html = "<html><body><div>This is a List Cutter App (lol)</div></body></html>"
    return HttpResponse(html)


@api_view(["POST"])
@parser_classes([MultiPartParser])
def upload_file_for_csv_cutter(request):
    """Anonymous upload: store the file, answer its columns and server path."""
    if "file" not in request.FILES:
        return Response({"error": "No file uploaded"}, status=400)
    uploaded = request.FILES["file"]
    try:
        file_path = file_utils.save_uploaded_file(uploaded)
        columns = file_utils.get_csv_columns(file_path)
        return Response({"columns": columns, "file_path": file_path}, status=200)
    except ValueError as e:
        return Response({"error": str(e)}, status=400)


@api_view(["POST"])
def export_csv(request):
    """Cut a stored CSV by server path. Non-.csv paths are not implemented
    (500), as in legacy; the path is not validated."""
    selected_columns = request.data.get("columns")
    file_path = request.data.get("file_path")
    where_clauses = request.data.get("filters", {})

    if not selected_columns:
        return Response({"error": "No columns provided."}, status=400)

    if file_path.endswith(".csv"):
        try:
            csv_data = file_utils.filter_csv_with_where(file_path, selected_columns, where_clauses)
            response = HttpResponse(csv_data, content_type="text/csv")
            response["Content-Disposition"] = 'attachment; filename="filtered.csv"'
            return response
        except ValueError as e:
            return Response({"error": str(e)}, status=400)
    raise NotImplementedError("Database table querying is not yet supported.")


def _store_upload(request, uploaded, file_name, file_path, system_tag, **fields):
    """Writes `uploaded` to `file_path` and adds the caller's row for it: a new
    file_id, `system_tag`, and any further `fields`."""
    file_utils.write_upload(uploaded, file_path)
    return SavedFile.objects.create(
        user=request.user,
        file_path=file_path,
        file_name=file_name,
        file_id=str(uuid.uuid4()),
        system_tags=[system_tag],
        uploaded_at=timezone.now(),
        **fields,
    )


@api_view(["POST"])
@permission_classes([IsAuthenticated])
@parser_classes([MultiPartParser])
def upload_file(request):
    if "file" not in request.FILES:
        return Response({"error": "No file uploaded"}, status=400)
    uploaded = request.FILES["file"]
    if uploaded.size > settings.MAX_FILE_SIZE:
        return Response({"error": file_utils.size_limit_message(trailing_period=True)}, status=400)
    try:
        file_name, file_path = file_utils.set_file_name(uploaded.name, file_utils.upload_dir())
        saved_file = _store_upload(request, uploaded, file_name, file_path, "uploaded")
        return Response(
            {
                "message": "File uploaded successfully",
                "file_id": saved_file.file_id,
                "file_name": saved_file.file_name,
                "file_path": saved_file.file_path,
            },
            status=200,
        )
    except Exception as e:
        logger.error("File upload failed: %s", e)
        return Response({"error": "File upload failed. Please try again."}, status=500)


@api_view(["GET"])
@permission_classes([IsAuthenticated])
def list_saved_files(request):
    """The user's files, one per file_name (the newest upload wins; the
    position is that of the first row with that name)."""
    recent = {}
    for saved in SavedFile.objects.filter(user=request.user).order_by("id"):
        if saved.file_name not in recent or saved.uploaded_at > recent[saved.file_name].uploaded_at:
            recent[saved.file_name] = saved
    files = [
        {
            "file_id": saved.file_id,
            "file_name": saved.file_name,
            "file_path": saved.file_path,
            "uploaded_at": saved.uploaded_at,
            "system_tags": saved.system_tags,
            "user_tags": saved.user_tags,
            "metadata": saved.metadata,
        }
        for saved in recent.values()
    ]
    return Response({"files": files}, status=200)


@api_view(["GET"])
def download_file(request, filename):
    """Any file in uploads/ by name: no authentication, no ownership check."""
    file_path = os.path.join(file_utils.upload_dir(), filename)
    if not os.path.exists(file_path):
        return Response({"error": "File not found"}, status=404)
    return FileResponse(open(file_path, "rb"), as_attachment=True, filename=filename)


def _on_own_file(view):
    """Calls `view` with the caller's file `file_id` in place of the id. An id
    the caller has no file by answers 404, and any error in `view` 500 with its
    text, as legacy answered in each view that did this."""

    @functools.wraps(view)
    def with_file(request, file_id):
        try:
            return view(request, SavedFile.objects.get(file_id=file_id, user=request.user))
        except SavedFile.DoesNotExist:
            return Response({"error": "File not found."}, status=404)
        except Exception as e:
            return Response({"error": str(e)}, status=500)

    return with_file


@api_view(["DELETE"])
@permission_classes([IsAuthenticated])
@_on_own_file
def delete_file(request, saved):
    if not os.path.exists(saved.file_path):
        return Response({"error": "File not found on the server."}, status=404)
    os.remove(saved.file_path)
    saved.delete()
    # 204 with a body, as legacy sent it.
    return Response({"message": "File deleted successfully."}, status=204)


def _missing_node_message(file_id):
    # str() of the neomodel DoesNotExist legacy raised for an unknown node.
    return f"(DoesNotExist(...), {repr(repr({'file_id': file_id}))})"


@api_view(["POST"])
@permission_classes([IsAuthenticated])
def save_generated_file(request):
    """Store a cut result and link it to its original.

    Legacy order of effects is kept: the file and its row are written first;
    then a missing original_file_id answers 400 and an unknown original 500,
    with the new file left in place in both cases. A missing `metadata` field
    is an unhandled KeyError (500).
    """
    if "file" not in request.FILES or "file_name" not in request.data:
        return JsonResponse({"error": "No file or filename provided."}, status=400)

    uploaded = request.FILES["file"]
    file_name = request.data["file_name"]
    metadata = request.data["metadata"]
    original_file_id = request.data.get("original_file_id")

    file_name, file_path = file_utils.set_file_name(file_name, file_utils.upload_dir())

    try:
        saved_file = _store_upload(request, uploaded, file_name, file_path, "generated", metadata=metadata)
        if original_file_id:
            if not SavedFile.objects.filter(file_id=original_file_id).exists():
                raise LookupError(_missing_node_message(original_file_id))
            if settings.LINEAGE_STORE == "metadata":
                # The Neo4j era: the edge went to Neo4j, which the stand-in does
                # not run; lineage is read back from the metadata the client sent.
                return JsonResponse(
                    {"message": "File saved successfully.", "file_path": file_path, "file_id": saved_file.file_id},
                    status=201,
                )
            FileRelationship.objects.get_or_create(
                source_file_id=original_file_id,
                target_file_id=saved_file.file_id,
                relationship_type=FileRelationship.CUT_TO,
            )
            FileRelationship.objects.get_or_create(
                source_file_id=saved_file.file_id,
                target_file_id=original_file_id,
                relationship_type=FileRelationship.CUT_FROM,
            )
        else:
            return JsonResponse(
                {"error": "Original file ID must be included in the request."}, status=400
            )
        return JsonResponse(
            {"message": "File saved successfully.", "file_path": file_path, "file_id": saved_file.file_id},
            status=201,
        )
    except Exception as e:
        return JsonResponse({"error": str(e)}, status=500)


@api_view(["PATCH"])
@permission_classes([IsAuthenticated])
@_on_own_file
def update_tags(request, saved):
    """Reached only through the <int:file_id> route, so a real (uuid) file id
    never gets here; an integer is looked up as a file_id string and 404s."""
    user_tags = request.data.get("user_tags", [])
    existing = list(saved.user_tags) if saved.user_tags else []
    saved.user_tags = list(set(existing + user_tags))
    saved.save()
    return Response({"message": "Tags updated successfully."}, status=200)


def read_file_data(file_id):
    saved = SavedFile.objects.get(file_id=file_id)  # any user's file
    file_path = saved.file_path
    if not os.path.exists(file_path):
        raise FileNotFoundError(f"File not found: {file_path}")
    with open(file_path, "r", encoding="utf-8") as fh:
        content = fh.read()
    columns, row_count = file_utils.read_table(file_path)
    return {
        "name": saved.file_name,
        "file_id": saved.file_id,
        "file_name": saved.file_name,
        "file_path": file_path,
        "size": os.path.getsize(file_path),
        "type": "text/csv",
        "content": content,
        "rowCount": row_count,
        "columns": columns,
    }


@api_view(["GET"])
@permission_classes([IsAuthenticated])
def fetch_saved_file(request, file_id):
    """Any user's file by id (not scoped to the caller), as in legacy."""
    try:
        return Response(read_file_data(file_id), status=200)
    except FileNotFoundError as e:
        return Response({"error": str(e)}, status=404)
    except Exception as e:
        logger.error("Error fetching file: %s", e)
        return Response({"error": "Error fetching file data."}, status=500)


@api_view(["GET"])
@permission_classes([IsAuthenticated])
def fetch_file_lineage(request, file_id):
    """Lineage of any file (not scoped to the caller), as in legacy."""
    try:
        return Response(file_lineage(file_id), status=200)
    except Exception as e:
        logger.exception("Error fetching file lineage")
        return Response({"error": str(e)}, status=400)
