//! The data-session model's numbers, each with where it comes from (the sources are in
//! docs/sources/sessions-research.md; those marked illustrative have no published figure behind
//! them).

/// Bytes a subscriber moves a day on average: 21 GB a month per smartphone in North America
/// (Ericsson Mobility Report, June 2025; CTIA's 132 trillion MB over 579 M connections in 2024,
/// IoT and home broadband lines included, gives 19 GB).
pub const DAILY_BYTES: f64 = 0.69e9;
/// Data sessions (PDN connections, each with its charging id) a subscriber opens a day: the
/// internet and IMS connections re-established one to two times a day each, and the odd MMS
/// (illustrative: no published count). Sessions are drawn one by one, not chained per
/// subscriber: at a 6 h median they cover about 14 h of a day's internet, and a subscriber's
/// sessions on one APN may overlap (a phone has one connection per APN: see issue-39-plan.md).
pub const DAILY_SESSIONS: f64 = 3.0;
/// σ of the subscribers' usage factor (log-normal, mean 1): set so about 15 % of the
/// subscribers move about 80 % of the bytes, as Ericsson measured in North America (2023); runs
/// of 2,000 subscribers over four weeks gave 76–82 % over twelve seeds.
pub const USAGE_SIGMA: f64 = 1.8;
/// Shares of the sessions by APN, in [`super::Apn::ALL`] order (illustrative).
pub const APN_WEIGHTS: [f64; 3] = [0.55, 0.40, 0.05];
/// Shares of the sessions by radio, in [`super::Rat::ALL`] order (illustrative): 5G devices are
/// 45 % of US connections (CTIA, 2024), taken as the share of sessions recorded on NR. A real
/// PGW record of a non-standalone 5G session says EUTRAN and reports its NR bytes apart, and a
/// standalone one is a different record: `NR` here stands for both.
pub const RAT_WEIGHTS: [f64; 2] = [0.55, 0.45];
/// A session's length by APN: log-normal, median seconds and σ. Internet and IMS connections are
/// long-lived; an MMS fetch takes seconds (illustrative).
pub const DURATIONS_S: [(f64, f64); 3] = [(21_600.0, 0.8), (21_600.0, 0.8), (10.0, 0.8)];
/// The bytes a session moves per hour by APN: log-normal, median and σ. The internet's median is
/// set so the subscribers' days average [`DAILY_BYTES`] (a Monte Carlo calibration over the
/// other figures and the usage factor; a test checks it); IMS signalling is a few megabytes a day; an MMS is a few hundred kilobytes.
pub const HOURLY_BYTES: [(f64, f64); 3] = [(30.3e6, 1.2), (0.2e6, 1.0), (100.0e6, 0.7)];
/// Downlink over uplink bytes by APN: log-normal, median and σ. The internet's from Ericsson's
/// measurements (uplink about 8 % of the volume, 11.5 times less than downlink); IMS signalling
/// about even; an MMS is sent or fetched (illustrative).
pub const DOWN_UP: [(f64, f64); 3] = [(11.5, 0.6), (1.2, 0.3), (1.0, 1.5)];
/// Share of sessions that end abnormally (radio lost, gateway error): 1–2 % (illustrative).
pub const ABNORMAL_SHARE: f64 = 0.015;
/// The longest session, ms: 48 hours (a longer one is released and opened again).
pub const MAX_SESSION_MS: i64 = 48 * 3_600_000;
/// The largest session, bytes: 250 records at the volume limit.
pub const MAX_VOLUME: u64 = 25_000_000_000;
/// A record's time limit, ms: the gateway closes a record after an hour and opens the next
/// (illustrative; gateways allow 60 s to about 460 days, and have no default).
pub const TIME_LIMIT_MS: i64 = 3_600_000;
/// A record's volume limit, bytes up and down together (illustrative; gateways allow 100 kB to
/// 4 GB).
pub const VOLUME_LIMIT: u64 = 100_000_000;
/// Session starts by hour of the subscriber's local day: mobile downlink by hour of the day on
/// Orange France's network in 2013 (Feknous et al., digitized in `tmc-calc/mob-traffic-ds`),
/// peaking at 22:00, taken as the profile of session starts.
pub const DATA_HOUR_WEIGHTS: [f64; 24] = [
    4.9, 2.4, 1.9, 1.2, 1.0, 0.7, 1.3, 1.9, 3.4, 4.9, 3.8, 4.8, 5.2, 6.6, 4.6, 5.3, 5.3, 5.6, 5.9,
    5.9, 5.8, 5.9, 7.2, 4.8,
];
/// Session starts by day of the local week, Monday first: nearly flat (illustrative).
pub const DATA_WEEKDAY_WEIGHTS: [f64; 7] = [0.97, 0.97, 0.98, 0.99, 1.02, 1.05, 1.02];
