//! `stratamake`: the self-hosted AI creative platform in one binary.

use clap::Parser;

#[tokio::main]
async fn main() {
    let cli = stratamake::cli::Cli::parse();
    if let Err(error) = stratamake::cli::run(cli).await {
        eprintln!("stratamake: {error:#}");
        std::process::exit(1);
    }
}
