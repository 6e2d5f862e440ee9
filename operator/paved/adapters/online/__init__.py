"""Online stores: the latest feature values per entity (Redis)."""
