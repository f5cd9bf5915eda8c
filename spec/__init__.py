"""The embedded chargespec specification: YAML documents and their JSON Schemas (data only)."""
