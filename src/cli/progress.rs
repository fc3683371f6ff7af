//! Progress of a long command (`purge`, `seed`) on stderr: a bar on a terminal, a plain line
//! at most once a second otherwise.

/// A progress bar on a terminal, plain lines on stderr otherwise (logs, CI).
pub(super) struct Progress {
    bar: Option<indicatif::ProgressBar>,
    what: &'static str,
    unit: &'static str,
    last_line: std::cell::Cell<std::time::Instant>,
}

impl Progress {
    pub(super) fn new(what: &'static str, unit: &'static str) -> Progress {
        use std::io::IsTerminal as _;
        let bar = std::io::stderr().is_terminal().then(|| {
            let bar = indicatif::ProgressBar::new(0);
            bar.set_style(
                indicatif::ProgressStyle::with_template(&format!(
                    "{what} {{bar:40}} {{pos}}/{{len}} {unit} ({{per_sec}}, eta {{eta}})"
                ))
                .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
            );
            bar
        });
        Progress {
            bar,
            what,
            unit,
            last_line: std::cell::Cell::new(std::time::Instant::now()),
        }
    }

    pub(super) fn update(&self, done: u64, total: u64) {
        match &self.bar {
            Some(bar) => {
                bar.set_length(total);
                bar.set_position(done);
            }
            None => {
                // Plain lines, at most one a second plus the last.
                if done == total || self.last_line.get().elapsed().as_secs() >= 1 {
                    eprintln!("{} {done}/{total} {}", self.what, self.unit);
                    self.last_line.set(std::time::Instant::now());
                }
            }
        }
    }

    pub(super) fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
