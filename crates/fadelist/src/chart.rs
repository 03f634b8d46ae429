//! The score chart of the lookup page: the key's score replayed from its
//! reports over the last days, laid out as an inline SVG (`chart.html`:
//! no script, no external assets; every text goes through the template's
//! escaping).

use std::fmt::Write as _;

use fadelist_core::policy::{KeyState, Policy};
use fadelist_store::ReportEvent;

use crate::lookup::{ListingChange, ZoneLookup};

/// Hours of score history drawn on the lookup page.
pub const HISTORY_HOURS: i64 = 72;

/// Samples of the score drawn between the start of the chart and now.
pub const SAMPLES: i64 = 72;

/// The time spans a chart can cover, seconds: the shortest that shows all
/// recent activity with room to spare (a listing and removal minutes apart
/// are invisible on three days).
pub const SPANS: [i64; 12] = [
    60,
    180,
    360,
    900,
    1800,
    3600,
    3 * 3600,
    6 * 3600,
    12 * 3600,
    24 * 3600,
    48 * 3600,
    HISTORY_HOURS * 3600,
];
/// Replays the reports against a key to draw its score over time.
///
/// `events` are the key's reports, oldest first;
/// `resets` the times of removals, which discard every contribution made
/// until then (a report in the same second as a removal counts as before
/// it). Returns [`SAMPLES`] + 1 samples from `start` to `now` and, for
/// every report and removal in that time, the score just before and just
/// after it, so the line steps up and drops where they happened.
pub fn history(
    policy: &Policy,
    events: &[ReportEvent],
    resets: &[i64],
    start: i64,
    now: i64,
) -> Vec<(i64, f64)> {
    enum Step {
        Report(i64, f64),
        Reset,
        Sample,
    }
    // (time, order within the same second, step): reports, then removals,
    // then the sample.
    let mut steps: Vec<(i64, u8, Step)> = Vec::new();
    steps.extend(
        events
            .iter()
            .map(|e| (e.at, 0, Step::Report(e.reporter, e.weight))),
    );
    steps.extend(resets.iter().map(|&at| (at, 1, Step::Reset)));
    let span = (now - start).max(0);
    steps.extend((0..=SAMPLES).map(|i| (start + span * i / SAMPLES, 2, Step::Sample)));
    // Stable: reports keep their order within one second.
    steps.sort_by_key(|(at, order, _)| (*at, *order));
    let round = |v: f64| (v * 1000.0).round() / 1000.0;
    let mut state = KeyState::default();
    let mut out: Vec<(i64, f64)> = Vec::new();
    let push = |out: &mut Vec<(i64, f64)>, t: i64, v: f64| {
        let p = (t, round(v));
        if out.last() != Some(&p) {
            out.push(p);
        }
    };
    let mut steps = steps.into_iter().peekable();
    while let Some((at, _, step)) = steps.next() {
        if at > now {
            break;
        }
        let shown = at >= start;
        if shown {
            push(&mut out, at, policy.score(&state, at));
        }
        // Everything in the same second is one step of the line.
        let mut step = Some(step);
        while let Some(s) = step.take() {
            match s {
                Step::Report(reporter, weight) => {
                    policy.add_report(&mut state, reporter, weight, at);
                }
                Step::Reset => {
                    // The peak before a removal shows even when the reports
                    // came in the same second.
                    if shown {
                        push(&mut out, at, policy.score(&state, at));
                    }
                    state.contributions.clear();
                }
                Step::Sample => {}
            }
            step = steps.next_if(|n| n.0 == at).map(|n| n.2);
        }
        if shown {
            push(&mut out, at, policy.score(&state, at));
        }
    }
    out
}

/// Where the chart starts: `start` (72 hours ago) when the score was
/// already above zero then, else the shortest of [`SPANS`] that holds the
/// first score or listing change after `start` one and a half times over.
pub fn window_start(full: &[(i64, f64)], changes: &[ListingChange], start: i64, now: i64) -> i64 {
    if full.first().is_some_and(|p| p.1 > 0.0) {
        return start;
    }
    let first_score = full.iter().find(|p| p.1 > 0.0).map(|p| p.0);
    let first_change = changes.iter().map(|c| c.at).find(|&t| t >= start);
    let Some(first) = first_score.into_iter().chain(first_change).min() else {
        return start;
    };
    let wanted = (now - first).max(0) * 3 / 2;
    let span = SPANS
        .iter()
        .copied()
        .find(|&s| s >= wanted)
        .unwrap_or(now - start);
    (now - span).max(start)
}

/// "5 min", "3 h", "40 s": a time span as axis labels say it.
fn short_span(secs: i64) -> String {
    if secs >= 3600 && secs % 3600 == 0 {
        format!("{} h", secs / 3600)
    } else if secs >= 60 && secs % 60 == 0 {
        format!("{} min", secs / 60)
    } else {
        format!("{secs} s")
    }
}

/// "72 hours", "3 minutes", "minute": a time span for "over the last …".
fn long_span(secs: i64) -> String {
    let (n, unit) = if secs >= 3600 && secs % 3600 == 0 {
        (secs / 3600, "hour")
    } else if secs >= 60 && secs % 60 == 0 {
        (secs / 60, "minute")
    } else {
        (secs, "second")
    };
    if n == 1 {
        unit.to_string()
    } else {
        format!("{n} {unit}s")
    }
}

/// Formats Unix seconds as UTC `YYYY-MM-DD HH:MM`.
pub fn utc(t: i64) -> String {
    let days = t.div_euclid(86_400);
    let secs = t.rem_euclid(86_400);
    // Civil-from-days (Howard Hinnant's algorithm, public domain).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        secs / 3600,
        secs % 3600 / 60
    )
}

/// Rounds to one decimal: SVG coordinates.
fn r1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// A label on an axis of the chart.
pub struct Tick {
    /// Position along the axis, in SVG units.
    pub at: f64,
    /// The text.
    pub label: String,
    /// `text-anchor`.
    pub anchor: &'static str,
    /// CSS class (colour).
    pub class: &'static str,
}

/// A removal marked on the chart.
pub struct Marker {
    /// x of the vertical line.
    pub x: f64,
    /// x of the label.
    pub label_x: f64,
    /// `text-anchor` of the label.
    pub anchor: &'static str,
    /// The label.
    pub label: &'static str,
}

/// The score chart of one zone, laid out for `chart.html` (an inline SVG:
/// no script, no external assets). Every text in it goes through the
/// template's escaping.
pub struct Chart {
    /// Prefix of the element ids (unique in the page).
    pub id: String,
    /// viewBox width.
    pub w: f64,
    /// viewBox height.
    pub h: f64,
    /// Plot area: left, top, right, bottom.
    pub left: f64,
    /// Plot area top.
    pub top: f64,
    /// Plot area right.
    pub right: f64,
    /// Plot area bottom.
    pub bottom: f64,
    /// The score line's points.
    pub points: String,
    /// y of the listing threshold.
    pub list_y: f64,
    /// y of the delisting threshold.
    pub delist_y: f64,
    /// Labels of the y axis.
    pub y_ticks: Vec<Tick>,
    /// Labels of the x axis.
    pub x_ticks: Vec<Tick>,
    /// x ranges when the key was listed.
    pub listed: Vec<(f64, f64)>,
    /// Removals in the window.
    pub markers: Vec<Marker>,
    /// Accessible name.
    pub title: String,
    /// Accessible description: what the chart shows, in words.
    pub desc: String,
    /// The time shown, e.g. `72 hours`.
    pub span: String,
}

impl Chart {
    /// Width of a shaded range.
    pub fn width(&self, r: &(f64, f64)) -> f64 {
        r1(r.1 - r.0)
    }
}

/// The y-axis top: a round number above the highest score and the
/// listing threshold.
fn nice_max(v: f64) -> f64 {
    let step = if v <= 5.0 {
        0.5
    } else if v <= 20.0 {
        2.0
    } else {
        10.0
    };
    ((v / step).ceil() * step).max(step)
}

/// Lays out the chart of `z` at `now`; `n` makes the element ids unique.
pub fn chart(z: &ZoneLookup, now: i64, n: usize) -> Chart {
    let (w, h) = (400.0_f64, 190.0_f64);
    let (left, top, right, bottom) = (40.0, 22.0, w - 14.0, h - 26.0);
    let start = z.history_from.min(now);
    let span = (now - start).max(1) as f64;
    let peak = z
        .history
        .iter()
        .copied()
        .fold((start, 0.0_f64), |a, p| if p.1 > a.1 { p } else { a });
    let max = nice_max(peak.1.max(z.list_threshold * 1.25));
    let x = |t: i64| r1(left + (right - left) * ((t - start) as f64 / span).clamp(0.0, 1.0));
    let y = |v: f64| r1(bottom - (bottom - top) * (v / max).clamp(0.0, 1.0));
    let mut points = String::new();
    for (t, v) in &z.history {
        let _ = write!(points, "{},{} ", x(*t), y(*v));
    }
    let num = |v: f64| format!("{}", (v * 100.0).round() / 100.0);
    // y labels: 0, the thresholds and the top, skipping any that would
    // overlap one already placed.
    let mut y_ticks: Vec<Tick> = Vec::new();
    for (v, class) in [
        (z.list_threshold, "t-list"),
        (z.delist_threshold, "t-delist"),
        (0.0, "t-axis"),
        (max, "t-axis"),
    ] {
        let at = y(v);
        if y_ticks.iter().all(|t| (t.at - at).abs() >= 13.0) {
            y_ticks.push(Tick {
                at,
                label: num(v),
                anchor: "end",
                class,
            });
        }
    }
    let x_ticks = (0..=3)
        .map(|i| {
            let ago = (now - start) * (3 - i) / 3;
            Tick {
                at: x(now - ago),
                // Only the first says "ago": short labels fit on a phone.
                label: match (i, ago) {
                    (_, 0) => "now".to_string(),
                    (0, _) => format!("{} ago", short_span(ago)),
                    _ => short_span(ago),
                },
                anchor: match i {
                    0 => "start",
                    3 => "end",
                    _ => "middle",
                },
                class: "t-axis",
            }
        })
        .collect();
    // Listed periods from the listing history (open while listed now).
    let mut listed = Vec::new();
    let mut open: Option<i64> = None;
    let mut markers = Vec::new();
    let mut words = Vec::new();
    for c in &z.listing_history {
        match c.change {
            listing if listing.is_listing() => {
                open.get_or_insert(c.at);
                if c.at >= start {
                    words.push(format!(
                        "{} on {}.",
                        capitalized(listing.phrase()),
                        utc(c.at)
                    ));
                }
            }
            other => {
                if let Some(from) = open.take()
                    && c.at >= start
                {
                    listed.push((x(from), x(c.at)));
                }
                if c.at >= start {
                    if other.discards_evidence() {
                        let mx = x(c.at);
                        let near_right = mx > right - 60.0;
                        markers.push(Marker {
                            x: mx,
                            label_x: if near_right { mx - 4.0 } else { mx + 4.0 },
                            anchor: if near_right { "end" } else { "start" },
                            label: "removed",
                        });
                    }
                    words.push(format!("{} on {}.", capitalized(other.phrase()), utc(c.at)));
                }
            }
        }
    }
    if let Some(from) = open
        && z.listed
    {
        listed.push((x(from), x(now)));
    }
    let mut desc = if peak.1 > 0.0 {
        format!(
            "Highest score {} on {}; score now {}.",
            num(peak.1),
            utc(peak.0),
            num(z.score)
        )
    } else {
        "No score in this time.".to_string()
    };
    for w in words {
        desc.push(' ');
        desc.push_str(&w);
    }
    let _ = write!(
        desc,
        " Listing threshold {}, delisting threshold {}.",
        num(z.list_threshold),
        num(z.delist_threshold)
    );
    Chart {
        id: format!("chart-{n}"),
        w,
        h,
        left,
        top,
        right,
        bottom,
        points: points.trim_end().to_string(),
        list_y: y(z.list_threshold),
        delist_y: y(z.delist_threshold),
        y_ticks,
        x_ticks,
        listed,
        markers,
        title: format!(
            "Score of {} in {} over the last {}",
            z.query_name,
            z.zone,
            long_span(now - start)
        ),
        span: long_span(now - start),
        desc,
    }
}

/// `text` with its first letter upper-case.
fn capitalized(text: &str) -> String {
    let mut c = text.chars();
    match c.next() {
        Some(f) => f.to_uppercase().chain(c).collect(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ev(at: i64, reporter: i64, weight: f64) -> ReportEvent {
        ReportEvent {
            at,
            reporter,
            weight,
        }
    }

    #[test]
    fn dates() {
        assert_eq!(utc(0), "1970-01-01 00:00 UTC");
        assert_eq!(utc(1_795_868_461), "2026-11-28 12:21 UTC");
    }

    #[test]
    fn history_replays_decay() {
        let p = Policy::default();
        let now = 100 * 3600;
        let h = history(
            &p,
            &[ev(now - 12 * 3600, 1, 1.0), ev(now - 12 * 3600, 2, 1.0)],
            &[],
            now - HISTORY_HOURS * 3600,
            now,
        );
        let at = |hours_ago: i64| {
            h.iter()
                .rev()
                .find(|(t, _)| *t == now - hours_ago * 3600)
                .map(|p| p.1)
        };
        // The step at the reports: 0 just before, 2 just after.
        let step: Vec<f64> = h
            .iter()
            .filter(|(t, _)| *t == now - 12 * 3600)
            .map(|p| p.1)
            .collect();
        assert_eq!(step, vec![0.0, 2.0]);
        assert_eq!(at(13), Some(0.0));
        assert_eq!(at(12), Some(2.0));
        assert_eq!(at(6), Some(1.0));
        assert_eq!(at(0), Some(0.5));
        assert_eq!(h.first().map(|p| p.0), Some(now - HISTORY_HOURS * 3600));
        assert_eq!(h.last().map(|p| p.0), Some(now));
        assert!(h.windows(2).all(|w| w[0].0 <= w[1].0), "in time order");
    }

    #[test]
    fn history_drops_to_zero_at_a_removal() {
        let p = Policy::default();
        let now = 100 * 3600;
        let t = now - 1800;
        // Two reports, removed 20 s later in between two samples; a report
        // in the same second as the removal counts as before it.
        let events = [ev(t, 1, 1.0), ev(t, 2, 1.0), ev(t + 20, 3, 1.0)];
        let start = now - HISTORY_HOURS * 3600;
        let h = history(&p, &events, &[t + 20], start, now);
        let around: Vec<(i64, f64)> = h.iter().copied().filter(|p| p.0 >= t).collect();
        assert_eq!(
            around,
            vec![
                (t, 0.0),
                (t, 2.0),
                (t + 20, 1.999),
                (t + 20, 2.999),
                (t + 20, 0.0),
                (now, 0.0)
            ],
            "{h:?}"
        );
        // A report after the removal counts from zero again.
        let h = history(
            &p,
            &[ev(t, 1, 1.0), ev(t, 2, 1.0), ev(t + 60, 1, 1.0)],
            &[t + 20],
            start,
            now,
        );
        assert!(h.contains(&(t + 60, 1.0)), "{h:?}");
        assert!(h.last().is_some_and(|p| p.1 > 0.0 && p.1 < 1.0), "{h:?}");
        // Reports and their removal in one second: the peak still shows.
        let h = history(&p, &[ev(t, 1, 1.0), ev(t, 2, 1.0)], &[t], start, now);
        let at_t: Vec<f64> = h.iter().filter(|p| p.0 == t).map(|p| p.1).collect();
        assert_eq!(at_t, vec![0.0, 2.0, 0.0], "{h:?}");
    }

    #[test]
    fn the_chart_zooms_in_on_recent_activity() {
        let now = 1_000_000;
        let start = now - HISTORY_HOURS * 3600;
        let flat = |from: i64| vec![(from, 0.0), (now, 0.0)];
        // Nothing happened: three days.
        assert_eq!(window_start(&flat(start), &[], start, now), start);
        // A score since 10 s ago: the shortest span, one minute.
        let h = vec![(start, 0.0), (now - 10, 0.0), (now - 10, 2.0), (now, 2.0)];
        assert_eq!(window_start(&h, &[], start, now), now - 60);
        // Activity 2 hours ago: 3 hours.
        let h = vec![(start, 0.0), (now - 7200, 2.0), (now, 0.5)];
        assert_eq!(window_start(&h, &[], start, now), now - 3 * 3600);
        // A score left over from before the window: three days.
        let h = vec![(start, 0.3), (now, 0.1)];
        assert_eq!(window_start(&h, &[], start, now), start);
        assert_eq!(short_span(3 * 3600), "3 h");
        assert_eq!(short_span(300), "5 min");
        assert_eq!(short_span(20), "20 s");
        assert_eq!(long_span(HISTORY_HOURS * 3600), "72 hours");
        assert_eq!(long_span(60), "minute");
    }
}
