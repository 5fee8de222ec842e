//! Plots (plotters): PNG or SVG by the file extension. Text is drawn with an in-memory font
//! (Ubuntu Light from `epaint_default_fonts`), so no system fonts are needed.

use std::path::Path;
use std::sync::Once;

use anyhow::{anyhow, bail, Result};
use plotters::coord::ranged1d::ValueFormatter;
use plotters::coord::{CoordTranslate, Shift};
use plotters::prelude::*;

static FONT: Once = Once::new();

pub(crate) fn register_font() {
    FONT.call_once(|| {
        for style in [
            FontStyle::Normal,
            FontStyle::Bold,
            FontStyle::Italic,
            FontStyle::Oblique,
        ] {
            let _ = plotters::style::register_font(
                "sans-serif",
                style,
                epaint_default_fonts::UBUNTU_LIGHT,
            );
        }
    });
}

/// A named line (or point cloud) of (x, y) values.
#[derive(Debug, Clone)]
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

impl Series {
    pub fn new(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self {
            name: name.into(),
            points,
        }
    }
}

/// Axis labels and options of a plot.
#[derive(Debug, Clone, Default)]
pub struct Axes {
    pub title: String,
    pub x_label: String,
    pub y_label: String,
    pub log_x: bool,
    pub log_y: bool,
}

pub(crate) const SIZE: (u32, u32) = (900, 650);

pub(crate) fn palette(k: usize) -> RGBColor {
    const C: [RGBColor; 8] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
    ];
    C[k % C.len()]
}

pub(crate) fn finite_range(vals: impl Iterator<Item = f64>, log: bool) -> Option<(f64, f64)> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in vals.filter(|v| v.is_finite() && (!log || *v > 0.0)) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if !lo.is_finite() {
        return None;
    }
    if hi <= lo {
        let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
        return Some((lo - pad, hi + pad));
    }
    if log {
        Some((lo / 1.2, hi * 1.2))
    } else {
        let pad = 0.04 * (hi - lo);
        Some((lo - pad, hi + pad))
    }
}

/// The y = x line (identity plots) and each series, as points or as a line, with its legend
/// entry; points that the axes cannot show (non-finite, or ≤ 0 on a log axis) are skipped.
fn draw_series<DB, X, Y>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<X, Y>>,
    series: &[Series],
    axes: &Axes,
    points: bool,
    identity: bool,
    xr: (f64, f64),
) -> Result<()>
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("drawing failed: {e:?}");
    if identity {
        chart
            .draw_series(LineSeries::new(
                [(xr.0, xr.0), (xr.1, xr.1)],
                BLACK.mix(0.6).stroke_width(1),
            ))
            .map_err(err)?
            .label("y = x")
            .legend(|(x, y)| PathElement::new([(x, y), (x + 20, y)], BLACK));
    }
    for (k, s) in series.iter().enumerate() {
        let color = palette(k);
        let pts: Vec<(f64, f64)> = s
            .points
            .iter()
            .copied()
            .filter(|p| {
                p.0.is_finite()
                    && p.1.is_finite()
                    && (!axes.log_x || p.0 > 0.0)
                    && (!axes.log_y || p.1 > 0.0)
            })
            .collect();
        if points {
            chart
                .draw_series(
                    pts.iter()
                        .map(|&p| Circle::new(p, 2, color.mix(0.5).filled())),
                )
                .map_err(err)?
                .label(s.name.as_str())
                .legend(move |(x, y)| Circle::new((x + 10, y), 4, color.filled()));
        } else {
            chart
                .draw_series(LineSeries::new(pts, color.stroke_width(2)))
                .map_err(err)?
                .label(s.name.as_str())
                .legend(move |(x, y)| {
                    PathElement::new([(x, y), (x + 20, y)], color.stroke_width(2))
                });
        }
    }
    Ok(())
}

/// A plotters drawing error as an `anyhow` error.
pub(crate) fn drawing_failed<E: std::error::Error + Send + Sync>(
    e: DrawingAreaErrorKind<E>,
) -> anyhow::Error {
    anyhow!("drawing failed: {e:?}")
}

/// The mesh with both axis descriptions, in the plots' label (16 px) and description (20 px)
/// fonts.
pub(crate) fn draw_mesh<DB, X, Y, XT, YT>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<X, Y>>,
    x_desc: &str,
    y_desc: &str,
) -> Result<()>
where
    DB: DrawingBackend,
    DB::ErrorType: 'static,
    X: Ranged<ValueType = XT> + ValueFormatter<XT>,
    Y: Ranged<ValueType = YT> + ValueFormatter<YT>,
{
    chart
        .configure_mesh()
        .x_desc(x_desc)
        .y_desc(y_desc)
        .label_style(("sans-serif", 16))
        .axis_desc_style(("sans-serif", 20))
        .draw()
        .map_err(drawing_failed)
}

/// The series legend: upper right, on a translucent white box.
pub(crate) fn draw_legend<'a, DB, CT>(chart: &mut ChartContext<'a, DB, CT>) -> Result<()>
where
    DB: DrawingBackend + 'a,
    DB::ErrorType: 'static,
    CT: CoordTranslate,
{
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK.mix(0.3))
        .label_font(("sans-serif", 16))
        .position(SeriesLabelPosition::UpperRight)
        .draw()
        .map_err(drawing_failed)
}

fn draw_on<DB: DrawingBackend>(
    root: DrawingArea<DB, Shift>,
    series: &[Series],
    axes: &Axes,
    points: bool,
    identity: bool,
) -> Result<()>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow!("drawing failed: {e:?}");
    root.fill(&WHITE).map_err(err)?;
    let all = || series.iter().flat_map(|s| s.points.iter());
    let Some(mut xr) = finite_range(all().map(|p| p.0), axes.log_x) else {
        bail!("nothing to plot in '{}': no finite x values", axes.title);
    };
    let Some(mut yr) = finite_range(all().map(|p| p.1), axes.log_y) else {
        bail!("nothing to plot in '{}': no finite y values", axes.title);
    };
    if identity {
        let r = (xr.0.min(yr.0), xr.1.max(yr.1));
        xr = r;
        yr = r;
    }
    let mut builder = ChartBuilder::on(&root);
    builder
        .caption(&axes.title, ("sans-serif", 26))
        .margin(15)
        .x_label_area_size(55)
        .y_label_area_size(75);
    macro_rules! body {
        ($chart:expr) => {{
            let mut chart = $chart;
            draw_mesh(&mut chart, &axes.x_label, &axes.y_label)?;
            draw_series(&mut chart, series, axes, points, identity, xr)?;
            draw_legend(&mut chart)?;
        }};
    }
    match (axes.log_x, axes.log_y) {
        (false, false) => body!(builder
            .build_cartesian_2d(xr.0..xr.1, yr.0..yr.1)
            .map_err(err)?),
        (false, true) => {
            body!(builder
                .build_cartesian_2d(xr.0..xr.1, (yr.0..yr.1).log_scale())
                .map_err(err)?)
        }
        (true, false) => {
            body!(builder
                .build_cartesian_2d((xr.0..xr.1).log_scale(), yr.0..yr.1)
                .map_err(err)?)
        }
        (true, true) => body!(builder
            .build_cartesian_2d((xr.0..xr.1).log_scale(), (yr.0..yr.1).log_scale())
            .map_err(err)?),
    }
    root.present().map_err(err)?;
    Ok(())
}

fn render(path: &Path, series: &[Series], axes: &Axes, points: bool, identity: bool) -> Result<()> {
    register_font();
    // Draw to a temporary file (the backend picks the format by its extension), then commit
    // it durably: a crash never leaves a half-written plot; a failed drawing leaves no file.
    let (format, _) = format_of(path)?;
    let file = jobs::durable::PendingFile::keeping_extension(path)?;
    let tmp = file.path();
    match format {
        Format::Png => draw_on(
            BitMapBackend::new(tmp, SIZE).into_drawing_area(),
            series,
            axes,
            points,
            identity,
        )?,
        Format::Svg => draw_on(
            SVGBackend::new(tmp, SIZE).into_drawing_area(),
            series,
            axes,
            points,
            identity,
        )?,
    }
    Ok(file.commit()?)
}

/// Output format of a plot, from its file extension.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Format {
    Png,
    Svg,
}

/// The format of `path` and its lower-case extension; other extensions are an error naming
/// the file.
pub(crate) fn format_of(path: &Path) -> Result<(Format, String)> {
    let ext = arrays::lowercase_extension(path);
    match ext.as_str() {
        "png" => Ok((Format::Png, ext)),
        "svg" => Ok((Format::Svg, ext)),
        other => bail!(
            "{}: unsupported plot format '{other}' (use .png or .svg)",
            path.display()
        ),
    }
}

/// Line plot of several series.
pub fn lines(path: &Path, series: &[Series], axes: &Axes) -> Result<()> {
    render(path, series, axes, false, false)
}

/// Scatter plot of several point clouds.
pub fn scatter(path: &Path, series: &[Series], axes: &Axes) -> Result<()> {
    render(path, series, axes, true, false)
}

/// Predicted-vs-true scatter with the identity line and equal axis ranges.
pub fn identity(path: &Path, series: &[Series], axes: &Axes) -> Result<()> {
    render(path, series, axes, true, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plots_are_written_as_decodable_png_and_svg() {
        let dir = std::env::temp_dir().join(format!("plots-test-{}", std::process::id()));
        let s = vec![
            Series::new(
                "a",
                (1..50).map(|k| (k as f64, (k as f64).sqrt())).collect(),
            ),
            Series::new("b", (1..50).map(|k| (k as f64, 0.5 * k as f64)).collect()),
        ];
        let axes = Axes {
            title: "test".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            log_y: true,
            ..Default::default()
        };
        lines(&dir.join("l.png"), &s, &axes).unwrap();
        identity(&dir.join("i.svg"), &s, &axes).unwrap();
        let png = image::open(dir.join("l.png")).unwrap().to_rgb8();
        assert_eq!(png.dimensions(), SIZE);
        // Not blank: the lines and text put non-white pixels on the canvas.
        let inked = png.pixels().filter(|p| p.0 != [255, 255, 255]).count();
        assert!(inked > 2000, "only {inked} non-white pixels");
        let svg = std::fs::read_to_string(dir.join("i.svg")).unwrap();
        assert!(svg.contains("<svg") && svg.contains("test"));
        assert!(lines(&dir.join("e.png"), &[Series::new("e", vec![])], &axes).is_err());
        assert!(lines(&dir.join("x.pdf"), &s, &axes).is_err());
    }
}
