"""The relational store: tables and query functions over SQLite or PostgreSQL."""
