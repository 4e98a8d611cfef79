"""The departments' declarations (one TOML file each) and their event schemas (events/)."""
