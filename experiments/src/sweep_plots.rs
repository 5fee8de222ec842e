//! Plots of hyper-parameter sweeps and model comparisons: a dual-axis chart (one quantity per
//! model on the left axis, a rate per setting on the right axis), a radar chart of per-model
//! error vectors, and a heatmap of a matrix. Same conventions as [`crate::plots`]: PNG or SVG
//! by the file extension, 900x650 pixels, text from the in-memory font, and the file is drawn
//! to a temporary name and then renamed, so a crash never leaves a half-written plot.
//!
//! All input is validated before any file is touched: empty or entirely non-finite data gives
//! an error, never a panic or an empty picture.

use std::path::Path;

use anyhow::{anyhow, bail, Context, Result};
use plotters::chart::DualCoordChartContext;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::plots::{
    draw_legend, draw_mesh, drawing_failed, finite_range, format_of, palette, register_font,
    Format, Series, SIZE,
};

/// Titles and options of a [`dual_axis`] plot.
#[derive(Debug, Clone, Default)]
pub struct DualAxes {
    pub title: String,
    pub x_label: String,
    /// Label of the left y axis (the `left` series).
    pub y_left_label: String,
    /// Label of the right y axis (the `right` series).
    pub y_right_label: String,
    /// Logarithmic x axis (points with x <= 0 are then skipped).
    pub log_x: bool,
    /// Draw the left series as lines (with small markers) instead of points.
    pub left_lines: bool,
}

/// A named group of vectors of a [`radar`] plot, all drawn in the group's colour.
#[derive(Debug, Clone)]
pub struct RadarGroup {
    pub name: String,
    /// One vector per member (e.g. per model), each with one value per spoke.
    pub vectors: Vec<Vec<f64>>,
}

impl RadarGroup {
    pub fn new(name: impl Into<String>, vectors: Vec<Vec<f64>>) -> Self {
        Self {
            name: name.into(),
            vectors,
        }
    }
}

/// Titles of a [`heatmap`].
#[derive(Debug, Clone, Default)]
pub struct HeatmapAxes {
    pub title: String,
    /// Label of the horizontal axis (column index).
    pub x_label: String,
    /// Label of the vertical axis (row index, row 0 at the top).
    pub y_label: String,
}

/// Most cells per axis a heatmap draws in SVG (one `<rect>` each); larger matrices are
/// block-averaged. PNG draws at most one cell per pixel of the plotting area.
const SVG_MAX_CELLS: usize = 150;

/// A validated plot, ready to draw on any backend.
trait Figure {
    fn draw<DB: DrawingBackend>(&self, root: DrawingArea<DB, Shift>, format: Format) -> Result<()>
    where
        DB::ErrorType: 'static;
}

/// Draws `fig` to a temporary file next to `path` (keeping its extension, which the backend
/// reads), then commits it durably (`jobs::durable`); a failed drawing leaves no file.
fn render(path: &Path, format: Format, _ext: &str, fig: &impl Figure) -> Result<()> {
    register_font();
    let file = jobs::durable::PendingFile::keeping_extension(path)?;
    // The backend is dropped when `draw` returns (it may flush a partial file on drop).
    match format {
        Format::Png => fig.draw(
            BitMapBackend::new(file.path(), SIZE).into_drawing_area(),
            format,
        ),
        Format::Svg => fig.draw(
            SVGBackend::new(file.path(), SIZE).into_drawing_area(),
            format,
        ),
    }
    .with_context(|| format!("cannot draw {}", path.display()))?;
    Ok(file.commit()?)
}

/// Short human-readable number: three significant digits, scientific when very large/small.
fn fmt_num(v: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    if !v.is_finite() {
        return format!("{v}");
    }
    let a = v.abs();
    if !(1e-3..1e5).contains(&a) {
        return format!("{v:.2e}");
    }
    let decimals = (2 - a.log10().floor() as i32).clamp(0, 6) as usize;
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// A polyline as separate two-point segments. plotters' bitmap backend turns a thick
/// polyline into one polygon whose mitre joins blow up at near-reversing turns (zig-zag data:
/// a stray line across the whole picture); separate segments have no joins.
fn segments<C: Copy>(pts: &[C], style: ShapeStyle) -> impl Iterator<Item = PathElement<C>> + '_ {
    pts.windows(2)
        .map(move |w| PathElement::new(vec![w[0], w[1]], style))
}

/// Text as drawn: in PNG, characters the in-memory font lacks are replaced by look-alikes
/// (the mathematical angle brackets of ⟨v⟩ become ‹v›). SVG keeps the text as given, since
/// the viewer renders it with its own fonts.
fn shown(s: &str, format: Format) -> String {
    match format {
        Format::Svg => s.to_string(),
        Format::Png => s
            .chars()
            .map(|c| match c {
                '\u{27E8}' | '\u{2329}' | '\u{3008}' => '\u{2039}',
                '\u{27E9}' | '\u{232A}' | '\u{3009}' => '\u{203A}',
                c => c,
            })
            .collect(),
    }
}

/// A white picture with `title` (26 px) on top and `body` drawn below it.
fn draw_titled<DB>(
    root: DrawingArea<DB, Shift>,
    title: &str,
    format: Format,
    body: impl FnOnce(DrawingArea<DB, Shift>) -> Result<()>,
) -> Result<()>
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
{
    root.fill(&WHITE).map_err(drawing_failed)?;
    let area = root
        .titled(&shown(title, format), ("sans-serif", 26))
        .map_err(drawing_failed)?;
    body(area)?;
    root.present().map_err(drawing_failed)?;
    Ok(())
}

/// Text style anchored at `(h, v)` of the text's bounding box.
fn text_style(size: u32, color: impl Color, h: HPos, v: VPos) -> TextStyle<'static> {
    ("sans-serif", size)
        .into_font()
        .color(&color)
        .pos(Pos::new(h, v))
}

// ------------------------------------------------------------------------------------------
// Dual axis
// ------------------------------------------------------------------------------------------

struct DualPlot<'a> {
    axes: &'a DualAxes,
    left: Vec<(&'a str, Vec<(f64, f64)>)>,
    right: Vec<(&'a str, Vec<(f64, f64)>)>,
    x: (f64, f64),
    y_left: (f64, f64),
    y_right: (f64, f64),
}

/// Dual-axis chart over a shared x axis (logarithmic when `axes.log_x`).
///
/// The `left` series are read on the left y axis and drawn as points (e.g. one point per
/// trained model: regularisation λ vs its normalised RMSE), or as lines when
/// `axes.left_lines`. The `right` series are read on the secondary right y axis and drawn as
/// lines with triangle markers (e.g. the percentage of models that exploded at each λ); their
/// legend entries are suffixed with "(right axis)". Colours: left series take palette colours
/// 0, 1, ..., right series continue after them.
///
/// Non-finite points (and points with x <= 0 on a log x axis) are skipped. It is an error when
/// no left point remains. `right` may be empty: then only the right axis is drawn, over 0..100.
pub fn dual_axis(path: &Path, left: &[Series], right: &[Series], axes: &DualAxes) -> Result<()> {
    let (format, ext) = format_of(path)?;
    let keep = |s: &[(f64, f64)]| -> Vec<(f64, f64)> {
        s.iter()
            .copied()
            .filter(|p| p.0.is_finite() && p.1.is_finite() && (!axes.log_x || p.0 > 0.0))
            .collect()
    };
    let left: Vec<_> = left
        .iter()
        .map(|s| (s.name.as_str(), keep(&s.points)))
        .collect();
    let right: Vec<_> = right
        .iter()
        .map(|s| (s.name.as_str(), keep(&s.points)))
        .collect();
    let all_left = || left.iter().flat_map(|s| s.1.iter());
    let all_right = || right.iter().flat_map(|s| s.1.iter());
    if all_left().next().is_none() {
        bail!(
            "nothing to plot in '{}': the left series have no finite points{}",
            axes.title,
            if axes.log_x {
                " with x > 0 (log x axis)"
            } else {
                ""
            }
        );
    }
    let x = finite_range(all_left().chain(all_right()).map(|p| p.0), axes.log_x)
        .ok_or_else(|| anyhow!("'{}': no finite x values", axes.title))?;
    let y_left = finite_range(all_left().map(|p| p.1), false)
        .ok_or_else(|| anyhow!("'{}': no finite left y values", axes.title))?;
    let y_right = finite_range(all_right().map(|p| p.1), false).unwrap_or((0.0, 100.0));
    let fig = DualPlot {
        axes,
        left,
        right,
        x,
        y_left,
        y_right,
    };
    render(path, format, &ext, &fig)
}

impl DualPlot<'_> {
    /// The left series (points, or lines with markers) and the right series (lines with
    /// triangles, on the secondary axis), each with its legend entry.
    fn draw_left_and_right<'a, DB, X, SX>(
        &self,
        chart: &mut DualCoordChartContext<
            'a,
            DB,
            Cartesian2d<X, RangedCoordf64>,
            Cartesian2d<SX, RangedCoordf64>,
        >,
        format: Format,
    ) -> Result<()>
    where
        DB: DrawingBackend + 'a,
        DB::ErrorType: 'static,
        X: Ranged<ValueType = f64>,
        SX: Ranged<ValueType = f64>,
    {
        let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("drawing failed: {e:?}");
        let axes = self.axes;
        let text = |s: &str| shown(s, format);
        for (k, (name, pts)) in self.left.iter().enumerate() {
            let color = palette(k);
            if axes.left_lines {
                chart
                    .draw_series(segments(pts, color.stroke_width(2)))
                    .map_err(err)?
                    .label(text(name))
                    .legend(move |(x, y)| {
                        EmptyElement::at((x, y))
                            + PathElement::new([(0, 0), (20, 0)], color.stroke_width(2))
                            + Circle::new((10, 0), 3, color.filled())
                    });
                chart
                    .draw_series(pts.iter().map(|&p| Circle::new(p, 3, color.filled())))
                    .map_err(err)?;
            } else {
                chart
                    .draw_series(
                        pts.iter()
                            .map(|&p| Circle::new(p, 4, color.mix(0.6).filled())),
                    )
                    .map_err(err)?
                    .label(text(name))
                    .legend(move |(x, y)| Circle::new((x + 10, y), 4, color.filled()));
            }
        }
        for (k, (name, pts)) in self.right.iter().enumerate() {
            let color = palette(self.left.len() + k);
            chart
                .draw_secondary_series(segments(pts, color.stroke_width(2)))
                .map_err(err)?
                .label(format!("{} (right axis)", text(name)))
                .legend(move |(x, y)| {
                    EmptyElement::at((x, y))
                        + PathElement::new([(0, 0), (20, 0)], color.stroke_width(2))
                        + TriangleMarker::new((10, 0), 5, color.filled())
                });
            chart
                .draw_secondary_series(
                    pts.iter()
                        .map(|&p| TriangleMarker::new(p, 5, color.filled())),
                )
                .map_err(err)?;
        }
        Ok(())
    }
}

impl Figure for DualPlot<'_> {
    fn draw<DB: DrawingBackend>(&self, root: DrawingArea<DB, Shift>, format: Format) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("drawing failed: {e:?}");
        let axes = self.axes;
        let text = |s: &str| shown(s, format);
        let (xr, yl, yr) = (self.x, self.y_left, self.y_right);
        root.fill(&WHITE).map_err(err)?;
        let mut builder = ChartBuilder::on(&root);
        builder
            .caption(text(&axes.title), ("sans-serif", 26))
            .margin(15)
            .x_label_area_size(55)
            .y_label_area_size(75)
            .right_y_label_area_size(75);
        macro_rules! body {
            ($chart:expr, $secondary_x:expr) => {{
                let mut chart = $chart.set_secondary_coord($secondary_x, yr.0..yr.1);
                draw_mesh(&mut *chart, &text(&axes.x_label), &text(&axes.y_left_label))?;
                chart
                    .configure_secondary_axes()
                    .y_desc(text(&axes.y_right_label))
                    .label_style(("sans-serif", 16))
                    .axis_desc_style(("sans-serif", 20))
                    .draw()
                    .map_err(err)?;
                self.draw_left_and_right(&mut chart, format)?;
                draw_legend(&mut *chart)?;
            }};
        }
        if axes.log_x {
            body!(
                builder
                    .build_cartesian_2d((xr.0..xr.1).log_scale(), yl.0..yl.1)
                    .map_err(err)?,
                (xr.0..xr.1).log_scale()
            );
        } else {
            body!(
                builder
                    .build_cartesian_2d(xr.0..xr.1, yl.0..yl.1)
                    .map_err(err)?,
                xr.0..xr.1
            );
        }
        root.present().map_err(err)?;
        Ok(())
    }
}

// ------------------------------------------------------------------------------------------
// Radar
// ------------------------------------------------------------------------------------------

struct RadarPlot<'a> {
    spokes: &'a [&'a str],
    groups: &'a [RadarGroup],
    title: &'a str,
    rmin: f64,
    rmax: f64,
    any_non_finite: bool,
}

/// Radar (polar) plot of vectors: one spoke per entry of `spokes` at equally spaced angles,
/// clockwise from the top (e.g. the five nRMSE statistics ⟨v⟩ ⟨h⟩ ⟨vh⟩ ⟨vv⟩ ⟨hh⟩), and each
/// vector of each group drawn as a closed, semi-transparent polygon in the group's colour
/// (palette colour = group index). A legend lists the groups with their number of vectors.
///
/// The radius is the value itself on a linear scale from `rmin` at the centre to `rmax` at
/// the outer ring, where `rmin = min(0, smallest finite value)` and `rmax` = the largest finite
/// value (at least `rmin` + a small epsilon). Four labelled reference rings mark the scale.
/// **Non-finite values are drawn at `rmax`** (the outer ring) and marked with a cross: a NaN
/// or infinite error means a bad model, so it must look as bad as the worst one, not vanish.
///
/// Errors: fewer than three spokes, no vector at all, or a vector whose length differs from
/// `spokes.len()` (the message names the group and the vector's index).
pub fn radar(path: &Path, spokes: &[&str], groups: &[RadarGroup], title: &str) -> Result<()> {
    let (format, ext) = format_of(path)?;
    if spokes.len() < 3 {
        bail!(
            "radar '{title}': needs at least 3 spokes, got {}",
            spokes.len()
        );
    }
    if groups.iter().all(|g| g.vectors.is_empty()) {
        bail!("radar '{title}': no vector to plot");
    }
    for g in groups {
        for (i, v) in g.vectors.iter().enumerate() {
            if v.len() != spokes.len() {
                bail!(
                    "radar '{title}': group '{}' vector {i} has {} values, expected {} (one per spoke)",
                    g.name,
                    v.len(),
                    spokes.len()
                );
            }
        }
    }
    let values = || {
        groups
            .iter()
            .flat_map(|g| g.vectors.iter().flatten().copied())
    };
    let any_non_finite = values().any(|v| !v.is_finite());
    let (lo, hi) = values()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    let (rmin, rmax) = if lo.is_finite() {
        let rmin = lo.min(0.0);
        let eps = 1e-9 * rmin.abs().max(hi.abs()).max(1.0);
        (rmin, hi.max(rmin + eps))
    } else {
        // Every value is non-finite: all vertices go to the outer ring of a unit scale.
        (0.0, 1.0)
    };
    let fig = RadarPlot {
        spokes,
        groups,
        title,
        rmin,
        rmax,
        any_non_finite,
    };
    render(path, format, &ext, &fig)
}

impl RadarPlot<'_> {
    /// Angle of spoke `i`: the first at the top, then clockwise.
    fn angle(&self, i: usize) -> f64 {
        std::f64::consts::FRAC_PI_2 - std::f64::consts::TAU * i as f64 / self.spokes.len() as f64
    }

    /// Normalised radius in [0, 1] of a value (non-finite -> 1, the outer ring).
    fn radius(&self, v: f64) -> f64 {
        if v.is_finite() {
            ((v.clamp(self.rmin, self.rmax) - self.rmin) / (self.rmax - self.rmin)).clamp(0.0, 1.0)
        } else {
            1.0
        }
    }
}

type RadarChart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// A point at radius `r` and angle `a` (radians).
fn at(r: f64, a: f64) -> (f64, f64) {
    (r * a.cos(), r * a.sin())
}

impl RadarPlot<'_> {
    /// Reference rings, labelled between the first two spokes, and the centre's value.
    fn draw_rings<DB>(&self, chart: &mut RadarChart<'_, DB>) -> Result<()>
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("drawing failed: {e:?}");
        let n = self.spokes.len();
        let label_angle = self.angle(0) - std::f64::consts::PI / n as f64;
        const RINGS: usize = 4;
        for j in 1..=RINGS {
            let r = j as f64 / RINGS as f64;
            let ring: Vec<(f64, f64)> = (0..=120)
                .map(|k| at(r, std::f64::consts::TAU * k as f64 / 120.0))
                .collect();
            chart
                .draw_series(std::iter::once(PathElement::new(ring, BLACK.mix(0.25))))
                .map_err(err)?;
            let value = self.rmin + r * (self.rmax - self.rmin);
            chart
                .draw_series(std::iter::once(Text::new(
                    fmt_num(value),
                    at(r, label_angle),
                    text_style(13, BLACK.mix(0.6), HPos::Left, VPos::Bottom),
                )))
                .map_err(err)?;
        }
        if self.rmin != 0.0 {
            chart
                .draw_series(std::iter::once(Text::new(
                    fmt_num(self.rmin),
                    (0.0, 0.0),
                    text_style(13, BLACK.mix(0.6), HPos::Left, VPos::Bottom),
                )))
                .map_err(err)?;
        }
        Ok(())
    }

    /// Spokes and their labels at the tips.
    fn draw_spokes<DB>(&self, chart: &mut RadarChart<'_, DB>, format: Format) -> Result<()>
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("drawing failed: {e:?}");
        let text = |s: &str| shown(s, format);
        for (i, name) in self.spokes.iter().enumerate() {
            let a = self.angle(i);
            chart
                .draw_series(std::iter::once(PathElement::new(
                    [(0.0, 0.0), at(1.0, a)],
                    BLACK.mix(0.45),
                )))
                .map_err(err)?;
            let (c, s) = (a.cos(), a.sin());
            let hpos = if c > 0.3 {
                HPos::Left
            } else if c < -0.3 {
                HPos::Right
            } else {
                HPos::Center
            };
            let vpos = if s > 0.3 {
                VPos::Bottom
            } else if s < -0.3 {
                VPos::Top
            } else {
                VPos::Center
            };
            chart
                .draw_series(std::iter::once(Text::new(
                    text(name),
                    at(1.06, a),
                    text_style(18, BLACK, hpos, vpos),
                )))
                .map_err(err)?;
        }
        Ok(())
    }

    /// One polygon per vector; the more vectors in a group, the fainter each one.
    fn draw_vectors<DB>(&self, chart: &mut RadarChart<'_, DB>) -> Result<()>
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("drawing failed: {e:?}");
        for (k, g) in self.groups.iter().enumerate() {
            let color = palette(k);
            let m = g.vectors.len().max(1) as f64;
            let fill = (0.25 / m.sqrt()).max(0.04);
            let line = (0.9 / m.sqrt()).max(0.3);
            let width = if g.vectors.len() <= 3 { 2 } else { 1 };
            for v in &g.vectors {
                let pts: Vec<(f64, f64)> = v
                    .iter()
                    .enumerate()
                    .map(|(i, &x)| at(self.radius(x), self.angle(i)))
                    .collect();
                chart
                    .draw_series(std::iter::once(Polygon::new(
                        pts.clone(),
                        color.mix(fill).filled(),
                    )))
                    .map_err(err)?;
                let mut outline = pts.clone();
                outline.push(pts[0]);
                chart
                    .draw_series(segments(&outline, color.mix(line).stroke_width(width)))
                    .map_err(err)?;
                chart
                    .draw_series(
                        v.iter()
                            .zip(&pts)
                            .filter(|(x, _)| !x.is_finite())
                            .map(|(_, &p)| Cross::new(p, 6, color.stroke_width(2))),
                    )
                    .map_err(err)?;
            }
        }
        Ok(())
    }

    /// Each group's colour, name and size, and what a cross means.
    fn draw_legend<DB>(&self, legend: &DrawingArea<DB, Shift>, format: Format) -> Result<()>
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("drawing failed: {e:?}");
        let text = |s: &str| shown(s, format);
        let mut y = 20;
        for (k, g) in self.groups.iter().enumerate() {
            let color = palette(k);
            legend
                .draw(&Rectangle::new(
                    [(10, y), (32, y + 16)],
                    color.mix(0.6).filled(),
                ))
                .map_err(err)?;
            legend
                .draw(&Text::new(
                    format!("{} ({})", text(&g.name), g.vectors.len()),
                    (40, y + 8),
                    text_style(16, BLACK, HPos::Left, VPos::Center),
                ))
                .map_err(err)?;
            y += 26;
        }
        if self.any_non_finite {
            legend
                .draw(&Text::new(
                    "× = non-finite value,".to_string(),
                    (10, y + 12),
                    text_style(14, BLACK, HPos::Left, VPos::Center),
                ))
                .map_err(err)?;
            legend
                .draw(&Text::new(
                    "drawn on the outer ring".to_string(),
                    (10, y + 30),
                    text_style(14, BLACK, HPos::Left, VPos::Center),
                ))
                .map_err(err)?;
        }
        Ok(())
    }
}

impl Figure for RadarPlot<'_> {
    fn draw<DB: DrawingBackend>(&self, root: DrawingArea<DB, Shift>, format: Format) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        draw_titled(root, self.title, format, |area| {
            let (w, h) = area.dim_in_pixel();
            // A square plotting region keeps the rings round; the legend goes to its right.
            let side = h.min(w.saturating_sub(260)).max(1);
            let (plot, legend) = area.split_horizontally(side);
            let lim = 1.32;
            let mut chart = ChartBuilder::on(&plot)
                .margin(10)
                .build_cartesian_2d(-lim..lim, -lim..lim)
                .map_err(drawing_failed)?;
            self.draw_rings(&mut chart)?;
            self.draw_spokes(&mut chart, format)?;
            self.draw_vectors(&mut chart)?;
            self.draw_legend(&legend, format)
        })
    }
}

// ------------------------------------------------------------------------------------------
// Heatmap
// ------------------------------------------------------------------------------------------

struct HeatmapPlot<'a> {
    matrix: &'a [f64],
    n_rows: usize,
    n_cols: usize,
    axes: &'a HeatmapAxes,
    /// Smallest and largest finite value.
    lo: f64,
    hi: f64,
    /// Colour-scale range: symmetric around 0 when `diverging`.
    c0: f64,
    c1: f64,
    diverging: bool,
    any_non_finite: bool,
}

const NAN_GREY: RGBColor = RGBColor(150, 150, 150);

fn lerp(a: RGBColor, b: RGBColor, t: f64) -> RGBColor {
    let f = |x: u8, y: u8| {
        (x as f64 + (y as f64 - x as f64) * t)
            .round()
            .clamp(0.0, 255.0) as u8
    };
    RGBColor(f(a.0, b.0), f(a.1, b.1), f(a.2, b.2))
}

impl HeatmapPlot<'_> {
    /// Colour of a value: blue–white–red (white at 0) when diverging, otherwise a
    /// viridis-like sequential map from `c0` (dark) to `c1` (yellow); grey when non-finite.
    fn color(&self, v: f64) -> RGBColor {
        if !v.is_finite() {
            return NAN_GREY;
        }
        let t = ((v - self.c0) / (self.c1 - self.c0)).clamp(0.0, 1.0);
        if self.diverging {
            const BLUE_END: RGBColor = RGBColor(33, 102, 172);
            const RED_END: RGBColor = RGBColor(178, 24, 43);
            if t < 0.5 {
                lerp(WHITE, BLUE_END, (0.5 - t) * 2.0)
            } else {
                lerp(WHITE, RED_END, (t - 0.5) * 2.0)
            }
        } else {
            const STOPS: [RGBColor; 5] = [
                RGBColor(68, 1, 84),
                RGBColor(59, 82, 139),
                RGBColor(33, 145, 140),
                RGBColor(94, 201, 98),
                RGBColor(253, 231, 37),
            ];
            let x = t * (STOPS.len() - 1) as f64;
            let i = (x.floor() as usize).min(STOPS.len() - 2);
            lerp(STOPS[i], STOPS[i + 1], x - i as f64)
        }
    }

    /// Mean of the finite values of rows `r` and columns `c` (NaN when none is finite).
    fn block_mean(&self, r: std::ops::Range<usize>, c: std::ops::Range<usize>) -> f64 {
        let (mut sum, mut n) = (0.0, 0usize);
        for i in r {
            for &v in &self.matrix[i * self.n_cols + c.start..i * self.n_cols + c.end] {
                if v.is_finite() {
                    sum += v;
                    n += 1;
                }
            }
        }
        if n == 0 {
            f64::NAN
        } else {
            sum / n as f64
        }
    }
}

/// Heatmap of a row-major `n_rows` x `n_cols` matrix (e.g. a z-scored voxel coupling matrix),
/// row 0 at the top, with a colour bar showing the scale and the data's min and max.
///
/// When the data has both signs the colour map is diverging, blue–white–red, symmetric around
/// 0 (white = 0, full colour = the largest absolute value); otherwise it is sequential
/// (viridis-like, dark = min, yellow = max). Non-finite cells are grey. Matrices larger than
/// the picture are drawn block-averaged (mean of the finite cells of each block): at most one
/// cell per pixel in PNG, at most 150x150 cells in SVG to keep the file small.
///
/// Errors: `matrix.len() != n_rows * n_cols`, an empty matrix, or no finite value.
pub fn heatmap(
    path: &Path,
    matrix: &[f64],
    n_rows: usize,
    n_cols: usize,
    axes: &HeatmapAxes,
) -> Result<()> {
    let (format, ext) = format_of(path)?;
    let title = &axes.title;
    if n_rows.checked_mul(n_cols) != Some(matrix.len()) {
        bail!(
            "heatmap '{title}': the matrix has {} values, expected {n_rows} x {n_cols}",
            matrix.len()
        );
    }
    if matrix.is_empty() {
        bail!("heatmap '{title}': the matrix is empty ({n_rows} x {n_cols})");
    }
    let (lo, hi) = matrix
        .iter()
        .copied()
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| {
            (lo.min(v), hi.max(v))
        });
    if !lo.is_finite() {
        bail!("heatmap '{title}': no finite value in the {n_rows} x {n_cols} matrix");
    }
    let diverging = lo < 0.0 && hi > 0.0;
    let (c0, c1) = if diverging {
        let m = lo.abs().max(hi.abs());
        (-m, m)
    } else if hi > lo {
        (lo, hi)
    } else {
        let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        (lo - pad, hi + pad)
    };
    let fig = HeatmapPlot {
        matrix,
        n_rows,
        n_cols,
        axes,
        lo,
        hi,
        c0,
        c1,
        diverging,
        any_non_finite: matrix.iter().any(|v| !v.is_finite()),
    };
    render(path, format, &ext, &fig)
}

impl HeatmapPlot<'_> {
    /// Axes with cell-edge ticks and the cells, block-averaged when there are more than the
    /// picture can show.
    fn draw_cells<DB>(&self, main: &DrawingArea<DB, Shift>, format: Format) -> Result<()>
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("drawing failed: {e:?}");
        let text = |s: &str| shown(s, format);
        let (nr, nc) = (self.n_rows, self.n_cols);
        let (nrf, ncf) = (nr as f64, nc as f64);
        // Ticks sit on cell edges; only whole indices are labelled (small matrices get
        // fractional ticks too).
        let index_label = |v: f64| {
            if (v - v.round()).abs() < 1e-6 {
                format!("{}", v.round() as i64)
            } else {
                String::new()
            }
        };
        let x_fmt = |x: &f64| index_label(*x);
        // Row 0 at the top: the y coordinate of row edge i is nr - i.
        let y_fmt = |y: &f64| index_label(nrf - *y);
        let mut chart = ChartBuilder::on(&main)
            .margin(15)
            .x_label_area_size(55)
            .y_label_area_size(75)
            .build_cartesian_2d(0.0..ncf, 0.0..nrf)
            .map_err(err)?;
        chart
            .configure_mesh()
            .disable_mesh()
            .x_desc(text(&self.axes.x_label))
            .y_desc(text(&self.axes.y_label))
            .x_labels((nc + 1).min(10))
            .y_labels((nr + 1).min(10))
            .x_label_formatter(&x_fmt)
            .y_label_formatter(&y_fmt)
            .label_style(("sans-serif", 16))
            .axis_desc_style(("sans-serif", 20))
            .draw()
            .map_err(err)?;

        // Cells, block-averaged when there are more than the picture can show.
        let (pw, ph) = chart.plotting_area().dim_in_pixel();
        let (max_r, max_c) = match format {
            Format::Png => ((ph as usize).max(1), (pw as usize).max(1)),
            Format::Svg => (SVG_MAX_CELLS, SVG_MAX_CELLS),
        };
        let (br, bc) = (nr.div_ceil(max_r), nc.div_ceil(max_c));
        let cells = (0..nr.div_ceil(br)).flat_map(|bi| {
            (0..nc.div_ceil(bc)).map(move |bj| {
                let (r0, r1) = (bi * br, ((bi + 1) * br).min(nr));
                let (c0, c1) = (bj * bc, ((bj + 1) * bc).min(nc));
                let v = if br == 1 && bc == 1 {
                    self.matrix[r0 * nc + c0]
                } else {
                    self.block_mean(r0..r1, c0..c1)
                };
                Rectangle::new(
                    [(c0 as f64, nrf - r0 as f64), (c1 as f64, nrf - r1 as f64)],
                    self.color(v).filled(),
                )
            })
        });
        chart.draw_series(cells).map_err(err)?;
        Ok(())
    }

    /// The colour scale with its range, and the legend of white and grey.
    fn draw_colour_bar<DB>(&self, bar: &DrawingArea<DB, Shift>) -> Result<()>
    where
        DB: DrawingBackend,
        DB::ErrorType: 'static,
    {
        let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("drawing failed: {e:?}");
        let (_, bh) = bar.dim_in_pixel();
        let mut cb = ChartBuilder::on(&bar)
            .margin_top(45)
            .margin_bottom(80)
            .margin_left(10)
            .margin_right(5)
            .right_y_label_area_size(70)
            .build_cartesian_2d(0.0..1.0, self.c0..self.c1)
            .map_err(err)?;
        let num_fmt = |v: &f64| fmt_num(*v);
        cb.configure_mesh()
            .disable_mesh()
            .disable_x_axis()
            .y_labels(7)
            .y_label_formatter(&num_fmt)
            .label_style(("sans-serif", 14))
            .draw()
            .map_err(err)?;
        const STEPS: usize = 128;
        let step = (self.c1 - self.c0) / STEPS as f64;
        cb.draw_series((0..STEPS).map(|k| {
            let a = self.c0 + k as f64 * step;
            Rectangle::new(
                [(0.0, a), (1.0, a + step)],
                self.color(a + 0.5 * step).filled(),
            )
        }))
        .map_err(err)?;
        cb.draw_series(std::iter::once(Rectangle::new(
            [(0.0, self.c0), (1.0, self.c1)],
            BLACK.mix(0.6),
        )))
        .map_err(err)?;
        let label = |s: String, y: i32| {
            Text::new(s, (10, y), text_style(15, BLACK, HPos::Left, VPos::Center))
        };
        bar.draw(&label(format!("max {}", fmt_num(self.hi)), 22))
            .map_err(err)?;
        let bh = bh as i32;
        bar.draw(&label(format!("min {}", fmt_num(self.lo)), bh - 62))
            .map_err(err)?;
        if self.diverging {
            bar.draw(&label("white = 0".to_string(), bh - 42))
                .map_err(err)?;
        }
        if self.any_non_finite {
            bar.draw(&Rectangle::new(
                [(10, bh - 28), (24, bh - 16)],
                NAN_GREY.filled(),
            ))
            .map_err(err)?;
            bar.draw(&Text::new(
                "non-finite".to_string(),
                (30, bh - 22),
                text_style(15, BLACK, HPos::Left, VPos::Center),
            ))
            .map_err(err)?;
        }
        Ok(())
    }
}

impl Figure for HeatmapPlot<'_> {
    fn draw<DB: DrawingBackend>(&self, root: DrawingArea<DB, Shift>, format: Format) -> Result<()>
    where
        DB::ErrorType: 'static,
    {
        draw_titled(root, &self.axes.title, format, |area| {
            let (w, _) = area.dim_in_pixel();
            let (main, bar) = area.split_horizontally(w.saturating_sub(140).max(1));
            self.draw_cells(&main, format)?;
            self.draw_colour_bar(&bar)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn test_dir(name: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("sweep-plots-test-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// Decodes a PNG, checks its size and returns its number of non-white pixels.
    fn inked(path: &Path) -> usize {
        let png = image::open(path).unwrap().to_rgb8();
        assert_eq!(png.dimensions(), SIZE);
        // The margins stay white: nothing is drawn across the whole picture (a thick polyline
        // with near-reversing turns once did that).
        let (w, h) = SIZE;
        for (x, y) in (0..w)
            .flat_map(|x| [(x, h - 1), (x, h - 2)])
            .chain((0..h).flat_map(|y| [(0, y), (1, y), (w - 1, y), (w - 2, y)]))
        {
            assert_eq!(
                png.get_pixel(x, y).0,
                [255, 255, 255],
                "ink at ({x}, {y}) in {}",
                path.display()
            );
        }
        png.pixels().filter(|p| p.0 != [255, 255, 255]).count()
    }

    fn svg_has(path: &Path, title: &str) {
        let svg = std::fs::read_to_string(path).unwrap();
        assert!(svg.contains("<svg"), "not an SVG: {}", path.display());
        assert!(
            svg.contains(title),
            "title '{title}' missing in {}",
            path.display()
        );
    }

    fn no_tmp_left(dir: &Path) {
        for e in std::fs::read_dir(dir).unwrap() {
            let name = e.unwrap().file_name().to_string_lossy().to_string();
            assert!(
                !name.contains(".tmp."),
                "temporary file left behind: {name}"
            );
        }
    }

    #[test]
    fn dual_axis_png_svg_and_errors() {
        let dir = test_dir("dual");
        let lambdas: [f64; 5] = [1e-4, 1e-3, 1e-2, 1e-1, 1.0];
        let models: Vec<(f64, f64)> = lambdas
            .iter()
            .flat_map(|&l| (0..4).map(move |s| (l, 0.2 + 0.05 * s as f64 + l.log10().abs() * 0.02)))
            .chain([(1e-2, f64::NAN), (f64::INFINITY, 0.3)])
            .collect();
        let left = vec![Series::new("nRMSE norm", models)];
        let right = vec![Series::new(
            "% exploded",
            lambdas.iter().map(|&l| (l, 100.0 * l)).collect(),
        )];
        let axes = DualAxes {
            title: "lambda sweep".into(),
            x_label: "λ".into(),
            y_left_label: "nRMSE norm".into(),
            y_right_label: "% exploded".into(),
            log_x: true,
            left_lines: false,
        };
        dual_axis(&dir.join("d.png"), &left, &right, &axes).unwrap();
        let n = inked(&dir.join("d.png"));
        assert!(n > 3000, "only {n} non-white pixels");
        dual_axis(&dir.join("d.svg"), &left, &right, &axes).unwrap();
        svg_has(&dir.join("d.svg"), "lambda sweep");
        // No right series: still a right axis (0..100); lines on a linear x axis.
        let lin = DualAxes {
            log_x: false,
            left_lines: true,
            ..axes.clone()
        };
        dual_axis(&dir.join("d2.png"), &left, &[], &lin).unwrap();
        assert!(inked(&dir.join("d2.png")) > 3000);
        dual_axis(&dir.join("d2.svg"), &left, &[], &lin).unwrap();
        svg_has(&dir.join("d2.svg"), "lambda sweep");
        // Errors: nothing finite on the left, no left series, bad extension.
        let bad = vec![Series::new("nan", vec![(1.0, f64::NAN), (f64::NAN, 1.0)])];
        let e = dual_axis(&dir.join("e.png"), &bad, &right, &axes).unwrap_err();
        assert!(e.to_string().contains("no finite"), "{e}");
        assert!(dual_axis(&dir.join("e.png"), &[], &right, &axes).is_err());
        let neg = vec![Series::new("neg x", vec![(-1.0, 1.0), (0.0, 2.0)])];
        assert!(dual_axis(&dir.join("e.png"), &neg, &[], &axes).is_err());
        assert!(dual_axis(&dir.join("e.pdf"), &left, &right, &axes).is_err());
        assert!(!dir.join("e.png").exists());
        no_tmp_left(&dir);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn radar_png_svg_and_errors() {
        let dir = test_dir("radar");
        let spokes = ["⟨v⟩", "⟨h⟩", "⟨vh⟩", "⟨vv⟩", "⟨hh⟩"];
        let groups = vec![
            RadarGroup::new(
                "λ = 0.01",
                vec![
                    vec![0.1, 0.2, 0.3, 0.25, 0.15],
                    vec![0.12, 0.18, 0.35, 0.2, 0.1],
                ],
            ),
            RadarGroup::new("λ = 1", vec![vec![0.4, 0.5, f64::NAN, 0.6, 0.45]]),
            RadarGroup::new("empty", vec![]),
        ];
        radar(&dir.join("r.png"), &spokes, &groups, "nRMSE radar").unwrap();
        let n = inked(&dir.join("r.png"));
        assert!(n > 5000, "only {n} non-white pixels");
        radar(&dir.join("r.svg"), &spokes, &groups, "nRMSE radar").unwrap();
        svg_has(&dir.join("r.svg"), "nRMSE radar");
        // All non-finite: drawn on the outer ring of a unit scale, no panic.
        let all_nan = vec![RadarGroup::new("bad", vec![vec![f64::NAN; 5]])];
        radar(&dir.join("r2.png"), &spokes, &all_nan, "all nan").unwrap();
        // Constant zero vectors: degenerate range, no panic.
        let zeros = vec![RadarGroup::new("zero", vec![vec![0.0; 5]])];
        radar(&dir.join("r3.svg"), &spokes, &zeros, "zeros").unwrap();
        // Errors.
        let e = radar(&dir.join("e.png"), &spokes, &[], "t").unwrap_err();
        assert!(e.to_string().contains("no vector"), "{e}");
        let short = vec![
            RadarGroup::new("ok", vec![vec![1.0; 5]]),
            RadarGroup::new("short", vec![vec![1.0; 5], vec![1.0; 4]]),
        ];
        let e = radar(&dir.join("e.png"), &spokes, &short, "t").unwrap_err();
        let msg = e.to_string();
        assert!(msg.contains("'short'") && msg.contains("vector 1"), "{msg}");
        assert!(radar(&dir.join("e.png"), &spokes[..2], &groups, "t").is_err());
        assert!(radar(&dir.join("e.jpg"), &spokes, &groups, "t").is_err());
        assert!(!dir.join("e.png").exists());
        no_tmp_left(&dir);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn heatmap_png_svg_and_errors() {
        let dir = test_dir("heat");
        let axes = HeatmapAxes {
            title: "coupling z-score".into(),
            x_label: "voxel j".into(),
            y_label: "voxel i".into(),
        };
        // Diverging data, with a NaN cell.
        let (r, c) = (40, 60);
        let mut m: Vec<f64> = (0..r * c)
            .map(|k| ((k / c) as f64 * 0.3).sin() * 3.0 + ((k % c) as f64 * 0.2).cos())
            .collect();
        m[5] = f64::NAN;
        heatmap(&dir.join("h.png"), &m, r, c, &axes).unwrap();
        let n = inked(&dir.join("h.png"));
        assert!(n > 50_000, "only {n} non-white pixels");
        heatmap(&dir.join("h.svg"), &m, r, c, &axes).unwrap();
        svg_has(&dir.join("h.svg"), "coupling z-score");
        // Large, non-negative (sequential map), block-averaged in SVG.
        let (r, c) = (500, 500);
        let big: Vec<f64> = (0..r * c).map(|k| ((k % 997) as f64).sqrt()).collect();
        heatmap(&dir.join("big.png"), &big, r, c, &axes).unwrap();
        assert!(inked(&dir.join("big.png")) > 150_000);
        heatmap(&dir.join("big.svg"), &big, r, c, &axes).unwrap();
        let size = std::fs::metadata(dir.join("big.svg")).unwrap().len();
        assert!(size < 8_000_000, "SVG too large: {size} bytes");
        // Constant matrix: degenerate range, no panic.
        heatmap(&dir.join("const.png"), &[2.0; 6], 2, 3, &axes).unwrap();
        // Errors.
        let e = heatmap(&dir.join("e.png"), &m, r, c, &axes).unwrap_err();
        assert!(e.to_string().contains("expected"), "{e}");
        assert!(heatmap(&dir.join("e.png"), &[], 0, 0, &axes).is_err());
        assert!(heatmap(&dir.join("e.png"), &[], 0, 5, &axes).is_err());
        assert!(heatmap(&dir.join("e.png"), &[f64::NAN; 4], 2, 2, &axes).is_err());
        assert!(heatmap(&dir.join("e.png"), &[1.0; 4], usize::MAX, 2, &axes).is_err());
        assert!(heatmap(&dir.join("e.txt"), &[1.0; 4], 2, 2, &axes).is_err());
        assert!(!dir.join("e.png").exists());
        no_tmp_left(&dir);
        std::fs::remove_dir_all(&dir).ok();
    }

    #[test]
    fn numbers_are_short() {
        assert_eq!(fmt_num(0.0), "0");
        assert_eq!(fmt_num(2.5), "2.5");
        assert_eq!(fmt_num(0.00123), "0.00123");
        assert_eq!(fmt_num(1234.6), "1235");
        assert_eq!(fmt_num(-0.25), "-0.25");
        assert_eq!(fmt_num(1e-7), "1.00e-7");
    }
}
