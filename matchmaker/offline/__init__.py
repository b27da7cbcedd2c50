"""Offline tools run at install or by hand, never by the site: building the embedding model folder."""
