//! Multi-node tests live in tests/tests/.
