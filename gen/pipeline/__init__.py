"""The pipeline room: verify once, publish once, render everything; show; the Python API."""
