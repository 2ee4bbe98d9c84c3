"""A demo server on an embedded SQLite database with sample endpoints."""
