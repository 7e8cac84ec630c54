"""``python -m services.notify``: serve notify's HTTP API, its subscribers and the delivery dispatcher."""

from services.notify.app import serve

serve()
