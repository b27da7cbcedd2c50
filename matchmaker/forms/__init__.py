"""WTForms forms, one module per feature."""
