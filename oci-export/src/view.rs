//! What the `isolution` CLI and the Python package show, computed once for both.
