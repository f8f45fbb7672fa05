//! What a generated text message is: its kind, how it ended, and the records the network writes
//! of it.

/// Who sent a message and why: a person, or an application through a short code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SmsKind {
    /// Person to person.
    Person,
    /// Application to person: a one-time code (log-in, payment).
    Code,
    /// Application to person: an alert or notification (bank, delivery, appointment).
    Alert,
    /// Application to person: marketing.
    Marketing,
}

impl SmsKind {
    /// Every kind, in the order of the model's kind weights.
    pub const ALL: [SmsKind; 4] = [
        SmsKind::Person,
        SmsKind::Code,
        SmsKind::Alert,
        SmsKind::Marketing,
    ];

    /// The value stored in the `kind` field.
    pub fn as_str(self) -> &'static str {
        match self {
            SmsKind::Person => "p2p",
            SmsKind::Code => "a2p_otp",
            SmsKind::Alert => "a2p_alert",
            SmsKind::Marketing => "a2p_marketing",
        }
    }

    /// Whether an application sent it (from a short code).
    pub fn is_a2p(self) -> bool {
        self != SmsKind::Person
    }
}

/// How a message's delivery ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SmsStatus {
    /// Reached the recipient's handset; the only status with a delivery time.
    Delivered,
    /// Refused or lost on the way (unknown or barred recipient, network error).
    Failed,
    /// Stored at the centre until its validity period ran out, the handset never reachable.
    Expired,
}

impl SmsStatus {
    /// Every status, in the order of the model's status weights.
    pub const ALL: [SmsStatus; 3] = [SmsStatus::Delivered, SmsStatus::Failed, SmsStatus::Expired];

    /// The value stored in the `status` field.
    pub fn as_str(self) -> &'static str {
        match self {
            SmsStatus::Delivered => "delivered",
            SmsStatus::Failed => "failed",
            SmsStatus::Expired => "expired",
        }
    }
}

/// Which end of a message a record is written at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Direction {
    /// Mobile originated: written where the sender, one of the run's subscribers, submitted it.
    Mo,
    /// Mobile terminated: written where it was delivered to a recipient of the run's network.
    Mt,
}

impl Direction {
    /// The value stored in the `direction` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Mo => "mo",
            Direction::Mt => "mt",
        }
    }
}

/// One message, before it becomes records: who, what, when, how it ended.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// UUID v4, shared by the message's records.
    pub message_id: String,
    /// The message this one answers, if it is a reply.
    pub in_reply_to: Option<String>,
    /// Why it was sent.
    pub kind: SmsKind,
    /// Sender: E.164 for a person, a 5- or 6-digit short code for an application.
    pub sender: String,
    /// Recipient, E.164.
    pub recipient: String,
    /// The sender's IMSI when the sender is on the run's network.
    pub sender_imsi: Option<String>,
    /// The sender's network (`MCC-MNC`) when it is another one.
    pub sender_network: Option<&'static str>,
    /// The recipient's IMSI when the recipient is on the run's network.
    pub recipient_imsi: Option<String>,
    /// The recipient's network (`MCC-MNC`) when it is another one.
    pub recipient_network: Option<&'static str>,
    /// The ECGI of the sender's cell, when the sender is on the run's network.
    pub sender_cell: Option<String>,
    /// The ECGI of the recipient's cell, when the recipient is on the run's network.
    pub recipient_cell: Option<String>,
    /// How it ended.
    pub status: SmsStatus,
    /// When it was submitted, ms since the epoch.
    pub submit_ms: i64,
    /// When it reached the handset, for delivered messages only.
    pub delivery_ms: Option<i64>,
    /// Segments it was sent in (1 up to 10: concatenated SMS).
    pub segments: u32,
    /// What its MO and MT records charge, in thousandths of a cent (see [`Message::price`]).
    pub price_millicents: [i64; 2],
}

impl Message {
    /// The records the run's network writes of it: an MO record where the sender is a
    /// subscriber, an MT record where the recipient is one, in that order.
    pub fn directions(&self) -> impl Iterator<Item = Direction> + use<> {
        let mo = self.sender_imsi.is_some().then_some(Direction::Mo);
        let mt = self.recipient_imsi.is_some().then_some(Direction::Mt);
        mo.into_iter().chain(mt)
    }

    /// What its record at `direction` charges, in thousandths of a cent (integers, so sums are
    /// exact): the sender's price where it is billed per text (on its MO record), the
    /// application's on its MT record whatever the status (a platform charges for a text sent),
    /// otherwise 0.
    pub fn price(&self, direction: Direction) -> i64 {
        self.price_millicents[direction as usize]
    }
}

/// A thread started by one draw: a message and, sometimes, the recipient's reply.
#[derive(Debug, Clone, PartialEq)]
pub struct Thread {
    /// The first message.
    pub message: Message,
    /// The answer, minutes later, from the recipient to the sender.
    pub reply: Option<Message>,
}

impl Thread {
    /// Its messages in the order they were sent.
    pub fn messages(&self) -> impl Iterator<Item = &Message> {
        std::iter::once(&self.message).chain(self.reply.as_ref())
    }
}
