//! Placeholder: filled in by the csv importer/exporter work.
