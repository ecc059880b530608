//! TODO: discovery
