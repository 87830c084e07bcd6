//! The benchmark's release calendar: 50 services in 10 domains, a path to
//! live of 5 environments, and 50 rules a release manager could have written
//! for them — weekly release windows in London, New York and Kolkata, daily
//! dev and test hours with the offices' holidays as exceptions, monthly and
//! yearly freezes and a few one-off ones, each scoped to some environments
//! and services.
//!
//! The mix is fixed; a seeded generator only varies the weekdays, hours and
//! lengths of the windows nobody counts by hand, so every run builds the same
//! rules. [`HAND_COUNTED`] lists the rules whose occurrences in 2027 were
//! counted on a calendar, which the benchmark checks before timing anything.

use chrono::{Duration, NaiveDate, NaiveDateTime, Weekday};
use release_desk_calendar::{RuleDraft, RuleKind, Scope};
use release_desk_domain::Slug;

use super::{CalendarBenchError, Result};

const DOMAINS: [&str; 10] = [
    "payments",
    "ledger",
    "billing",
    "identity",
    "orders",
    "catalogue",
    "search",
    "inventory",
    "notifications",
    "reporting",
];
const PARTS: [&str; 5] = ["api", "worker", "web", "gateway", "scheduler"];
pub const SERVICES_PER_DOMAIN: usize = PARTS.len();

/// The path to live, in order; the index is the stage.
pub const ENVIRONMENTS: [&str; 5] = ["dev", "test", "staging", "preprod", "production"];
pub const PRODUCTION_STAGE: usize = 4;
const DEV: usize = 0;
const TEST: usize = 1;
const STAGING: usize = 2;
const PREPROD: usize = 3;
const PRODUCTION: usize = 4;

const LONDON: &str = "Europe/London";
const NEW_YORK: &str = "America/New_York";
const KOLKATA: &str = "Asia/Kolkata";
const ZONES: [&str; 3] = [LONDON, NEW_YORK, KOLKATA];

/// Rules whose occurrences overlapping 2027 (UTC) were counted by hand.
pub const HAND_COUNTED: [(&str, usize, &str); 6] = [
    (
        "Production window: payments",
        104,
        "Tuesdays and Thursdays: 2027 starts and ends on a Friday, so 52 of each",
    ),
    (
        "Dev hours: payments, ledger, billing",
        357,
        "every day of 2027 but the 8 English bank holidays",
    ),
    (
        "Test hours: payments, ledger, billing",
        253,
        "261 weekdays in 2027 less the 8 English bank holidays, all on weekdays",
    ),
    (
        "Month-end close freeze",
        13,
        "12 month ends, plus 31 Dec 2026 18:00 GMT whose 36 hours run into 2027",
    ),
    (
        "Year-end freeze",
        2,
        "20 Dec 2027, plus 20 Dec 2026 whose two weeks run to 3 Jan 2027",
    ),
    (
        "Black Friday and Cyber Monday freeze",
        1,
        "Friday 26 Nov 2027, the day after the fourth Thursday",
    ),
];

/// Services and environments as the rules and bookings name them.
pub struct Catalogue {
    /// `DOMAINS.len() × PARTS.len()`, domain by domain.
    pub services: Vec<Slug>,
    pub environments: Vec<Slug>,
}

impl Catalogue {
    pub fn new() -> Result<Catalogue> {
        let services = DOMAINS
            .iter()
            .flat_map(|d| PARTS.iter().map(move |p| format!("{d}-{p}")))
            .map(|s| slug(&s))
            .collect::<Result<Vec<_>>>()?;
        let environments = ENVIRONMENTS
            .iter()
            .map(|e| slug(e))
            .collect::<Result<Vec<_>>>()?;
        Ok(Catalogue {
            services,
            environments,
        })
    }

    fn scope(&self, environments: &[usize], domains: &[usize]) -> Scope {
        Scope {
            environments: environments
                .iter()
                .map(|&e| self.environments[e].clone())
                .collect(),
            services: domains
                .iter()
                .flat_map(|&d| {
                    self.services[d * SERVICES_PER_DOMAIN..(d + 1) * SERVICES_PER_DOMAIN]
                        .iter()
                        .cloned()
                })
                .collect(),
        }
    }
}

fn slug(value: &str) -> Result<Slug> {
    Slug::parse(value).map_err(|e| CalendarBenchError::Data(format!("'{value}': {e}")))
}

/// One rule before it becomes a [`RuleDraft`]; empty lists mean "every".
struct Plan {
    kind: RuleKind,
    title: String,
    zone: &'static str,
    start: NaiveDateTime,
    minutes: u32,
    rrule: Option<String>,
    exceptions: Vec<NaiveDateTime>,
    environments: Vec<usize>,
    domains: Vec<usize>,
}

impl Plan {
    fn window(title: String, zone: &'static str, start: NaiveDateTime, minutes: u32) -> Plan {
        Plan {
            kind: RuleKind::Window,
            title,
            zone,
            start,
            minutes,
            rrule: None,
            exceptions: Vec::new(),
            environments: Vec::new(),
            domains: Vec::new(),
        }
    }

    fn freeze(title: &str, zone: &'static str, start: NaiveDateTime, minutes: u32) -> Plan {
        Plan {
            kind: RuleKind::Freeze,
            ..Plan::window(title.to_owned(), zone, start, minutes)
        }
    }

    fn every(mut self, rrule: &str) -> Plan {
        self.rrule = Some(rrule.to_owned());
        self
    }

    fn scoped(mut self, environments: &[usize], domains: &[usize]) -> Plan {
        self.environments = environments.to_vec();
        self.domains = domains.to_vec();
        self
    }
}

/// The 50 rules, in the order of their ids (1-based).
pub fn drafts(catalogue: &Catalogue, seed: u64) -> Result<Vec<RuleDraft>> {
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut plans = weekly_windows(&mut rng)?;
    plans.extend(daily_windows()?);
    plans.extend(freezes()?);
    Ok(plans
        .into_iter()
        .map(|p| RuleDraft {
            kind: p.kind,
            title: p.title,
            zone: p.zone.to_owned(),
            start: p.start,
            duration_minutes: p.minutes,
            recurrence: p.rrule,
            exceptions: p.exceptions,
            scope: catalogue.scope(&p.environments, &p.domains),
        })
        .collect())
}

const PATTERNS: [&[Weekday]; 6] = [
    &[Weekday::Mon, Weekday::Wed],
    &[Weekday::Wed],
    &[Weekday::Tue, Weekday::Wed, Weekday::Thu],
    &[Weekday::Mon, Weekday::Thu],
    &[Weekday::Thu],
    &[Weekday::Tue, Weekday::Thu],
];

/// 24 weekly windows: production per domain, pre-production and staging per
/// pair of domains, and four that cut across.
fn weekly_windows(rng: &mut fastrand::Rng) -> Result<Vec<Plan>> {
    let mut plans = Vec::new();
    for (d, domain) in DOMAINS.iter().enumerate() {
        // The first is fixed: it is one of the rules counted by hand.
        let (zone, days, hour, minutes) = if d == 0 {
            (LONDON, PATTERNS[5], 9, 180)
        } else {
            (
                ZONES[d % 3],
                PATTERNS[rng.usize(..PATTERNS.len())],
                rng.u32(9..=14),
                [120, 180, 240][rng.usize(..3)],
            )
        };
        plans.push(
            weekly(
                format!("Production window: {domain}"),
                zone,
                days,
                hour,
                minutes,
                1,
            )?
            .scoped(&[PRODUCTION], &[d]),
        );
    }
    for pair in 0..DOMAINS.len() / 2 {
        let domains = [2 * pair, 2 * pair + 1];
        let names = format!("{} & {}", DOMAINS[2 * pair], DOMAINS[2 * pair + 1]);
        let days = PATTERNS[rng.usize(..PATTERNS.len())];
        plans.push(
            weekly(
                format!("Pre-production window: {names}"),
                ZONES[(pair + 1) % 3],
                days,
                rng.u32(8..=15),
                240,
                1,
            )?
            .scoped(&[PREPROD], &domains),
        );
        plans.push(
            weekly(
                format!("Staging window: {names}"),
                ZONES[(pair + 2) % 3],
                &[Weekday::Mon, Weekday::Tue, Weekday::Wed, Weekday::Thu],
                rng.u32(8..=12),
                360,
                1,
            )?
            .scoped(&[STAGING], &domains),
        );
    }
    plans.push(
        weekly(
            "Wednesday afternoon window".to_owned(),
            NEW_YORK,
            &[Weekday::Wed],
            13,
            180,
            1,
        )?
        .scoped(&[STAGING, PREPROD], &[]),
    );
    plans.push(
        weekly(
            "Friday morning hotfix window".to_owned(),
            LONDON,
            &[Weekday::Fri],
            8,
            120,
            1,
        )?
        .scoped(&[PRODUCTION], &[]),
    );
    plans.push(
        weekly(
            "Fortnightly Kolkata evening window".to_owned(),
            KOLKATA,
            &[Weekday::Thu],
            18,
            180,
            2,
        )?
        .scoped(&[PREPROD], &[0, 1, 2, 3, 4]),
    );
    plans.push(
        weekly(
            "Sunday maintenance window".to_owned(),
            LONDON,
            &[Weekday::Sun],
            6,
            240,
            1,
        )?
        .scoped(&[PRODUCTION], &[3, 7, 8, 9]),
    );
    Ok(plans)
}

/// A weekly window from the first of `days` on or after Monday 2 November
/// 2026 (DTSTART is the first occurrence, as RFC 5545 asks).
fn weekly(
    title: String,
    zone: &'static str,
    days: &[Weekday],
    hour: u32,
    minutes: u32,
    interval: u32,
) -> Result<Plan> {
    let first = days.first().copied().unwrap_or(Weekday::Mon);
    let start = at(
        date(2026, 11, 2)? + Duration::days(i64::from(first.num_days_from_monday())),
        hour,
        0,
    )?;
    let byday: Vec<&str> = days.iter().map(|d| byday(*d)).collect();
    let rrule = match interval {
        1 => format!("FREQ=WEEKLY;BYDAY={}", byday.join(",")),
        n => format!("FREQ=WEEKLY;INTERVAL={n};BYDAY={}", byday.join(",")),
    };
    Ok(Plan::window(title, zone, start, minutes).every(&rrule))
}

fn byday(day: Weekday) -> &'static str {
    match day {
        Weekday::Mon => "MO",
        Weekday::Tue => "TU",
        Weekday::Wed => "WE",
        Weekday::Thu => "TH",
        Weekday::Fri => "FR",
        Weekday::Sat => "SA",
        Weekday::Sun => "SU",
    }
}

/// The offices' 2027 holidays, as the exceptions of their daily hours.
const HOLIDAYS: [(&str, &[(u32, u32)]); 3] = [
    // English bank holidays; Christmas and Boxing Day fall at a weekend, so
    // Monday 27 and Tuesday 28 December are the substitutes.
    (
        LONDON,
        &[
            (1, 1),
            (3, 26),
            (3, 29),
            (5, 3),
            (5, 31),
            (8, 30),
            (12, 27),
            (12, 28),
        ],
    ),
    (
        NEW_YORK,
        &[
            (1, 1),
            (1, 18),
            (2, 15),
            (5, 31),
            (6, 18),
            (7, 5),
            (9, 6),
            (11, 25),
            (12, 24),
        ],
    ),
    (KOLKATA, &[(1, 26), (3, 22), (8, 16), (10, 2), (10, 29)]),
];

/// 8 daily windows: dev every day and test on weekdays, for four groups of
/// domains, each group in its office's zone with that office's holidays off.
fn daily_windows() -> Result<Vec<Plan>> {
    let groups: [(&[usize], &'static str); 4] = [
        (&[0, 1, 2], LONDON),
        (&[3, 4, 5], NEW_YORK),
        (&[6, 7], KOLKATA),
        (&[8, 9], LONDON),
    ];
    let mut plans = Vec::new();
    for (environment, label, rrule, hour, minutes) in [
        (DEV, "Dev hours", "FREQ=DAILY", 7, 720),
        (
            TEST,
            "Test hours",
            "FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR",
            8,
            600,
        ),
    ] {
        for (domains, zone) in groups {
            let names: Vec<&str> = domains.iter().map(|&d| DOMAINS[d]).collect();
            let holidays = HOLIDAYS
                .iter()
                .find(|(z, _)| *z == zone)
                .map(|(_, days)| *days)
                .unwrap_or_default();
            let mut plan = Plan::window(
                format!("{label}: {}", names.join(", ")),
                zone,
                at(date(2026, 11, 2)?, hour, 0)?,
                minutes,
            )
            .every(rrule)
            .scoped(&[environment], domains);
            plan.exceptions = holidays
                .iter()
                .map(|&(m, d)| at(date(2027, m, d)?, hour, 0))
                .collect::<Result<Vec<_>>>()?;
            plans.push(plan);
        }
    }
    Ok(plans)
}

/// 6 monthly, 4 yearly and 8 one-off freezes.
fn freezes() -> Result<Vec<Plan>> {
    let all: &[usize] = &[];
    let plans = vec![
        Plan::freeze(
            "Month-end close freeze",
            LONDON,
            at(date(2026, 11, 30)?, 18, 0)?,
            36 * 60,
        )
        .every("FREQ=MONTHLY;BYMONTHDAY=-1")
        .scoped(&[PREPROD, PRODUCTION], &[1, 2]),
        Plan::freeze(
            "Patch Tuesday freeze",
            NEW_YORK,
            at(date(2026, 11, 10)?, 10, 0)?,
            24 * 60,
        )
        .every("FREQ=MONTHLY;BYDAY=2TU")
        .scoped(&[PRODUCTION], all),
        Plan::freeze(
            "First-Monday maintenance freeze",
            KOLKATA,
            at(date(2026, 11, 2)?, 22, 0)?,
            6 * 60,
        )
        .every("FREQ=MONTHLY;BYDAY=1MO")
        .scoped(&[PRODUCTION], &[0, 3]),
        Plan::freeze(
            "Quarter-end freeze",
            LONDON,
            at(date(2026, 12, 29)?, 0, 0)?,
            3 * 24 * 60,
        )
        .every("FREQ=MONTHLY;BYMONTH=3,6,9,12;BYMONTHDAY=-3")
        .scoped(&[PRODUCTION], all),
        Plan::freeze(
            "Mid-month data migration freeze",
            "UTC",
            at(date(2026, 11, 15)?, 2, 0)?,
            4 * 60,
        )
        .every("FREQ=MONTHLY;BYMONTHDAY=15")
        .scoped(&[STAGING, PREPROD, PRODUCTION], &[7, 9]),
        Plan::freeze(
            "Payroll run freeze",
            NEW_YORK,
            at(date(2026, 11, 25)?, 6, 0)?,
            12 * 60,
        )
        .every("FREQ=MONTHLY;BYMONTHDAY=25")
        .scoped(&[PRODUCTION], &[0, 1, 2]),
        Plan::freeze(
            "Year-end freeze",
            LONDON,
            at(date(2026, 12, 20)?, 0, 0)?,
            14 * 24 * 60,
        )
        .every("FREQ=YEARLY;BYMONTH=12;BYMONTHDAY=20")
        .scoped(&[PREPROD, PRODUCTION], all),
        Plan::freeze(
            "Black Friday and Cyber Monday freeze",
            NEW_YORK,
            at(date(2026, 11, 27)?, 0, 0)?,
            4 * 24 * 60,
        )
        .every("FREQ=YEARLY;BYMONTH=11;BYDAY=FR;BYMONTHDAY=23,24,25,26,27,28,29")
        .scoped(&[PRODUCTION], &[0, 4, 5, 6]),
        Plan::freeze(
            "Indian fiscal year-end freeze",
            KOLKATA,
            at(date(2026, 3, 31)?, 0, 0)?,
            2 * 24 * 60,
        )
        .every("FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=31")
        .scoped(&[PREPROD, PRODUCTION], &[1, 2]),
        Plan::freeze(
            "Annual disaster-recovery test",
            LONDON,
            at(date(2026, 6, 13)?, 6, 0)?,
            12 * 60,
        )
        .every("FREQ=YEARLY;BYMONTH=6;BYDAY=2SA")
        .scoped(all, all),
        Plan::freeze(
            "Datacentre network upgrade",
            LONDON,
            at(date(2027, 2, 13)?, 22, 0)?,
            8 * 60,
        )
        .scoped(&[PRODUCTION], all),
        Plan::freeze(
            "SOC 2 audit fieldwork",
            NEW_YORK,
            at(date(2027, 4, 12)?, 9, 0)?,
            5 * 24 * 60,
        )
        .scoped(&[PRODUCTION], &[0, 1, 3]),
        Plan::freeze(
            "Kubernetes upgrade in staging",
            LONDON,
            at(date(2027, 5, 8)?, 6, 0)?,
            24 * 60,
        )
        .scoped(&[STAGING], all),
        Plan::freeze(
            "Board demo",
            NEW_YORK,
            at(date(2027, 6, 24)?, 12, 0)?,
            4 * 60,
        )
        .scoped(&[PREPROD, PRODUCTION], &[4, 5]),
        Plan::freeze(
            "Database failover drill",
            KOLKATA,
            at(date(2027, 8, 21)?, 10, 0)?,
            6 * 60,
        )
        .scoped(&[PREPROD], all),
        Plan::freeze(
            "Payments provider migration",
            LONDON,
            at(date(2027, 9, 18)?, 20, 0)?,
            24 * 60,
        )
        .scoped(&[STAGING, PREPROD, PRODUCTION], &[0]),
        Plan::freeze(
            "Identity provider cut-over",
            NEW_YORK,
            at(date(2027, 10, 9)?, 21, 0)?,
            12 * 60,
        )
        .scoped(&[PRODUCTION], &[3, 8]),
        Plan::freeze(
            "Bengaluru office move",
            KOLKATA,
            at(date(2027, 11, 6)?, 9, 0)?,
            2 * 24 * 60,
        )
        .scoped(&[TEST, STAGING], &[6, 7, 9]),
    ];
    Ok(plans)
}

fn date(y: i32, m: u32, d: u32) -> Result<NaiveDate> {
    NaiveDate::from_ymd_opt(y, m, d)
        .ok_or_else(|| CalendarBenchError::Data(format!("{y}-{m}-{d} is not a date")))
}

fn at(day: NaiveDate, hour: u32, minute: u32) -> Result<NaiveDateTime> {
    day.and_hms_opt(hour, minute, 0).ok_or_else(|| {
        CalendarBenchError::Data(format!("{day} {hour}:{minute} is not a time of day"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Datelike;

    fn weekday_of(y: i32, m: u32, d: u32) -> Weekday {
        NaiveDate::from_ymd_opt(y, m, d).expect("a date").weekday()
    }

    #[test]
    fn fifty_services_five_environments_fifty_rules() {
        let c = Catalogue::new().expect("slugs");
        assert_eq!(c.services.len(), 50);
        assert_eq!(c.services[0].as_str(), "payments-api");
        assert_eq!(c.environments[PRODUCTION_STAGE].as_str(), "production");
        let drafts = drafts(&c, 7).expect("drafts");
        assert_eq!(drafts.len(), 50);
        let windows = drafts.iter().filter(|d| d.kind == RuleKind::Window).count();
        assert_eq!(windows, 32);
        for (title, _, _) in HAND_COUNTED {
            assert_eq!(
                drafts.iter().filter(|d| d.title == title).count(),
                1,
                "{title}"
            );
        }
    }

    #[test]
    fn the_same_seed_gives_the_same_rules() {
        let c = Catalogue::new().expect("slugs");
        assert_eq!(drafts(&c, 7).expect("a"), drafts(&c, 7).expect("b"));
        assert_ne!(drafts(&c, 7).expect("a"), drafts(&c, 8).expect("b"));
    }

    #[test]
    fn the_hand_counts_rest_on_these_dates() {
        // 2027 starts and ends on a Friday; the holidays are weekdays.
        assert_eq!(weekday_of(2027, 1, 1), Weekday::Fri);
        assert_eq!(weekday_of(2027, 12, 31), Weekday::Fri);
        for (m, d) in HOLIDAYS[0].1 {
            let w = weekday_of(2027, *m, *d);
            assert!(!matches!(w, Weekday::Sat | Weekday::Sun), "{m}-{d}");
        }
        assert_eq!(weekday_of(2027, 11, 26), Weekday::Fri);
        assert_eq!(weekday_of(2027, 11, 25), Weekday::Thu);
    }
}
