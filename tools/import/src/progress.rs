//! Long work looks like long work: a progress bar with rate and ETA on a terminal, a plain line
//! every few seconds otherwise (CI logs, `nohup`, a pipe).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// How often the plain progress line is written.
const PLAIN_LINE_INTERVAL: Duration = Duration::from_secs(5);

pub enum Progress {
    Bar(ProgressBar),
    Lines {
        total: u64,
        done: u64,
        started: Instant,
        last_line_at: Instant,
    },
    Quiet,
}

impl Progress {
    /// A bar when stderr is a terminal, plain lines otherwise; nothing when `quiet`.
    pub fn new(quiet: bool) -> Progress {
        if quiet {
            Progress::Quiet
        } else if std::io::stderr().is_terminal() {
            let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            let style = ProgressStyle::with_template(
                "{elapsed_precise} [{wide_bar}] {human_pos}/{human_len} companies \
                 {per_sec} ETA {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar());
            bar.set_style(style);
            Progress::Bar(bar)
        } else {
            let now = Instant::now();
            Progress::Lines {
                total: 0,
                done: 0,
                started: now,
                last_line_at: now,
            }
        }
    }

    pub fn start(&mut self, total: u64) {
        match self {
            Progress::Bar(bar) => bar.set_length(total),
            Progress::Lines { total: t, .. } => {
                *t = total;
                eprintln!("companies-import: {total} companies to read");
            }
            Progress::Quiet => {}
        }
    }

    pub fn advance(&mut self, n: u64) {
        match self {
            Progress::Bar(bar) => bar.inc(n),
            Progress::Lines {
                total,
                done,
                started,
                last_line_at,
            } => {
                *done += n;
                if last_line_at.elapsed() >= PLAIN_LINE_INTERVAL {
                    *last_line_at = Instant::now();
                    eprintln!(
                        "companies-import: {}",
                        progress_line(*done, *total, started.elapsed())
                    );
                }
            }
            Progress::Quiet => {}
        }
    }

    pub fn finish(&mut self) {
        match self {
            Progress::Bar(bar) => bar.finish(),
            Progress::Lines {
                total,
                done,
                started,
                ..
            } => eprintln!(
                "companies-import: {}",
                progress_line(*done, *total, started.elapsed())
            ),
            Progress::Quiet => {}
        }
    }
}

/// `1234/100000 companies (1.2 %), 250/s, ETA 6m 30s`
fn progress_line(done: u64, total: u64, elapsed: Duration) -> String {
    let rate = done as f64 / elapsed.as_secs_f64().max(0.001);
    let percent = if total == 0 {
        100.0
    } else {
        done as f64 * 100.0 / total as f64
    };
    let left = total.saturating_sub(done) as f64 / rate.max(0.001);
    let eta = Duration::from_secs(left.min(1e9) as u64);
    format!(
        "{done}/{total} companies ({percent:.1} %), {rate:.0}/s, ETA {}m {:02}s",
        eta.as_secs() / 60,
        eta.as_secs() % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_plain_line_says_how_far_how_fast_and_how_long() {
        assert_eq!(
            super::progress_line(250, 1000, std::time::Duration::from_secs(10)),
            "250/1000 companies (25.0 %), 25/s, ETA 0m 30s"
        );
    }
}
