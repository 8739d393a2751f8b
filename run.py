"""WSGI entry point and `flask` CLI target: ``flask --app run …``, ``gunicorn run:app``."""
from app import create_app

app = create_app()
