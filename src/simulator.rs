//! TODO: simulator
