//! Fixed vocabularies shared by the import format, classification and patterns (a contract:
//! names are stable, new ones may be added, none renamed).

use serde::{Deserialize, Serialize};

macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            /// Every member, in contract order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The contract name (`snake_case`).
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            /// Parses a contract name; `None` for anything outside the vocabulary.
            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

vocabulary! {
    /// What the child was doing (`activity` records, `activity:<category>` trigger patterns).
    ActivityCategory {
        ScreenTime => "screen_time",
        Exercise => "exercise",
        SkippedMeal => "skipped_meal",
        PoorSleep => "poor_sleep",
        SchoolStress => "school_stress",
        SocialConflict => "social_conflict",
        Caffeine => "caffeine",
        BrightLight => "bright_light",
        LoudNoise => "loud_noise",
        Dehydration => "dehydration",
        Travel => "travel",
        Outdoor => "outdoor",
        Homework => "homework",
        Meditation => "meditation",
        Other => "other",
    }
}

vocabulary! {
    /// What brought relief (`relief` records, `strategy:<name>` relief patterns).
    ReliefStrategy {
        Rest => "rest",
        DarkRoom => "dark_room",
        Water => "water",
        Breathing => "breathing",
        Medication => "medication",
        Snack => "snack",
        Nap => "nap",
        ColdCompress => "cold_compress",
        Walk => "walk",
        Music => "music",
        Other => "other",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for c in ActivityCategory::ALL {
            assert_eq!(ActivityCategory::parse(c.as_str()), Some(*c));
        }
        for s in ReliefStrategy::ALL {
            assert_eq!(ReliefStrategy::parse(s.as_str()), Some(*s));
        }
        assert_eq!(ActivityCategory::ALL.len(), 15);
        assert_eq!(ReliefStrategy::ALL.len(), 11);
        assert_eq!(ActivityCategory::parse("tv"), None);
    }
}
