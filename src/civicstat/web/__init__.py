"""Web app and JSON API (FastAPI): thin routes that call services and render answers."""
