"""ASGI entry point for process managers: `uvicorn tongban.asgi:app` (settings from env)."""

from tongban.app import create_app

app = create_app()
