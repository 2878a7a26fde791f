//! Writing files of an export: hashed while written, renamed when complete.
