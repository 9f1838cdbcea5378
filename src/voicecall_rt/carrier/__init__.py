"""carrier."""
