"""``python -m services.routing``: serve routing's HTTP API and its subscribers in one process."""

from services.routing.app import serve

serve()
