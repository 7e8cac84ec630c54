"""The staff console (``/console/``) and the parent's status page (``/status/``): server-rendered HTML on intake.

Both are clients of intake's own use cases and API, and of routing's, notify's and catalog's HTTP APIs: they hold no
rule of their own. See ``services.intake.console.web`` (routes), ``session`` (cookies, CSRF) and ``stats`` (the
dashboard's SQL)."""
