//! Promotions and rollbacks as pure state machines.
//!
//! A [`Promotion`] is planned once ([`plan`]) from what the person asked for
//! and what the target reported, then moved only by [`PromotionEvent`]s: a
//! step began, a soak sample arrived, a step ended. The store appends each
//! event in the same transaction that records it, and a promotion is loaded
//! by folding its events, so what the engine resumes after a crash is exactly
//! what it had written. [`Promotion::next`] says what to do now; a step that
//! began and never ended is run again under the same [`ActionKey`], which the
//! target answers from its record instead of acting twice.
//!
//! Gates ([`evaluate_gates`]) are judged before the first step from facts the
//! caller gathers; any failing gate refuses the promotion.

mod error;
mod gate;
mod machine;
mod soak;

pub use error::{PromotionError, Result};
pub use gate::{
    evaluate_gates, gates_pass, CalendarFact, ChangeFact, GateFacts, GateKind, GateResult,
    GateVerdict, LockFact, PreviousStageFact,
};
pub use machine::{
    plan, Failure, Next, Phase, PlanRequest, Promotion, PromotionEvent, PromotionKind, Release,
    Step, StepKind, StepState, Strategy, MAX_ATTEMPTS,
};
pub use soak::{judge_soak, SoakSample, SoakThresholds, SoakVerdict};

#[cfg(test)]
mod gate_tests;
#[cfg(test)]
mod tests;
