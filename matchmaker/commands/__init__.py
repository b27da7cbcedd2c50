"""Click commands, one module per feature."""
