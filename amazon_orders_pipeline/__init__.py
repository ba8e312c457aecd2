"""Amazon SP-API orders pipeline."""
