"""The TAP 1.1 / ObsCore 1.1 service over the catalogue (docs/vo.md).

``tables`` says what is published, ``adql`` turns ADQL into the store's SQL over those
tables, ``execute`` runs it, ``formats`` writes the answer, ``uws`` runs async jobs, and
``app`` is the HTTP surface (sync, async, VOSI, examples, DataLink).
"""
