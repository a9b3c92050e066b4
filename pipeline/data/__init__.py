"""Data sources (IDX files, tensorflow-datasets), content hashes and splits."""
