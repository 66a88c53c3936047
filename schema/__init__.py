"""The service's entry points: the ASGI app and the ``lakecat`` command."""
