//! The categories measured, and each one's behaviour: where its readings sit, how they move,
//! where they must stay.

use super::CategoryShape;

/// What is measured; each category has its own unit and range.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Category {
    /// CPU utilisation, percent.
    Cpu,
    /// Memory in use, percent of total.
    Memory,
    /// Disk space in use, percent of capacity.
    Disk,
    /// Request latency, milliseconds.
    Latency,
    /// Network throughput, Mbit/s.
    Network,
}

impl Category {
    /// Every category, in the order used for series and for the validator.
    pub const ALL: [Category; 5] = [
        Category::Cpu,
        Category::Memory,
        Category::Disk,
        Category::Latency,
        Category::Network,
    ];

    /// The value stored in the `category` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Category::Cpu => "cpu",
            Category::Memory => "memory",
            Category::Disk => "disk",
            Category::Latency => "latency",
            Category::Network => "network",
        }
    }

    /// Parses the stored name back.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }

    /// Parses a list of names into distinct categories in canonical order; on an unknown name,
    /// returns its position and a message naming the choices.
    pub fn parse_list<S: AsRef<str>>(names: &[S]) -> Result<Vec<Self>, (usize, String)> {
        let mut parsed = Vec::with_capacity(names.len());
        for (i, name) in names.iter().enumerate() {
            let name = name.as_ref();
            let c = Self::parse(name).ok_or_else(|| {
                (
                    i,
                    format!(
                        "unknown category {name:?}; expected one of cpu, memory, disk, latency, network"
                    ),
                )
            })?;
            parsed.push(c);
        }
        parsed.sort();
        parsed.dedup();
        Ok(parsed)
    }

    /// The value stored in the `unit` field.
    pub fn unit(self) -> &'static str {
        self.model().unit
    }

    /// Inclusive bounds of `value` for this category.
    pub fn bounds(self) -> (f64, f64) {
        self.model().bounds
    }

    /// Lowest reading a series of this category approaches.
    pub fn floor(self) -> f64 {
        self.model().floor
    }

    /// The numbers of this category a model may change, as they are by default.
    pub fn default_shape(self) -> CategoryShape {
        let m = self.model();
        CategoryShape {
            base: m.loaded.map_or(m.base, |(_, lo, hi)| (lo, hi)),
            typical: m.loaded.map(|(typical, _, _)| typical),
            daily: m.daily,
            spike_rate: m.spike.0,
        }
    }
}

/// How one category behaves: where it sits, how it moves, and where it must stay.
#[derive(Debug, Clone, Copy)]
pub(super) struct Model {
    pub(super) unit: &'static str,
    /// Bounds every value stays within (also enforced by the collection validator).
    pub(super) bounds: (f64, f64),
    /// Lowest reading, above the lower bound: no real host idles at exactly 0 % CPU or answers in
    /// 0 ms. The walk approaches the floor but never reaches it.
    pub(super) floor: f64,
    /// Range the per-host base level is drawn from.
    pub(super) base: (f64, f64),
    /// Daily swing as a fraction of the base level (peak at 14:00 UTC).
    pub(super) daily: f64,
    /// Standard deviation of one step of the walk, in log-odds (see [`super::PointGenerator`]); for small
    /// steps about the relative change of the reading per step.
    pub(super) noise: f64,
    /// Mean reversion per step (1 = pure random walk).
    pub(super) phi: f64,
    /// Chance per point of a spike, and its size as a multiple of the base level.
    pub(super) spike: (f64, f64),
    /// For categories driven by the calls a host serves: the base level of a host with an
    /// average share, and the lowest and highest base any host gets. The host's base is that
    /// level × its load factor × (draw from `base` ÷ the middle of `base`), a ±50 % spread.
    pub(super) loaded: Option<(f64, f64, f64)>,
}

impl Model {
    /// Standard deviation of the walk once stationary: `noise / √(1 − phi²)`.
    pub(super) fn walk_sd(&self) -> f64 {
        self.noise / (1.0 - self.phi * self.phi).sqrt()
    }

    pub(super) fn base_mid(&self) -> f64 {
        (self.base.0 + self.base.1) / 2.0
    }
}

impl Category {
    pub(super) fn model(self) -> Model {
        match self {
            Category::Cpu => Model {
                unit: "percent",
                bounds: (0.0, 100.0),
                floor: 0.5,
                base: (15.0, 55.0),
                daily: 0.45,
                noise: 0.12,
                phi: 0.95,
                spike: (0.002, 1.2),
                loaded: Some((20.0, 2.0, 60.0)),
            },
            Category::Memory => Model {
                unit: "percent",
                bounds: (0.0, 100.0),
                floor: 2.0,
                base: (40.0, 75.0),
                daily: 0.08,
                noise: 0.05,
                phi: 0.99,
                spike: (0.0005, 0.25),
                loaded: None,
            },
            Category::Disk => Model {
                unit: "percent",
                bounds: (0.0, 100.0),
                floor: 1.0,
                base: (30.0, 80.0),
                daily: 0.005,
                noise: 0.007,
                phi: 0.999,
                spike: (0.0, 0.0),
                loaded: None,
            },
            Category::Latency => Model {
                unit: "ms",
                bounds: (0.0, 60_000.0),
                floor: 1.0,
                base: (20.0, 80.0),
                daily: 0.30,
                noise: 0.10,
                phi: 0.90,
                spike: (0.003, 8.0),
                loaded: None,
            },
            Category::Network => Model {
                unit: "Mbit/s",
                bounds: (0.0, 10_000.0),
                floor: 0.1,
                base: (50.0, 400.0),
                daily: 0.60,
                noise: 0.08,
                phi: 0.93,
                spike: (0.002, 2.0),
                loaded: Some((150.0, 5.0, 2000.0)),
            },
        }
    }
}
