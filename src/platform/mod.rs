//! Infrastructure with no domain knowledge: data-dir layout, clock, database,
//! migrations, the job queue, mail, rate limits, full-text search, random tokens, usage
//! counters and the personal-data registry.

pub mod blobs;
pub mod clock;
pub mod cursor;
pub mod data_dir;
pub mod db;
pub mod jobs;
pub mod mail;
pub mod migrations;
pub mod personal_data;
pub mod rate_limit;
pub mod search;
pub mod secrets;
pub mod tokens;
pub mod usage;
