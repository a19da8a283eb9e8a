//! The `outcore` command-line tool. One module per subcommand, each with a `run()` that
//! returns the process exit status: 0 ok, 1 problems found, 2 error.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod inspect;

/// Flags every subcommand takes.
#[derive(Debug, Clone, clap::Args)]
pub struct OutputArgs {
    /// Print machine-readable JSON (documented in tools/README.md) instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// Print nothing but errors.
    #[arg(long, short, global = true)]
    pub quiet: bool,
}

#[derive(Debug, Parser)]
#[command(
    name = "outcore",
    version,
    about = "N-dimensional arrays larger than RAM, in Zarr v3 stores",
    after_help = "Example:\n  outcore inspect climate.zarr\n  outcore inspect climate.zarr --json"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
    #[command(flatten)]
    output: OutputArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Show the hierarchy of a Zarr store and, per array, its layout and storage.
    #[command(
        after_help = "Example:\n  outcore inspect climate.zarr\n  outcore inspect climate.zarr/temperature --json"
    )]
    Inspect(inspect::Args),
}

/// The problem-found exit status.
pub const EXIT_PROBLEMS: u8 = 1;
/// The error exit status.
pub const EXIT_ERROR: u8 = 2;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Inspect(args) => inspect::run(args, &cli.output),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            // Library errors already name their cause; add only causes not yet said.
            let mut message = e.to_string();
            for cause in e.chain().skip(1) {
                let cause = cause.to_string();
                if !message.contains(&cause) {
                    message.push_str(&format!(": {cause}"));
                }
            }
            eprintln!("outcore: error: {}", message.replace('\n', " "));
            ExitCode::from(EXIT_ERROR)
        }
    }
}
