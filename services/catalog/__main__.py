"""``python -m services.catalog``: serve the catalog's HTTP API and its subscribers in one process."""

from services.catalog.app import serve

serve()
