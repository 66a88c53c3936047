"""Fixtures of the search tests; those of the Elasticsearch server live in conftest_es.py."""

from tests.search.conftest_es import alias, es_client, es_url, indexed  # noqa: F401
