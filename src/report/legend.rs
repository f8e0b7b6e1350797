//! The legend strip drawn beside a figure's panels ([`super::chart`]): its entries, their
//! swatches and markers, and its size. It knows nothing of panels, so the chart module builds
//! the entries and calls in here.

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Marker shapes, told apart in black and white: circle, triangle, square, cross.
pub const SHAPES: usize = 4;

/// A marker of shape `k` at `p` (pixel offsets around the point).
pub(super) fn marker<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    p: (i32, i32),
    k: usize,
    color: RGBColor,
) -> Result<(), String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let (x, y) = p;
    match k % SHAPES {
        0 => area.draw(&Circle::new(p, 3, color.filled())).map_err(e),
        1 => area
            .draw(&Polygon::new(
                vec![(x, y - 4), (x + 4, y + 3), (x - 4, y + 3)],
                color.filled(),
            ))
            .map_err(e),
        2 => area
            .draw(&Rectangle::new(
                [(x - 3, y - 3), (x + 3, y + 3)],
                color.filled(),
            ))
            .map_err(e),
        _ => {
            area.draw(&PathElement::new(
                vec![(x - 4, y - 4), (x + 4, y + 4)],
                color.stroke_width(2),
            ))
            .map_err(e)?;
            area.draw(&PathElement::new(
                vec![(x - 4, y + 4), (x + 4, y - 4)],
                color.stroke_width(2),
            ))
            .map_err(e)
        }
    }
}

/// What a legend entry shows left of its text.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Swatch {
    Line { dashed: bool, shape: Option<usize> },
    Box,
    None,
}

#[derive(Clone, Debug, PartialEq)]
pub(super) struct Entry {
    pub(super) name: String,
    pub(super) color: RGBColor,
    pub(super) swatch: Swatch,
}

const LEGEND_FONT: u32 = 12;
const LEGEND_LINE: u32 = 18;
const SWATCH_W: u32 = 30;

pub(super) fn text_width(text: &str, size: u32) -> u32 {
    ("sans-serif", size)
        .into_font()
        .box_size(text)
        .map_or(text.chars().count() as u32 * size * 6 / 10, |b| b.0)
}

/// Legend strip width and entries per column for a figure `height` pixels tall.
pub(super) fn legend_size(entries: &[Entry], height: u32) -> (u32, usize) {
    if entries.is_empty() {
        return (0, 0);
    }
    let per_col = ((height.saturating_sub(24)) / LEGEND_LINE).max(1) as usize;
    let cols = entries.len().div_ceil(per_col);
    let w = entries
        .iter()
        .map(|e| text_width(&e.name, LEGEND_FONT))
        .max()
        .unwrap_or(0)
        + SWATCH_W
        + 18;
    (w * cols as u32 + 16, per_col)
}

pub(super) fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    entries: &[Entry],
    per_col: usize,
) -> Result<(), String> {
    let e = |e: DrawingAreaErrorKind<DB::ErrorType>| e.to_string();
    let (w, _) = area.dim_in_pixel();
    let cols = entries.len().div_ceil(per_col.max(1)).max(1);
    let col_w = (w.saturating_sub(16) / cols as u32) as i32;
    let font = ("sans-serif", LEGEND_FONT)
        .into_font()
        .color(&BLACK)
        .pos(Pos::new(HPos::Left, VPos::Center));
    for (k, en) in entries.iter().enumerate() {
        let x = 8 + (k / per_col) as i32 * col_w;
        let y = 20 + (k % per_col) as i32 * LEGEND_LINE as i32;
        match &en.swatch {
            Swatch::Line { dashed, shape } => {
                if *dashed {
                    for seg in [(0, 8), (12, 20)] {
                        area.draw(&PathElement::new(
                            vec![(x + seg.0, y), (x + seg.1, y)],
                            en.color.stroke_width(2),
                        ))
                        .map_err(e)?;
                    }
                } else {
                    area.draw(&PathElement::new(
                        vec![(x, y), (x + 22, y)],
                        en.color.stroke_width(2),
                    ))
                    .map_err(e)?;
                }
                if let Some(k) = shape {
                    marker(area, (x + 11, y), *k, en.color)?;
                }
            }
            Swatch::Box => {
                area.draw(&Rectangle::new(
                    [(x + 2, y - 6), (x + 20, y + 6)],
                    en.color.filled(),
                ))
                .map_err(e)?;
            }
            Swatch::None => {}
        }
        let tx = if en.swatch == Swatch::None {
            x
        } else {
            x + SWATCH_W as i32
        };
        area.draw(&Text::new(en.name.clone(), (tx, y), font.clone()))
            .map_err(e)?;
    }
    Ok(())
}
