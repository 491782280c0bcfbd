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
"""
from collections import deque

from .models import FileRelationship, SavedFile


def _paths_into(file_id, relationship_type):
    """All relationship-unique paths of `relationship_type` edges ending at
    file_id, each as a list of edges ordered from its start node to file_id."""
    paths = []
    queue = deque([(file_id, [])])
    while queue:
        node, suffix = queue.popleft()
        used = {edge.id for edge in suffix}
        incoming = FileRelationship.objects.filter(
            target_file_id=node, relationship_type=relationship_type
        ).order_by("id")
        for edge in incoming:
            if edge.id in used:
                continue
            path = [edge] + suffix
            paths.append(path)
            queue.append((edge.source_file_id, path))
    return paths


def file_lineage(file_id):
    paths = _paths_into(file_id, FileRelationship.CUT_TO) + _paths_into(
        file_id, FileRelationship.CUT_FROM
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
