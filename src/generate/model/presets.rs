//! The named presets: a mobile network (the default), a call centre and an enterprise PBX.

use super::{CallModel, DurationLaw, Law, NetworkModel, Phones, Tariff, TimeZoneMode, mobile};

/// A named starting point for a model.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Preset {
    /// Subscribers of a mobile carrier calling each other (the default; sources in
    /// docs/data-model.md).
    Mobile,
    /// An inbound call centre: customers on mobile phones calling a few hub lines (fixed lines)
    /// in business hours, many unanswered, short.
    CallCenter,
    /// An enterprise PBX: colleagues on desk phones in business hours only, conference-heavy,
    /// weekends near zero.
    Enterprise,
}

impl Preset {
    /// Every preset, for error messages and the spec.
    pub const ALL: [Preset; 3] = [Preset::Mobile, Preset::CallCenter, Preset::Enterprise];

    /// Its name in requests and records.
    pub fn as_str(self) -> &'static str {
        match self {
            Preset::Mobile => "mobile",
            Preset::CallCenter => "call_center",
            Preset::Enterprise => "enterprise",
        }
    }

    /// The preset named `name`.
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == name)
    }

    /// Its model.
    pub fn model(self) -> CallModel {
        match self {
            Preset::Mobile => mobile(),
            Preset::CallCenter => CallModel {
                preset: self,
                // Abandoned and unanswered calls are the call centre's daily problem.
                status: [0.55, 0.35, 0.05, 0.05],
                call_type: [0.97, 0.03, 0.0],
                duration: DurationLaw {
                    law: Law::Lognormal { sigma: 1.0 },
                    median_seconds: 45.0,
                    min_seconds: 1,
                    max_seconds: 3600,
                },
                hour_weights: [
                    0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.2, 0.6, 1.0, 1.0, 1.0, 0.8, 0.95, 0.95,
                    0.95, 0.95, 0.7, 0.4, 0.2, 0.05, 0.0, 0.0, 0.0,
                ],
                weekday_weights: [1.0, 0.95, 0.9, 0.9, 0.85, 0.25, 0.05],
                contacts: 2,
                circle_share: 0.1,
                local_contacts: 0.5,
                hubs: 20,
                hub_share: 0.85,
                // What the centre pays for its toll-free lines, billed 30/6.
                tariff: Tariff {
                    connection_fee: 0.0,
                    per_minute: [0.012, 0.03, 0.05],
                    first_seconds: 30,
                    increment_seconds: 6,
                },
                ..mobile()
            },
            Preset::Enterprise => CallModel {
                preset: self,
                status: [0.82, 0.12, 0.03, 0.03],
                call_type: [0.55, 0.20, 0.25],
                duration: DurationLaw {
                    law: Law::Lognormal { sigma: 1.1 },
                    median_seconds: 180.0,
                    min_seconds: 1,
                    max_seconds: 7200,
                },
                hour_weights: [
                    0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.1, 0.6, 1.0, 1.0, 0.9, 0.5, 0.8, 1.0,
                    0.95, 0.8, 0.5, 0.15, 0.0, 0.0, 0.0, 0.0, 0.0,
                ],
                weekday_weights: [1.0, 1.0, 1.0, 1.0, 0.85, 0.03, 0.02],
                time_zone: TimeZoneMode::AreaCode,
                activity_exponent: 1.5,
                contacts: 16,
                circle_share: 0.9,
                local_contacts: 0.9,
                // A business trunk billed by the second.
                tariff: Tariff {
                    connection_fee: 0.0,
                    per_minute: [0.005, 0.01, 0.02],
                    first_seconds: 1,
                    increment_seconds: 1,
                },
                // Desk phones: no SIM, no handset identity, no cell.
                network: NetworkModel {
                    phones: Phones::Desk,
                    ..mobile().network
                },
                ..mobile()
            },
        }
    }
}
