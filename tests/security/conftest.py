"""Fixtures of the security tests: the Elasticsearch server's, for the search probes."""

from tests.search.conftest_es import alias, es_client, es_url, indexed  # noqa: F401
