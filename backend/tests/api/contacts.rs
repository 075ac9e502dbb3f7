//! (placeholder: filled in by the contacts work)
