//! (placeholder: filled in by the groups work)
