"""Plumbing with no domain knowledge: settings, metadata store, bus, object store, auth,
metrics, logging and process supervision. Every other room builds on it; it imports none."""
