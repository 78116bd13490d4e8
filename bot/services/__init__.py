"""Use cases, one module per capability. Services know no platform."""
