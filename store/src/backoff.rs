//! The one back-off policy of every retry loop (transactions cancelled for contention or
//! throttling, batch reads left unprocessed, the importer's steps while DynamoDB is
//! unavailable): exponential growth with full jitter, bounded by a cap, as AWS advises for
//! contention and throttling. Loops differ only in their first wait and their cap.

use std::time::Duration;

/// Waits that double from `first` up to `cap`, each drawn uniformly from 1 ms to its bound.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    first_ms: u64,
    cap_ms: u64,
}

impl Backoff {
    /// A policy whose first retry waits up to `first_ms` and no retry more than `cap_ms`.
    pub const fn new(first_ms: u64, cap_ms: u64) -> Self {
        Backoff { first_ms, cap_ms }
    }

    /// The most retry number `retry` (1 for the first) may wait.
    pub fn bound(&self, retry: u32) -> Duration {
        let doublings = 1u64 << retry.saturating_sub(1).min(63);
        let doubled = self.first_ms.saturating_mul(doublings);
        Duration::from_millis(doubled.min(self.cap_ms).max(1))
    }

    /// The wait before retry number `retry`: uniform from 1 ms to [`Backoff::bound`].
    pub fn wait(&self, retry: u32) -> Duration {
        let bound = u64::try_from(self.bound(retry).as_millis()).unwrap_or(u64::MAX);
        Duration::from_millis(random_below(bound) + 1)
    }

    /// Sleeps for [`Backoff::wait`] of `retry`.
    pub async fn sleep(&self, retry: u32) {
        tokio::time::sleep(self.wait(retry)).await;
    }
}

/// A random number below `n`, from the operating system's generator (the one behind every
/// write token): retries of writers that failed together, in one instance or in many, spread
/// out independently, which the clock's nanoseconds (read by each at nearly the same moment)
/// did not promise.
fn random_below(n: u64) -> u64 {
    let bits = uuid::Uuid::new_v4().as_u128();
    u64::try_from(bits % u128::from(n.max(1))).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::Backoff;

    /// A retry waits at least a millisecond, at most its bound (which doubles from the first
    /// wait up to the cap), and the waits spread over that range: writers that failed together
    /// do not come back together.
    #[test]
    fn waits_stay_within_their_bound_and_spread_out() {
        let policy = Backoff::new(100, 1_600);
        for (retry, cap) in [
            (1, 100),
            (2, 200),
            (3, 400),
            (5, 1_600),
            (9, 1_600),
            (99, 1_600),
        ] {
            assert_eq!(policy.bound(retry).as_millis(), cap);
            let waits: Vec<u64> = (0..200)
                .map(|_| u64::try_from(policy.wait(retry).as_millis()).unwrap())
                .collect();
            for wait in &waits {
                assert!(
                    (1..=cap).contains(&u128::from(*wait)),
                    "retry {retry}: {wait} ms"
                );
            }
            // 200 uniform draws from 100 values or more leave under 60 distinct only with a
            // probability far below 1e-9.
            let distinct: BTreeSet<u64> = waits.iter().copied().collect();
            assert!(distinct.len() >= 60, "retry {retry}: {distinct:?}");
            let half = u64::try_from(cap / 2).unwrap();
            let (low, high) = waits.iter().partition::<Vec<u64>, _>(|w| **w <= half);
            assert!(
                low.len() >= 50 && high.len() >= 50,
                "retry {retry}: {waits:?}"
            );
        }
    }

    #[test]
    fn a_tiny_or_huge_policy_neither_waits_zero_nor_overflows() {
        assert_eq!(Backoff::new(0, 0).wait(1).as_millis(), 1);
        assert_eq!(
            Backoff::new(u64::MAX, u64::MAX).bound(40).as_millis(),
            u128::from(u64::MAX)
        );
    }
}
