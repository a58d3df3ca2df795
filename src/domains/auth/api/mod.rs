//! The auth endpoints, one file per flow.

pub mod login;
pub mod oidc;
pub mod recovery;
pub mod session;
pub mod setup;
pub mod signup;
