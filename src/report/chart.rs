//! Charts with plotters, written as SVG and PNG. The font is compiled in (DejaVu Sans), so charts
//! render on a machine without system fonts.
//!
//! Log axes are drawn by plotting log10 of the data on a linear axis and labelling ticks as
//! powers of ten; non-finite points (and non-positive ones on a log axis) are left out.

use crate::error::Error;
use crate::fsutil::write_atomic;
use plotters::coord::Shift;
use plotters::prelude::*;
use std::path::Path;
use std::sync::Once;

static FONT: Once = Once::new();
const FONT_BYTES: &[u8] = include_bytes!("../../assets/DejaVuSans.ttf");

fn init_font() {
    FONT.call_once(|| {
        for style in [FontStyle::Normal, FontStyle::Bold, FontStyle::Italic] {
            let _ = plotters::style::register_font("sans-serif", style, FONT_BYTES);
        }
    });
}

/// A colour-blind-friendly palette (Okabe-Ito, then extras).
pub const PALETTE: [RGBColor; 10] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
    RGBColor(240, 228, 66),
    RGBColor(120, 120, 120),
    RGBColor(150, 60, 30),
];

/// One line of a chart.
#[derive(Clone, Debug, Default)]
pub struct Series {
    /// Legend text.
    pub name: String,
    /// (x, y) points.
    pub points: Vec<(f64, f64)>,
    /// Draw dashed (bounds, theory curves).
    pub dashed: bool,
    /// Draw point markers.
    pub markers: bool,
    /// Optional shaded band (x, low, high).
    pub band: Vec<(f64, f64, f64)>,
    /// Palette index (default: position in the chart).
    pub color: Option<usize>,
}

impl Series {
    /// A solid line.
    pub fn line(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self {
            name: name.into(),
            points,
            ..Default::default()
        }
    }
    /// A dashed line (bound or theory).
    pub fn dashed(name: impl Into<String>, points: Vec<(f64, f64)>) -> Self {
        Self {
            name: name.into(),
            points,
            dashed: true,
            ..Default::default()
        }
    }
    /// With markers.
    pub fn with_markers(mut self) -> Self {
        self.markers = true;
        self
    }
    /// With a shaded band.
    pub fn with_band(mut self, band: Vec<(f64, f64, f64)>) -> Self {
        self.band = band;
        self
    }
    /// With a palette colour.
    pub fn with_color(mut self, c: usize) -> Self {
        self.color = Some(c);
        self
    }
}

/// A line chart (one panel).
#[derive(Clone, Debug, Default)]
pub struct LineChart {
    /// Title above the panel.
    pub title: String,
    /// X axis label.
    pub x_label: String,
    /// Y axis label.
    pub y_label: String,
    /// Log10 x axis.
    pub log_x: bool,
    /// Log10 y axis.
    pub log_y: bool,
    /// Lines.
    pub series: Vec<Series>,
}

fn tf(v: f64, log: bool) -> Option<f64> {
    if !v.is_finite() {
        return None;
    }
    if log {
        (v > 0.0).then(|| v.log10())
    } else {
        Some(v)
    }
}

/// A tick value with three significant digits: plain between 1e-3 and 1e5 ("31.6", "0.00316"),
/// scientific outside ("3.16e7").
fn sig3(x: f64) -> String {
    let a = x.abs();
    if a == 0.0 || !(1e-3..1e5).contains(&a) {
        return format!("{x:.2e}");
    }
    let decimals = (2 - a.log10().floor() as i32).max(0) as usize;
    let t = format!("{x:.decimals$}");
    if t.contains('.') {
        t.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        t
    }
}

fn fmt_tick(v: f64, log: bool) -> String {
    if log {
        let r = v.round();
        if (v - r).abs() < 1e-9 {
            format!("1e{r}")
        } else {
            sig3(10f64.powf(v))
        }
    } else if v != 0.0 && (v.abs() >= 1e4 || v.abs() < 1e-2) {
        format!("{v:.1e}")
    } else {
        format!("{}", (v * 1000.0).round() / 1000.0)
    }
}

impl LineChart {
    fn ranges(&self) -> ((f64, f64), (f64, f64)) {
        let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for s in &self.series {
            let ys = s
                .points
                .iter()
                .map(|p| (p.0, p.1))
                .chain(s.band.iter().flat_map(|b| [(b.0, b.1), (b.0, b.2)]));
            for (x, y) in ys {
                if let (Some(x), Some(y)) = (tf(x, self.log_x), tf(y, self.log_y)) {
                    x0 = x0.min(x);
                    x1 = x1.max(x);
                    y0 = y0.min(y);
                    y1 = y1.max(y);
                }
            }
        }
        if x0 > x1 {
            (x0, x1) = (0.0, 1.0);
        }
        if y0 > y1 {
            (y0, y1) = (0.0, 1.0);
        }
        let pad = |a: f64, b: f64| {
            let w = (b - a).abs().max(1e-12 * a.abs().max(1.0));
            if w < 1e-9 {
                (a - 0.5, b + 0.5)
            } else {
                (a - 0.04 * w, b + 0.04 * w)
            }
        };
        (pad(x0, x1), pad(y0, y1))
    }

    /// Draws the chart on a drawing area.
    pub fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let ((x0, x1), (y0, y1)) = self.ranges();
        let mut chart = ChartBuilder::on(area)
            .caption(&self.title, ("sans-serif", 18))
            .margin(8)
            .x_label_area_size(36)
            .y_label_area_size(64)
            .build_cartesian_2d(x0..x1, y0..y1)
            .map_err(|e| e.to_string())?;
        let (lx, ly) = (self.log_x, self.log_y);
        chart
            .configure_mesh()
            .x_desc(&self.x_label)
            .y_desc(&self.y_label)
            .x_label_formatter(&|v| fmt_tick(*v, lx))
            .y_label_formatter(&|v| fmt_tick(*v, ly))
            .label_style(("sans-serif", 12))
            .axis_desc_style(("sans-serif", 14))
            .light_line_style(RGBColor(235, 235, 235))
            .draw()
            .map_err(|e| e.to_string())?;
        for (i, s) in self.series.iter().enumerate() {
            let color = PALETTE[s.color.unwrap_or(i) % PALETTE.len()];
            if !s.band.is_empty() {
                let mut poly: Vec<(f64, f64)> = s
                    .band
                    .iter()
                    .filter_map(|b| Some((tf(b.0, lx)?, tf(b.2, ly)?)))
                    .collect();
                let lower: Vec<(f64, f64)> = s
                    .band
                    .iter()
                    .rev()
                    .filter_map(|b| Some((tf(b.0, lx)?, tf(b.1, ly)?)))
                    .collect();
                poly.extend(lower);
                if poly.len() >= 3 {
                    chart
                        .draw_series(std::iter::once(Polygon::new(poly, color.mix(0.18))))
                        .map_err(|e| e.to_string())?;
                }
            }
            let pts: Vec<(f64, f64)> = s
                .points
                .iter()
                .filter_map(|p| Some((tf(p.0, lx)?, tf(p.1, ly)?)))
                .collect();
            let style = color.stroke_width(2);
            let anno = if s.dashed {
                chart
                    .draw_series(DashedLineSeries::new(pts.clone(), 8, 5, style))
                    .map_err(|e| e.to_string())?
            } else {
                chart
                    .draw_series(LineSeries::new(pts.clone(), style))
                    .map_err(|e| e.to_string())?
            };
            if !s.name.is_empty() {
                let dashed = s.dashed;
                anno.label(&s.name).legend(move |(x, y)| {
                    if dashed {
                        PathElement::new(vec![(x, y), (x + 8, y)], color.stroke_width(2))
                    } else {
                        PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
                    }
                });
            }
            if s.markers {
                chart
                    .draw_series(pts.iter().map(|&p| Circle::new(p, 3, color.filled())))
                    .map_err(|e| e.to_string())?;
            }
        }
        if self.series.iter().any(|s| !s.name.is_empty()) {
            chart
                .configure_series_labels()
                .position(SeriesLabelPosition::UpperRight)
                .background_style(WHITE.mix(0.85))
                .border_style(RGBColor(180, 180, 180))
                .label_font(("sans-serif", 12))
                .draw()
                .map_err(|e| e.to_string())?;
        }
        Ok(())
    }
}

/// A categorical heat map (for verdict grids): cells coloured by class, with optional text.
#[derive(Clone, Debug, Default)]
pub struct Heatmap {
    /// Title.
    pub title: String,
    /// Column labels.
    pub x_labels: Vec<String>,
    /// Row labels.
    pub y_labels: Vec<String>,
    /// (column, row, class index, text).
    pub cells: Vec<(usize, usize, usize, String)>,
    /// Class names and colours, by class index.
    pub classes: Vec<(String, RGBColor)>,
}

impl Heatmap {
    /// Draws the heat map on a drawing area.
    pub fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
        let nx = self.x_labels.len().max(1);
        let ny = self.y_labels.len().max(1);
        let legend = self
            .classes
            .iter()
            .map(|c| c.0.clone())
            .collect::<Vec<_>>()
            .join(" / ");
        let ylab_w = self
            .y_labels
            .iter()
            .map(String::len)
            .max()
            .unwrap_or(4)
            .clamp(4, 60) as u32
            * 7;
        let mut chart = ChartBuilder::on(area)
            .caption(&self.title, ("sans-serif", 18))
            .margin(8)
            .x_label_area_size(90)
            .y_label_area_size(ylab_w + 10)
            .build_cartesian_2d(0f64..nx as f64, 0f64..ny as f64)
            .map_err(|e| e.to_string())?;
        let xl = self.x_labels.clone();
        let yl = self.y_labels.clone();
        chart
            .configure_mesh()
            .disable_mesh()
            .x_labels(nx)
            .y_labels(ny)
            .x_desc(format!("colours: {legend}"))
            .x_label_formatter(&|v| xl.get(v.floor() as usize).cloned().unwrap_or_default())
            .y_label_formatter(&|v| yl.get(v.floor() as usize).cloned().unwrap_or_default())
            .x_label_style(
                ("sans-serif", 11)
                    .into_font()
                    .transform(FontTransform::Rotate90),
            )
            .y_label_style(("sans-serif", 11))
            .draw()
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(self.cells.iter().map(|(x, y, c, _)| {
                let col = self
                    .classes
                    .get(*c)
                    .map_or(RGBColor(200, 200, 200), |c| c.1);
                Rectangle::new(
                    [
                        (*x as f64 + 0.02, *y as f64 + 0.02),
                        (*x as f64 + 0.98, *y as f64 + 0.98),
                    ],
                    col.filled(),
                )
            }))
            .map_err(|e| e.to_string())?;
        chart
            .draw_series(
                self.cells
                    .iter()
                    .filter(|c| !c.3.is_empty())
                    .map(|(x, y, _, t)| {
                        Text::new(
                            t.clone(),
                            (*x as f64 + 0.1, *y as f64 + 0.65),
                            ("sans-serif", 10).into_font().color(&BLACK),
                        )
                    }),
            )
            .map_err(|e| e.to_string())?;
        Ok(())
    }
}

/// Anything drawable on a panel.
pub enum Panel {
    /// A line chart.
    Lines(LineChart),
    /// A heat map.
    Heat(Heatmap),
}

impl Panel {
    fn draw<DB: DrawingBackend>(&self, area: &DrawingArea<DB, Shift>) -> Result<(), String> {
        match self {
            Panel::Lines(c) => c.draw(area),
            Panel::Heat(h) => h.draw(area),
        }
    }
}

fn render<DB: DrawingBackend>(
    area: DrawingArea<DB, Shift>,
    panels: &[Panel],
    rows: usize,
    cols: usize,
) -> Result<(), String> {
    area.fill(&WHITE).map_err(|e| e.to_string())?;
    let areas = area.split_evenly((rows, cols));
    for (p, a) in panels.iter().zip(areas.iter()) {
        p.draw(a)?;
    }
    area.present().map_err(|e| e.to_string())
}

/// Renders `panels` in a grid of `cols` columns to `dir/stem.svg` and `dir/stem.png`
/// (each panel `panel_w` x `panel_h` pixels), atomically.
pub fn save(
    panels: &[Panel],
    cols: usize,
    (panel_w, panel_h): (u32, u32),
    dir: &Path,
    stem: &str,
) -> Result<(), Error> {
    init_font();
    let cols = cols.max(1).min(panels.len().max(1));
    let rows = panels.len().div_ceil(cols).max(1);
    let size = (panel_w * cols as u32, panel_h * rows as u32);
    // SVG to a string, then an atomic write.
    let mut svg = String::new();
    {
        let area = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        render(area, panels, rows, cols).map_err(|e| Error::Report(format!("{stem}.svg: {e}")))?;
    }
    write_atomic(&dir.join(format!("{stem}.svg")), svg.as_bytes())?;
    // PNG to a temporary file in the same folder, then rename.
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let tmp = dir.join(format!(".{stem}.tmp{}.png", std::process::id()));
    {
        let area = BitMapBackend::new(&tmp, size).into_drawing_area();
        if let Err(e) = render(area, panels, rows, cols) {
            let _ = std::fs::remove_file(&tmp);
            return Err(Error::Report(format!("{stem}.png: {e}")));
        }
    }
    let dst = dir.join(format!("{stem}.png"));
    std::fs::rename(&tmp, &dst).map_err(|e| Error::io(&dst, e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_ticks_between_decades_read_as_numbers() {
        assert_eq!(fmt_tick(1.5, true), "31.6");
        assert_eq!(fmt_tick(2.0, true), "1e2");
        assert_eq!(fmt_tick(-2.5, true), "0.00316");
        assert_eq!(fmt_tick(7.5, true), "3.16e7");
        assert_eq!(fmt_tick(0.0, true), "1e0");
        assert_eq!(sig3(250.0), "250");
    }

    #[test]
    fn renders_svg_and_png_with_embedded_font() {
        let dir = tempfile::tempdir().unwrap();
        let c = LineChart {
            title: "test".into(),
            x_label: "x".into(),
            y_label: "y".into(),
            log_y: true,
            series: vec![
                Series::line("a", vec![(1.0, 1.0), (2.0, 10.0), (3.0, f64::NAN)])
                    .with_band(vec![(1.0, 0.5, 2.0), (2.0, 5.0, 20.0)]),
                Series::dashed("bound", vec![(1.0, 3.0), (2.0, 30.0)]),
            ],
            ..Default::default()
        };
        save(&[Panel::Lines(c)], 1, (400, 300), dir.path(), "t").unwrap();
        let png = std::fs::metadata(dir.path().join("t.png")).unwrap();
        assert!(png.len() > 1000);
        let svg = std::fs::read_to_string(dir.path().join("t.svg")).unwrap();
        assert!(svg.contains("bound"));
    }
}
