"""Following a Rucio server: REST client, sync, hermes listener, metadata plugin.

docs/rucio.md says what each part does and how to run it.
"""
