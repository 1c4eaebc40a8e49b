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

    /// Regression: "groceries" was both a list of its own and another
    /// name of the shopping list; the first won, so "add milk to the
    /// groceries" went to a list nobody reads.
    #[test]
    fn groceries_is_the_shopping_list() {
        let c = super::catalog().expect("built-in skills are valid");
        let m = crate::Matcher::new(&c).expect("they compile");
        for said in ["add milk to the groceries", "put eggs on my groceries list"] {
            let p = m.parse(said, &crate::Context::default()).expect(said);
            assert_eq!(p.intent, "list_add", "{said}");
            assert_eq!(
                p.slot("list").map(|s| s.value.to_string()),
                Some("shopping".into()),
                "{said}"
            );
        }
    }
}
