//! StrataMake: the self-hosted AI creative platform in one binary. The library holds
//! the whole application; `main.rs` only runs the command line.

pub mod app;
pub mod cli;
pub mod config;
pub mod domains;
pub mod engines;
pub mod error;
pub mod platform;
pub mod server;
pub mod web;
