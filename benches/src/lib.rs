//! Benchmarks of `iso-core`; see `benches/reader.rs` and `README.md`. This library is empty.
