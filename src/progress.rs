//! Progress of a run on a terminal: counters the pipeline bumps once per chunk (relaxed
//! atomics, no lock and no per-line cost) and a thread that polls them into an `indicatif`
//! bar on stderr. Never prints anything but the bar, and never touches the data.

use std::io::IsTerminal;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Bytes and lines processed so far; shared by the workers and the display thread.
#[derive(Debug, Default)]
pub struct Counters {
    pub bytes: AtomicU64,
    pub lines: AtomicU64,
}

impl Counters {
    /// Called once per chunk by the worker that finished it.
    #[inline]
    pub fn add(&self, bytes: u64, lines: u64) {
        self.bytes.fetch_add(bytes, Ordering::Relaxed);
        self.lines.fetch_add(lines, Ordering::Relaxed);
    }
}

/// The size of the inputs when it is known in advance: every input a plain, uncompressed
/// file (compressed inputs are counted in decompressed bytes, stdin has no size).
pub fn known_size(inputs: &[&Path]) -> Option<u64> {
    let mut total = 0u64;
    for p in inputs {
        let meta = std::fs::metadata(p).ok()?;
        if !meta.is_file() {
            return None;
        }
        let mut magic = [0u8; 4];
        let n = std::fs::File::open(p)
            .and_then(|mut f| std::io::Read::read(&mut f, &mut magic))
            .ok()?;
        if n >= 2 && (magic[..2] == [0x1f, 0x8b] || (n == 4 && magic == [0x28, 0xb5, 0x2f, 0xfd])) {
            return None;
        }
        total += meta.len();
    }
    Some(total)
}

/// A running bar; [`Display::finish`] clears it.
pub struct Display {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

/// Whether a bar should be drawn: stderr is a terminal and the user did not ask for quiet.
pub fn wanted(quiet: bool) -> bool {
    !quiet && std::io::stderr().is_terminal()
}

fn style(total_known: bool) -> ProgressStyle {
    let color = std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let bar = if color {
        "{bar:24.cyan/blue}"
    } else {
        "{bar:24}"
    };
    let template = if total_known {
        format!("{{spinner}} {bar} {{bytes}}/{{total_bytes}} {{bytes_per_sec}} {{msg}} ETA {{eta}}")
    } else {
        "{spinner} {bytes} {bytes_per_sec} {msg} {elapsed}".to_string()
    };
    ProgressStyle::with_template(&template)
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ")
}

impl Display {
    /// Starts polling `counters` ten times a second into a bar on stderr.
    pub fn start(counters: Arc<Counters>, total: Option<u64>) -> Display {
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = stop.clone();
        let thread = std::thread::Builder::new()
            .name("logveil-progress".into())
            .spawn(move || {
                let bar = match total {
                    Some(t) => ProgressBar::with_draw_target(Some(t), ProgressDrawTarget::stderr()),
                    None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
                };
                bar.set_style(style(total.is_some()));
                let started = std::time::Instant::now();
                while !stop2.load(Ordering::Relaxed) {
                    let bytes = counters.bytes.load(Ordering::Relaxed);
                    let lines = counters.lines.load(Ordering::Relaxed);
                    let secs = started.elapsed().as_secs_f64().max(1e-3);
                    bar.set_position(bytes);
                    bar.set_message(format!("{lines} lines {:.0}/s", lines as f64 / secs));
                    std::thread::sleep(Duration::from_millis(100));
                }
                bar.finish_and_clear();
            })
            .ok();
        Display { stop, thread }
    }

    /// Stops the thread and clears the bar.
    pub fn finish(mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Display {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
