"""Application services: work that spans several ports (no kopf, no concrete adapters).

Used by the controllers and by the SDK alike, so both do the same thing the same way.
"""
