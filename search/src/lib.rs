//! The seednet search index (under construction).
