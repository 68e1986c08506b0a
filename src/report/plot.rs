//! Inline SVG plots for the HTML report: the race probe's values as a histogram and a speedup
//! curve. Pure functions from numbers to markup; no scripts, fonts or images, so a page that
//! embeds them works offline. Text inside is escaped by [`super::markup`].

use std::collections::BTreeMap;
use std::fmt::Write;

use super::markup::text;
use crate::verdict::SpeedupCurve;

/// Bars of a histogram before values are grouped into ranges.
const MAX_BARS: usize = 12;

const WIDTH: f64 = 640.0;
/// Height of the plotting area; the labels below it take [`BOTTOM`] (more when turned).
const PLOT_H: f64 = 144.0;
const LEFT: f64 = 44.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 36.0;
const BOTTOM: f64 = 40.0;

/// How a bar's values compare with the expected value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Below,
    Expected,
    Above,
    /// No expected value is known.
    Unknown,
    /// The best range of a score histogram (full marks).
    Top,
}

/// One bar: a value (or a range of values) and how many runs printed it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Bar {
    label: String,
    /// Under the label: how far from the expected value (`lost 72867`).
    note: String,
    count: u32,
    side: Side,
}

/// The race probe's printed values as an SVG histogram: one bar per value printed (values
/// grouped into ranges when there are many), the expected `P*K` as a green bar with a dashed
/// marker even when no run printed it. `None` when there is nothing numeric to draw.
pub(super) fn race_histogram(
    values_seen: &BTreeMap<String, u32>,
    expected: Option<&str>,
) -> Option<String> {
    let bars = race_bars(values_seen, expected.and_then(|e| e.parse().ok()))?;
    let total: u32 = bars.iter().map(|b| b.count).sum();
    Some(histogram_svg(
        &bars,
        &format!("Values printed in {total} runs"),
        "runs",
        ("run", "runs"),
    ))
}

/// A batch's scores as an SVG histogram: `counts[i]` submissions in the i-th of the equal
/// ranges labelled `labels[i]`; the last range (full marks) in green.
pub(crate) fn score_histogram(counts: &[usize], labels: &[String]) -> String {
    let bars: Vec<Bar> = counts
        .iter()
        .zip(labels)
        .enumerate()
        .map(|(i, (&count, label))| Bar {
            label: label.clone(),
            note: String::new(),
            count: u32::try_from(count).unwrap_or(u32::MAX),
            side: if i + 1 == counts.len() {
                Side::Top
            } else {
                Side::Unknown
            },
        })
        .collect();
    let total: usize = counts.iter().sum();
    histogram_svg(
        &bars,
        &format!("Scores of {total} submissions"),
        "submissions",
        ("submission", "submissions"),
    )
}

fn race_bars(values_seen: &BTreeMap<String, u32>, expected: Option<u128>) -> Option<Vec<Bar>> {
    let mut values: Vec<(u128, u32)> = values_seen
        .iter()
        .filter_map(|(v, n)| Some((v.parse::<u128>().ok()?, *n)))
        .collect();
    if values.is_empty() {
        return None;
    }
    values.sort();
    let Some(expected) = expected else {
        return Some(group(&values, MAX_BARS, Side::Unknown, None));
    };
    let below: Vec<_> = values.iter().copied().filter(|v| v.0 < expected).collect();
    let above: Vec<_> = values.iter().copied().filter(|v| v.0 > expected).collect();
    let at: u32 = values.iter().filter(|v| v.0 == expected).map(|v| v.1).sum();
    let mut bars = group(&below, MAX_BARS - 1, Side::Below, Some(expected));
    bars.push(Bar {
        label: expected.to_string(),
        note: "expected".to_string(),
        count: at,
        side: Side::Expected,
    });
    if !above.is_empty() {
        bars.push(Bar {
            label: format!("> {expected}"),
            note: "impossible".to_string(),
            count: above.iter().map(|v| v.1).sum(),
            side: Side::Above,
        });
    }
    Some(bars)
}

/// `values` (sorted) as at most `max` bars: one per value, or equal ranges of values.
fn group(values: &[(u128, u32)], max: usize, side: Side, expected: Option<u128>) -> Vec<Bar> {
    let note = |v: u128| match expected {
        Some(e) if v < e => format!("lost {}", e - v),
        _ => String::new(),
    };
    if values.len() <= max {
        return values
            .iter()
            .map(|&(v, count)| Bar {
                label: v.to_string(),
                note: note(v),
                count,
                side,
            })
            .collect();
    }
    let (lo, hi) = (values[0].0, values[values.len() - 1].0);
    let width = (hi - lo) / max as u128 + 1;
    (0..max as u128)
        .map(|i| {
            let (from, to) = (lo + i * width, (lo + (i + 1) * width - 1).min(hi));
            Bar {
                label: format!("{from}–{to}"),
                note: note(to),
                count: values
                    .iter()
                    .filter(|v| (from..=to).contains(&v.0))
                    .map(|v| v.1)
                    .sum(),
                side,
            }
        })
        .filter(|b| b.count > 0)
        .collect()
}

/// `bars` as a histogram titled `title`, the y axis counting `axis`, each bar's tooltip
/// `label: count unit`.
fn histogram_svg(bars: &[Bar], title: &str, axis: &str, unit: (&str, &str)) -> String {
    let max = bars.iter().map(|b| b.count).max().unwrap_or(0).max(1) as f64;
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = PLOT_H;
    let slot = plot_w / bars.len() as f64;
    let bar_w = (slot * 0.7).min(64.0);
    let longest = bars
        .iter()
        .map(|b| b.label.chars().count())
        .max()
        .unwrap_or(0);
    // Labels wider than their slot are turned, so neighbours do not overlap.
    let turned = longest as f64 * 6.2 > slot - 4.0;
    // Turned labels reach down by about half their length.
    let bottom = if turned {
        BOTTOM.max(longest as f64 * 6.2 * 0.45 + 20.0)
    } else {
        BOTTOM
    };
    let mut svg = open_svg(title, TOP + PLOT_H + bottom);
    axes(&mut svg, max, axis);
    for (i, bar) in bars.iter().enumerate() {
        let cx = LEFT + slot * (i as f64 + 0.5);
        let h = plot_h * bar.count as f64 / max;
        let y = TOP + plot_h - h;
        let class = match bar.side {
            Side::Below => "bar lost",
            Side::Expected => "bar ok",
            Side::Above => "bar above",
            Side::Top => "bar ok",
            Side::Unknown => "bar",
        };
        if bar.side == Side::Expected {
            // A dashed marker above the bar (not through it, nor through its count), so an
            // empty or short bar still shows where P*K is.
            let (from, to) = (TOP - 8.0, y - 16.0);
            if to - from > 4.0 {
                let _ = write!(
                    svg,
                    "<line class=\"marker\" x1=\"{cx:.1}\" y1=\"{from:.1}\" x2=\"{cx:.1}\" y2=\"{to:.1}\"/>"
                );
            }
            let _ = write!(
                svg,
                "<text class=\"marker-label\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"{}\">P×K = {} (no update lost)</text>",
                cx,
                12.0,
                if i + 1 == bars.len() && bars.len() > 1 { "end" } else { "middle" },
                text(&bar.label)
            );
        }
        let _ = write!(
            svg,
            "<rect class=\"{class}\" x=\"{:.1}\" y=\"{y:.1}\" width=\"{bar_w:.1}\" height=\"{h:.1}\"><title>{}: {}</title></rect>",
            cx - bar_w / 2.0,
            text(&bar.label),
            crate::words::count(bar.count, unit.0, unit.1)
        );
        let _ = write!(
            svg,
            "<text class=\"count\" x=\"{cx:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            y - 4.0,
            bar.count
        );
        let ly = TOP + plot_h + 14.0;
        if turned {
            let _ = write!(
                svg,
                "<text class=\"tick\" x=\"{cx:.1}\" y=\"{ly:.1}\" text-anchor=\"end\" transform=\"rotate(-25 {cx:.1} {ly:.1})\">{}</text>",
                text(&bar.label)
            );
        } else {
            let _ = write!(
                svg,
                "<text class=\"tick\" x=\"{cx:.1}\" y=\"{ly:.1}\" text-anchor=\"middle\">{}</text>",
                text(&bar.label)
            );
            if !bar.note.is_empty() && bar.side != Side::Expected {
                let _ = write!(
                    svg,
                    "<text class=\"note\" x=\"{cx:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                    ly + 14.0,
                    text(&bar.note)
                );
            }
        }
    }
    svg.push_str("</svg>");
    svg
}

/// A speedup curve as an SVG line plot: measured speedup per worker count, the ideal `y = x`
/// dashed, and the required factor when the spec sets one. `None` without points.
pub(super) fn speedup_curve(curve: &SpeedupCurve) -> Option<String> {
    let points: Vec<(f64, f64)> = curve
        .points
        .iter()
        .filter(|p| p.workers > 0 && p.speedup.is_finite() && p.speedup >= 0.0)
        .map(|p| (p.workers as f64, p.speedup))
        .collect();
    if points.is_empty() {
        return None;
    }
    let max_x = points.iter().map(|p| p.0).fold(1.0, f64::max);
    // Room for the measured points and the requirement; the ideal line is cut at the top, so
    // a wide machine's ideal does not flatten the curve that matters.
    let max_y = points
        .iter()
        .map(|p| p.1)
        .chain(curve.required)
        .fold(1.0, f64::max)
        * 1.25;
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = PLOT_H;
    let x = |w: f64| {
        LEFT + plot_w
            * if max_x > 1.0 {
                (w - 1.0) / (max_x - 1.0)
            } else {
                0.5
            }
    };
    let y = |s: f64| TOP + plot_h * (1.0 - s / max_y);
    let mut svg = open_svg("Speedup by number of workers", TOP + PLOT_H + BOTTOM);
    axes(&mut svg, max_y, "speedup");
    let ideal_end = max_x.min(max_y);
    let _ = write!(
        svg,
        "<line class=\"ideal\" x1=\"{:.1}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\"/>\
         <text class=\"note\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">ideal</text>",
        x(1.0),
        y(1.0),
        x(ideal_end),
        y(ideal_end),
        x(ideal_end) - 6.0,
        y(ideal_end) + 4.0
    );
    if let Some(required) = curve.required {
        let _ = write!(
            svg,
            "<line class=\"required\" x1=\"{LEFT:.1}\" y1=\"{0:.1}\" x2=\"{1:.1}\" y2=\"{0:.1}\"/>\
             <text class=\"required-label\" x=\"{1:.1}\" y=\"{2:.1}\" text-anchor=\"end\">required {required}×</text>",
            y(required),
            LEFT + plot_w,
            y(required) + 14.0
        );
    }
    let path: Vec<String> = points
        .iter()
        .map(|&(w, s)| format!("{:.1},{:.1}", x(w), y(s)))
        .collect();
    let _ = write!(
        svg,
        "<polyline class=\"curve\" points=\"{}\"/>",
        path.join(" ")
    );
    for &(w, s) in &points {
        let _ = write!(
            svg,
            "<circle class=\"point\" cx=\"{:.1}\" cy=\"{:.1}\" r=\"4\"><title>{w} workers: {s:.2}×</title></circle>\
             <text class=\"count\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{s:.2}×</text>\
             <text class=\"tick\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{w}</text>",
            x(w),
            y(s),
            x(w),
            y(s) - 8.0,
            x(w),
            TOP + plot_h + 14.0
        );
    }
    let _ = write!(
        svg,
        "<text class=\"note\" x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">workers</text></svg>",
        LEFT + plot_w / 2.0,
        TOP + PLOT_H + BOTTOM - 8.0
    );
    Some(svg)
}

fn open_svg(label: &str, height: f64) -> String {
    format!(
        "<svg class=\"plot\" viewBox=\"0 0 {WIDTH} {height:.0}\" width=\"{WIDTH}\" height=\"{height:.0}\" \
         role=\"img\" aria-label=\"{0}\"><title>{0}</title>",
        text(label)
    )
}

/// The y axis from 0 to `max` (labelled at both ends) and the x axis.
fn axes(svg: &mut String, max: f64, unit: &str) {
    let bottom = TOP + PLOT_H;
    let _ = write!(
        svg,
        "<line class=\"axis\" x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{LEFT}\" y2=\"{bottom}\"/>\
         <line class=\"axis\" x1=\"{LEFT}\" y1=\"{bottom}\" x2=\"{}\" y2=\"{bottom}\"/>\
         <line class=\"grid\" x1=\"{LEFT}\" y1=\"{TOP}\" x2=\"{}\" y2=\"{TOP}\"/>\
         <text class=\"tick\" x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>\
         <text class=\"tick\" x=\"{}\" y=\"{bottom}\" text-anchor=\"end\">0</text>\
         <text class=\"note\" x=\"4\" y=\"{}\" transform=\"rotate(-90 4 {})\" dominant-baseline=\"hanging\" text-anchor=\"middle\">{unit}</text>",
        WIDTH - RIGHT,
        WIDTH - RIGHT,
        LEFT - 6.0,
        TOP + 4.0,
        trim(max),
        LEFT - 6.0,
        TOP + (bottom - TOP) / 2.0,
        TOP + (bottom - TOP) / 2.0,
    );
}

/// `max` with at most one decimal (`60`, `4.4`).
fn trim(x: f64) -> String {
    let s = format!("{x:.1}");
    s.trim_end_matches(".0").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verdict::SpeedupPoint;

    fn seen(pairs: &[(&str, u32)]) -> BTreeMap<String, u32> {
        pairs.iter().map(|(v, n)| (v.to_string(), *n)).collect()
    }

    fn summary(bars: &[Bar]) -> Vec<(&str, &str, u32, Side)> {
        bars.iter()
            .map(|b| (b.label.as_str(), b.note.as_str(), b.count, b.side))
            .collect()
    }

    #[test]
    fn the_expected_value_always_has_its_bar() {
        let bars = race_bars(&seen(&[("400000", 59), ("327133", 1)]), Some(400000)).unwrap();
        assert_eq!(
            summary(&bars),
            [
                ("327133", "lost 72867", 1, Side::Below),
                ("400000", "expected", 59, Side::Expected)
            ]
        );
        // A racy demo that never reached P*K: the expected bar is there, empty.
        let bars = race_bars(&seen(&[("391895", 1)]), Some(400000)).unwrap();
        assert_eq!(bars[1].count, 0);
        assert_eq!(bars[1].side, Side::Expected);
    }

    #[test]
    fn many_values_are_grouped_into_ranges() {
        let values: BTreeMap<String, u32> = (0..100u32)
            .map(|i| ((1000 + i * 10).to_string(), 1))
            .collect();
        let bars = race_bars(&values, Some(5000)).unwrap();
        assert!(bars.len() <= MAX_BARS, "{}", bars.len());
        let below: u32 = bars
            .iter()
            .filter(|b| b.side == Side::Below)
            .map(|b| b.count)
            .sum();
        assert_eq!(below, 100, "every run is in a range");
        assert_eq!(bars[0].label, "1000–1090");
        assert_eq!(bars.last().unwrap().side, Side::Expected);
    }

    #[test]
    fn values_above_the_expected_one_are_flagged() {
        let bars = race_bars(&seen(&[("4001", 2), ("4000", 1)]), Some(4000)).unwrap();
        assert_eq!(
            summary(&bars),
            [
                ("4000", "expected", 1, Side::Expected),
                ("> 4000", "impossible", 2, Side::Above)
            ]
        );
    }

    #[test]
    fn nothing_numeric_draws_nothing() {
        assert_eq!(race_histogram(&seen(&[]), Some("4")), None);
        assert_eq!(race_histogram(&seen(&[("abc", 3)]), None), None);
        let svg = race_histogram(&seen(&[("7", 3)]), None).unwrap();
        assert!(svg.contains("class=\"bar\""), "{svg}");
        assert!(!svg.contains("marker"), "{svg}");
    }

    #[test]
    fn histogram_is_well_formed_svg_with_a_marker() {
        let svg = race_histogram(&seen(&[("400000", 59), ("327133", 1)]), Some("400000")).unwrap();
        let doc = roxmltree::Document::parse(&svg).expect("well-formed");
        let rects: Vec<_> = doc
            .descendants()
            .filter(|n| n.has_tag_name("rect"))
            .map(|n| n.attribute("class").unwrap())
            .collect();
        assert_eq!(rects, ["bar lost", "bar ok"]);
        assert!(svg.contains("P×K = 400000 (no update lost)"), "{svg}");
        // The expected bar is as tall as the plot: no room for the marker line above it.
        let markers = |svg: &str| {
            roxmltree::Document::parse(svg)
                .unwrap()
                .descendants()
                .filter(|n| n.attribute("class") == Some("marker"))
                .count()
        };
        assert_eq!(markers(&svg), 0);
        let short = race_histogram(&seen(&[("400000", 1), ("327133", 9)]), Some("400000"));
        assert_eq!(markers(&short.unwrap()), 1);
    }

    #[test]
    fn speedup_curve_draws_points_ideal_and_requirement() {
        let curve = SpeedupCurve {
            points: [(1, 800.0, 1.0), (2, 420.0, 1.9), (4, 260.0, 3.1)]
                .map(|(workers, wall_ms, speedup)| SpeedupPoint {
                    workers,
                    wall_ms,
                    speedup,
                })
                .to_vec(),
            required: Some(1.5),
        };
        let svg = speedup_curve(&curve).unwrap();
        let doc = roxmltree::Document::parse(&svg).expect("well-formed");
        assert_eq!(
            doc.descendants()
                .filter(|n| n.has_tag_name("circle"))
                .count(),
            3
        );
        for label in ["1.90×", "3.10×", "required 1.5×", "ideal", "workers"] {
            assert!(svg.contains(label), "{label} missing");
        }
        assert_eq!(speedup_curve(&SpeedupCurve::default()), None);
    }
}
