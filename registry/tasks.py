"""Celery discovers each app's tasks here (config/celery.py autodiscover_tasks)."""

from .api_imports import import_upload as import_upload
