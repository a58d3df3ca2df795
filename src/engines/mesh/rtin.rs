//! Adaptive triangulation of a height grid with a vertical error bound: a right-triangulated
//! irregular network (RTIN; Evans, Kirkpatrick & Townsend 2001, the scheme of Mapbox's
//! "Martini"), so a flat or planar area becomes a few large triangles while detail keeps
//! full resolution.
//!
//! # Structure
//! The grid of `nx × ny` samples (`W = nx − 1` by `H = ny − 1` cells) is covered by tiles,
//! squares of `T × T` cells, `T` the largest power of two dividing both `W` and `H` (see
//! [`tile_size`]). Each tile is cut by a diagonal into two right isosceles triangles; a
//! triangle is split by joining its right-angle corner to the midpoint of its hypotenuse
//! (always a grid point, down to triangles with legs of one cell). Every sample other than
//! the tile corners is the hypotenuse midpoint of one or two triangles of this hierarchy (two
//! when they share the hypotenuse, one on the grid's border), and `split` holds one flag per
//! sample: the triangles whose hypotenuse midpoint it is are split. Two kinds of triangles
//! alternate by level, named here by the side `l` (a power of two up to `T`) of the squares
//! of the level, which tile the grid like the tiles do:
//! - *square halves*: an `l`-square cut by one diagonal; the midpoint is its centre. The
//!   diagonal of each `l`-square passes through the centre of its `2l`-square (so it is "/"
//!   when the square's column and row in the `l`-grid have the same parity; tiles follow
//!   the same rule). Its children are the edge triangles of the same `l` inside it;
//! - *edge triangles*: hypotenuse an edge of the `l`-grid, apex the centre of an adjacent
//!   `l`-square; the midpoint is the edge's midpoint. Its children are halves of the two
//!   `l/2`-squares on its side of that midpoint.
//!
//! # Why the result has no T-junctions
//! The flags are computed from the finest level up: a sample is flagged when it must be a
//! vertex (`keep`), when a triangle with that midpoint is too far from the samples it covers,
//! or when the midpoint of a child of such a triangle is flagged. The last rule makes the
//! triangles of every flagged sample exist (their parents are split), and since the flag
//! belongs to the sample, both triangles on a hypotenuse split together: an edge is never
//! split on one side only, so the leaves form a conforming triangulation of the rectangle.
//! Its vertices are the tile corners and the flagged samples. Every triangulation of this
//! kind has, with each vertex, the vertices that last rule adds for it (the midpoints of
//! the triangles that must split for it to exist); the coarsest one with a given set of
//! vertices ([`coarsest`]) has those and nothing else, so any triangulation of this kind
//! with that set among its vertices has all of the coarsest one's vertices too.
//!
//! # Error bound
//! A triangle is too far when a sample inside it or on its boundary differs in height from
//! the triangle's plane by more than `max_error`, measured sample by sample with planes in
//! grid coordinates (exact for evenly spaced samples such as a relief's, up to the rounding
//! of their positions). Samples on its legs need no look: a leg is the hypotenuse of a
//! child, whose check (passed, or the triangle would be split) compared them with the same
//! line. A leaf is a triangle that was not flagged, so it was checked and found within the
//! bound: **every sample is within `max_error` in height of the surface**, hence at most
//! that far from it, and the surface interpolates samples, so it never leaves the range of
//! the heights.

/// Side, in cells, of the tiles of an `nx × ny` grid: the largest power of two dividing
/// both `nx − 1` and `ny − 1`. No triangle is larger than half a tile.
pub(super) fn tile_size(nx: usize, ny: usize) -> usize {
    let (w, h) = (nx - 1, ny - 1);
    1 << w.trailing_zeros().min(h.trailing_zeros())
}

/// Triangles over the samples of a row-major `nx × ny` height grid (at least 2 × 2), as
/// sample indices `k · nx + i`, counter-clockwise seen from above (+h, x = column to the
/// right, y = row up), such that every sample is within `max_error` in height of the
/// surface (see the module doc); the samples in `keep` are vertices. A `max_error` below
/// 1e-6 (or NaN) counts as 1e-6: only flat and planar areas merge.
pub(super) fn triangulate(
    nx: usize,
    ny: usize,
    hs: &[f32],
    max_error: f32,
    keep: &[usize],
) -> Vec<[u32; 3]> {
    debug_assert_eq!(hs.len(), nx * ny);
    Rtin::new(nx, ny, Some(hs), max_error, keep).leaves()
}

/// The coarsest triangulation of the same kind over an `nx × ny` grid that has the samples
/// in `keep` as vertices: a flat surface with no more triangles than those need.
pub(super) fn coarsest(nx: usize, ny: usize, keep: &[usize]) -> Vec<[u32; 3]> {
    Rtin::new(nx, ny, None, 0.0, keep).leaves()
}

/// A grid point (x, y): column and row.
type Point = [usize; 2];

struct Rtin<'a> {
    /// Heights, row-major; none for a flat grid (then only `keep` splits).
    hs: Option<&'a [f32]>,
    nx: usize,
    /// Cells of the grid along x and y (`nx − 1`, `ny − 1`).
    w: usize,
    h: usize,
    tile: usize,
    /// One flag per sample, row-major.
    split: Vec<bool>,
    /// For levels l = 4, 8, …, tile (index log2(l) − 2): the lowest and highest height
    /// over each l-square (its (l + 1)² samples), row-major over the l-grid's squares.
    /// Every triangle in a square whose heights span no more than the tolerance is within
    /// it (its plane stays between its corners' heights), without a look at its samples.
    ranges: Vec<Vec<[f32; 2]>>,
    /// Largest allowed height difference.
    tolerance: f64,
}

/// The plane h = h0 + gx · (x − x0) + gy · (y − y0) over grid coordinates (in f64, so
/// rounding is far below any tolerance).
struct Plane {
    origin: Point,
    h0: f64,
    gx: f64,
    gy: f64,
}

/// The smallest tolerance: what a `max_error` of 0 means.
const MIN_ERROR: f64 = 1e-6;

impl<'a> Rtin<'a> {
    fn new(nx: usize, ny: usize, hs: Option<&'a [f32]>, max_error: f32, keep: &[usize]) -> Self {
        debug_assert!(nx >= 2 && ny >= 2);
        let tolerance = if max_error.is_finite() {
            (max_error as f64).max(MIN_ERROR)
        } else {
            MIN_ERROR
        };
        let mut rtin = Rtin {
            hs,
            nx,
            w: nx - 1,
            h: ny - 1,
            tile: tile_size(nx, ny),
            split: vec![false; nx * ny],
            ranges: Vec::new(),
            tolerance,
        };
        if hs.is_some() {
            rtin.ranges = rtin.square_ranges();
        }
        for &sample in keep {
            rtin.split[sample] = true;
        }
        if rtin.tile >= 2 {
            rtin.flag_finest_level();
        }
        let mut l = 4;
        while l <= rtin.tile {
            rtin.flag_edges(l);
            rtin.flag_squares(l);
            l *= 2;
        }
        rtin
    }

    fn at(&self, p: Point) -> usize {
        p[1] * self.nx + p[0]
    }

    /// The `ranges` of every level from 4 up: the first from the samples, each next one
    /// from the four squares it is made of.
    fn square_ranges(&self) -> Vec<Vec<[f32; 2]>> {
        let hs = self.heights();
        let mut levels: Vec<Vec<[f32; 2]>> = Vec::new();
        let mut l = 4;
        while l <= self.tile {
            let (cols, rows) = (self.w / l, self.h / l);
            let mut ranges = Vec::with_capacity(cols * rows);
            for j in 0..rows {
                for i in 0..cols {
                    ranges.push(match levels.last() {
                        None => {
                            let mut range = [f32::INFINITY, f32::NEG_INFINITY];
                            for y in j * l..=j * l + l {
                                let row = &hs[y * self.nx + i * l..=y * self.nx + i * l + l];
                                for &h in row {
                                    range = [range[0].min(h), range[1].max(h)];
                                }
                            }
                            range
                        }
                        Some(finer) => {
                            let at =
                                |di: usize, dj: usize| finer[(2 * j + dj) * 2 * cols + 2 * i + di];
                            let parts = [at(0, 0), at(1, 0), at(0, 1), at(1, 1)];
                            parts
                                .iter()
                                .fold([f32::INFINITY, f32::NEG_INFINITY], |r, p| {
                                    [r[0].min(p[0]), r[1].max(p[1])]
                                })
                        }
                    });
                }
            }
            levels.push(ranges);
            l *= 2;
        }
        levels
    }

    /// Whether the heights of the `l`-square with lower-left corner `corner` span no more
    /// than the tolerance (`l` ≥ 4).
    fn flat_square(&self, corner: Point, l: usize) -> bool {
        let level = &self.ranges[l.trailing_zeros() as usize - 2];
        let [lo, hi] = level[(corner[1] / l) * (self.w / l) + corner[0] / l];
        hi as f64 - lo as f64 <= self.tolerance
    }

    /// Level 2, where each check is of one sample against the line through its two
    /// neighbours: a triangle's only sample off its legs is its hypotenuse midpoint, and the
    /// two triangles on that hypotenuse agree on it. Midpoints of horizontal edges are at
    /// (odd, even), of vertical ones at (even, odd), centres of 2-squares at (odd, odd); the
    /// children of level 2 are the finest triangles, which have no flags.
    fn flag_finest_level(&mut self) {
        let (w, h, nx, tol) = (self.w, self.h, self.nx, self.tolerance);
        if let Some(hs) = self.hs {
            let off = |p: usize, q: usize, m: usize| {
                (hs[m] as f64 - 0.5 * (hs[p] as f64 + hs[q] as f64)).abs() > tol
            };
            for y in (0..=h).step_by(2) {
                for x in (1..w).step_by(2) {
                    let m = y * nx + x;
                    self.split[m] |= off(m - 1, m + 1, m);
                }
            }
            for y in (1..h).step_by(2) {
                for x in (0..=w).step_by(2) {
                    let m = y * nx + x;
                    self.split[m] |= off(m - nx, m + nx, m);
                }
            }
        }
        for y in (1..h).step_by(2) {
            for x in (1..w).step_by(2) {
                let c = y * nx + x;
                let flagged = self.split[c]
                    || [c - 1, c + 1, c - nx, c + nx]
                        .iter()
                        .any(|&e| self.split[e])
                    || self.hs.is_some_and(|hs| {
                        // The diagonal: "/" when the 2-square's column and row have the
                        // same parity.
                        let (p, q) = if (x / 2 + y / 2) % 2 == 0 {
                            (c - nx - 1, c + nx + 1)
                        } else {
                            (c - nx + 1, c + nx - 1)
                        };
                        (hs[c] as f64 - 0.5 * (hs[p] as f64 + hs[q] as f64)).abs() > tol
                    });
                self.split[c] = flagged;
            }
        }
    }

    /// Edge triangles on the edges of the `l`-grid.
    fn flag_edges(&mut self, l: usize) {
        let half = l / 2;
        for j in 0..=self.h / l {
            for i in 0..self.w / l {
                self.flag_edge([i * l + half, j * l], true, l);
            }
        }
        for j in 0..=self.w / l {
            for i in 0..self.h / l {
                self.flag_edge([j * l, i * l + half], false, l);
            }
        }
    }

    /// The (one or two) edge triangles on the `l`-grid edge with midpoint `m`, horizontal
    /// or vertical.
    fn flag_edge(&mut self, m: Point, horizontal: bool, l: usize) {
        let mi = self.at(m);
        if self.split[mi] {
            return;
        }
        let (half, quarter) = ((l / 2) as isize, (l / 4) as isize);
        // The point `along` from m along the edge and `across` from it across the edge.
        let point = |along: isize, across: isize| -> Point {
            let (dx, dy) = if horizontal {
                (along, across)
            } else {
                (across, along)
            };
            [m[0].wrapping_add_signed(dx), m[1].wrapping_add_signed(dy)]
        };
        let (across_m, across_end) = if horizontal {
            (m[1], self.h)
        } else {
            (m[0], self.w)
        };
        // The sides with a triangle (apex in the grid); its children are the halves of the
        // two (l/2)-squares there.
        let sides = [
            (-1isize, across_m >= l / 2),
            (1, across_m + l / 2 <= across_end),
        ];
        let mut flagged = sides.iter().any(|&(side, exists)| {
            exists
                && (self.split[self.at(point(-quarter, side * quarter))]
                    || self.split[self.at(point(quarter, side * quarter))])
        });
        if !flagged && self.hs.is_some() {
            // The triangle on a side is a quarter of the l-square there.
            let uneven = sides.map(|(side, exists)| {
                exists && {
                    let corner = point(-half, if side < 0 { -2 * half } else { 0 });
                    !self.flat_square(corner, l)
                }
            });
            flagged = uneven.iter().any(|&u| u)
                && (self.line_exceeds(point(-half, 0), point(half, 0), l)
                    || sides.iter().zip(uneven).any(|(&(side, _), u)| {
                        u && self.edge_interior_exceeds(m, horizontal, side, l / 2)
                    }));
        }
        self.split[mi] = flagged;
    }

    /// Square halves of the `l`-squares.
    fn flag_squares(&mut self, l: usize) {
        let half = l / 2;
        for j in 0..self.h / l {
            for i in 0..self.w / l {
                let (x0, y0) = (i * l, j * l);
                let (x1, y1) = (x0 + l, y0 + l);
                let c = self.at([x0 + half, y0 + half]);
                if self.split[c] {
                    continue;
                }
                let edges = [
                    [x0 + half, y0],
                    [x0 + half, y1],
                    [x0, y0 + half],
                    [x1, y0 + half],
                ];
                let flagged = edges.iter().any(|&e| self.split[self.at(e)])
                    || self.hs.is_some()
                        && !self.flat_square([x0, y0], l)
                        && if i % 2 == j % 2 {
                            // Diagonal "/": right angles at (x1, y0) and (x0, y1).
                            self.line_exceeds([x0, y0], [x1, y1], l)
                                || self.square_interior_exceeds([x1, y0], -1, 1, l)
                                || self.square_interior_exceeds([x0, y1], 1, -1, l)
                        } else {
                            // Diagonal "\": right angles at (x0, y0) and (x1, y1).
                            self.line_exceeds([x0, y1], [x1, y0], l)
                                || self.square_interior_exceeds([x0, y0], 1, 1, l)
                                || self.square_interior_exceeds([x1, y1], -1, -1, l)
                        };
                self.split[c] = flagged;
            }
        }
    }

    fn heights(&self) -> &'a [f32] {
        self.hs
            .expect("height checks only run on a grid with heights")
    }

    fn height(&self, p: Point) -> f64 {
        self.heights()[self.at(p)] as f64
    }

    /// Whether a sample strictly between `a` and `b` (`steps` grid steps apart along an axis
    /// or at 45°) is off the line through them by more than the tolerance.
    fn line_exceeds(&self, a: Point, b: Point, steps: usize) -> bool {
        let hs = self.heights();
        let (ha, hb) = (self.height(a), self.height(b));
        let slope = (hb - ha) / steps as f64;
        let dx = (b[0] as isize - a[0] as isize).signum();
        let dy = (b[1] as isize - a[1] as isize).signum();
        let stride = dy * self.nx as isize + dx;
        let start = self.at(a);
        (1..steps).any(|t| {
            let h = hs[start.wrapping_add_signed(stride * t as isize)] as f64;
            (h - (ha + slope * t as f64)).abs() > self.tolerance
        })
    }

    /// Whether a sample strictly inside the half of an `l`-square with its right angle at
    /// `c` and legs towards x + sx·l and y + sy·l is off its plane.
    fn square_interior_exceeds(&self, c: Point, sx: isize, sy: isize, l: usize) -> bool {
        let li = l as isize;
        let a = [c[0].wrapping_add_signed(sx * li), c[1]];
        let b = [c[0], c[1].wrapping_add_signed(sy * li)];
        let hc = self.height(c);
        let plane = Plane {
            origin: c,
            h0: hc,
            gx: (self.height(a) - hc) / (sx * li) as f64,
            gy: (self.height(b) - hc) / (sy * li) as f64,
        };
        // Row j away from c holds the inner points i = 1 ..= l − j − 1 away from it along x.
        (1..l - 1).any(|j| {
            let y = c[1].wrapping_add_signed(sy * j as isize);
            let (x0, x1) = if sx > 0 {
                (c[0] + 1, c[0] + l - j - 1)
            } else {
                (c[0] - (l - j - 1), c[0] - 1)
            };
            self.run_exceeds(&plane, y, x0, x1)
        })
    }

    /// Whether a sample strictly inside the edge triangle with hypotenuse centred on `m`
    /// (horizontal or vertical, `half` long on each side) and apex `half` from m on `side`
    /// is off its plane.
    fn edge_interior_exceeds(&self, m: Point, horizontal: bool, side: isize, half: usize) -> bool {
        let d = half as isize;
        let (a, b, apex) = if horizontal {
            let apex = [m[0], m[1].wrapping_add_signed(side * d)];
            ([m[0] - half, m[1]], [m[0] + half, m[1]], apex)
        } else {
            let apex = [m[0].wrapping_add_signed(side * d), m[1]];
            ([m[0], m[1] - half], [m[0], m[1] + half], apex)
        };
        let (ha, hb) = (self.height(a), self.height(b));
        let mid = 0.5 * (ha + hb);
        let along = (hb - ha) / (2 * half) as f64;
        let across = (self.height(apex) - mid) / (side * d) as f64;
        if horizontal {
            let plane = Plane {
                origin: m,
                h0: mid,
                gx: along,
                gy: across,
            };
            // Row j away from the hypotenuse: |x − mx| < half − j.
            (1..half).any(|j| {
                let y = m[1].wrapping_add_signed(side * j as isize);
                let reach = half - j - 1;
                self.run_exceeds(&plane, y, m[0] - reach, m[0] + reach)
            })
        } else {
            let plane = Plane {
                origin: m,
                h0: mid,
                gx: across,
                gy: along,
            };
            // Row i from m: the points 1 ..= half − 1 − |i| away from the hypotenuse.
            (-(d - 2)..=d - 2).any(|i| {
                let y = m[1].wrapping_add_signed(i);
                let reach = half - 1 - i.unsigned_abs();
                let (x0, x1) = if side > 0 {
                    (m[0] + 1, m[0] + reach)
                } else {
                    (m[0] - reach, m[0] - 1)
                };
                self.run_exceeds(&plane, y, x0, x1)
            })
        }
    }

    /// Whether a sample of row `y` from column `x0` to `x1` (inclusive) is farther than the
    /// tolerance from `plane`.
    fn run_exceeds(&self, plane: &Plane, y: usize, x0: usize, x1: usize) -> bool {
        let row = &self.heights()[y * self.nx + x0..=y * self.nx + x1];
        let start = plane.h0
            + plane.gx * (x0 as f64 - plane.origin[0] as f64)
            + plane.gy * (y as f64 - plane.origin[1] as f64);
        let worst = row.iter().enumerate().fold(0.0f64, |worst, (k, &h)| {
            worst.max((h as f64 - (start + plane.gx * k as f64)).abs())
        });
        worst > self.tolerance
    }

    /// The leaves of every tile, as counter-clockwise sample-index triples.
    fn leaves(&self) -> Vec<[u32; 3]> {
        let t = self.tile;
        let mut out = Vec::new();
        for j in 0..self.h / t {
            for i in 0..self.w / t {
                let (x0, y0, x1, y1) = (i * t, j * t, i * t + t, j * t + t);
                // Both roots clockwise in (x, y): hypotenuse first, then the right angle.
                if i % 2 == j % 2 {
                    self.emit([x0, y0], [x1, y1], [x1, y0], &mut out);
                    self.emit([x1, y1], [x0, y0], [x0, y1], &mut out);
                } else {
                    self.emit([x0, y1], [x1, y0], [x0, y0], &mut out);
                    self.emit([x1, y0], [x0, y1], [x1, y1], &mut out);
                }
            }
        }
        out
    }

    /// Append the leaves under triangle (a, b, c) — hypotenuse a b, right angle at c,
    /// clockwise — counter-clockwise. Splitting keeps the orientation: both children
    /// (c, a, m) and (b, c, m) turn the same way as (a, b, c).
    fn emit(&self, a: Point, b: Point, c: Point, out: &mut Vec<[u32; 3]>) {
        let m = [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2];
        let leg = a[0].abs_diff(c[0]) + a[1].abs_diff(c[1]);
        if leg > 1 && self.split[self.at(m)] {
            self.emit(c, a, m, out);
            self.emit(b, c, m, out);
        } else {
            let index = |p: Point| self.at(p) as u32;
            out.push([index(a), index(c), index(b)]);
        }
    }
}
