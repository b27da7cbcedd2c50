"""Pure computation: embeddings, indexes, ranking, scheduling (no Flask, no database)."""
