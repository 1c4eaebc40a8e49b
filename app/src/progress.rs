//! The progress bar of long commands (training): on standard error, hidden
//! when asked to be quiet (and by indicatif when standard error is not a
//! terminal).

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A bar drawn with `template` (indicatif's), hidden when `quiet`.
pub fn bar(quiet: bool, template: &str) -> ProgressBar {
    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
    };
    bar.set_style(
        ProgressStyle::with_template(template)
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar
}
