"""``schema.asgi:app`` for uvicorn workers: settings from the environment, read at start-up."""

from catalogue.config import Settings
from schema.app import create_app

app = create_app(Settings(), run_migrations=False)
