//! Bounded-error simplification of closed meshes by quadric-ordered half-edge collapses
//! that keep the mesh closed, 2-manifold and consistently wound, and keep sharp outlines
//! (so a heightfield's footprint and bounding box do not shrink).
//!
//! # How it stays closed
//! Only half-edge collapses are made: vertex `a` is removed and every triangle that used
//! it uses its neighbour `b` instead, in place (same order, so the same orientation); the
//! two triangles on the edge `ab` are removed. A collapse is made only if the **link
//! condition** holds: the vertices adjacent to both `a` and `b` are exactly the two
//! opposite vertices `c`, `d` of those two triangles, and the triangles `acd` and `bcd`
//! do not both exist. For a closed 2-manifold that is exactly the condition under which the
//! contraction yields a closed 2-manifold of the same topology (Dey, Edelsbrunner, Guha &
//! Nekhayev 1999, "Topology preserving edge contraction"); concretely: a directed edge
//! `a→x` becomes `b→x`, which could collide with an existing `b→x` only if `x` is a common
//! neighbour, i.e. `x ∈ {c, d}`, and there the partner edge belonged to a removed triangle,
//! so every remaining edge keeps exactly one use in each direction (watertight, consistent)
//! and every vertex keeps one fan. Unreferenced vertices are dropped at the end.
//! The input must already be a closed, consistently wound 2-manifold (checked on indices);
//! any other mesh is returned unchanged.
//!
//! # Geometry guards
//! - **Error bound**: every vertex v carries `error[v]`, a running bound on how far the
//!   surface around it has moved. A collapse measures `moved`, the largest distance from
//!   the old star of `a` (the vertex and the midpoints of its edges) to the new triangles
//!   (exactly 0 when the star is planar: the new fan covers the same piece of plane); `b`
//!   gets max(error[a], error[b]) + moved and every other neighbour of `a` adds `moved`. The
//!   collapse is refused when any of these would exceed `max_error_mm`, or when the quadric
//!   bound fails: a vertex's quadric holds the unit planes of every original triangle merged
//!   into it, so √Q(p) bounds the distance from the kept position to each of those planes.
//!   The proptests measure (brute force) that no original vertex ends up farther than
//!   `max_error_mm` from the result; the bound is sampled, not proven for every surface point.
//!   Positions never move (the kept vertex stays where it was), so nothing grows out of the
//!   original bounding box, and one vertex at each of its six extremes is never removed, so
//!   the bounding box stays exactly the same.
//! - **Outlines**: an edge whose two triangles meet at more than 40° is a feature. A vertex
//!   on no feature edge may collapse along any edge; one on exactly two (a crease, such as
//!   the rim of a base) only along one of them, so it slides along the crease; any other
//!   (a corner, e.g. a box corner) stays, so footprints keep their outline.
//! - No triangle may turn by more than ~72° or become a sliver (height < 1e-4 · longest
//!   edge), and no vertex may end up with more than [`MAX_VALENCE`] triangles.
//!
//! # Speed
//! Work goes in passes: per pass the vertex → triangle table is rebuilt, every edge is
//! classified and priced once, the candidates below the error bound are sorted, and they
//! are collapsed cheapest first, each vertex at most once per pass (so the prices of the
//! remaining candidates stay exact). No allocation per collapse.

use super::{Mesh, dot, sub, triangle_normal};

/// Most triangles a vertex may have after a collapse.
pub const MAX_VALENCE: usize = 96;
/// Two triangles meeting at more than this angle (40°) make a feature edge.
const FEATURE_COS: f32 = 0.766;
/// A triangle may not turn further than this (cos 72°) in one collapse.
const FLIP_COS: f32 = 0.3;
/// A new triangle must have 2·area ≥ this · longest edge².
const MIN_QUALITY: f32 = 1e-4;
const DEAD: u32 = u32::MAX;
/// At most this many passes (each one collapses a good share of the remaining edges).
const MAX_PASSES: u32 = 100;
/// Stop when a pass that tried every candidate removed fewer than 1/this of the triangles:
/// the error budget is spent, and another pass would cost as much for as little.
const LOW_YIELD: usize = 500;

/// What a run did.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct SimplifyStats {
    pub passes: u32,
    pub collapses: usize,
    /// The largest error bound reached by a kept vertex, in millimetres.
    pub max_error_mm: f32,
    /// False when the input was found not to be a closed, consistently wound 2-manifold
    /// (it is then returned as is). A mesh already at or under the target is not checked.
    pub input_closed: bool,
}

/// Reduce `mesh` towards `target_triangles`, stopping early when every remaining
/// collapse would move the surface farther than `max_error_mm`. The result is closed,
/// 2-manifold and consistently wound when the input is (see the module doc); it never has
/// more triangles than the input. UVs stay with their positions. A `max_error_mm` of 0
/// (or less, or NaN) allows only collapses within 1e-6 mm, i.e. inside flat regions.
pub fn simplify(mesh: &Mesh, target_triangles: usize, max_error_mm: f32) -> Mesh {
    simplify_with_stats(mesh, target_triangles, max_error_mm).0
}

/// [`simplify`], also saying what it did.
pub fn simplify_with_stats(
    mesh: &Mesh,
    target_triangles: usize,
    max_error_mm: f32,
) -> (Mesh, SimplifyStats) {
    if mesh.triangles.len() <= target_triangles {
        return (mesh.clone(), unchecked());
    }
    match Simplifier::new(&mesh.positions, mesh.triangles.clone(), max_error_mm) {
        Err(_) => (mesh.clone(), SimplifyStats::default()),
        Ok(mut s) => {
            let stats = s.run(target_triangles);
            (s.finish(&mesh.positions, mesh.uvs.as_deref()), stats)
        }
    }
}

/// [`simplify_with_stats`] taking the mesh by value: its triangle list is reused, which
/// saves 12 bytes per input triangle at the peak (25 MB for a 1024² relief).
pub fn simplify_owned(
    mut mesh: Mesh,
    target_triangles: usize,
    max_error_mm: f32,
) -> (Mesh, SimplifyStats) {
    if mesh.triangles.len() <= target_triangles {
        return (mesh, unchecked());
    }
    let triangles = std::mem::take(&mut mesh.triangles);
    match Simplifier::new(&mesh.positions, triangles, max_error_mm) {
        Err(triangles) => {
            mesh.triangles = triangles;
            (mesh, SimplifyStats::default())
        }
        Ok(mut s) => {
            let stats = s.run(target_triangles);
            let out = s.finish(&mesh.positions, mesh.uvs.as_deref());
            (out, stats)
        }
    }
}

/// Stats for a mesh already at or under the target (returned without looking at it).
fn unchecked() -> SimplifyStats {
    SimplifyStats {
        input_closed: true,
        ..SimplifyStats::default()
    }
}

/// Error quadric in a frame centred on its vertex: Q(d) = dᵀAd + 2b·d + c for a point at
/// offset d from the vertex, the sum of squared distances to the accumulated planes.
#[derive(Clone, Copy, Default)]
struct Quadric {
    /// A00 A01 A02 A11 A12 A22.
    a: [f32; 6],
    b: [f32; 3],
    c: f32,
}

impl Quadric {
    fn add_plane(&mut self, n: [f32; 3]) {
        // The plane goes through the vertex, so b and c stay zero.
        self.a[0] += n[0] * n[0];
        self.a[1] += n[0] * n[1];
        self.a[2] += n[0] * n[2];
        self.a[3] += n[1] * n[1];
        self.a[4] += n[1] * n[2];
        self.a[5] += n[2] * n[2];
    }

    fn a_times(&self, d: [f64; 3]) -> [f64; 3] {
        let a = self.a.map(f64::from);
        [
            a[0] * d[0] + a[1] * d[1] + a[2] * d[2],
            a[1] * d[0] + a[3] * d[1] + a[4] * d[2],
            a[2] * d[0] + a[4] * d[1] + a[5] * d[2],
        ]
    }

    /// Q at offset `d` from the centre.
    fn at(&self, d: [f64; 3]) -> f64 {
        let ad = self.a_times(d);
        let b = self.b.map(f64::from);
        self.c as f64
            + 2.0 * (b[0] * d[0] + b[1] * d[1] + b[2] * d[2])
            + (ad[0] * d[0] + ad[1] * d[1] + ad[2] * d[2])
    }

    /// Add `other`, re-centred here first; this quadric's centre is at offset `d` from
    /// `other`'s.
    fn absorb(&mut self, other: &Quadric, d: [f64; 3]) {
        let ad = other.a_times(d);
        let c = other.at(d);
        for (mine, theirs) in self.a.iter_mut().zip(other.a) {
            *mine += theirs;
        }
        for ((mine, theirs), shift) in self.b.iter_mut().zip(other.b).zip(ad) {
            *mine += (theirs as f64 + shift) as f32;
        }
        self.c += c.max(0.0) as f32;
    }
}

#[derive(Clone, Copy)]
struct Candidate {
    cost: f32,
    a: u32,
    /// Kept vertex; the top bit marks a feature edge while classifying.
    b: u32,
}

const FEATURE_BIT: u32 = 1 << 31;

struct Simplifier<'a> {
    pos: &'a [[f32; 3]],
    tris: Vec<[u32; 3]>,
    live: usize,
    quadrics: Vec<Quadric>,
    /// Bound on how far the surface moved around each kept vertex.
    error: Vec<f32>,
    /// Vertex → triangles (rebuilt each pass; dead triangles are skipped when read).
    offsets: Vec<u32>,
    incident: Vec<u32>,
    /// Feature edges per vertex (saturating).
    features: Vec<u8>,
    /// Pass in which a vertex took part in a collapse (it waits for the next pass).
    touched: Vec<u32>,
    mark: Vec<u32>,
    stamp: u32,
    fan_a: Vec<u32>,
    fan_b: Vec<u32>,
    /// Vertices around the one being removed, and its new triangles (scratch).
    link: Vec<u32>,
    new_tris: Vec<[[f32; 3]; 3]>,
    candidates: Vec<Candidate>,
    max_error: f32,
    /// One vertex at each extreme of the bounding box; never removed.
    pinned: [u32; 6],
}

fn step(t: &[u32; 3], v: u32, offset: usize) -> u32 {
    let k = if t[0] == v {
        0
    } else if t[1] == v {
        1
    } else {
        2
    };
    t[(k + offset) % 3]
}

fn has_directed(t: &[u32; 3], from: u32, to: u32) -> bool {
    (t[0] == from && t[1] == to) || (t[1] == from && t[2] == to) || (t[2] == from && t[0] == to)
}

impl<'a> Simplifier<'a> {
    /// Err gives the triangles back when the input is not a closed, consistently wound
    /// 2-manifold with valid indices and finite positions.
    fn new(
        positions: &'a [[f32; 3]],
        tris: Vec<[u32; 3]>,
        max_error_mm: f32,
    ) -> Result<Simplifier<'a>, Vec<[u32; 3]>> {
        let n = positions.len();
        if n >= DEAD as usize / 2 || tris.is_empty() {
            return Err(tris);
        }
        if positions.iter().flatten().any(|c| !c.is_finite()) {
            return Err(tris);
        }
        for t in &tris {
            if t.iter().any(|&i| i as usize >= n) || t[0] == t[1] || t[1] == t[2] || t[0] == t[2] {
                return Err(tris);
            }
        }
        let max_error = if max_error_mm.is_finite() {
            max_error_mm.max(1e-6)
        } else {
            1e-6
        };
        let mut s = Simplifier {
            pos: positions,
            live: tris.len(),
            incident: Vec::with_capacity(tris.len() * 3),
            tris,
            quadrics: vec![Quadric::default(); n],
            error: vec![0.0; n],
            offsets: Vec::with_capacity(n + 1),
            features: vec![0; n],
            touched: vec![0; n],
            mark: vec![0; n],
            stamp: 0,
            fan_a: Vec::new(),
            fan_b: Vec::new(),
            link: Vec::new(),
            new_tris: Vec::new(),
            candidates: Vec::new(),
            max_error,
            pinned: [0; 6],
        };
        for axis in 0..3 {
            let (mut lo, mut hi) = (0, 0);
            for (i, p) in s.pos.iter().enumerate() {
                if p[axis] < s.pos[lo][axis] {
                    lo = i;
                }
                if p[axis] > s.pos[hi][axis] {
                    hi = i;
                }
            }
            s.pinned[2 * axis] = lo as u32;
            s.pinned[2 * axis + 1] = hi as u32;
        }
        s.build_incidence();
        if !s.is_closed_manifold() {
            return Err(s.tris);
        }
        for t in &s.tris {
            let p = t.map(|i| s.pos[i as usize]);
            let n = super::normalize(triangle_normal(p[0], p[1], p[2]));
            for &v in t {
                s.quadrics[v as usize].add_plane(n);
            }
        }
        Ok(s)
    }

    fn build_incidence(&mut self) {
        let n = self.pos.len();
        self.offsets.clear();
        self.offsets.resize(n + 1, 0);
        for t in &self.tris {
            if t[0] != DEAD {
                for &v in t {
                    self.offsets[v as usize + 1] += 1;
                }
            }
        }
        for i in 0..n {
            self.offsets[i + 1] += self.offsets[i];
        }
        self.incident.clear();
        self.incident.resize(self.live * 3, 0);
        // Fill from the back, decrementing the end offsets, then they are starts again.
        let mut ends: Vec<u32> = self.offsets[1..].to_vec();
        for (ti, t) in self.tris.iter().enumerate().rev() {
            if t[0] != DEAD {
                for &v in t {
                    let e = &mut ends[v as usize];
                    *e -= 1;
                    self.incident[*e as usize] = ti as u32;
                }
            }
        }
    }

    fn incident_of(&self, v: u32) -> &[u32] {
        &self.incident[self.offsets[v as usize] as usize..self.offsets[v as usize + 1] as usize]
    }

    /// Each vertex's triangles form one closed fan. Walking it checks, at every vertex v,
    /// that the edges v→w are all different, the edges p→v are all different, and each
    /// v→w has a w→v: together, over all vertices, every directed edge is used once and its
    /// reverse once (watertight, consistent) and every vertex is manifold.
    fn is_closed_manifold(&self) -> bool {
        // `slot[w]` = the triangle in which w comes just before v.
        let mut slot = vec![DEAD; self.pos.len()];
        for v in 0..self.pos.len() as u32 {
            let fan = self.incident_of(v);
            if fan.is_empty() {
                continue;
            }
            if fan.len() < 3 {
                return false;
            }
            for &t in fan {
                slot[step(&self.tris[t as usize], v, 2) as usize] = t;
            }
            let start = fan[0];
            let mut t = start;
            let mut steps = 0;
            loop {
                let w = step(&self.tris[t as usize], v, 1);
                let next = slot[w as usize];
                if next == DEAD || !has_directed(&self.tris[next as usize], w, v) {
                    return false;
                }
                steps += 1;
                t = next;
                if t == start || steps > fan.len() {
                    break;
                }
            }
            for &t in fan {
                slot[step(&self.tris[t as usize], v, 2) as usize] = DEAD;
            }
            if steps != fan.len() {
                return false;
            }
        }
        true
    }

    fn run(&mut self, target: usize) -> SimplifyStats {
        let mut stats = SimplifyStats {
            input_closed: true,
            ..SimplifyStats::default()
        };
        let eps2 = (self.max_error as f64) * (self.max_error as f64);
        let mut pass = 0;
        while self.live > target && pass < MAX_PASSES {
            pass += 1;
            if pass > 1 {
                self.build_incidence();
            }
            self.classify_edges();
            self.price_candidates(eps2);
            if self.candidates.is_empty() {
                break;
            }
            let need = (self.live - target).div_ceil(2);
            // Do not spend much more error than the cheapest `need` candidates would.
            let k = need.min(self.candidates.len()) - 1;
            let cap = self.candidates[k].cost * 4.0;
            let candidates = std::mem::take(&mut self.candidates);
            let mut done = 0;
            let mut tried_all = true;
            for c in &candidates {
                if done >= need || (done > 0 && c.cost > cap) {
                    tried_all = false;
                    break;
                }
                if self.try_collapse(c.a, c.b, pass) {
                    done += 1;
                }
            }
            self.candidates = candidates;
            stats.collapses += done;
            if done == 0 || (tried_all && 2 * done * LOW_YIELD < self.live) {
                break;
            }
        }
        stats.passes = pass;
        stats.max_error_mm = self.error.iter().copied().fold(0.0, f32::max);
        stats
    }

    /// Every edge once (as the directed edge u→v with u < v), feature flag from the angle
    /// between its two triangles; feature counts per vertex.
    fn classify_edges(&mut self) {
        self.features.fill(0);
        self.candidates.clear();
        for (ti, t) in self.tris.iter().enumerate() {
            if t[0] == DEAD {
                continue;
            }
            let p = t.map(|i| self.pos[i as usize]);
            let n1 = super::normalize(triangle_normal(p[0], p[1], p[2]));
            for k in 0..3 {
                let (u, v) = (t[k], t[(k + 1) % 3]);
                if u > v {
                    continue;
                }
                let partner = self
                    .incident_of(u)
                    .iter()
                    .copied()
                    .find(|&o| o as usize != ti && has_directed(&self.tris[o as usize], v, u));
                let feature = match partner {
                    Some(o) => {
                        let q = self.tris[o as usize].map(|i| self.pos[i as usize]);
                        let n2 = super::normalize(triangle_normal(q[0], q[1], q[2]));
                        dot(n1, n2) < FEATURE_COS
                    }
                    None => true,
                };
                if feature {
                    let f = &mut self.features[u as usize];
                    *f = f.saturating_add(1);
                    let f = &mut self.features[v as usize];
                    *f = f.saturating_add(1);
                }
                self.candidates.push(Candidate {
                    cost: 0.0,
                    a: u,
                    b: v | if feature { FEATURE_BIT } else { 0 },
                });
            }
        }
        for p in self.pinned {
            self.features[p as usize] = u8::MAX;
        }
    }

    /// Cheapest allowed direction of every edge, kept if within the error bound; sorted.
    fn price_candidates(&mut self, eps2: f64) {
        let mut candidates = std::mem::take(&mut self.candidates);
        candidates.retain_mut(|c| {
            let feature = c.b & FEATURE_BIT != 0;
            let (u, v) = (c.a, c.b & !FEATURE_BIT);
            let allowed = |x: u32| match self.features[x as usize] {
                0 => true,
                2 => feature,
                _ => false,
            };
            let mut best = (f64::INFINITY, u, v);
            if allowed(u) {
                best = (self.cost(u, v), u, v);
            }
            if allowed(v) {
                let cost = self.cost(v, u);
                if cost < best.0 {
                    best = (cost, v, u);
                }
            }
            if best.0 <= eps2 {
                *c = Candidate {
                    cost: best.0.max(0.0) as f32,
                    a: best.1,
                    b: best.2,
                };
                true
            } else {
                false
            }
        });
        // Non-negative floats sort like their bits. Costs within 1/8 of an octave count as
        // equal and go in vertex order (for a heightfield, that of space), which keeps the
        // collapses cache-friendly on large flat or evenly curved areas; unstable sort: no
        // extra buffer.
        candidates.sort_unstable_by_key(|c| ((c.cost.to_bits() >> 20) as u64) << 32 | c.a as u64);
        self.candidates = candidates;
    }

    fn delta(&self, from: u32, to: u32) -> [f64; 3] {
        let (p, q) = (self.pos[from as usize], self.pos[to as usize]);
        [
            q[0] as f64 - p[0] as f64,
            q[1] as f64 - p[1] as f64,
            q[2] as f64 - p[2] as f64,
        ]
    }

    /// Squared-distance error of moving `a` onto `b`: both quadrics at b's position.
    fn cost(&self, a: u32, b: u32) -> f64 {
        self.quadrics[a as usize].at(self.delta(a, b)) + self.quadrics[b as usize].c as f64
    }

    fn try_collapse(&mut self, a: u32, b: u32, pass: u32) -> bool {
        if self.touched[a as usize] == pass || self.touched[b as usize] == pass {
            return false;
        }
        let mut fan_a = std::mem::take(&mut self.fan_a);
        let mut fan_b = std::mem::take(&mut self.fan_b);
        fan_a.clear();
        fan_b.clear();
        for (v, fan) in [(a, &mut fan_a), (b, &mut fan_b)] {
            for &t in self.incident_of(v) {
                if self.tris[t as usize][0] != DEAD {
                    fan.push(t);
                }
            }
        }
        let ok = self.collapse_if_valid(a, b, &fan_a, &fan_b, pass);
        self.fan_a = fan_a;
        self.fan_b = fan_b;
        ok
    }

    fn collapse_if_valid(
        &mut self,
        a: u32,
        b: u32,
        fan_a: &[u32],
        fan_b: &[u32],
        pass: u32,
    ) -> bool {
        if fan_a.len() + fan_b.len() > MAX_VALENCE + 4 {
            return false;
        }
        // Link condition.
        self.stamp = self.stamp.wrapping_add(2);
        if self.stamp < 2 {
            self.mark.fill(0);
            self.stamp = 2;
        }
        let s = self.stamp;
        let mut opposite = [DEAD; 2];
        let mut shared = 0;
        self.link.clear();
        for &t in fan_a {
            let tri = self.tris[t as usize];
            for &x in &tri {
                if x != a && self.mark[x as usize] != s {
                    self.mark[x as usize] = s;
                    self.link.push(x);
                }
            }
            if tri.contains(&b) {
                if shared == 2 {
                    return false;
                }
                opposite[shared] = tri[0] ^ tri[1] ^ tri[2] ^ a ^ b;
                shared += 1;
            }
        }
        if shared != 2 || opposite[0] == opposite[1] {
            return false;
        }
        let mut common = 0;
        for &t in fan_b {
            for &y in &self.tris[t as usize] {
                if y != b && y != a && self.mark[y as usize] == s {
                    self.mark[y as usize] = s + 1;
                    common += 1;
                }
            }
        }
        if common != 2 {
            return false;
        }
        let [c, d] = opposite;
        let has_cd = |fan: &[u32], other: u32| {
            fan.iter().any(|&t| {
                let tri = &self.tris[t as usize];
                tri.contains(&c) && tri.contains(&d) && !tri.contains(&other)
            })
        };
        if has_cd(fan_a, b) && has_cd(fan_b, a) {
            return false;
        }

        // Geometry of the new fan around b where a was.
        let (pa, pb) = (self.pos[a as usize], self.pos[b as usize]);
        self.new_tris.clear();
        for &t in fan_a {
            let tri = self.tris[t as usize];
            if tri.contains(&b) {
                continue;
            }
            let old = tri.map(|i| self.pos[i as usize]);
            let n_old = triangle_normal(old[0], old[1], old[2]);
            let new = tri.map(|i| if i == a { pb } else { self.pos[i as usize] });
            let n_new = triangle_normal(new[0], new[1], new[2]);
            let longest = [
                sub(new[1], new[0]),
                sub(new[2], new[1]),
                sub(new[0], new[2]),
            ]
            .iter()
            .map(|e| dot(*e, *e))
            .fold(0.0f32, f32::max);
            let twice_area = dot(n_new, n_new).sqrt();
            let well_shaped = longest > 0.0 && twice_area >= MIN_QUALITY * longest;
            if !well_shaped {
                return false;
            }
            if dot(n_old, n_new) < FLIP_COS * dot(n_old, n_old).sqrt() * twice_area {
                return false;
            }
            self.new_tris.push(new);
        }
        // How far the surface moves: from the old star of a (its vertex and the midpoints of
        // its edges) to the new fan; zero when the star is flat to rounding (every neighbour
        // within 1e-6 of its distance from a off the plane of one of a's triangles): then the
        // new fan covers the same piece of plane.
        let plane = {
            let t = self.tris[fan_a[0] as usize].map(|i| self.pos[i as usize]);
            super::normalize(triangle_normal(t[0], t[1], t[2]))
        };
        let flat = self.link.iter().all(|&x| {
            let e = sub(self.pos[x as usize], pa);
            dot(plane, e).abs() <= 1e-6 * dot(e, e).sqrt()
        });
        let mut moved = 0.0f32;
        if !flat {
            let nearest = |p: [f32; 3]| {
                let mut best = f32::INFINITY;
                for t in &self.new_tris {
                    best = best.min(point_triangle_distance(p, *t));
                }
                best
            };
            moved = nearest(pa);
            for &x in &self.link {
                if moved > self.max_error {
                    return false;
                }
                let px = self.pos[x as usize];
                let mid = [
                    0.5 * (pa[0] + px[0]),
                    0.5 * (pa[1] + px[1]),
                    0.5 * (pa[2] + px[2]),
                ];
                moved = moved.max(nearest(mid));
            }
        }
        // Every vertex around the change may have original points near the moved part.
        let error = self.error[b as usize].max(self.error[a as usize]) + moved;
        let mut within = error <= self.max_error;
        if moved > 0.0 {
            for &x in &self.link {
                within &= self.error[x as usize] + moved <= self.max_error;
            }
        }
        if !within {
            return false;
        }

        // Commit.
        for &t in fan_a {
            let tri = &mut self.tris[t as usize];
            if tri.contains(&b) {
                *tri = [DEAD; 3];
                self.live -= 1;
            } else {
                for x in tri.iter_mut() {
                    if *x == a {
                        *x = b;
                    }
                }
            }
        }
        let qa = self.quadrics[a as usize];
        let d = self.delta(a, b);
        self.quadrics[b as usize].absorb(&qa, d);
        if moved > 0.0 {
            for &x in &self.link {
                self.error[x as usize] += moved;
            }
        }
        self.error[b as usize] = error;
        self.touched[a as usize] = pass;
        self.touched[b as usize] = pass;
        true
    }

    /// The live triangles over the used vertices (in their original order), with their UVs.
    /// The mesh and its arrays are dropped first, so only the output is allocated here.
    fn finish(self, positions: &[[f32; 3]], uvs: Option<&[[f32; 2]]>) -> Mesh {
        let mut tris = {
            let all = self;
            all.tris
        };
        tris.retain(|t| t[0] != DEAD);
        let mut remap = vec![DEAD; positions.len()];
        for t in &tris {
            for &v in t {
                remap[v as usize] = 0;
            }
        }
        let mut out_positions = Vec::new();
        let mut out_uvs = uvs.map(|_| Vec::new());
        for (i, r) in remap.iter_mut().enumerate() {
            if *r != DEAD {
                *r = out_positions.len() as u32;
                out_positions.push(positions[i]);
                if let (Some(out), Some(src)) = (&mut out_uvs, uvs) {
                    out.push(src[i]);
                }
            }
        }
        for t in &mut tris {
            *t = t.map(|v| remap[v as usize]);
        }
        tris.shrink_to_fit();
        Mesh {
            positions: out_positions,
            triangles: tris,
            uvs: out_uvs,
        }
    }
}

/// Distance from `p` to the triangle `t` (closest point by Voronoi regions, Ericson's
/// "Real-Time Collision Detection" §5.1.5), in f64 relative to `p` so needles stay exact.
fn point_triangle_distance(p: [f32; 3], t: [[f32; 3]; 3]) -> f32 {
    type V = [f64; 3];
    let rel = |q: [f32; 3]| -> V {
        [
            q[0] as f64 - p[0] as f64,
            q[1] as f64 - p[1] as f64,
            q[2] as f64 - p[2] as f64,
        ]
    };
    let d = |u: V, v: V| u[0] * v[0] + u[1] * v[1] + u[2] * v[2];
    let s = |u: V, v: V| -> V { [u[0] - v[0], u[1] - v[1], u[2] - v[2]] };
    let len = |v: V| d(v, v).sqrt() as f32;
    let along = |o: V, e: V, k: f64| -> V { [o[0] + k * e[0], o[1] + k * e[1], o[2] + k * e[2]] };
    let (a, b, c) = (rel(t[0]), rel(t[1]), rel(t[2]));
    let (ab, ac) = (s(b, a), s(c, a));
    let ap = [-a[0], -a[1], -a[2]];
    let (d1, d2) = (d(ab, ap), d(ac, ap));
    if d1 <= 0.0 && d2 <= 0.0 {
        return len(a);
    }
    let bp = [-b[0], -b[1], -b[2]];
    let (d3, d4) = (d(ab, bp), d(ac, bp));
    if d3 >= 0.0 && d4 <= d3 {
        return len(b);
    }
    let vc = d1 * d4 - d3 * d2;
    if vc <= 0.0 && d1 >= 0.0 && d3 <= 0.0 {
        return len(along(a, ab, d1 / (d1 - d3)));
    }
    let cp = [-c[0], -c[1], -c[2]];
    let (d5, d6) = (d(ab, cp), d(ac, cp));
    if d6 >= 0.0 && d5 <= d6 {
        return len(c);
    }
    let vb = d5 * d2 - d1 * d6;
    if vb <= 0.0 && d2 >= 0.0 && d6 <= 0.0 {
        return len(along(a, ac, d2 / (d2 - d6)));
    }
    let va = d3 * d6 - d5 * d4;
    if va <= 0.0 && (d4 - d3) >= 0.0 && (d5 - d6) >= 0.0 {
        let w = (d4 - d3) / ((d4 - d3) + (d5 - d6));
        return len(along(b, s(c, b), w));
    }
    let denom = 1.0 / (va + vb + vc);
    let (v, w) = (vb * denom, vc * denom);
    len(along(along(a, ab, v), ac, w))
}

#[cfg(test)]
mod tests {
    use super::super::check::{facts, tests::cube};
    use super::super::heightfield::tests::{
        any_image, any_lithophane, any_relief, relief_settings,
    };
    use super::super::heightfield::{Gray, lithophane, relief};
    use super::*;
    use proptest::prelude::*;

    fn bump(n: u32) -> Gray {
        let c = (n - 1) as f32 / 2.0;
        let px = (0..n * n)
            .map(|i| {
                let (x, y) = ((i % n) as f32 - c, (i / n) as f32 - c);
                (-(x * x + y * y) / (0.1 * (n * n) as f32)).exp()
            })
            .collect();
        Gray::new(n, n, px).unwrap()
    }

    /// Largest distance from a vertex of `original` to the surface of `simplified`.
    fn one_sided_distance(original: &Mesh, simplified: &Mesh) -> f32 {
        original
            .positions
            .iter()
            .map(|&p| {
                simplified
                    .triangles
                    .iter()
                    .map(|t| {
                        point_triangle_distance(p, t.map(|i| simplified.positions[i as usize]))
                    })
                    .fold(f32::INFINITY, f32::min)
            })
            .fold(0.0, f32::max)
    }

    #[test]
    fn distance_to_triangle() {
        let t = [[0.0, 0.0, 0.0], [2.0, 0.0, 0.0], [0.0, 2.0, 0.0]];
        assert_eq!(point_triangle_distance([0.5, 0.5, 3.0], t), 3.0);
        assert_eq!(point_triangle_distance([-3.0, 0.0, 4.0], t), 5.0);
        assert!((point_triangle_distance([2.0, 2.0, 0.0], t) - 2f32.sqrt()).abs() < 1e-6);
        assert_eq!(point_triangle_distance([1.0, -1.0, 0.0], t), 1.0);
    }

    #[test]
    fn flat_relief_collapses_to_a_box() {
        let img = Gray::new(40, 30, vec![0.5; 1200]).unwrap();
        let mesh = relief(&img, &relief_settings(40)).unwrap();
        let before = facts(&mesh);
        let (out, stats) = simplify_with_stats(&mesh, 0, 0.01);
        let after = facts(&out);
        assert!(after.is_closed_solid(), "{after:?}");
        assert!(
            out.triangles.len() <= 40,
            "{} triangles, {stats:?}",
            out.triangles.len()
        );
        assert_eq!(after.bounding_box_mm, before.bounding_box_mm);
        assert!((after.volume_mm3 - before.volume_mm3).abs() < 1e-6 * before.volume_mm3);
        assert_eq!(out.uvs.as_ref().unwrap().len(), out.positions.len());
        // Same result when the mesh is handed over.
        let (owned, owned_stats) = simplify_owned(mesh, 0, 0.01);
        assert_eq!((owned, owned_stats), (out, stats));
    }

    #[test]
    fn a_cube_stays_a_cube_and_broken_input_is_returned_as_is() {
        let c = cube([0.0; 3], 10.0);
        assert_eq!(simplify(&c, 0, 1.0), c);
        let mut open = c.clone();
        open.triangles.pop();
        let (out, stats) = simplify_with_stats(&open, 0, 1.0);
        assert_eq!(out, open);
        assert!(!stats.input_closed);
        let mut flipped = c.clone();
        flipped.triangles[0].swap(0, 1);
        assert_eq!(simplify(&flipped, 0, 1.0), flipped);
    }

    #[test]
    fn error_bound_holds_on_a_smooth_bump() {
        let img = bump(48);
        let mut s = relief_settings(48);
        s.width_mm = 48.0;
        s.max_height_mm = 8.0;
        let mesh = relief(&img, &s).unwrap();
        for eps in [0.02f32, 0.1, 0.5] {
            let (out, stats) = simplify_with_stats(&mesh, 0, eps);
            let f = facts(&out);
            assert!(f.is_closed_solid(), "{f:?}");
            let d = one_sided_distance(&mesh, &out);
            assert!(
                d <= eps * 1.0001,
                "eps {eps}: measured {d}, {} → {} triangles, {stats:?}",
                mesh.triangles.len(),
                out.triangles.len()
            );
            if eps >= 0.1 {
                assert!(
                    out.triangles.len() < mesh.triangles.len() / 2,
                    "eps {eps}: {}",
                    out.triangles.len()
                );
            }
        }
    }

    #[test]
    fn error_zero_only_merges_flat_regions() {
        let img = bump(32);
        let mesh = relief(&img, &relief_settings(32)).unwrap();
        let out = simplify(&mesh, 0, 0.0);
        assert!(facts(&out).is_closed_solid());
        let d = one_sided_distance(&mesh, &out);
        assert!(d < 1e-4, "{d} {}", out.triangles.len());
        assert!(out.triangles.len() < mesh.triangles.len());
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn simplified_reliefs_stay_closed(img in any_image(), s in any_relief(),
                target in 0usize..4000, eps in 0.0f32..2.0) {
            let mesh = relief(&img, &s).unwrap();
            check_simplified(&mesh, target, eps)?;
        }

        #[test]
        fn simplified_lithophanes_stay_closed(img in any_image(), s in any_lithophane(),
                target in 0usize..4000, eps in 0.0f32..2.0) {
            let mesh = lithophane(&img, &s).unwrap();
            check_simplified(&mesh, target, eps)?;
        }
    }

    fn check_simplified(mesh: &Mesh, target: usize, eps: f32) -> Result<(), TestCaseError> {
        let before = facts(mesh);
        let out = simplify(mesh, target, eps);
        let after = facts(&out);
        prop_assert!(after.is_closed_solid(), "{:?}", after);
        prop_assert!(out.triangles.len() <= mesh.triangles.len());
        let (b, a) = (before.bounding_box_mm, after.bounding_box_mm);
        for k in 0..2 {
            prop_assert!(
                (b[0][k] - a[0][k]).abs() <= 0.01 && (b[1][k] - a[1][k]).abs() <= 0.01,
                "bbox {:?} → {:?}",
                b,
                a
            );
        }
        prop_assert_eq!(out.uvs.as_ref().map(Vec::len), Some(out.positions.len()));
        // The error bound, measured from every original vertex (brute force: small meshes).
        if mesh.triangles.len() <= 1500 {
            let d = one_sided_distance(mesh, &out);
            prop_assert!(d <= eps.max(1e-6) * 1.0001 + 1e-5, "moved {} > {}", d, eps);
        }
        Ok(())
    }
}
