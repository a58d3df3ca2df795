//! The auth endpoints, one file per flow.

pub mod login;
pub mod recovery;
pub mod setup;
pub mod signup;
