from django.contrib import admin

from .models import FileRelationship, SavedFile

admin.site.register(SavedFile)
admin.site.register(FileRelationship)
