//! Pure computation with no HTTP and no SQL: libraries the domains call.

pub mod media;
