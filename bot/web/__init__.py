"""The HTTP service of a running bot: ``/healthz``, ``/readyz`` and ``/metrics``, and the
routes channels add to it (Telegram's webhook; later, the web console)."""
