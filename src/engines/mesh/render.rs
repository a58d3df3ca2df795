//! A small software rasterizer that pictures a mesh for thumbnails: a three-quarter view
//! from above the front, perspective, z-buffered, smooth-shaded with a key and a fill
//! light, optionally textured, 2× supersampled, on a transparent background. Runs on the
//! CPU with no graphics stack, so the server can picture every 3D asset.

use image::{Rgba, RgbaImage, imageops};

use super::{Mesh, cross, dot, normalize, sub};

/// Colour of an untextured model: a warm light grey, like a matte print.
const BASE_COLOR: [f32; 3] = [0.80, 0.78, 0.75];
/// Vertical field of view of the camera.
const FOV_DEGREES: f32 = 30.0;
/// Camera direction: degrees around the model from the front (−y) and above the ground.
const AZIMUTH_DEGREES: f32 = -35.0;
const ELEVATION_DEGREES: f32 = 35.0;
/// Part of the picture left free around the model.
const MARGIN: f32 = 0.06;
const SUPERSAMPLE: u32 = 2;
/// Pixel tests one picture may take (about a second of one core). A file made to be slow
/// to picture (e.g. a million copies of one large triangle) stops there: its thumbnail
/// shows what was drawn by then.
const MAX_PIXEL_TESTS: u64 = 200_000_000;

/// How a mesh is pictured.
pub struct View<'a> {
    /// Side of the square picture in pixels.
    pub size: u32,
    /// Base-colour texture, sampled at the mesh's UVs (glTF convention: (0, 0) top left).
    pub texture: Option<&'a image::RgbImage>,
}

/// Where the camera is and how it projects.
struct Camera {
    eye: [f32; 3],
    right: [f32; 3],
    up: [f32; 3],
    forward: [f32; 3],
    /// Pixels per unit of `x / depth` at the picture's centre.
    focal_px: f32,
    centre_px: f32,
}

impl Camera {
    /// A camera that fits the mesh's bounding sphere in a `size`-pixel square.
    fn framing(mesh: &Mesh, size: u32) -> Camera {
        let [min, max] = mesh.bounds();
        let centre = [
            (min[0] + max[0]) / 2.0,
            (min[1] + max[1]) / 2.0,
            (min[2] + max[2]) / 2.0,
        ];
        let radius = (dot(sub(max, min), sub(max, min)).sqrt() / 2.0).max(1e-3);
        let (azimuth, elevation) = (AZIMUTH_DEGREES.to_radians(), ELEVATION_DEGREES.to_radians());
        // From the centre towards the eye: front is −y, up is +z.
        let back = [
            elevation.cos() * azimuth.sin(),
            -elevation.cos() * azimuth.cos(),
            elevation.sin(),
        ];
        let half_fov = (FOV_DEGREES / 2.0).to_radians();
        let distance = radius / (half_fov.sin() * (1.0 - 2.0 * MARGIN));
        let eye = [
            centre[0] + back[0] * distance,
            centre[1] + back[1] * distance,
            centre[2] + back[2] * distance,
        ];
        let forward = normalize(sub(centre, eye));
        let right = normalize(cross(forward, [0.0, 0.0, 1.0]));
        let up = cross(right, forward);
        Camera {
            eye,
            right,
            up,
            forward,
            focal_px: size as f32 / 2.0 / half_fov.tan(),
            centre_px: size as f32 / 2.0,
        }
    }

    /// Screen position (pixels, y down) and depth of a point.
    fn project(&self, p: [f32; 3]) -> [f32; 3] {
        let v = sub(p, self.eye);
        let depth = dot(v, self.forward).max(1e-6);
        [
            self.centre_px + dot(v, self.right) / depth * self.focal_px,
            self.centre_px - dot(v, self.up) / depth * self.focal_px,
            depth,
        ]
    }
}

/// Light directions (towards the light) and strengths, in world space.
struct Lights {
    key: [f32; 3],
    fill: [f32; 3],
}

fn shade(normal: [f32; 3], to_eye: [f32; 3], lights: &Lights, color: [f32; 3]) -> [f32; 3] {
    // Two-sided: a triangle seen from behind is lit as if it faced the camera, so open
    // or inconsistently wound uploads still read well.
    let n = if dot(normal, to_eye) < 0.0 {
        normal.map(|c| -c)
    } else {
        normal
    };
    let key = dot(n, lights.key).max(0.0);
    let fill = dot(n, lights.fill).max(0.0);
    let half = normalize([
        lights.key[0] + to_eye[0],
        lights.key[1] + to_eye[1],
        lights.key[2] + to_eye[2],
    ]);
    let specular = 0.18 * dot(n, half).max(0.0).powi(32);
    let light = 0.32 + 0.62 * key + 0.22 * fill;
    color.map(|c| (c * light + specular).clamp(0.0, 1.0))
}

fn sample(texture: &image::RgbImage, uv: [f32; 2]) -> [f32; 3] {
    let (w, h) = texture.dimensions();
    let x = (uv[0].clamp(0.0, 1.0) * (w - 1) as f32).round() as u32;
    let y = (uv[1].clamp(0.0, 1.0) * (h - 1) as f32).round() as u32;
    texture.get_pixel(x, y).0.map(|c| f32::from(c) / 255.0)
}

/// Pictures `mesh` as a square RGBA image (transparent where there is no model).
pub fn render(mesh: &Mesh, view: &View<'_>) -> RgbaImage {
    let size = view.size.max(1);
    let big = size * SUPERSAMPLE;
    let mut canvas = RgbaImage::new(big, big);
    if mesh.triangles.is_empty() {
        return RgbaImage::new(size, size);
    }
    let camera = Camera::framing(mesh, big);
    let screen: Vec<[f32; 3]> = mesh.positions.iter().map(|&p| camera.project(p)).collect();
    let normals = mesh.vertex_normals();
    let lights = Lights {
        key: normalize([-0.45, -0.55, 0.70]),
        fill: normalize([0.70, 0.35, 0.25]),
    };
    let mut depth_buffer = vec![f32::INFINITY; (big * big) as usize];
    let uvs = view.texture.and(mesh.uvs.as_ref());
    let mut pixel_tests = 0u64;
    for triangle in &mesh.triangles {
        let [a, b, c] = triangle.map(|i| i as usize);
        if a.max(b).max(c) >= screen.len() {
            continue;
        }
        let (pa, pb, pc) = (screen[a], screen[b], screen[c]);
        let area = (pb[0] - pa[0]) * (pc[1] - pa[1]) - (pb[1] - pa[1]) * (pc[0] - pa[0]);
        if area.abs() < 1e-12 || !area.is_finite() {
            continue;
        }
        let x0 = pa[0].min(pb[0]).min(pc[0]).floor().max(0.0) as u32;
        let y0 = pa[1].min(pb[1]).min(pc[1]).floor().max(0.0) as u32;
        let x1 = (pa[0].max(pb[0]).max(pc[0]).ceil() as i64).min(i64::from(big) - 1);
        let y1 = (pa[1].max(pb[1]).max(pc[1]).ceil() as i64).min(i64::from(big) - 1);
        if x1 < 0 || y1 < 0 {
            continue;
        }
        pixel_tests += (x1 as u64 + 1).saturating_sub(u64::from(x0))
            * (y1 as u64 + 1).saturating_sub(u64::from(y0));
        if pixel_tests > MAX_PIXEL_TESTS {
            break;
        }
        for y in y0..=y1 as u32 {
            for x in x0..=x1 as u32 {
                let (px, py) = (x as f32 + 0.5, y as f32 + 0.5);
                let edge = |p: [f32; 3], q: [f32; 3]| {
                    ((q[0] - p[0]) * (py - p[1]) - (q[1] - p[1]) * (px - p[0])) / area
                };
                let (wa, wb, wc) = (edge(pb, pc), edge(pc, pa), edge(pa, pb));
                if wa < 0.0 || wb < 0.0 || wc < 0.0 {
                    continue;
                }
                let depth = wa * pa[2] + wb * pb[2] + wc * pc[2];
                let at = (y * big + x) as usize;
                if depth >= depth_buffer[at] {
                    continue;
                }
                depth_buffer[at] = depth;
                let blend = |v: [[f32; 3]; 3]| -> [f32; 3] {
                    std::array::from_fn(|k| wa * v[0][k] + wb * v[1][k] + wc * v[2][k])
                };
                let normal = normalize(blend([normals[a], normals[b], normals[c]]));
                let world = blend([mesh.positions[a], mesh.positions[b], mesh.positions[c]]);
                let to_eye = normalize(sub(camera.eye, world));
                let color = match (view.texture, uvs) {
                    (Some(texture), Some(uvs)) => {
                        let uv = [uvs[a], uvs[b], uvs[c]];
                        sample(
                            texture,
                            [
                                wa * uv[0][0] + wb * uv[1][0] + wc * uv[2][0],
                                wa * uv[0][1] + wb * uv[1][1] + wc * uv[2][1],
                            ],
                        )
                    }
                    _ => BASE_COLOR,
                };
                let lit = shade(normal, to_eye, &lights, color);
                canvas.put_pixel(
                    x,
                    y,
                    Rgba([
                        (lit[0] * 255.0).round() as u8,
                        (lit[1] * 255.0).round() as u8,
                        (lit[2] * 255.0).round() as u8,
                        255,
                    ]),
                );
            }
        }
    }
    imageops::resize(&canvas, size, size, imageops::FilterType::Triangle)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engines::mesh::check::tests::cube;

    #[test]
    fn a_cube_fills_the_middle_and_leaves_the_corners_clear() {
        let picture = render(
            &cube([0.0; 3], 10.0),
            &View {
                size: 64,
                texture: None,
            },
        );
        assert_eq!(picture.dimensions(), (64, 64));
        assert_eq!(
            picture.get_pixel(32, 32)[3],
            255,
            "the centre shows the cube"
        );
        assert_eq!(picture.get_pixel(0, 0)[3], 0, "the corner is background");
        // Top, front and side faces get different light, so the picture has shading.
        let mut shades: Vec<u8> = picture
            .pixels()
            .filter(|p| p[3] == 255)
            .map(|p| p[0])
            .collect();
        shades.sort_unstable();
        shades.dedup();
        assert!(shades.len() >= 3, "{shades:?}");
    }

    #[test]
    fn an_empty_mesh_gives_an_empty_picture() {
        let picture = render(
            &Mesh::default(),
            &View {
                size: 8,
                texture: None,
            },
        );
        assert!(picture.pixels().all(|p| p[3] == 0));
    }
}
