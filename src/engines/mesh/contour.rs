//! Outlines of a 2D mask: turning an image into a boolean mask (by alpha or by
//! brightness), dropping specks and tiny holes, tracing closed outlines with marching
//! squares, grouping them into polygons with holes and simplifying them
//! (Douglas–Peucker) without letting outlines cross or touch.
//!
//! Coordinates are in pixel units with **y pointing up**: a point `[x, y]` lies at
//! column `x` and at `height - y` rows from the top of the mask, so the mask covers
//! `[0, width] × [0, height]` and row 0 is at the top (`y = height`). In that frame outer
//! rings are counter-clockwise (positive shoelace area) and holes clockwise, exactly as
//! they look on screen. Vertices lie half-way between neighbouring pixel centres, so a
//! single pixel becomes a diamond of area 0.5 px².
//!
//! Connectivity: foreground pixels that touch only diagonally belong to one shape
//! (8-connectivity, so thin diagonal strokes stay whole); background uses
//! 4-connectivity. Every outline is a simple closed ring and no two outlines share a
//! point, which is what [`crate::engines::mesh::extrude`] needs.

use std::collections::HashMap;

use image::DynamicImage;
use spade::handles::FixedVertexHandle;
use spade::{
    ConstrainedDelaunayTriangulation, Intersection, LineIntersectionIterator, Point2, Triangulation,
};

/// A point in pixel units, y up (see the module documentation).
pub type Point = [f64; 2];

/// A closed ring of points; the last point is not repeated.
pub type Ring = Vec<Point>;

/// One connected shape: its outer ring (counter-clockwise) and its holes (clockwise).
#[derive(Debug, Clone, PartialEq)]
pub struct PolygonWithHoles {
    pub outer: Ring,
    pub holes: Vec<Ring>,
}

impl PolygonWithHoles {
    /// Area in px²: the outer ring's area minus the holes'.
    pub fn area(&self) -> f64 {
        signed_area(&self.outer).abs()
            - self.holes.iter().map(|h| signed_area(h).abs()).sum::<f64>()
    }
}

/// A boolean image, `width × height`, stored row by row with row 0 at the top.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mask {
    width: u32,
    height: u32,
    data: Vec<bool>,
}

impl Mask {
    /// A mask from row-major data (row 0 first). `None` when the length is not
    /// `width * height`.
    pub fn new(width: u32, height: u32, data: Vec<bool>) -> Option<Mask> {
        (data.len() as u64 == u64::from(width) * u64::from(height)).then_some(Mask {
            width,
            height,
            data,
        })
    }

    /// A mask whose pixel `(x, y)` (y = row from the top) is `f(x, y)`.
    pub fn from_fn(width: u32, height: u32, mut f: impl FnMut(u32, u32) -> bool) -> Mask {
        let mut data = Vec::with_capacity(width as usize * height as usize);
        for y in 0..height {
            for x in 0..width {
                data.push(f(x, y));
            }
        }
        Mask {
            width,
            height,
            data,
        }
    }

    /// Foreground where the pixel's alpha is at least `threshold`.
    pub fn from_alpha(image: &DynamicImage, threshold: u8) -> Mask {
        let rgba = image.to_rgba8();
        let data = rgba.pixels().map(|p| p.0[3] >= threshold).collect();
        Mask {
            width: rgba.width(),
            height: rgba.height(),
            data,
        }
    }

    /// Foreground where the pixel is darker than `threshold` (brightness 0–255, Rec. 709
    /// luma): dark shapes on a light background. With `invert`, foreground is where the
    /// brightness is at least `threshold` (light shapes on a dark background).
    /// Transparent pixels count as background either way (they are composited over white,
    /// or over black when inverting).
    pub fn from_brightness(image: &DynamicImage, threshold: u8, invert: bool) -> Mask {
        let rgba = image.to_rgba8();
        let threshold = f32::from(threshold);
        let data = rgba
            .pixels()
            .map(|p| {
                let [r, g, b, a] = p.0.map(f32::from);
                let luma = 0.2126 * r + 0.7152 * g + 0.0722 * b;
                let alpha = a / 255.0;
                if invert {
                    luma * alpha >= threshold
                } else {
                    luma * alpha + 255.0 * (1.0 - alpha) < threshold
                }
            })
            .collect();
        Mask {
            width: rgba.width(),
            height: rgba.height(),
            data,
        }
    }

    pub fn width(&self) -> u32 {
        self.width
    }

    pub fn height(&self) -> u32 {
        self.height
    }

    /// The pixel at column `x`, row `y` (row 0 = top); `false` outside the mask.
    pub fn get(&self, x: u32, y: u32) -> bool {
        x < self.width
            && y < self.height
            && self.data[y as usize * self.width as usize + x as usize]
    }

    /// Number of foreground pixels.
    pub fn count(&self) -> usize {
        self.data.iter().filter(|&&b| b).count()
    }
}

/// How outlines are cleaned up.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ContourSettings {
    /// Shapes of fewer foreground pixels than this are dropped, and holes of fewer
    /// background pixels than this are filled. 0 keeps everything.
    pub min_area_px: u32,
    /// Douglas–Peucker tolerance in pixels; 0 keeps every corner (only points on a
    /// straight line are removed). Where simplifying would make outlines cross or touch,
    /// the outlines concerned are simplified less.
    pub simplify_px: f64,
}

impl Default for ContourSettings {
    fn default() -> Self {
        ContourSettings {
            min_area_px: 4,
            simplify_px: 0.5,
        }
    }
}

/// Traces the mask's outlines: one [`PolygonWithHoles`] per connected shape, in the order
/// their top-left-most pixels appear when reading the mask row by row.
pub fn trace(mask: &Mask, settings: &ContourSettings) -> Vec<PolygonWithHoles> {
    let mut grid = Padded::new(mask);
    if settings.min_area_px > 1 {
        grid.drop_small_shapes(settings.min_area_px as usize);
        grid.fill_small_holes(settings.min_area_px as usize);
    }
    let (labels, shape_count) = grid.label_shapes();
    let traced = grid.march(&labels);

    let mut rings: Vec<Ring> = traced
        .iter()
        .map(|(ring, _)| remove_collinear(ring))
        .collect();
    if settings.simplify_px > 0.0 && settings.simplify_px.is_finite() {
        rings = simplify_all(&rings, settings.simplify_px);
    }

    let mut shapes: Vec<Option<PolygonWithHoles>> = vec![None; shape_count];
    let mut holes: Vec<Vec<Ring>> = vec![Vec::new(); shape_count];
    for (ring, (_, label)) in rings.into_iter().zip(&traced) {
        let label = *label as usize;
        if signed_area(&ring) > 0.0 {
            shapes[label] = Some(PolygonWithHoles {
                outer: ring,
                holes: Vec::new(),
            });
        } else {
            holes[label].push(ring);
        }
    }
    shapes
        .into_iter()
        .zip(holes)
        .filter_map(|(shape, holes)| shape.map(|s| PolygonWithHoles { holes, ..s }))
        .collect()
}

/// The mask with a one-pixel background border, so every outline closes.
struct Padded {
    w: usize,
    h: usize,
    /// Height of the original mask, to turn rows into y-up coordinates.
    mask_height: f64,
    cells: Vec<bool>,
}

const NO_LABEL: u32 = u32::MAX;

impl Padded {
    fn new(mask: &Mask) -> Padded {
        let (mw, mh) = (mask.width as usize, mask.height as usize);
        let (w, h) = (mw + 2, mh + 2);
        let mut cells = vec![false; w * h];
        for row in 0..mh {
            cells[(row + 1) * w + 1..(row + 1) * w + 1 + mw]
                .copy_from_slice(&mask.data[row * mw..(row + 1) * mw]);
        }
        Padded {
            w,
            h,
            mask_height: mh as f64,
            cells,
        }
    }

    /// Labels the connected components of pixels whose value is `value` (8-connected
    /// for foreground, 4-connected for background). Returns labels and component sizes.
    fn components(&self, value: bool) -> (Vec<u32>, Vec<usize>) {
        let (w, h) = (self.w as isize, self.h as isize);
        let mut labels = vec![NO_LABEL; self.cells.len()];
        let mut sizes = Vec::new();
        let mut stack = Vec::new();
        let neighbours: &[(isize, isize)] = if value {
            &[
                (-1, -1),
                (0, -1),
                (1, -1),
                (-1, 0),
                (1, 0),
                (-1, 1),
                (0, 1),
                (1, 1),
            ]
        } else {
            &[(0, -1), (-1, 0), (1, 0), (0, 1)]
        };
        for start in 0..self.cells.len() {
            if self.cells[start] != value || labels[start] != NO_LABEL {
                continue;
            }
            let label = sizes.len() as u32;
            let mut size = 0;
            labels[start] = label;
            stack.push(start);
            while let Some(i) = stack.pop() {
                size += 1;
                let (x, y) = ((i % self.w) as isize, (i / self.w) as isize);
                for &(dx, dy) in neighbours {
                    let (nx, ny) = (x + dx, y + dy);
                    if nx < 0 || ny < 0 || nx >= w || ny >= h {
                        continue;
                    }
                    let j = (ny * w + nx) as usize;
                    if self.cells[j] == value && labels[j] == NO_LABEL {
                        labels[j] = label;
                        stack.push(j);
                    }
                }
            }
            sizes.push(size);
        }
        (labels, sizes)
    }

    fn drop_small_shapes(&mut self, min: usize) {
        let (labels, sizes) = self.components(true);
        for (cell, label) in self.cells.iter_mut().zip(labels) {
            if *cell && sizes[label as usize] < min {
                *cell = false;
            }
        }
    }

    fn fill_small_holes(&mut self, min: usize) {
        let (labels, sizes) = self.components(false);
        // Component 0 starts at the padded corner: it is the outside, never a hole.
        for (cell, label) in self.cells.iter_mut().zip(labels) {
            if !*cell && label != 0 && sizes[label as usize] < min {
                *cell = true;
            }
        }
    }

    fn label_shapes(&self) -> (Vec<u32>, usize) {
        let (labels, sizes) = self.components(true);
        (labels, sizes.len())
    }

    /// Position (y up, pixel units of the original mask) of a crossing vertex.
    /// Vertex ids: `2 * cell` is the midpoint between cell and its right neighbour,
    /// `2 * cell + 1` the midpoint between cell and the cell below it.
    fn vertex_position(&self, id: usize) -> Point {
        let cell = id / 2;
        let (px, py) = ((cell % self.w) as f64, (cell / self.w) as f64);
        // Centre of padded cell (px, py) is (px - 0.5, py - 0.5) in mask pixel units, y down.
        let (x, y_down) = if id.is_multiple_of(2) {
            (px, py - 0.5)
        } else {
            (px - 0.5, py)
        };
        [x, self.mask_height - y_down]
    }

    /// Marching squares: every closed outline, foreground on its left, with the label of
    /// the shape it bounds.
    fn march(&self, labels: &[u32]) -> Vec<(Ring, u32)> {
        let w = self.w;
        let mut next: HashMap<usize, usize> = HashMap::new();
        let mut starts: Vec<(usize, u32)> = Vec::new();
        for py in 0..self.h - 1 {
            for px in 0..w - 1 {
                let tl = py * w + px;
                let (tr, bl) = (tl + 1, tl + w);
                let br = bl + 1;
                // Corners counter-clockwise (y up): bottom-left, bottom-right, top-right, top-left.
                let corners = [bl, br, tr, tl];
                let value = corners.map(|c| self.cells[c]);
                if value.iter().all(|&v| v == value[0]) {
                    continue;
                }
                // Side k runs from corner k to corner k+1.
                let sides = [2 * bl, 2 * tr + 1, 2 * tl, 2 * tl + 1];
                for k in 0..4 {
                    if !value[k] || value[(k + 1) % 4] {
                        continue;
                    }
                    // Leaving the foreground across side k: the outline continues to the
                    // next crossed side counter-clockwise (this joins diagonal pixels).
                    let j = (1..4)
                        .map(|d| (k + d) % 4)
                        .find(|&j| value[j] != value[(j + 1) % 4])
                        .expect("crossings come in pairs");
                    next.insert(sides[k], sides[j]);
                    starts.push((sides[k], labels[corners[k]]));
                }
            }
        }
        let mut rings = Vec::new();
        let mut visited = std::collections::HashSet::new();
        for (start, label) in starts {
            if visited.contains(&start) {
                continue;
            }
            let mut ring = Vec::new();
            let mut v = start;
            loop {
                visited.insert(v);
                ring.push(self.vertex_position(v));
                v = next[&v];
                if v == start {
                    break;
                }
            }
            rings.push((ring, label));
        }
        rings
    }
}

/// Shoelace area: positive for counter-clockwise rings (y up).
pub fn signed_area(ring: &[Point]) -> f64 {
    let n = ring.len();
    let mut sum = 0.0;
    for i in 0..n {
        let [x0, y0] = ring[i];
        let [x1, y1] = ring[(i + 1) % n];
        sum += x0 * y1 - x1 * y0;
    }
    sum / 2.0
}

fn cross(o: Point, a: Point, b: Point) -> f64 {
    (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0])
}

/// Removes points that lie exactly on the straight line through their neighbours.
fn remove_collinear(ring: &[Point]) -> Ring {
    let mut out: Ring = Vec::with_capacity(ring.len());
    for &p in ring {
        while out.len() >= 2 && cross(out[out.len() - 2], out[out.len() - 1], p) == 0.0 {
            out.pop();
        }
        out.push(p);
    }
    // Around the seam between the last and the first point.
    while out.len() > 3 && cross(out[out.len() - 2], out[out.len() - 1], out[0]) == 0.0 {
        out.pop();
    }
    while out.len() > 3 && cross(out[out.len() - 1], out[0], out[1]) == 0.0 {
        out.remove(0);
    }
    out
}

fn segment_distance(p: Point, a: Point, b: Point) -> f64 {
    let (dx, dy) = (b[0] - a[0], b[1] - a[1]);
    let len2 = dx * dx + dy * dy;
    let t = if len2 > 0.0 {
        (((p[0] - a[0]) * dx + (p[1] - a[1]) * dy) / len2).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let (qx, qy) = (a[0] + t * dx - p[0], a[1] + t * dy - p[1]);
    (qx * qx + qy * qy).sqrt()
}

/// Douglas–Peucker on a closed ring. Returns `None` when the result would not be a
/// proper ring of the same orientation.
fn douglas_peucker(ring: &[Point], tolerance: f64) -> Option<Ring> {
    let n = ring.len();
    if n <= 4 {
        return None;
    }
    // Two anchors that are always kept: the lowest-leftmost point and the point farthest
    // from it.
    let a = (0..n)
        .min_by(|&i, &j| ring[i].partial_cmp(&ring[j]).expect("finite"))
        .expect("non-empty");
    let dist2 = |i: usize| {
        let (dx, dy) = (ring[i][0] - ring[a][0], ring[i][1] - ring[a][1]);
        dx * dx + dy * dy
    };
    let b = (0..n)
        .max_by(|&i, &j| dist2(i).partial_cmp(&dist2(j)).expect("finite"))
        .expect("non-empty");
    let mut keep = vec![false; n];
    keep[a] = true;
    keep[b] = true;
    let mut stack = vec![(a, b), (b, a)];
    while let Some((from, to)) = stack.pop() {
        let span = (to + n - from) % n;
        if span < 2 {
            continue;
        }
        let (mut best, mut best_d) = (0, -1.0);
        for step in 1..span {
            let i = (from + step) % n;
            let d = segment_distance(ring[i], ring[from], ring[to]);
            if d > best_d {
                (best, best_d) = (i, d);
            }
        }
        if best_d > tolerance {
            keep[best] = true;
            stack.push((from, best));
            stack.push((best, to));
        }
    }
    let out: Ring = (0..n).filter(|&i| keep[i]).map(|i| ring[i]).collect();
    let (before, after) = (signed_area(ring), signed_area(&out));
    (out.len() >= 3 && after != 0.0 && before.signum() == after.signum()).then_some(out)
}

/// Simplifies every ring; rings that then cross or touch any other ring (or themselves)
/// are simplified again with half the tolerance, down to no simplification at all.
fn simplify_all(rings: &[Ring], tolerance: f64) -> Vec<Ring> {
    let mut tolerances = vec![tolerance; rings.len()];
    let mut current: Vec<Ring> = rings
        .iter()
        .map(|r| douglas_peucker(r, tolerance).unwrap_or_else(|| r.clone()))
        .collect();
    for _ in 0..64 {
        let mut bad = conflicting_rings(&current);
        if bad.is_empty() {
            bad = misnested_rings(rings, &current);
        }
        if bad.is_empty() {
            return current;
        }
        for i in bad {
            tolerances[i] /= 2.0;
            current[i] = if tolerances[i] < 1e-3 {
                rings[i].clone()
            } else {
                douglas_peucker(&rings[i], tolerances[i]).unwrap_or_else(|| rings[i].clone())
            };
        }
    }
    rings.to_vec()
}

/// Indices of rings that share a point with another ring or themselves, or whose edges
/// cross or touch another edge. Found with a constrained Delaunay triangulation:
/// conflicting constraints are reported, and an edge that passes through a vertex is
/// split (so it is missing from the triangulation afterwards).
pub(crate) fn conflicting_rings(rings: &[Ring]) -> Vec<usize> {
    let mut owner = Vec::new();
    let mut points = Vec::new();
    let mut edges = Vec::new();
    let mut seen: HashMap<[u64; 2], usize> = HashMap::new();
    let mut bad = vec![false; rings.len()];
    for (r, ring) in rings.iter().enumerate() {
        if ring.len() < 3 {
            bad[r] = true;
        }
        let first = points.len();
        for (k, p) in ring.iter().enumerate() {
            let key = [p[0].to_bits(), p[1].to_bits()];
            if let Some(&other) = seen.get(&key) {
                bad[r] = true;
                bad[owner[other]] = true;
            } else {
                seen.insert(key, points.len());
            }
            owner.push(r);
            points.push(Point2::new(p[0], p[1]));
            edges.push([first + k, first + (k + 1) % ring.len()]);
        }
    }
    if bad.iter().any(|&b| b) {
        return (0..rings.len()).filter(|&r| bad[r]).collect();
    }
    let mut conflicts = Vec::new();
    let cdt = match ConstrainedDelaunayTriangulation::<Point2<f64>>::try_bulk_load_cdt(
        points,
        edges.clone(),
        |e| conflicts.push(e),
    ) {
        Ok(cdt) => cdt,
        Err(_) => return (0..rings.len()).collect(),
    };
    if cdt.num_vertices() != owner.len() {
        return (0..rings.len()).collect();
    }
    for [a, b] in conflicts {
        bad[owner[a]] = true;
        // Blame the rings whose edges or points this edge runs into as well.
        let (ha, hb) = (
            FixedVertexHandle::from_index(a),
            FixedVertexHandle::from_index(b),
        );
        for hit in LineIntersectionIterator::new_from_handles(&cdt, ha, hb) {
            match hit {
                Intersection::EdgeIntersection(e) | Intersection::EdgeOverlap(e)
                    if e.is_constraint_edge() =>
                {
                    bad[owner[e.from().fix().index()]] = true;
                }
                Intersection::VertexIntersection(v) if v.fix() != ha && v.fix() != hb => {
                    bad[owner[v.fix().index()]] = true;
                }
                _ => {}
            }
        }
    }
    for &[a, b] in &edges {
        let (ha, hb) = (
            FixedVertexHandle::from_index(a),
            FixedVertexHandle::from_index(b),
        );
        if !cdt.exists_constraint(ha, hb) {
            bad[owner[a]] = true;
            bad[owner[b]] = true;
            // The vertex lying on this edge belongs to a ring that is just as guilty.
            let [pa, pb] = [cdt.vertex(ha).position(), cdt.vertex(hb).position()];
            for v in cdt.vertices() {
                let p = v.position();
                let i = v.fix().index();
                if i != a && i != b && on_segment([p.x, p.y], [pa.x, pa.y], [pb.x, pb.y]) {
                    bad[owner[i]] = true;
                }
            }
        }
    }
    (0..rings.len()).filter(|&r| bad[r]).collect()
}

/// Indices of rings (which must not cross or touch) that no longer have the shape on
/// their left, because simplifying moved a ring to the other side of another one, plus the
/// rings that moved across them.
fn misnested_rings(original: &[Ring], current: &[Ring]) -> Vec<usize> {
    let mut points = Vec::new();
    let mut edges = Vec::new();
    let mut owner = Vec::new();
    for (r, ring) in current.iter().enumerate() {
        let first = points.len();
        for (k, p) in ring.iter().enumerate() {
            points.push(Point2::new(p[0], p[1]));
            edges.push([first + k, first + (k + 1) % ring.len()]);
            owner.push(r);
        }
    }
    let mut conflicts = 0;
    let Ok(cdt) = ConstrainedDelaunayTriangulation::<Point2<f64>>::try_bulk_load_cdt(
        points,
        edges.clone(),
        |_| conflicts += 1,
    ) else {
        return (0..current.len()).collect();
    };
    if conflicts > 0 {
        return (0..current.len()).collect();
    }
    let odd = face_parity(&cdt);
    let mut bad = vec![false; current.len()];
    for &[a, b] in &edges {
        let edge = cdt.get_edge_from_neighbors(
            FixedVertexHandle::from_index(a),
            FixedVertexHandle::from_index(b),
        );
        let solid_left = edge.is_some_and(|e| odd[e.face().fix().index()]);
        if !solid_left {
            bad[owner[a]] = true;
        }
    }
    let flagged: Vec<usize> = (0..current.len()).filter(|&r| bad[r]).collect();
    for r in flagged {
        let q = current[r][0];
        for s in 0..current.len() {
            if s != r && point_in_ring(q, &original[s]) != point_in_ring(q, &current[s]) {
                bad[s] = true;
            }
        }
    }
    (0..current.len()).filter(|&r| bad[r]).collect()
}

/// For every face of the triangulation: whether it lies inside an odd number of rings
/// (flooding from the outer face, flipping at every constraint edge).
pub(crate) fn face_parity<V: spade::HasPosition<Scalar = f64>>(
    cdt: &ConstrainedDelaunayTriangulation<V>,
) -> Vec<bool> {
    let mut state: Vec<Option<bool>> = vec![None; cdt.num_all_faces()];
    let outer = cdt.outer_face().fix();
    state[outer.index()] = Some(false);
    let mut stack = vec![outer];
    while let Some(face) = stack.pop() {
        let odd = state[face.index()].expect("set before pushing");
        // (neighbouring face, whether the edge between is a constraint)
        let neighbours: Vec<_> = match face.as_inner() {
            Some(inner) => cdt
                .face(inner)
                .adjacent_edges()
                .iter()
                .map(|e| (e.rev().face().fix(), e.is_constraint_edge()))
                .collect(),
            None => cdt
                .convex_hull()
                .map(|e| {
                    let inner = if e.face().is_outer() { e.rev() } else { e };
                    (inner.face().fix(), e.is_constraint_edge())
                })
                .collect(),
        };
        for (neighbour, constraint) in neighbours {
            if state[neighbour.index()].is_none() {
                state[neighbour.index()] = Some(odd ^ constraint);
                stack.push(neighbour);
            }
        }
    }
    state.into_iter().map(|s| s.unwrap_or(false)).collect()
}

/// Even–odd point-in-polygon test.
fn point_in_ring(p: Point, ring: &[Point]) -> bool {
    let mut inside = false;
    let n = ring.len();
    for i in 0..n {
        let (a, b) = (ring[i], ring[(i + 1) % n]);
        if (a[1] > p[1]) != (b[1] > p[1]) {
            let x = a[0] + (p[1] - a[1]) / (b[1] - a[1]) * (b[0] - a[0]);
            if p[0] < x {
                inside = !inside;
            }
        }
    }
    inside
}

fn on_segment(p: Point, a: Point, b: Point) -> bool {
    cross(a, b, p) == 0.0
        && p[0] >= a[0].min(b[0])
        && p[0] <= a[0].max(b[0])
        && p[1] >= a[1].min(b[1])
        && p[1] <= a[1].max(b[1])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mask(rows: &[&str]) -> Mask {
        let h = rows.len() as u32;
        let w = rows[0].len() as u32;
        Mask::from_fn(w, h, |x, y| rows[y as usize].as_bytes()[x as usize] == b'#')
    }

    const EXACT: ContourSettings = ContourSettings {
        min_area_px: 0,
        simplify_px: 0.0,
    };

    #[test]
    fn empty_masks_have_no_outlines() {
        assert!(trace(&Mask::new(0, 0, vec![]).unwrap(), &EXACT).is_empty());
        assert!(trace(&Mask::from_fn(5, 3, |_, _| false), &EXACT).is_empty());
        assert!(Mask::new(2, 2, vec![true]).is_none());
        // A full mask is one rectangle with its corners cut by half a pixel.
        let full = trace(&Mask::from_fn(5, 3, |_, _| true), &EXACT);
        assert_eq!(full.len(), 1);
        assert_eq!(full[0].outer.len(), 8);
        assert_eq!(signed_area(&full[0].outer), 15.0 - 0.5);
    }

    #[test]
    fn single_pixel_is_a_diamond() {
        let polys = trace(&mask(&["#"]), &EXACT);
        assert_eq!(polys.len(), 1);
        let p = &polys[0];
        assert!(p.holes.is_empty());
        assert_eq!(p.outer.len(), 4);
        assert_eq!(signed_area(&p.outer), 0.5);
        // Centred on the pixel centre (0.5, 0.5).
        let cx: f64 = p.outer.iter().map(|q| q[0]).sum::<f64>() / 4.0;
        let cy: f64 = p.outer.iter().map(|q| q[1]).sum::<f64>() / 4.0;
        assert_eq!((cx, cy), (0.5, 0.5));
    }

    #[test]
    fn square_with_hole() {
        let m = mask(&["#####", "#####", "##.##", "#####", "#####"]);
        let polys = trace(&m, &EXACT);
        assert_eq!(polys.len(), 1);
        let p = &polys[0];
        assert_eq!(p.holes.len(), 1);
        assert!(signed_area(&p.outer) > 0.0);
        assert!(signed_area(&p.holes[0]) < 0.0);
        // Outer: 5x5 square with its four corners cut by half a pixel: 25 - 4 * 0.125.
        assert_eq!(signed_area(&p.outer), 24.5);
        assert_eq!(signed_area(&p.holes[0]), -0.5);
        // Straight runs are merged: octagon outside, diamond inside.
        assert_eq!(p.outer.len(), 8);
        assert_eq!(p.holes[0].len(), 4);
    }

    #[test]
    fn row_zero_is_at_the_top() {
        let m = mask(&["#..", "...", "..."]);
        let p = &trace(&m, &EXACT)[0];
        assert!(p.outer.iter().all(|q| q[1] >= 2.0 && q[0] <= 1.0));
    }

    #[test]
    fn diagonal_pixels_are_one_shape() {
        let m = mask(&["#.", ".#"]);
        let polys = trace(&m, &EXACT);
        assert_eq!(polys.len(), 1);
        assert!(polys[0].holes.is_empty());
        assert!(conflicting_rings(&[polys[0].outer.clone()]).is_empty());
    }

    #[test]
    fn specks_and_small_holes_are_removed() {
        let m = mask(&[
            "#.........",
            "...######.",
            "...##.###.",
            "...######.",
            "...######.",
            "..........",
        ]);
        let settings = ContourSettings {
            min_area_px: 2,
            simplify_px: 0.0,
        };
        let polys = trace(&m, &settings);
        assert_eq!(polys.len(), 1);
        assert!(polys[0].holes.is_empty());
        let all = trace(&m, &EXACT);
        assert_eq!(all.len(), 2);
        assert_eq!(all[1].holes.len(), 1);
    }

    #[test]
    fn nested_island_is_its_own_polygon() {
        let m = mask(&[
            "#######", "#.....#", "#.###.#", "#.###.#", "#.###.#", "#.....#", "#######",
        ]);
        let polys = trace(&m, &EXACT);
        assert_eq!(polys.len(), 2);
        assert_eq!(polys[0].holes.len(), 1);
        assert!(polys[1].holes.is_empty());
        assert!(polys[1].area() < polys[0].area());
    }

    #[test]
    fn simplification_keeps_rings_valid() {
        // A disc with a ring-shaped hole close to its edge.
        let m = Mask::from_fn(40, 40, |x, y| {
            let (dx, dy) = (x as f64 - 19.5, y as f64 - 19.5);
            let r = (dx * dx + dy * dy).sqrt();
            r < 18.0 && !(15.0..16.0).contains(&r)
        });
        for tol in [0.0, 0.5, 1.0, 3.0, 10.0] {
            let polys = trace(
                &m,
                &ContourSettings {
                    min_area_px: 0,
                    simplify_px: tol,
                },
            );
            let rings: Vec<Ring> = polys
                .iter()
                .flat_map(|p| std::iter::once(p.outer.clone()).chain(p.holes.clone()))
                .collect();
            assert!(conflicting_rings(&rings).is_empty(), "tolerance {tol}");
            assert!(
                misnested_rings(&rings, &rings).is_empty(),
                "tolerance {tol}"
            );
            for p in &polys {
                assert!(signed_area(&p.outer) > 0.0);
                assert!(p.holes.iter().all(|h| signed_area(h) < 0.0));
            }
        }
        let exact: usize = trace(&m, &EXACT).iter().map(|p| p.outer.len()).sum();
        let simple: usize = trace(
            &m,
            &ContourSettings {
                min_area_px: 0,
                simplify_px: 1.0,
            },
        )
        .iter()
        .map(|p| p.outer.len())
        .sum();
        assert!(simple < exact);
    }

    #[test]
    fn conflicts_are_found() {
        let square = vec![[0.0, 0.0], [4.0, 0.0], [4.0, 4.0], [0.0, 4.0]];
        let crossing = vec![[2.0, 2.0], [6.0, 2.0], [6.0, 3.0]];
        assert_eq!(conflicting_rings(&[square.clone(), crossing]), vec![0, 1]);
        let touching = vec![[4.0, 2.0], [6.0, 1.0], [6.0, 3.0]];
        assert_eq!(conflicting_rings(&[square.clone(), touching]), vec![0, 1]);
        let inside = vec![[1.0, 1.0], [1.0, 2.0], [2.0, 1.0]];
        assert!(conflicting_rings(&[square, inside]).is_empty());
    }

    #[test]
    fn masks_from_images() {
        let mut img = image::RgbaImage::new(2, 1);
        img.put_pixel(0, 0, image::Rgba([0, 0, 0, 255]));
        img.put_pixel(1, 0, image::Rgba([255, 255, 255, 0]));
        let img = DynamicImage::ImageRgba8(img);
        assert_eq!(Mask::from_alpha(&img, 128).data, vec![true, false]);
        assert_eq!(
            Mask::from_brightness(&img, 128, false).data,
            vec![true, false]
        );
        assert_eq!(
            Mask::from_brightness(&img, 128, true).data,
            vec![false, false]
        );
    }
}
