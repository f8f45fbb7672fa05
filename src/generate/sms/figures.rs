//! The text-message model's numbers, each with where it comes from (the sources are in
//! docs/sources/sms-research.md; those marked illustrative have no published figure behind them).

/// Messages per subscriber a day: the 2.2 trillion texts and multimedia messages US carriers
/// carried in 2024 over their 579 million connections, a 366-day year (CTIA's survey of 2025).
pub const DAILY_MESSAGES: f64 = 10.4;
/// Texting volume by hour of the subscriber's local day, in % of a weekday's texts: low at
/// night, a plateau through the day rising to its peak at 20:00–22:00, later than calling's
/// (illustrative: the sources say evenings matter more for texts, none gives hourly shares).
pub const SMS_HOUR_WEIGHTS: [f64; 24] = [
    2.2, 0.8, 0.5, 0.3, 0.3, 0.5, 1.2, 2.5, 3.8, 4.6, 5.0, 5.3, 5.6, 5.5, 5.4, 5.6, 6.0, 6.6, 6.6,
    6.8, 7.0, 7.0, 6.5, 4.4,
];
/// Texting volume by day of the local week, Monday first: flatter than calling's (illustrative).
pub const SMS_WEEKDAY_WEIGHTS: [f64; 7] = [0.96, 0.97, 0.98, 1.00, 1.03, 1.02, 0.94];
/// Shares of the kinds, in [`super::SmsKind::ALL`] order: applications send a fifth of texts, a
/// quarter of theirs one-time codes (illustrative: no US split is published; one-time codes are
/// 20–25 % of business messaging by Mobilesquared).
pub const KIND_WEIGHTS: [f64; 4] = [0.80, 0.05, 0.10, 0.05];
/// Shares of the statuses of a person's message, in [`SmsStatus::ALL`] order: 4.5 % lost, under
/// the 5.1 % failure ratio of a nationwide carrier's trace (Meng et al., INFOCOM 2007).
pub const PERSON_STATUS_WEIGHTS: [f64; 3] = [0.955, 0.020, 0.025];
/// Shares of the statuses of an application's message (95–98 % delivered is an A2P route's
/// benchmark).
pub const A2P_STATUS_WEIGHTS: [f64; 3] = [0.960, 0.030, 0.010];
/// Delivery delay: most at once (log-normal, median [`DELAY_MEDIAN_S`], σ [`DELAY_SIGMA`]); a
/// share retried by the centre ([`RETRY_SHARE`], log-uniform over [`RETRY_S`]); a share whose
/// handset was off ([`OFF_SHARE`], log-normal, median [`OFF_MEDIAN_S`], σ [`OFF_SIGMA`]), at most
/// the validity period. The shape of measured delays: most within seconds, a tail of minutes to
/// hours from the centre's retry schedule (illustrative figures).
pub const DELAY_MEDIAN_S: f64 = 3.0;
/// σ of the immediate delivery's log-normal delay.
pub const DELAY_SIGMA: f64 = 0.8;
/// Share of delivered messages the centre retried.
pub const RETRY_SHARE: f64 = 0.08;
/// The range of a retried message's delay, seconds (one minute to one hour).
pub const RETRY_S: (f64, f64) = (60.0, 3_600.0);
/// Share of delivered messages that waited for a handset switched off.
pub const OFF_SHARE: f64 = 0.02;
/// Median wait for a handset switched off, seconds, and σ of its log-normal.
pub const OFF_MEDIAN_S: f64 = 7_200.0;
/// σ of the wait for a handset switched off.
pub const OFF_SIGMA: f64 = 1.2;
/// How long a centre keeps an undelivered message before it expires, seconds (72 hours, a
/// common default validity period).
pub const VALIDITY_S: i64 = 72 * 3_600;
/// Message length in characters by kind ([`super::SmsKind::ALL`] order): log-normal, median and σ. A
/// person's from the Swiss SMS corpus (median 104, mean 115 characters); an application's
/// illustrative (codes short, marketing often two segments).
pub const LENGTHS: [(f64, f64); 4] = [(104.0, 0.45), (60.0, 0.25), (110.0, 0.30), (180.0, 0.35)];
/// Share of messages by kind that need UCS-2 (an emoji, a non-Latin letter), 70 characters a
/// segment (illustrative).
pub const UCS2_SHARES: [f64; 4] = [0.10, 0.0, 0.02, 0.05];
/// Share of delivered person's messages that are answered, and the reply's delay: log-normal,
/// median and σ, seconds (illustrative: most answers within minutes, a tail of hours).
pub const REPLY_SHARE: f64 = 0.60;
/// Median delay of a reply after the first message's delivery, seconds.
pub const REPLY_MEDIAN_S: f64 = 90.0;
/// σ of the reply delay's log-normal.
pub const REPLY_SIGMA: f64 = 1.5;
/// Short codes a run's applications send from (5 or 6 digits, never starting with 0 or 1), and
/// the Zipf exponent of their volumes.
pub const SHORT_CODES: u64 = 500;
/// Zipf exponent of the short codes' volumes: a few send most.
pub const SHORT_CODE_ZIPF: f64 = 1.0;
/// Share of subscribers billed per text (the rest have texting in their plan, a marginal price
/// of 0): about 1 % of texts were billed per use when carriers charged 20 ¢ a text.
pub const PAY_PER_USE_SHARE: f64 = 0.01;
/// What a text costs a subscriber billed per use, per segment, in thousandths of a cent.
pub const PAY_PER_USE_MILLICENTS: i64 = 20_000;
/// What an application pays to have a text delivered, per segment, in thousandths of a cent:
/// a platform's 0.83 ¢ and a carrier fee of about 0.3 ¢.
pub const A2P_MILLICENTS: i64 = 1_130;
