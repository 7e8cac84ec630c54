"""``python -m services.intake``: serve intake's HTTP API and its subscribers in one process."""

from services.intake.app import serve

serve()
