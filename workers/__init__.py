"""Celery workers: the app in celery_app.py, thin tasks in tasks.py."""
