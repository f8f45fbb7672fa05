//! Every subscriber's number and contacts worked out once, for runs that look each one up many
//! times: a number costs two seeded draws and ten digits, and contact `j` replays `j + 1` draws
//! of the subscriber's stream, on every call that needs them. The tables hold exactly what those
//! functions return, so a run's documents are the same with or without them.

/// Largest table a run builds, in bytes: default populations (10,000 subscribers, 8 contacts:
/// 440 KB) and up to about 95,000 subscribers with 8 contacts are tabled; larger ones compute
/// each number as it is needed, so memory does not grow with the population.
pub const MAX_TABLE_BYTES: usize = 4 << 20;

/// Numbers and contacts of subscribers `0 .. size`.
pub struct Tables {
    numbers: Box<[[u8; 12]]>,
    /// Contact `j` of subscriber `k` at `k * per + j`.
    contacts: Box<[u32]>,
    per: usize,
}

impl Tables {
    /// Bytes the tables of `size` subscribers with `per` contacts each take.
    pub fn bytes(size: u64, per: usize) -> usize {
        (size as usize).saturating_mul(12 + 4 * per)
    }

    /// The tables of `size` subscribers: `number(k)` and the first `per` of `contacts(k)`.
    pub fn build<C: Iterator<Item = u32>>(
        size: u64,
        per: usize,
        number: impl Fn(u64) -> [u8; 12],
        contacts: impl Fn(u64) -> C,
    ) -> Self {
        let mut all = Vec::with_capacity(size as usize * per);
        for k in 0..size {
            all.extend(contacts(k).take(per));
        }
        Self {
            numbers: (0..size).map(number).collect(),
            contacts: all.into_boxed_slice(),
            per,
        }
    }

    /// Subscriber `k`'s number.
    #[inline]
    pub fn number(&self, k: u64) -> [u8; 12] {
        self.numbers[k as usize]
    }

    /// Contact `j` of subscriber `k`.
    #[inline]
    pub fn contact(&self, k: u64, j: usize) -> u64 {
        u64::from(self.contacts[k as usize * self.per + j])
    }
}

impl std::fmt::Debug for Tables {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Tables")
            .field("subscribers", &self.numbers.len())
            .field("contacts_each", &self.per)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::super::{MAX_CONTACTS, Population};
    use crate::generate::model::CallModel;

    /// The tables hold exactly what the functions compute, for every subscriber and contact, in
    /// populations with one contact, the default eight and the most there may be.
    #[test]
    fn tabled_numbers_and_contacts_are_the_computed_ones() {
        for (seed, size, contacts) in [(1, 2, 1), (7, 10_000, 8), (42, 3_001, MAX_CONTACTS as u32)]
        {
            let model = CallModel {
                contacts,
                ..CallModel::default()
            };
            let plain = Population::new(seed, size, &model);
            let tabled = plain.clone().tabled();
            assert!(plain.tables.is_none() && tabled.tables.is_some());
            for k in 0..u64::from(size) {
                assert_eq!(tabled.digits(k), plain.digits(k), "number of {k}");
                for j in 0..contacts as usize {
                    assert_eq!(
                        tabled.contact(k, j),
                        plain.contact(k, j),
                        "contact {j} of {k}"
                    );
                }
            }
        }
    }

    /// Populations whose tables would pass the limit compute each number as it is needed.
    #[test]
    fn large_populations_are_not_tabled() {
        let big = Population::new(1, 1_000_000, &CallModel::default()).tabled();
        assert!(big.tables.is_none());
    }
}
