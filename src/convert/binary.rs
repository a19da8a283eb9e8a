//! Placeholder: filled in by the binary importer/exporter work.
