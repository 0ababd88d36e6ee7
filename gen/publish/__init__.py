"""The publishing room: the catalog document, citations, coverage, limits, self-check programs."""
