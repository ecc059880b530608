//! TODO: provider
