"""Lineage answers, computed from list_cutter_filerelationship.

Legacy ran this Cypher on Neo4j:

    MATCH p = (a:SavedFileNode)-[:CUT_TO*]->(f:SavedFileNode {file_id: $id})
    RETURN nodes(p), relationships(p)
    UNION
    MATCH p = (a:SavedFileNode)-[:CUT_FROM*]->(f:SavedFileNode {file_id: $id})
    RETURN nodes(p), relationships(p)

and built `nodes` (deduplicated by file_id, first-seen order) and `edges`
(one entry per relationship per returned path, so an edge shared by several
paths is listed several times; the legacy frontend deduplicated them). This
module enumerates the same paths: every CUT_TO chain ending at the file
(ancestors) and every CUT_FROM chain ending at the file (descendants), shortest
first. A file without relationships, or an unknown id, gives empty lists.

With LEGACY_LINEAGE_STORE=metadata (the Neo4j era's schema: no lineage table)
the graph Neo4j held is rebuilt from each generated file's metadata
(`generated_file_details.original_file_id`), the edges in the order the table
would have them: per generated file by id, its CUT_TO then its CUT_FROM.
"""
import json
from collections import deque, namedtuple

from django.conf import settings

from .models import FileRelationship, SavedFile

Edge = namedtuple("Edge", "id source_file_id target_file_id relationship_type")


def original_in_metadata(metadata):
    """The original a generated file's metadata names (a JSON string or object)."""
    if isinstance(metadata, str):
        try:
            metadata = json.loads(metadata)
        except ValueError:
            return None
    details = metadata.get("generated_file_details") if isinstance(metadata, dict) else None
    original = details.get("original_file_id") if isinstance(details, dict) else None
    return original.strip() or None if isinstance(original, str) else None


def _metadata_edges():
    edges = []
    for file_id, metadata in SavedFile.objects.order_by("id").values_list("file_id", "metadata"):
        original = original_in_metadata(metadata)
        if original and original != file_id:
            edges.append(Edge(len(edges) + 1, original, file_id, FileRelationship.CUT_TO))
            edges.append(Edge(len(edges) + 1, file_id, original, FileRelationship.CUT_FROM))
    return edges


def _incoming(all_edges, node, relationship_type):
    if all_edges is None:
        return FileRelationship.objects.filter(
            target_file_id=node, relationship_type=relationship_type
        ).order_by("id")
    return [e for e in all_edges if e.target_file_id == node and e.relationship_type == relationship_type]


def _paths_into(file_id, relationship_type, all_edges=None):
    """All relationship-unique paths of `relationship_type` edges ending at
    file_id, each as a list of edges ordered from its start node to file_id."""
    paths = []
    queue = deque([(file_id, [])])
    while queue:
        node, suffix = queue.popleft()
        used = {edge.id for edge in suffix}
        for edge in _incoming(all_edges, node, relationship_type):
            if edge.id in used:
                continue
            path = [edge] + suffix
            paths.append(path)
            queue.append((edge.source_file_id, path))
    return paths


def file_lineage(file_id):
    all_edges = _metadata_edges() if settings.LINEAGE_STORE == "metadata" else None
    paths = _paths_into(file_id, FileRelationship.CUT_TO, all_edges) + _paths_into(
        file_id, FileRelationship.CUT_FROM, all_edges
    )

    ids = []
    for path in paths:
        for node_id in [path[0].source_file_id] + [edge.target_file_id for edge in path]:
            if node_id not in ids:
                ids.append(node_id)
    names = dict(SavedFile.objects.filter(file_id__in=ids).values_list("file_id", "file_name"))

    nodes = [{"file_id": node_id, "file_name": names.get(node_id, "")} for node_id in ids]
    edges = [
        {
            "source": edge.source_file_id,
            "target": edge.target_file_id,
            "type": edge.relationship_type,
        }
        for path in paths
        for edge in path
    ]
    return {"nodes": nodes, "edges": edges}
