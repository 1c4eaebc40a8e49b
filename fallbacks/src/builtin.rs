//! The skills the default assistant ships with, as skill files compiled
//! into the binary (`fallbacks/skills/*.toml`). A user's own files extend
//! them.

use crate::{Catalog, Error};

/// The built-in skill files: (name, text).
pub const SKILLS: &[(&str, &str)] = &[
    (
        "skills/dialogue.toml",
        include_str!("../skills/dialogue.toml"),
    ),
    ("skills/clock.toml", include_str!("../skills/clock.toml")),
    ("skills/timers.toml", include_str!("../skills/timers.toml")),
    ("skills/lights.toml", include_str!("../skills/lights.toml")),
    ("skills/apps.toml", include_str!("../skills/apps.toml")),
    ("skills/lists.toml", include_str!("../skills/lists.toml")),
    (
        "skills/calculator.toml",
        include_str!("../skills/calculator.toml"),
    ),
    (
        "skills/message.toml",
        include_str!("../skills/message.toml"),
    ),
    (
        "skills/hardware.toml",
        include_str!("../skills/hardware.toml"),
    ),
];

/// The built-in skill of simulated lights and devices ("the kitchen
/// light"), left out where a real home describes the devices.
pub const DEVICES: &str = "skills/lights.toml";

/// The built-in skills.
pub fn catalog() -> Result<Catalog, Error> {
    catalog_without(&[])
}

/// The built-in skills but those named in `left_out` (such as
/// [`DEVICES`]).
pub fn catalog_without(left_out: &[&str]) -> Result<Catalog, Error> {
    let mut c = Catalog::new();
    for (name, src) in SKILLS {
        if !left_out.contains(name) {
            c.add_str(name, src)?;
        }
    }
    c.check()?;
    Ok(c)
}

#[cfg(test)]
mod tests {
    #[test]
    fn builtin_skills_load_and_compile() {
        let c = super::catalog().expect("built-in skills are valid");
        let m = crate::Matcher::new(&c).expect("they compile");
        assert!(m.template_count() > 80, "{} templates", m.template_count());
    }
}
