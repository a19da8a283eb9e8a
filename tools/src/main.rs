//! The `outcore` command-line tool. One module per subcommand, each with a `run()` that
//! returns the process exit status: 0 ok, 1 problems found, 2 error (130 after Ctrl-C).

use std::process::ExitCode;

use clap::{Parser, Subcommand};

mod convert;
mod export;
mod hist;
mod inspect;
mod interrupt;
mod progress;
mod stats;
mod stats_by;
mod verify;

/// Flags every subcommand takes.
#[derive(Debug, Clone, clap::Args)]
pub struct OutputArgs {
    /// Print machine-readable JSON (documented in tools/README.md) instead of text.
    #[arg(long, global = true)]
    pub json: bool,
    /// Print nothing but errors.
    #[arg(long, short, global = true)]
    pub quiet: bool,
    /// Follow symbolic links inside stores (refused by default: a link can lead out of the
    /// store).
    #[arg(long, global = true)]
    pub follow_symlinks: bool,
}

/// Whether `--follow-symlinks` was given; set once, before any store is opened.
static FOLLOW_SYMLINKS: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Opens the store at `path` with the command line's options (`--follow-symlinks`).
///
/// # Errors
/// As [`outcore::Store::open`].
pub fn open_store(path: &std::path::Path) -> outcore::Result<outcore::Store> {
    Ok(outcore::Store::open(path)?
        .follow_symlinks(FOLLOW_SYMLINKS.load(std::sync::atomic::Ordering::Relaxed)))
}

#[derive(Debug, Parser)]
#[command(
    name = "outcore",
    version,
    about = "N-dimensional arrays larger than RAM, in Zarr v3 stores",
    after_help = "Examples:\n  outcore convert temperature.npy climate.zarr/t2m --chunks 1,720,1440\n  outcore convert 'months/*.npy' climate.zarr/monthly --stack\n  outcore convert trips-*.csv taxi.zarr --concat\n  outcore inspect climate.zarr\n  outcore stats climate.zarr/t2m --json\n  outcore export climate.zarr/t2m t2m.npy\n  outcore verify climate.zarr"
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
    /// Convert .npy, raw binary, CSV or Zarr data into an outcore store, streaming.
    #[command(
        after_help = "Examples:\n  outcore convert field.npy field.zarr\n  outcore convert data.bin out.zarr/x --dtype float32 --shape 1000,2000 --order F\n  outcore convert 'monthly/*.npy' climate.zarr/t2m --stack --chunks 1,444,922\n  outcore convert trips-2024-*.csv taxi.zarr --concat --skip-bad-rows\n  outcore convert pulsars.csv htru2.zarr --header no --matrix\n  outcore convert other.zarr copy.zarr --codec zstd:3 --chunks 256,256"
    )]
    Convert(convert::Args),
    /// Count, NaN count, min, max, sum, mean and std of an array, or per index along an axis.
    #[command(
        after_help = "Examples:\n  outcore stats climate.zarr/t2m\n  outcore stats climate.zarr/t2m --axis 0 --json\n  outcore stats climate.zarr/t2m --scan\n  outcore stats climate.zarr/t2m --quantiles 0.01,0.5,0.99\n  outcore stats taxi.zarr/trips/tip_amount --by payment_type"
    )]
    Stats(stats::Args),
    /// Draw a histogram of an array in the terminal, as JSON, or as an SVG picture.
    #[command(
        after_help = "Examples:\n  outcore hist climate.zarr/t2m\n  outcore hist climate.zarr/t2m --bins 50 --range -40,50 --svg t2m.svg\n  outcore hist climate.zarr/t2m --json"
    )]
    Hist(hist::Args),
    /// Write an array to a .npy file, or to plain (unsharded) Zarr v3.
    #[command(
        after_help = "Examples:\n  outcore export climate.zarr/t2m t2m.npy\n  outcore export climate.zarr/t2m plain.zarr --chunks 1,720,1440 --codec zstd:3"
    )]
    Export(export::Args),
    /// Check every shard index (CRC32C), every chunk (it decodes, to the statistics recorded for it).
    #[command(
        after_help = "Examples:\n  outcore verify climate.zarr\n  outcore verify climate.zarr/t2m --json"
    )]
    Verify(verify::Args),
}

/// Opens the array at `path`: an array directory (a store that is one array, or an array
/// inside a store), or a group holding exactly one array (what `convert` writes by default),
/// which opens that array. A group of several arrays is an error listing them; an array that
/// fails to open (an unsupported data type, a damaged `zarr.json`) is the library's error.
///
/// # Errors
///
/// A path that is not a store, a group without exactly one array (the message lists its
/// arrays), or an array that cannot be opened.
pub fn open_array(path: &std::path::Path) -> anyhow::Result<outcore::Array> {
    let store = open_store(path)?;
    let root_is_group = store
        .nodes()?
        .first()
        .is_some_and(|root| root.path.is_empty() && root.kind == outcore::NodeKind::Group);
    if !root_is_group {
        return Ok(store.open_array("")?);
    }
    let arrays = store.arrays()?;
    match arrays.as_slice() {
        [] => anyhow::bail!("{} is a group without arrays", path.display()),
        [only] => Ok(store.open_array(only)?),
        _ => {
            let shown: Vec<&str> = arrays.iter().take(8).map(String::as_str).collect();
            anyhow::bail!(
                "{} is a group, not an array: name one of its arrays ({}), e.g. {}/{}",
                path.display(),
                shown.join(", "),
                path.display(),
                shown[0]
            )
        }
    }
}

/// Most worker threads `--threads` may ask for: four per core the machine has, and at least
/// 64. More only adds stacks and scheduling, and a mistyped 100000 would not finish starting.
pub fn max_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, usize::from)
        .saturating_mul(4)
        .max(64)
}

/// `text` with every control character (escape sequences, carriage returns, ...; a newline
/// too) written as its Rust escape, so names read from disk never drive the terminal.
pub fn escape_controls(text: &str) -> std::borrow::Cow<'_, str> {
    if !text.chars().any(char::is_control) {
        return std::borrow::Cow::Borrowed(text);
    }
    std::borrow::Cow::Owned(
        text.chars()
            .map(|c| {
                if c.is_control() {
                    c.escape_default().to_string()
                } else {
                    c.to_string()
                }
            })
            .collect(),
    )
}

/// Text output on its way to the terminal: each line's control characters escaped (the line
/// ends themselves kept).
struct Escaping<W: std::io::Write>(W);

impl<W: std::io::Write> std::io::Write for Escaping<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        for (i, line) in text.split('\n').enumerate() {
            if i > 0 {
                self.0.write_all(b"\n")?;
            }
            self.0.write_all(escape_controls(line).as_bytes())?;
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

/// Prints `report` as pretty JSON with `--json`; otherwise, when `show_text`, runs `text`.
/// The text goes through [`Escaping`]: names read from disk are printed, never obeyed.
///
/// # Errors
///
/// A failure to write to standard output, or whatever `text` returns.
pub fn emit<T: serde::Serialize>(
    output: &OutputArgs,
    report: &T,
    show_text: bool,
    text: impl FnOnce(&mut dyn std::io::Write) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    use std::io::Write;
    let mut out = std::io::stdout().lock();
    if output.json {
        serde_json::to_writer_pretty(&mut out, report)?;
        writeln!(out)?;
    } else if show_text {
        let mut escaped = Escaping(out);
        text(&mut escaped)?;
        escaped.flush()?;
    }
    Ok(())
}

/// The problem-found exit status.
pub const EXIT_PROBLEMS: u8 = 1;
/// The error exit status.
pub const EXIT_ERROR: u8 = 2;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => e.exit(), // --help, --version
        Err(e) => {
            // One line, like every other error: clap's first line without its own prefix.
            let text = e.to_string();
            let first = text
                .lines()
                .next()
                .unwrap_or("")
                .trim_start_matches("error: ");
            eprintln!("outcore: error: {} (see --help)", escape_controls(first));
            return ExitCode::from(EXIT_ERROR);
        }
    };
    FOLLOW_SYMLINKS.store(
        cli.output.follow_symlinks,
        std::sync::atomic::Ordering::Relaxed,
    );
    if matches!(
        cli.command,
        Command::Convert(_) | Command::Export(_) | Command::Stats(_)
    ) {
        if let Err(e) = interrupt::catch() {
            eprintln!("outcore: error: installing the Ctrl-C handler: {e}");
            return ExitCode::from(EXIT_ERROR);
        }
    }
    let result = match &cli.command {
        Command::Inspect(args) => inspect::run(args, &cli.output),
        Command::Convert(args) => convert::run(args, &cli.output),
        Command::Stats(args) => stats::run(args, &cli.output),
        Command::Hist(args) => hist::run(args, &cli.output),
        Command::Export(args) => export::run(args, &cli.output),
        Command::Verify(args) => verify::run(args, &cli.output),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e)
            if interrupt::interrupted()
                || e.chain().any(|c| {
                    c.downcast_ref::<outcore::Error>()
                        .is_some_and(|e| e.kind() == outcore::ErrorKind::Cancelled)
                }) =>
        {
            eprintln!("outcore: interrupted; nothing was written");
            ExitCode::from(interrupt::EXIT_INTERRUPTED)
        }
        Err(e)
            if e.chain().any(|c| {
                c.downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
            }) =>
        {
            // The reader went away (`| head`): not an error.
            ExitCode::SUCCESS
        }
        Err(e) => {
            // Library errors already name their cause; add only causes not yet said.
            let mut message = shortened(e.to_string());
            for cause in e.chain().skip(1) {
                let cause = shortened(cause.to_string());
                if !message.contains(&cause) {
                    message.push_str(&format!(": {cause}"));
                }
            }
            if let Some(hint) = flag_hint(&e) {
                message.push_str(hint);
            }
            // One line, whatever the names in it hold.
            eprintln!(
                "outcore: error: {}",
                escape_controls(&message.replace('\n', " "))
            );
            ExitCode::from(EXIT_ERROR)
        }
    }
}

/// Most characters of one error message (or cause) printed: the library bounds what it
/// quotes of metadata, and this bounds what other crates' errors quote.
const MAX_MESSAGE_CHARS: usize = 1000;

/// `text` cut to [`MAX_MESSAGE_CHARS`] characters, saying how long it was.
fn shortened(text: String) -> String {
    match text.char_indices().nth(MAX_MESSAGE_CHARS) {
        None => text,
        Some((end, _)) => format!("{}… ({} bytes)", &text[..end], text.len()),
    }
}

/// The command-line flag that answers a library error, where there is one: the library
/// speaks of options, the binary of its flags.
fn flag_hint(error: &anyhow::Error) -> Option<&'static str> {
    let error = error
        .chain()
        .find_map(|c| c.downcast_ref::<outcore::Error>())?;
    let message = error.to_string();
    match error.kind() {
        outcore::ErrorKind::AlreadyExists => Some(" (pass --overwrite to replace it)"),
        outcore::ErrorKind::Unsupported if message.contains("is a symbolic link") => {
            Some(" (pass --follow-symlinks to follow it)")
        }
        outcore::ErrorKind::InvalidArgument if message.contains("choose to stack them") => {
            Some(" (pass --stack or --concat)")
        }
        _ => None,
    }
}
