"""Pipeline runners: KFP local (embedded default) and the KFP API."""
