"""Repository tooling: link checking, figure regeneration."""
