//! Text messages (SMS) between the subscribers of a run, from the same people, numbers, network
//! identities and cells as its calls (issue 39; the figures and their sources are in
//! docs/sources/sms-research.md).
//!
//! The model:
//! - a run of `count` draws, each starting a [`Thread`]: a message and sometimes its reply. Draw
//!   `i` is submitted at `F⁻¹((i + u) / count)` of the texting volume, which follows the local
//!   clock of each zone like calls do, with texting's own hour profile (later in the evening);
//! - kind: person to person, or an application's one-time code, alert or marketing message from
//!   a short code;
//! - a person's message goes from a subscriber drawn by activity (heavy-tailed, as for calls) to
//!   one of their contacts; an application's to a subscriber drawn by activity, from one of the
//!   run's short codes, a few of which send most;
//! - the recipient is on the run's network or another operator's (the same draw for the pair as
//!   for calls);
//! - status delivered, failed or expired; a delivered message reaches the handset after a delay
//!   that is a few seconds for most and minutes to hours for a few (a handset out of reach,
//!   retried by the centre);
//! - segments from a message length and the alphabet it needs;
//! - a delivered person's message is answered with some probability, minutes later;
//! - records: an MO record where the sender is a subscriber and an MT record where the recipient
//!   is one, both carrying the message's id (see [`Message::directions`]).

use super::calls::ascii;
use super::calls::call_id::uuid_v4;
use super::network::{OPERATORS, Party, country_of};
use super::rng::{self, DocRng};
use super::traffic::Traffic;
pub use super::traffic::TrafficParams;
pub use document::{MAX_THREADS, RECORD_SLOTS};
pub use figures::*;
pub use record::{Direction, Message, SmsKind, SmsStatus, Thread};

/// Seed streams of the messages, apart from the calls' (a run's calls keep their values).
const MESSAGE_STREAM: u64 = 0x736d_7300_0000_0000;
const CELL_STREAM: u64 = 0x736d_7363_0000_0000;
const PLAN_STREAM: u64 = 0x736d_7370_0000_0000;
const RECIPIENT_CELL_STREAM: u64 = 0x736d_7274_0000_0000;

/// Threads that give the subscribers of `params` [`DAILY_MESSAGES`] messages each a day over the
/// window (a thread holds [`messages_per_thread`] on average): what a request that omits `count`
/// gets. At least 1, at most [`MAX_THREADS`].
pub fn daily_threads(params: &TrafficParams) -> u32 {
    let messages = f64::from(params.subscribers) * f64::from(params.days) * DAILY_MESSAGES;
    (messages / messages_per_thread())
        .round()
        .clamp(1.0, f64::from(MAX_THREADS)) as u32
}

/// Messages a thread holds on average: the first, and a reply to a delivered person's message
/// with [`REPLY_SHARE`].
pub fn messages_per_thread() -> f64 {
    let total: f64 = KIND_WEIGHTS.iter().sum();
    let delivered = PERSON_STATUS_WEIGHTS[0] / PERSON_STATUS_WEIGHTS.iter().sum::<f64>();
    1.0 + KIND_WEIGHTS[0] / total * delivered * REPLY_SHARE
}

/// Produces the threads of one run (parameters, seed, count); like [`super::CallGenerator`],
/// any draw can be produced on its own.
#[derive(Debug, Clone)]
pub struct SmsGenerator {
    seed: u64,
    traffic: Traffic,
    kind_cum: [f64; 4],
    person_status_cum: [f64; 3],
    a2p_status_cum: [f64; 3],
    short_code_cum: Vec<f64>,
}

impl SmsGenerator {
    /// A generator for a run of `count` draws with `params` and `seed`.
    pub fn new(params: TrafficParams, seed: u64, count: u32) -> Option<Self> {
        params.model.network.mobile()?;
        let traffic = Traffic::new(&params, seed, count, SMS_HOUR_WEIGHTS, SMS_WEEKDAY_WEIGHTS);
        let zipf: Vec<f64> = (1..=SHORT_CODES)
            .map(|r| 1.0 / (r as f64).powf(SHORT_CODE_ZIPF))
            .scan(0.0, |sum, w| {
                *sum += w;
                Some(*sum)
            })
            .collect();
        Some(Self {
            seed,
            traffic,
            kind_cum: rng::cumulative(KIND_WEIGHTS),
            person_status_cum: rng::cumulative(PERSON_STATUS_WEIGHTS),
            a2p_status_cum: rng::cumulative(A2P_STATUS_WEIGHTS),
            short_code_cum: zipf,
        })
    }

    /// Draw number `index` of the run: a message and perhaps its reply.
    pub fn thread(&self, index: u64) -> Thread {
        let mut rng = rng::stream_rng(self.seed ^ MESSAGE_STREAM, index);
        let message_id = uuid_v4(&mut rng);
        let kind = SmsKind::ALL[rng::weighted(&mut rng, &self.kind_cum)];
        let submit_ms = self.traffic.times.at(index, rng::unit(&mut rng));
        let people = &self.traffic.people;
        let zone = self
            .traffic
            .times
            .volume
            .zone(submit_ms, rng::unit(&mut rng));
        let subscriber = people.person_in(zone, &mut rng);
        let statuses = if kind.is_a2p() {
            &self.a2p_status_cum
        } else {
            &self.person_status_cum
        };
        let status = SmsStatus::ALL[rng::weighted(&mut rng, statuses)];
        let delivery_ms = self.delivery(status, submit_ms, &mut rng);
        let segments = segments(kind, &mut rng);
        // An application writes to the subscriber drawn; a person is the subscriber drawn.
        let (mut message, to) = if kind.is_a2p() {
            let code = self.short_code(rng::unit(&mut rng));
            let mut m = self.blank(ascii(&message_id), kind, code, status, submit_ms);
            let cell = || {
                self.cell_of(
                    subscriber,
                    submit_ms,
                    index ^ CELL_STREAM ^ RECIPIENT_CELL_STREAM,
                )
            };
            self.set_recipient(&mut m, subscriber, None, cell);
            (m, subscriber)
        } else {
            let to = people.contact_of(subscriber, &mut rng);
            let sender = people.number(subscriber);
            let mut m = self.blank(ascii(&message_id), kind, sender, status, submit_ms);
            self.set_sender(&mut m, subscriber, index ^ CELL_STREAM);
            let cell = || self.cell_of(to, submit_ms, index ^ CELL_STREAM ^ RECIPIENT_CELL_STREAM);
            self.set_recipient(&mut m, to, Some(subscriber), cell);
            (m, to)
        };
        message.delivery_ms = delivery_ms;
        message.segments = segments;
        message.price_millicents = if kind.is_a2p() {
            [0, A2P_MILLICENTS * i64::from(segments)]
        } else {
            [self.per_use(subscriber, segments), 0]
        };
        let reply = self.reply(&message, (subscriber, to), &mut rng);
        Thread { message, reply }
    }

    /// The recipient's answer to `m` (a delivered person's message between the subscribers
    /// `(from, to)`), if any.
    fn reply(&self, m: &Message, (from, to): (u64, u64), rng: &mut DocRng) -> Option<Message> {
        let answered = rng::unit(rng) < REPLY_SHARE;
        let delay = rng::lognormal(rng, REPLY_MEDIAN_S, REPLY_SIGMA);
        let id = uuid_v4(rng);
        let (Some(delivered), SmsKind::Person) = (m.delivery_ms, m.kind) else {
            return None;
        };
        if !answered {
            return None;
        }
        let submit_ms = delivered + (delay * 1000.0).round() as i64;
        let status = SmsStatus::ALL[rng::weighted(rng, &self.person_status_cum)];
        let mut r = self.blank(
            ascii(&id),
            SmsKind::Person,
            m.recipient.clone(),
            status,
            submit_ms,
        );
        r.in_reply_to = Some(m.message_id.clone());
        // Roles swap: the replier is on the network where the first message's recipient was.
        r.sender_imsi = m.recipient_imsi.clone();
        r.sender_network = m.recipient_network;
        // Minutes later, each is still where the first message left or found them.
        if r.sender_imsi.is_some() {
            r.sender_cell = m.recipient_cell.clone();
        }
        let cell = || m.sender_cell.clone().unwrap_or_default();
        self.set_recipient(&mut r, from, None, cell);
        r.delivery_ms = self.delivery(status, submit_ms, rng);
        r.segments = segments(SmsKind::Person, rng);
        if r.sender_imsi.is_some() {
            r.price_millicents[0] = self.per_use(to, r.segments);
        }
        Some(r)
    }

    /// A message with no identities, delivery or segments yet.
    fn blank(
        &self,
        id: &str,
        kind: SmsKind,
        sender: String,
        status: SmsStatus,
        submit_ms: i64,
    ) -> Message {
        Message {
            message_id: id.to_owned(),
            in_reply_to: None,
            kind,
            sender,
            recipient: String::new(),
            sender_imsi: None,
            sender_network: None,
            recipient_imsi: None,
            recipient_network: None,
            sender_cell: None,
            recipient_cell: None,
            status,
            submit_ms,
            delivery_ms: None,
            segments: 1,
            price_millicents: [0; 2],
        }
    }

    /// The sender's identities and cell: senders are the run's subscribers.
    fn set_sender(&self, m: &mut Message, k: u64, stream: u64) {
        if let Some(net) = &self.traffic.network {
            m.sender_imsi = Some(ascii(&net.imsi(k)).to_owned());
            m.sender_cell = Some(self.cell_of(k, m.submit_ms, stream));
        }
    }

    /// The recipient `k`'s number, and its identities and `cell` when on the run's network (the
    /// cell worked out only then). A person's recipient (`from` the sender) may be on another
    /// operator's, with a number there.
    fn set_recipient(
        &self,
        m: &mut Message,
        k: u64,
        from: Option<u64>,
        cell: impl FnOnce() -> String,
    ) {
        let people = &self.traffic.people;
        let Some(net) = &self.traffic.network else {
            m.recipient = people.number(k);
            return;
        };
        let party = match from {
            Some(from) => net.party(from, k, country_of(people.area_code(k))),
            None => Party::OnNet,
        };
        match party {
            Party::OffNet(i) => {
                let avoid = people.digits(from.unwrap_or(k));
                m.recipient = ascii(&people.off_net_digits(k, &avoid)).to_owned();
                m.recipient_network = Some(OPERATORS[usize::from(i)].code);
            }
            _ => {
                m.recipient = people.number(k);
                m.recipient_imsi = Some(ascii(&net.imsi(k)).to_owned());
                m.recipient_cell = Some(cell());
            }
        }
    }

    /// Where subscriber `k` is at `t_ms`, as an ECGI (a message has no duration: no hand-over).
    fn cell_of(&self, k: u64, t_ms: i64, stream: u64) -> String {
        let t = &self.traffic;
        t.cell(k, t_ms, stream)
            .map(|c| t.ecgi(c))
            .unwrap_or_default()
    }

    /// The short code of rank drawn by `u`: 5 digits for most, 6 for the tail.
    fn short_code(&self, u: f64) -> String {
        let total = self.short_code_cum[self.short_code_cum.len() - 1];
        let rank = self
            .short_code_cum
            .partition_point(|&c| c <= u * total)
            .min(self.short_code_cum.len() - 1) as u64;
        // A shuffle of the codes, one to one: the rank times a prime, plus a shift of the run.
        let shift = rng::mix(self.seed ^ MESSAGE_STREAM, 0);
        let (first, span) = if rank < SHORT_CODES * 4 / 5 {
            (20_000, 80_000)
        } else {
            (200_000, 800_000)
        };
        (first + (rank * 7_919 + shift % span) % span).to_string()
    }

    /// When a message of `status` submitted at `submit_ms` reached the handset (delivered only).
    /// The same draws whatever the status.
    fn delivery(&self, status: SmsStatus, submit_ms: i64, rng: &mut DocRng) -> Option<i64> {
        let u = rng::unit(rng);
        let (at_once, v) = (
            rng::lognormal(rng, DELAY_MEDIAN_S, DELAY_SIGMA),
            rng::unit(rng),
        );
        let off = rng::lognormal(rng, OFF_MEDIAN_S, OFF_SIGMA);
        if status != SmsStatus::Delivered {
            return None;
        }
        let s = if u < RETRY_SHARE {
            RETRY_S.0 * (RETRY_S.1 / RETRY_S.0).powf(v)
        } else if u < RETRY_SHARE + OFF_SHARE {
            off.min((VALIDITY_S - 1) as f64)
        } else {
            at_once
        };
        Some(submit_ms + (s * 1000.0).round() as i64)
    }

    /// What a text of `segments` costs subscriber `k`: a stable draw of the run decides whether
    /// they are billed per text.
    pub fn per_use(&self, k: u64, segments: u32) -> i64 {
        let billed = rng::unit_of(rng::mix(self.seed ^ PLAN_STREAM, k)) < PAY_PER_USE_SHARE;
        if billed {
            PAY_PER_USE_MILLICENTS * i64::from(segments)
        } else {
            0
        }
    }
}

/// Segments of a message of `kind`: its length (log-normal) over the characters a segment holds,
/// 160 (or 70 in UCS-2) for one alone and 153 (67) each once concatenated; at most 10.
fn segments(kind: SmsKind, rng: &mut DocRng) -> u32 {
    let (median, sigma) = LENGTHS[kind as usize];
    let chars = rng::lognormal(rng, median, sigma).ceil().max(1.0) as u32;
    let (single, each) = if rng::unit(rng) < UCS2_SHARES[kind as usize] {
        (70, 67)
    } else {
        (160, 153)
    };
    let chars = chars.min(each * 10);
    if chars <= single {
        1
    } else {
        chars.div_ceil(each)
    }
}

mod document;
mod figures;
mod record;

#[cfg(test)]
mod tests;
