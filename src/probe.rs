//! TODO: probe
