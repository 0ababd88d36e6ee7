"""The catalog room: the format's keys, YAML read safely, permanent ids."""
