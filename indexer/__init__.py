"""Everything Elasticsearch: mapping, documents, outbox draining."""
