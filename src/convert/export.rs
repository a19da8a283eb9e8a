//! Placeholder: filled in by the export importer/exporter work.
