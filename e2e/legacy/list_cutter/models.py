import os

from django.contrib.auth.models import User
from django.contrib.postgres.fields import ArrayField
from django.db import models


class SavedFile(models.Model):
    """A stored CSV (table list_cutter_savedfile), columns as in legacy.

    The legacy model declared file_name and file_path unique but its migration
    did not; the database is what matters, so neither is unique here.
    `metadata` holds whatever the client posted: for generated files that is
    a JSON *string*, stored as a jsonb string.
    """

    user = models.ForeignKey(User, on_delete=models.CASCADE)
    file_id = models.CharField(max_length=255, unique=True)
    file_name = models.CharField(max_length=255)
    file_path = models.CharField(max_length=500)
    uploaded_at = models.DateTimeField(auto_now_add=True)
    system_tags = ArrayField(models.CharField(max_length=255), blank=True, null=True)
    user_tags = ArrayField(models.CharField(max_length=255), blank=True, null=True)
    metadata = models.JSONField(blank=True, null=True)

    def save(self, *args, **kwargs):
        # Legacy behaviour: the stored name is always the path's basename.
        self.file_name = os.path.basename(self.file_path)
        super().save(*args, **kwargs)

    def __str__(self):
        return f"{self.file_name} ({self.file_id})"


class FileRelationship(models.Model):
    """One lineage edge (table list_cutter_filerelationship).

    Legacy kept lineage in Neo4j: saving B cut from A created
    (A)-[:CUT_TO]->(B) and (B)-[:CUT_FROM]->(A). The same two edges are rows
    here, keyed by the string file_id. Like the Neo4j graph, edges are not
    removed when a file is deleted.
    """

    CUT_TO = "CUT_TO"
    CUT_FROM = "CUT_FROM"
    TYPES = [(CUT_TO, CUT_TO), (CUT_FROM, CUT_FROM)]

    source_file_id = models.CharField(max_length=255, db_index=True)
    target_file_id = models.CharField(max_length=255, db_index=True)
    relationship_type = models.CharField(max_length=16, choices=TYPES)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        unique_together = [("source_file_id", "target_file_id", "relationship_type")]

    def __str__(self):
        return f"({self.source_file_id})-[:{self.relationship_type}]->({self.target_file_id})"
