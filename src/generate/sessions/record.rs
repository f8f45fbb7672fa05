//! What a generated data session is, and the partial records a gateway writes of it.

/// The access point a session is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Apn {
    /// The internet: nearly all the volume.
    Internet,
    /// The IMS: voice-over-LTE signalling, small and long-lived.
    Ims,
    /// Multimedia messages: a picture sent or fetched.
    Mms,
}

impl Apn {
    /// Every APN, in the order of the model's APN weights.
    pub const ALL: [Apn; 3] = [Apn::Internet, Apn::Ims, Apn::Mms];

    /// The value stored in the `apn` field (the APN network identifier).
    pub fn as_str(self) -> &'static str {
        match self {
            Apn::Internet => "internet",
            Apn::Ims => "ims",
            Apn::Mms => "mms",
        }
    }
}

/// The radio access a session used (3GPP TS 29.274 RAT type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Rat {
    /// LTE (E-UTRAN, RAT type 6).
    Lte,
    /// 5G NR (RAT type 10).
    Nr,
}

impl Rat {
    /// Both, in the order of the model's weights.
    pub const ALL: [Rat; 2] = [Rat::Lte, Rat::Nr];

    /// The value stored in the `rat_type` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Rat::Lte => "EUTRAN",
            Rat::Nr => "NR",
        }
    }
}

/// Why a record was closed (3GPP TS 32.298 `causeForRecClosing`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Closing {
    /// The session ended normally (0).
    Normal,
    /// The session ended abnormally: radio lost, gateway error (4).
    Abnormal,
    /// The record reached the volume limit; the session goes on in the next record (16).
    VolumeLimit,
    /// The record reached the time limit; the session goes on in the next record (17).
    TimeLimit,
}

impl Closing {
    /// The value stored in the `cause_for_closing` field.
    pub fn as_str(self) -> &'static str {
        match self {
            Closing::Normal => "normal_release",
            Closing::Abnormal => "abnormal_release",
            Closing::VolumeLimit => "volume_limit",
            Closing::TimeLimit => "time_limit",
        }
    }

    /// Its code in TS 32.298.
    pub fn code(self) -> i32 {
        match self {
            Closing::Normal => 0,
            Closing::Abnormal => 4,
            Closing::VolumeLimit => 16,
            Closing::TimeLimit => 17,
        }
    }
}

/// One data session of a subscriber, whole.
#[derive(Debug, Clone, PartialEq)]
pub struct Session {
    /// The subscriber's place in the run's population (not written: the IMSI names them).
    pub subscriber: u64,
    /// The gateway's charging id, shared by the session's records (unique in a run).
    pub charging_id: u32,
    /// The subscriber's IMSI.
    pub imsi: String,
    /// The handset's IMEI.
    pub imei: String,
    /// The subscriber's number (MSISDN): E.164 digits without `+`.
    pub msisdn: String,
    /// The access point.
    pub apn: Apn,
    /// The radio access.
    pub rat: Rat,
    /// Start, ms since the epoch.
    pub start_ms: i64,
    /// End, ms since the epoch, after the start.
    pub end_ms: i64,
    /// Bytes the handset sent.
    pub bytes_up: u64,
    /// Bytes the handset received.
    pub bytes_down: u64,
    /// The cell serving it when it started (ECGI).
    pub cell_start: String,
    /// The cell serving it when it ended.
    pub cell_end: String,
    /// How it ended.
    pub closing: Closing,
}

/// One record of a session: the whole of it, or one part where a limit closed a record.
#[derive(Debug, Clone, PartialEq)]
pub struct Partial {
    /// 1 for the first record of a session cut into several, counting up; 0 for a session in
    /// one record (which carries no sequence number).
    pub sequence: u32,
    /// Where its span starts, ms since the epoch.
    pub start_ms: i64,
    /// Where it ends: the next part's start.
    pub end_ms: i64,
    /// Bytes sent in its span.
    pub bytes_up: u64,
    /// Bytes received in its span.
    pub bytes_down: u64,
    /// The cell serving the session when this part started.
    pub cell_start: String,
    /// The cell serving it when this part ended.
    pub cell_end: String,
    /// Why it was closed.
    pub closing: Closing,
}
