//! What a generated call is: its type, how it ended, and the record before it is written as BSON,
//! with its network identities.

/// The kind of call, which sets its price per minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallType {
    /// A plain voice call.
    Voice,
    /// A video call.
    Video,
    /// A multi-party conference call.
    Conference,
}

impl CallType {
    /// Every call type, in the order of [`CALL_TYPE_WEIGHTS`].
    pub const ALL: [CallType; 3] = [CallType::Voice, CallType::Video, CallType::Conference];

    /// The value stored in the `call_type` field.
    pub fn as_str(self) -> &'static str {
        match self {
            CallType::Voice => "voice",
            CallType::Video => "video",
            CallType::Conference => "conference",
        }
    }
}

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallStatus {
    /// Connected and talked; the only status with a duration and a cost.
    Completed,
    /// Rang out unanswered.
    Missed,
    /// The callee was busy.
    Busy,
    /// The network failed to set the call up.
    Failed,
}

impl CallStatus {
    /// Every status, in the order of [`STATUS_WEIGHTS`].
    pub const ALL: [CallStatus; 4] = [
        CallStatus::Completed,
        CallStatus::Missed,
        CallStatus::Busy,
        CallStatus::Failed,
    ];

    /// The value stored in the `status` field.
    pub fn as_str(self) -> &'static str {
        match self {
            CallStatus::Completed => "completed",
            CallStatus::Missed => "missed",
            CallStatus::Busy => "busy",
            CallStatus::Failed => "failed",
        }
    }
}

/// One generated call, before it is written as BSON.
#[derive(Debug, Clone, PartialEq)]
pub struct CallRecord {
    /// UUID v4, lower-case hyphenated.
    pub call_id: String,
    /// Calling number, E.164.
    pub caller: String,
    /// Called number, E.164, never equal to `caller`.
    pub callee: String,
    /// Kind of call.
    pub call_type: CallType,
    /// How it ended.
    pub status: CallStatus,
    /// Start, milliseconds since the epoch.
    pub start_ms: i64,
    /// End, milliseconds since the epoch, never before the start.
    pub end_ms: i64,
    /// Talk time in seconds, for completed calls only.
    pub duration: Option<u32>,
    /// Charge in USD, 0 unless completed.
    pub cost: f64,
    /// The scenario that produced or altered the call, if any.
    pub anomaly: Option<&'static str>,
    /// Who is who on the network, for mobile phones.
    pub identities: Option<Identities>,
}

/// The network identities of a call between mobile phones (see [`crate::generate::network`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Identities {
    /// The caller's IMSI, 15 digits.
    pub caller_imsi: String,
    /// The caller's handset IMEI, 15 digits with the Luhn check digit.
    pub caller_imei: String,
    /// The callee's IMSI when it is on the same network.
    pub callee_imsi: Option<String>,
    /// The callee's network (`MCC-MNC`) when it is on another one.
    pub callee_network: Option<&'static str>,
    /// The ECGI of the cell serving the caller when the call started.
    pub caller_cell_start: String,
    /// The ECGI of the cell serving the caller when it ended (another one after hand-overs).
    pub caller_cell_end: String,
    /// How many times the caller's serving cell changed during the call.
    pub handovers: u32,
    /// The ECGI of the on-net callee's cell.
    pub callee_cell: Option<String>,
}
