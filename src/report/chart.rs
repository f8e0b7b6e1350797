//! Charts with plotters, written as SVG and PNG. The font is compiled in (DejaVu Sans), so charts
//! render on a machine without system fonts.
//!
//! Log axes are drawn by plotting log10 of the data on a linear axis and labelling ticks as
//! powers of ten; non-finite points (and non-positive ones on a log axis) are left out.
//!
//! Layout: a figure is a grid of panels plus one legend strip to the right of the grid, so a
//! legend never covers data; a rule has one colour in every panel and figure
//! ([`rule_color`], its position in the rule registry); shaded bands are clipped to the range
//! of the lines they surround; heat maps label every row and column and draw their colour key
//! in the legend strip.

use super::legend::{draw_legend, legend_size, marker, text_width, Entry, Swatch};
use crate::aggregators::REGISTRY;
use crate::error::Error;
use crate::fsutil::write_atomic;
use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};
use std::ops::Range;
use std::path::Path;
use std::sync::Once;

/// The caption's font size: 18 px, or smaller (down to 11) until the title fits the panel's
/// width, so that long titles (a reduced scale stated in the title) neither clip nor run into
/// the next panel.
fn caption_size(title: &str, width: u32) -> u32 {
    (11..=18)
        .rev()
        .find(|&s| text_width(title, s) + 16 <= width)
        .unwrap_or(11)
}

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
pub const PALETTE: [RGBColor; 12] = [
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
    RGBColor(110, 60, 160),
    RGBColor(0, 110, 60),
];

/// Palette index for theory lines and probes (black).
pub const THEORY: usize = 6;
/// Palette index for reference lines (grey).
pub const NEUTRAL: usize = 8;
/// Palette indices given to rules in registry order (black and grey are kept for theory).
const RULE_COLORS: [usize; 10] = [0, 1, 2, 3, 4, 5, 9, 7, 10, 11];

/// The palette index of a rule: fixed by its position in the rule registry, so a rule has the
/// same colour in every panel and figure. Names outside the registry get [`THEORY`].
pub fn rule_color(rule: &str) -> usize {
    REGISTRY
        .iter()
        .position(|r| r.name == rule)
        .map_or(THEORY, |i| RULE_COLORS[i % RULE_COLORS.len()])
}

pub use super::legend::SHAPES;

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
    /// Lightening towards white, 0 (the palette colour) to 1 (white): variants of one rule.
    pub tone: f64,
    /// Marker shape (index into circle, triangle, square, cross), when `markers` is set.
    pub shape: usize,
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
    /// With a lighter tone of its colour (0 to 0.7).
    pub fn with_tone(mut self, t: f64) -> Self {
        self.tone = if t.is_finite() {
            t.clamp(0.0, 0.7)
        } else {
            0.0
        };
        self
    }
    /// With a marker shape (turns markers on).
    pub fn with_shape(mut self, k: usize) -> Self {
        self.markers = true;
        self.shape = k % SHAPES;
        self
    }
    fn rgb(&self, i: usize) -> RGBColor {
        let c = PALETTE[self.color.unwrap_or(i) % PALETTE.len()];
        let t = self.tone;
        let mix = |v: u8| (f64::from(v) + (255.0 - f64::from(v)) * t).round() as u8;
        RGBColor(mix(c.0), mix(c.1), mix(c.2))
    }
}

/// A pixel rectangle (x range, y range) in figure coordinates.
pub type PixelRect = (Range<i32>, Range<i32>);

/// Where things went in a rendered figure, for checks.
#[derive(Clone, Debug, Default)]
pub struct Layout {
    /// Figure size in pixels.
    pub size: (u32, u32),
    /// Plotting area of each panel.
    pub plots: Vec<PixelRect>,
    /// Pixel position of every drawn data point (markers and line vertices).
    pub points: Vec<(i32, i32)>,
    /// The legend strip, if any.
    pub legend: Option<PixelRect>,
}

fn legend_entries(panels: &[Panel]) -> Vec<Entry> {
    let mut out: Vec<Entry> = Vec::new();
    for p in panels {
        let add = match p {
            Panel::Lines(c) => c
                .series
                .iter()
                .enumerate()
                .filter(|(_, s)| !s.name.is_empty())
                .map(|(i, s)| Entry {
                    name: s.name.clone(),
                    color: s.rgb(i),
                    swatch: Swatch::Line {
                        dashed: s.dashed,
                        shape: s.markers.then_some(s.shape),
                    },
                })
                .collect::<Vec<_>>(),
            Panel::Heat(h) => {
                let mut v: Vec<Entry> = h
                    .classes
                    .iter()
                    .map(|(n, c)| Entry {
                        name: n.clone(),
                        color: *c,
                        swatch: Swatch::Box,
                    })
                    .collect();
                v.extend(h.key_notes.iter().map(|n| Entry {
                    name: n.clone(),
                    color: BLACK,
                    swatch: Swatch::None,
                }));
                v
            }
        };
        for e in add {
            if !out.contains(&e) {
                out.push(e);
            }
        }
    }
    out
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
            format!("1e{}", r + 0.0)
        } else {
            sig3(10f64.powf(v))
        }
    } else if v.abs() < 1e-15 {
        // a tick at zero computed as -1.1e-16
        "0".into()
    } else if v.abs() >= 1e4 || v.abs() < 1e-2 {
        format!("{v:.1e}")
    } else {
        format!("{}", (v * 1000.0).round() / 1000.0)
    }
}

impl LineChart {
    /// Axis ranges (transformed) from the lines' points; bands count only when a chart has no
    /// finite point, so a band reaching 1e-300 on a log axis cannot stretch the axis.
    fn ranges(&self) -> ((f64, f64), (f64, f64)) {
        let t = |(x, y): (f64, f64)| Some((tf(x, self.log_x)?, tf(y, self.log_y)?));
        let mut pts: Vec<(f64, f64)> = self
            .series
            .iter()
            .flat_map(|s| s.points.iter().copied())
            .filter_map(t)
            .collect();
        if pts.is_empty() {
            pts = self
                .series
                .iter()
                .flat_map(|s| s.band.iter().flat_map(|b| [(b.0, b.1), (b.0, b.2)]))
                .filter_map(t)
                .collect();
        }
        let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for (x, y) in pts {
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = y0.min(y);
            y1 = y1.max(y);
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

    /// Draws the chart on a drawing area (without legend: the figure draws one legend for all
    /// panels). Returns the plotting area and the pixel of every drawn point.
    pub fn draw<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
    ) -> Result<(PixelRect, Vec<(i32, i32)>), String> {
        let ((x0, x1), (y0, y1)) = self.ranges();
        let size = caption_size(&self.title, area.dim_in_pixel().0);
        let mut chart = ChartBuilder::on(area)
            .caption(&self.title, ("sans-serif", size))
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
        let base = area.get_base_pixel();
        let mut pixels = Vec::new();
        for (i, s) in self.series.iter().enumerate() {
            let color = s.rgb(i);
            if !s.band.is_empty() {
                // shaded only where its line is drawn, and clipped to the axis range (an
                // infinite or non-positive edge on a log axis runs along the border)
                let drawn: Vec<u64> = s
                    .points
                    .iter()
                    .filter(|p| tf(p.0, lx).is_some() && tf(p.1, ly).is_some())
                    .map(|p| p.0.to_bits())
                    .collect();
                let edge = |v: f64, out: f64| match tf(v, ly) {
                    Some(t) => Some(t.clamp(y0, y1)),
                    None if v.is_nan() => None,
                    None => Some(out),
                };
                let kept: Vec<(f64, f64, f64)> = s
                    .band
                    .iter()
                    .filter(|b| s.points.is_empty() || drawn.contains(&b.0.to_bits()))
                    .filter_map(|b| {
                        let lo = edge(b.1, if b.1 == f64::INFINITY { y1 } else { y0 })?;
                        let hi = edge(b.2, if b.2 == f64::NEG_INFINITY { y0 } else { y1 })?;
                        Some((tf(b.0, lx)?, lo, hi))
                    })
                    .collect();
                let mut poly: Vec<(f64, f64)> = kept.iter().map(|b| (b.0, b.2)).collect();
                poly.extend(kept.iter().rev().map(|b| (b.0, b.1)));
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
            if s.dashed {
                chart
                    .draw_series(DashedLineSeries::new(pts.clone(), 8, 5, style))
                    .map_err(|e| e.to_string())?;
            } else {
                chart
                    .draw_series(LineSeries::new(pts.clone(), style))
                    .map_err(|e| e.to_string())?;
            }
            for p in &pts {
                let (px, py) = chart.backend_coord(p);
                pixels.push((px, py));
                if s.markers {
                    marker(area, (px - base.0, py - base.1), s.shape, color)?;
                }
            }
        }
        Ok((chart.plotting_area().get_pixel_range(), pixels))
    }
}

/// A categorical heat map (for verdict grids): cells coloured by class, with optional text.
/// Every row and column is labelled; the colour key goes in the figure's legend strip.
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
    /// Lines of text under the colour key (e.g. what the cell text means).
    pub key_notes: Vec<String>,
}

const HEAT_FONT: u32 = 12;
const HEAT_ROW: u32 = 24;
const HEAT_COL: u32 = 96;

impl Heatmap {
    fn label_room(&self) -> (u32, u32) {
        let w = |v: &[String]| {
            v.iter()
                .map(|l| text_width(l, HEAT_FONT))
                .max()
                .unwrap_or(0)
        };
        (w(&self.y_labels) + 16, w(&self.x_labels) + 16)
    }

    /// A panel size that gives every row and column room for its label and cell text.
    pub fn size(&self) -> (u32, u32) {
        init_font();
        let (left, bottom) = self.label_room();
        let nx = self.x_labels.len().max(1) as u32;
        let ny = self.y_labels.len().max(1) as u32;
        let w = (left + 24 + nx * HEAT_COL).max(text_width(&self.title, 18) + 24);
        (w, 50 + bottom + ny * HEAT_ROW)
    }

    /// Draws the heat map on a drawing area; returns its plotting area and the cell centres.
    pub fn draw<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
    ) -> Result<(PixelRect, Vec<(i32, i32)>), String> {
        let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
        let nx = self.x_labels.len().max(1);
        let ny = self.y_labels.len().max(1);
        let (left, bottom) = self.label_room();
        let chart = ChartBuilder::on(area)
            .caption(&self.title, ("sans-serif", 18))
            .margin(8)
            .x_label_area_size(bottom)
            .y_label_area_size(left)
            .build_cartesian_2d(0f64..nx as f64, 0f64..ny as f64)
            .map_err(|e| e.to_string())?;
        let base = area.get_base_pixel();
        let at = |x: f64, y: f64| {
            let (px, py) = chart.backend_coord(&(x, y));
            (px - base.0, py - base.1)
        };
        let (xr, yr) = chart.plotting_area().get_pixel_range();
        let rows = ("sans-serif", HEAT_FONT)
            .into_font()
            .color(&BLACK)
            .pos(Pos::new(HPos::Right, VPos::Center));
        // row 0 on top, as a table reads
        let flip = |r: usize| (ny - 1).saturating_sub(r) as f64;
        for (r, l) in self.y_labels.iter().enumerate() {
            let (_, y) = at(0.0, flip(r) + 0.5);
            area.draw(&Text::new(
                l.clone(),
                (xr.start - base.0 - 6, y),
                rows.clone(),
            ))
            .map_err(e)?;
        }
        let cols = ("sans-serif", HEAT_FONT)
            .into_font()
            .transform(FontTransform::Rotate90)
            .color(&BLACK)
            .pos(Pos::new(HPos::Left, VPos::Center));
        for (c, l) in self.x_labels.iter().enumerate() {
            let (x, _) = at(c as f64 + 0.5, 0.0);
            area.draw(&Text::new(
                l.clone(),
                (x, yr.end - base.1 + 6),
                cols.clone(),
            ))
            .map_err(e)?;
        }
        let mut centres = Vec::new();
        for (x, y, c, t) in &self.cells {
            let col = self
                .classes
                .get(*c)
                .map_or(RGBColor(200, 200, 200), |c| c.1);
            let (x, y) = (*x as f64, flip(*y));
            let (p0, p1) = (at(x + 0.02, y + 0.98), at(x + 0.98, y + 0.02));
            area.draw(&Rectangle::new([p0, p1], col.filled()))
                .map_err(e)?;
            let c = at(x + 0.5, y + 0.5);
            centres.push((c.0 + base.0, c.1 + base.1));
            if !t.is_empty() {
                let style = ("sans-serif", 11)
                    .into_font()
                    .color(&BLACK)
                    .pos(Pos::new(HPos::Center, VPos::Center));
                area.draw(&Text::new(t.clone(), c, style)).map_err(e)?;
            }
        }
        Ok(((xr, yr), centres))
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
    fn draw<DB: DrawingBackend>(
        &self,
        area: &DrawingArea<DB, Shift>,
    ) -> Result<(PixelRect, Vec<(i32, i32)>), String> {
        match self {
            Panel::Lines(c) => c.draw(area),
            Panel::Heat(h) => h.draw(area),
        }
    }
}

struct Grid<'a> {
    panels: &'a [Panel],
    rows: usize,
    cols: usize,
    width: u32,
    legend: Vec<Entry>,
    per_col: usize,
}

fn render<DB: DrawingBackend>(area: DrawingArea<DB, Shift>, g: &Grid) -> Result<Layout, String> {
    area.fill(&WHITE).map_err(|e| e.to_string())?;
    let (grid, strip) = area.split_horizontally(g.width);
    let mut layout = Layout {
        size: area.dim_in_pixel(),
        ..Default::default()
    };
    let areas = grid.split_evenly((g.rows, g.cols));
    for (p, a) in g.panels.iter().zip(areas.iter()) {
        let (rect, pts) = p.draw(a)?;
        layout.plots.push(rect);
        layout.points.extend(pts);
    }
    if !g.legend.is_empty() {
        draw_legend(&strip, &g.legend, g.per_col)?;
        layout.legend = Some(strip.get_pixel_range());
    }
    area.present().map_err(|e| e.to_string())?;
    Ok(layout)
}

/// Renders `panels` in a grid of `cols` columns to `dir/stem.svg` and `dir/stem.png`
/// (each panel `panel_w` x `panel_h` pixels, plus one legend strip on the right), atomically.
pub fn save(
    panels: &[Panel],
    cols: usize,
    panel: (u32, u32),
    dir: &Path,
    stem: &str,
) -> Result<(), Error> {
    save_layout(panels, cols, panel, dir, stem).map(|_| ())
}

/// Saves `panels` in files of at most `per_page` panels (`stem`, `stem-2`, `stem-3`, ...),
/// each page at most `max_cols` panels across, so no panel is dropped and no file grows
/// unreadably tall.
pub fn save_pages(
    panels: &[Panel],
    per_page: usize,
    max_cols: usize,
    panel: (u32, u32),
    dir: &Path,
    stem: &str,
) -> Result<(), Error> {
    for (k, page) in panels.chunks(per_page.max(1)).enumerate() {
        save(
            page,
            page.len().min(max_cols),
            panel,
            dir,
            &page_stem(stem, k),
        )?;
    }
    Ok(())
}

/// The file stem of page k (from 0) of a chart saved in pages: `stem`, `stem-2`, `stem-3`, ...
pub fn page_stem(stem: &str, k: usize) -> String {
    match k {
        0 => stem.to_string(),
        _ => format!("{stem}-{}", k + 1),
    }
}

/// [`save`], returning where the panels, points and legend went.
pub fn save_layout(
    panels: &[Panel],
    cols: usize,
    (panel_w, panel_h): (u32, u32),
    dir: &Path,
    stem: &str,
) -> Result<Layout, Error> {
    init_font();
    let cols = cols.max(1).min(panels.len().max(1));
    let rows = panels.len().div_ceil(cols).max(1);
    let width = panel_w * cols as u32;
    let height = panel_h * rows as u32;
    let legend = legend_entries(panels);
    let (legend_w, per_col) = legend_size(&legend, height);
    let g = Grid {
        panels,
        rows,
        cols,
        width,
        legend,
        per_col,
    };
    let size = (width + legend_w, height);
    // SVG to a string, then an atomic write.
    let mut svg = String::new();
    {
        let area = SVGBackend::with_string(&mut svg, size).into_drawing_area();
        render(area, &g).map_err(|e| Error::Report(format!("{stem}.svg: {e}")))?;
    }
    write_atomic(&dir.join(format!("{stem}.svg")), svg.as_bytes())?;
    // PNG to a temporary file in the same folder, then rename.
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
    let tmp = dir.join(format!(".{stem}.tmp{}.png", std::process::id()));
    let layout = {
        let area = BitMapBackend::new(&tmp, size).into_drawing_area();
        match render(area, &g) {
            Ok(l) => l,
            Err(e) => {
                let _ = std::fs::remove_file(&tmp);
                return Err(Error::Report(format!("{stem}.png: {e}")));
            }
        }
    };
    let dst = dir.join(format!("{stem}.png"));
    std::fs::rename(&tmp, &dst).map_err(|e| Error::io(&dst, e))?;
    // every chart drawn by a debug build (all the tests) checks its own layout
    if cfg!(debug_assertions) {
        check_layout(&layout).map_err(|e| Error::Report(format!("{stem}: {e}")))?;
    }
    Ok(layout)
}

fn inside(r: &PixelRect, p: (i32, i32)) -> bool {
    r.0.contains(&p.0) && r.1.contains(&p.1)
}

fn overlap(a: &PixelRect, b: &PixelRect) -> bool {
    a.0.start < b.0.end && b.0.start < a.0.end && a.1.start < b.1.end && b.1.start < a.1.end
}

/// The layout rules: the legend strip overlaps no plotting area and covers no data point;
/// every point lies inside a plotting area; everything fits the figure.
pub fn check_layout(l: &Layout) -> Result<(), String> {
    let (w, h) = (l.size.0 as i32, l.size.1 as i32);
    for r in l.plots.iter().chain(&l.legend) {
        if r.0.start < 0 || r.1.start < 0 || r.0.end > w || r.1.end > h {
            return Err(format!("{r:?} lies outside the {w} x {h} figure"));
        }
    }
    if let Some(legend) = &l.legend {
        if let Some(p) = l.plots.iter().find(|p| overlap(p, legend)) {
            return Err(format!("the legend {legend:?} overlaps the plot {p:?}"));
        }
        if let Some(p) = l.points.iter().find(|&&p| inside(legend, p)) {
            return Err(format!("the legend covers the point {p:?}"));
        }
    }
    match l
        .points
        .iter()
        .find(|&&p| !l.plots.iter().any(|r| inside(r, p)))
    {
        Some(p) => Err(format!("the point {p:?} lies outside every plot")),
        None => Ok(()),
    }
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
    fn long_captions_shrink_to_fit_their_panel() {
        init_font();
        assert_eq!(caption_size("short", 800), 18);
        let long = "CNN, fig. 3(a): Krum and Multi-Krum, q = 1..8, bit-flip [50 rounds, 1 repeat(s), first 1000 test images]";
        let s = caption_size(long, 760);
        assert!(s < 18, "size {s}");
        assert!(s == 11 || text_width(long, s) + 16 <= 760);
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

    #[test]
    fn the_legend_sits_beside_the_panels_and_covers_no_point() {
        // points in the upper right corner, where plotters puts its legend box by default,
        // long names and more entries than fit in one legend column
        let dir = tempfile::tempdir().unwrap();
        let series: Vec<Series> = (0..40)
            .map(|i| {
                let y = 1.0 + i as f64;
                Series::line(
                    format!("series {i} with a rather long name: error/V"),
                    vec![(0.0, 0.0), (9.0, y), (10.0, y + 0.5)],
                )
                .with_shape(i)
                .with_color(i)
            })
            .collect();
        let c = LineChart {
            title: "corner".into(),
            series,
            ..Default::default()
        };
        let panels = vec![Panel::Lines(c.clone()), Panel::Lines(c)];
        let l = save_layout(&panels, 2, (500, 400), dir.path(), "corner").unwrap();
        let legend = l.legend.clone().expect("a legend");
        check_layout(&l).unwrap();
        // the check can fail: a legend moved over the first plot is caught
        let mut bad = l.clone();
        bad.legend = Some(l.plots[0].clone());
        assert!(check_layout(&bad).unwrap_err().contains("overlaps"));
        assert_eq!(l.plots.len(), 2);
        assert_eq!(l.points.len(), 2 * 40 * 3);
        for plot in &l.plots {
            assert!(
                !overlap(plot, &legend),
                "legend {legend:?} overlaps plot {plot:?}"
            );
        }
        for &p in &l.points {
            assert!(!inside(&legend, p), "point {p:?} under the legend");
            assert!(
                l.plots.iter().any(|r| inside(r, p)),
                "point {p:?} off the plots"
            );
        }
        // 40 entries do not fit one column 400 pixels tall: the strip has several
        assert!(l.size.0 > 1000 + 2 * 220, "size {:?}", l.size);
        assert_eq!(l.size.1, 400);
        // the PNG has the size the layout says
        let png = std::fs::read(dir.path().join("corner.png")).unwrap();
        let be = |i: usize| u32::from_be_bytes([png[i], png[i + 1], png[i + 2], png[i + 3]]);
        assert_eq!((be(16), be(20)), l.size);
    }

    #[test]
    fn a_band_reaching_1e_minus_300_does_not_stretch_a_log_axis() {
        let c = LineChart {
            log_y: true,
            series: vec![Series::line("a", vec![(1.0, 1.0), (2.0, 10.0)])
                .with_band(vec![(1.0, 1e-300, 2.0), (2.0, 0.0, f64::INFINITY)])],
            ..Default::default()
        };
        let (_, (y0, y1)) = c.ranges();
        assert!(y0 > -0.1 && y1 < 1.1, "y range {y0}..{y1}");
        let dir = tempfile::tempdir().unwrap();
        save(&[Panel::Lines(c)], 1, (400, 300), dir.path(), "band").unwrap();
    }

    #[test]
    fn every_rule_has_its_own_colour_in_every_chart() {
        let colours: Vec<usize> = REGISTRY.iter().map(|r| rule_color(r.name)).collect();
        let mut unique = colours.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(unique.len(), colours.len(), "{colours:?}");
        assert!(!colours.contains(&THEORY) && !colours.contains(&NEUTRAL));
        assert_eq!(rule_color("not a rule"), THEORY);
    }

    #[test]
    fn a_heat_map_labels_every_row_and_column_and_keys_its_colours_aside() {
        let rows: Vec<String> = (0..30).map(|i| format!("row-label-{i}")).collect();
        let cols: Vec<String> = (0..11).map(|i| format!("col-label-{i}")).collect();
        let h = Heatmap {
            title: "verdicts".into(),
            cells: (0..11)
                .flat_map(|x| (0..30).map(move |y| (x, y, (x + y) % 3, "1h 0v 0i".into())))
                .collect(),
            x_labels: cols.clone(),
            y_labels: rows.clone(),
            classes: vec![
                ("holds".into(), RGBColor(120, 200, 120)),
                ("inconclusive".into(), RGBColor(240, 210, 90)),
                ("violated".into(), RGBColor(230, 90, 80)),
            ],
            key_notes: vec!["text: counts".into()],
        };
        let size = h.size();
        assert!(size.1 >= 30 * HEAT_ROW, "{size:?}");
        let dir = tempfile::tempdir().unwrap();
        let l = save_layout(&[Panel::Heat(h)], 1, size, dir.path(), "heat").unwrap();
        let svg = std::fs::read_to_string(dir.path().join("heat.svg")).unwrap();
        for label in rows.iter().chain(&cols) {
            assert!(
                svg.contains(&format!("\n{label}\n")),
                "{label} is not drawn"
            );
        }
        let legend = l.legend.unwrap();
        assert!(!overlap(&l.plots[0], &legend));
        assert_eq!(l.points.len(), 11 * 30);
        // every cell centre inside the plot, rows and columns in distinct places
        let mut ys: Vec<i32> = l.points.iter().map(|p| p.1).collect();
        ys.sort_unstable();
        ys.dedup();
        assert_eq!(ys.len(), 30);
        assert!(l.points.iter().all(|&p| inside(&l.plots[0], p)));
    }
}
