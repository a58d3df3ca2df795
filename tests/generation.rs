//! Image generation through the HTTP API with the tiny test model on the real ONNX
//! Runtime: progress by Server-Sent Events, results in the library with their
//! parameters (also in the PNG's `parameters` chunk), byte-identical repeats, credits
//! reserved/settled/refunded, cancellation, a restart during a queue, a damaged model,
//! idempotency and validation.

mod support;

use std::path::Path;
use std::time::Duration;

use futures_util::StreamExt;
use reqwest::StatusCode;
use serde_json::{Value, json};
use support::mesh_files::{save_all_formats, validate_meshes};
use support::{Api, Server, problem, server_with_model, tiny_model};

async fn generate(api: &Api, body: Value) -> reqwest::Response {
    api.post("/api/v1/generations", body).await
}

/// Queues a generation, follows it to success and returns its first image's asset id.
async fn first_image(api: &Api, body: Value) -> String {
    let job: Value = generate(api, body).await.json().await.unwrap();
    let events = api.follow(job["id"].as_str().unwrap()).await;
    let (name, done) = events.last().unwrap();
    assert_eq!(name, "succeeded", "{done}");
    done["images"][0]["asset_id"].as_str().unwrap().to_string()
}

async fn wait_for_status(api: &Api, id: &str, wanted: &str) -> Value {
    for _ in 0..1200 {
        let job = api.json(&format!("/api/v1/generations/{id}")).await;
        if job["status"] == wanted {
            return job;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("job {id} never became {wanted}");
}

async fn balance(api: &Api) -> i64 {
    api.json("/api/v1/me/credits").await["balance"]
        .as_i64()
        .unwrap()
}

/// The text of the PNG's `parameters` chunk.
fn png_parameters(bytes: &[u8]) -> String {
    let reader = png::Decoder::new(std::io::Cursor::new(bytes))
        .read_info()
        .unwrap();
    let info = reader.info();
    info.uncompressed_latin1_text
        .iter()
        .find(|t| t.keyword == "parameters")
        .map(|t| t.text.clone())
        .expect("a tEXt chunk named parameters")
}

/// The JSON answer of the OpenAI-compatible endpoint.
async fn openai_images(client: &Api, body: Value) -> Value {
    client
        .post("/v1/images/generations", body)
        .await
        .json()
        .await
        .unwrap()
}

/// The `parameters` chunk of an asset's PNG, fetched as its owner.
async fn asset_parameters(api: &Api, asset: &Value) -> String {
    let png = api
        .get(asset["url"].as_str().unwrap())
        .await
        .bytes()
        .await
        .unwrap();
    png_parameters(&png)
}

#[tokio::test]
async fn generate_follow_progress_and_find_the_results_with_their_parameters() {
    let (server, _admin) = server_with_model(&[]).await;
    let ann = server.verified_user("ann").await;
    let models = ann.json("/api/v1/models").await;
    assert_eq!(models["available"], json!(true), "{models}");
    assert_eq!(models["models"][0]["id"], "tiny-sd-test");
    let before = balance(&ann).await;

    let created = generate(
        &ann,
        json!({"prompt": "a red cube on a wooden table", "negative_prompt": "blurry",
               "width": 64, "height": 64, "steps": 6, "seed": 42, "count": 2, "scheduler": "euler_a"}),
    )
    .await;
    assert_eq!(created.status(), StatusCode::ACCEPTED);
    let job: Value = created.json().await.unwrap();
    let id = job["id"].as_str().unwrap().to_string();
    assert_eq!(job["params"]["seed"], 42);
    assert_eq!(job["cost"], 2);
    assert_eq!(balance(&ann).await, before - 2, "reserved when queued");

    let events = &ann.follow(&id).await;
    let progress: Vec<&Value> = events
        .iter()
        .filter(|(name, _)| name == "running")
        .filter_map(|(_, g)| g.get("progress").filter(|p| !p.is_null()))
        .collect();
    assert!(!progress.is_empty(), "progress events: {events:?}");
    assert!(progress.iter().all(|p| p["steps"] == 6 && p["count"] == 2));
    let (last, done) = events.last().unwrap();
    assert_eq!(last, "succeeded", "{done}");
    assert_eq!(balance(&ann).await, before - 2, "settled on success");

    let images = done["images"].as_array().unwrap();
    assert_eq!(images.len(), 2);
    assert_eq!(images[0]["seed"], 42);
    assert_eq!(images[1]["seed"], 43);
    let asset = ann
        .json(&format!(
            "/api/v1/assets/{}",
            images[0]["asset_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(asset["source"], "generated");
    assert_eq!(asset["params"]["prompt"], "a red cube on a wooden table");
    assert_eq!(asset["params"]["seed"], 42);
    assert_eq!(asset["params"]["scheduler"], "euler_a");
    assert_eq!(
        (asset["width"].as_i64(), asset["height"].as_i64()),
        (Some(64), Some(64))
    );
    let library = ann.json("/api/v1/assets?q=red%20cube").await;
    assert_eq!(library["items"].as_array().unwrap().len(), 2);

    let parameters = asset_parameters(&ann, &asset).await;
    assert!(
        parameters.starts_with("a red cube on a wooden table\nNegative prompt: blurry\nSteps: 6, Sampler: Euler a, CFG scale: 7.5, Seed: 42, Size: 64x64, Model hash: "),
        "{parameters}"
    );
    assert!(parameters.contains("Model: tiny-sd-test"), "{parameters}");
}

#[tokio::test]
async fn the_same_settings_and_seed_give_the_same_bytes() {
    let (server, _admin) = server_with_model(&[]).await;
    let ann = server.verified_user("ann").await;
    let with_seed = |seed: u64| {
        json!({"prompt": "lighthouse at dusk", "width": 64, "height": 64, "steps": 4,
               "seed": seed, "scheduler": "dpmpp_2m_karras"})
    };
    let mut hashes = Vec::new();
    for seed in [7, 7, 8] {
        let asset_id = first_image(&ann, with_seed(seed)).await;
        hashes.push(ann.json(&format!("/api/v1/assets/{asset_id}")).await["sha256"].clone());
    }
    assert_eq!(hashes[0], hashes[1], "byte-identical PNGs");
    assert_ne!(hashes[0], hashes[2], "another seed, another image");
}

#[tokio::test]
async fn cancelling_refunds_and_stops_within_a_step() {
    let (server, _admin) = server_with_model(&[]).await;
    let ann = server.verified_user("ann").await;
    let before = balance(&ann).await;
    let long =
        json!({"prompt": "a long one", "width": 256, "height": 256, "steps": 150, "count": 4});
    let running: Value = generate(&ann, long.clone()).await.json().await.unwrap();
    let queued: Value = generate(&ann, long).await.json().await.unwrap();
    let running_id = running["id"].as_str().unwrap();
    let queued_id = queued["id"].as_str().unwrap();
    assert_eq!(balance(&ann).await, before - 8);

    wait_for_status(&ann, running_id, "running").await;
    let waiting = ann.json(&format!("/api/v1/generations/{queued_id}")).await;
    assert_eq!(waiting["status"], "queued");
    assert_eq!(waiting["position"], 1);

    let cancelled = ann
        .delete(&format!("/api/v1/generations/{queued_id}"))
        .await;
    assert_eq!(cancelled.status(), StatusCode::ACCEPTED);
    let cancelled: Value = cancelled.json().await.unwrap();
    assert_eq!(
        cancelled["status"], "cancelled",
        "a queued job ends at once"
    );

    ann.delete(&format!("/api/v1/generations/{running_id}"))
        .await;
    let stopped = wait_for_status(&ann, running_id, "cancelled").await;
    assert!(stopped["images"].as_array().unwrap().is_empty());
    assert_eq!(balance(&ann).await, before, "both reservations refunded");
    let entries = ann.json("/api/v1/me/credits").await["entries"].clone();
    let refunds = entries
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "refund")
        .count();
    assert_eq!(refunds, 2);
    // Another user cannot see or cancel it.
    let bob = server.verified_user("bob").await;
    assert_eq!(
        bob.get(&format!("/api/v1/generations/{running_id}"))
            .await
            .status(),
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn a_restart_puts_interrupted_and_queued_jobs_back_to_work() {
    let (mut server, _admin) = server_with_model(&[]).await;
    let ann = server.verified_user("ann").await;
    let mut ids = Vec::new();
    for seed in 0..3 {
        let job: Value = generate(
            &ann,
            json!({"prompt": "queue me", "width": 128, "height": 128, "steps": 40, "seed": seed}),
        )
        .await
        .json()
        .await
        .unwrap();
        ids.push(job["id"].as_str().unwrap().to_string());
    }
    wait_for_status(&ann, &ids[0], "running").await;
    server.restart().await;
    let ann = server.login("ann", support::PASSWORD).await;
    for id in &ids {
        let done = wait_for_status(&ann, id, "succeeded").await;
        assert_eq!(done["images"].as_array().unwrap().len(), 1);
    }
}

#[tokio::test]
async fn a_damaged_model_fails_the_job_clearly_and_refunds() {
    let (server, admin) = server_with_model(&[]).await;
    let weights = server
        .data_dir()
        .join("models/tiny-sd-test/unet/model.onnx");
    std::fs::write(&weights, b"not an onnx graph").unwrap();
    let ann = server.verified_user("ann").await;
    let before = balance(&ann).await;
    let job: Value = generate(&ann, json!({"prompt": "x", "width": 64, "height": 64}))
        .await
        .json()
        .await
        .unwrap();
    let events = &ann.follow(job["id"].as_str().unwrap()).await;
    let (name, failed) = events.last().unwrap();
    assert_eq!(name, "failed");
    let error = failed["error"].as_str().unwrap();
    assert!(
        error.contains("tiny-sd-test") && error.contains("unet"),
        "{error}"
    );
    assert_eq!(balance(&ann).await, before, "refunded");
    // The admin's verification finds the damaged file; the model leaves the offer.
    let verified: Value = admin
        .post("/api/v1/admin/models/tiny-sd-test/verify", json!({}))
        .await
        .json()
        .await
        .unwrap();
    assert!(
        verified["verify_error"]
            .as_str()
            .unwrap()
            .contains("unet/model.onnx"),
        "{verified}"
    );
    let models = ann.json("/api/v1/models").await;
    assert_eq!(models["available"], json!(false));
    // The server is still up and answers.
    assert_eq!(ann.get("/api/v1/me").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn idempotency_credits_and_validation() {
    let (server, admin) =
        server_with_model(&[("STRATAMAKE_GENERATION__STARTING_CREDITS", "3")]).await;
    let ann = server.verified_user("ann").await;
    let send = |key: &'static str, body: Value| {
        let ann = &ann;
        async move {
            ann.client
                .post(format!("{}/api/v1/generations", ann.base))
                .bearer_auth(ann.token.as_deref().unwrap())
                .header("Idempotency-Key", key)
                .json(&body)
                .send()
                .await
                .unwrap()
        }
    };
    // No seed: the server draws one, and a retry with the same key must still be the
    // same request.
    let body = json!({"prompt": "same", "width": 64, "height": 64});
    let first = send("k-1", body.clone()).await;
    assert_eq!(first.status(), StatusCode::ACCEPTED);
    let again = send("k-1", body).await;
    assert_eq!(again.status(), StatusCode::OK);
    let (first, again): (Value, Value) = (first.json().await.unwrap(), again.json().await.unwrap());
    assert_eq!(first["id"], again["id"]);
    problem(
        send(
            "k-1",
            json!({"prompt": "different", "width": 64, "height": 64}),
        )
        .await,
        StatusCode::CONFLICT,
    )
    .await;
    assert_eq!(
        balance(&ann).await,
        2,
        "one reservation for the repeated key"
    );

    for (body, field) in [
        (json!({"prompt": "x", "width": 65}), "width"),
        (json!({"prompt": "x", "steps": 0}), "steps"),
        (json!({"prompt": "x", "scheduler": "heun"}), "scheduler"),
        (json!({"prompt": "x", "count": 5}), "count"),
        (json!({"prompt": "   "}), "prompt"),
        (json!({"prompt": "x", "seed": 4294967296u64}), "seed"),
        (json!({"prompt": "x", "strength": 0.5}), "strength"),
        (
            json!({"prompt": "x", "scheduler": "lcm", "steps": 60}),
            "steps",
        ),
        (json!({"prompt": "x", "model": "nope"}), "model"),
        (
            json!({"prompt": "x", "source_asset_id": "nope"}),
            "source_asset_id",
        ),
    ] {
        let answer = problem(generate(&ann, body).await, StatusCode::UNPROCESSABLE_ENTITY).await;
        assert!(answer["errors"].get(field).is_some(), "{field}: {answer}");
    }
    assert_eq!(balance(&ann).await, 2, "refused requests reserve nothing");

    let too_many = problem(
        generate(
            &ann,
            json!({"prompt": "x", "width": 64, "height": 64, "count": 3}),
        )
        .await,
        StatusCode::PAYMENT_REQUIRED,
    )
    .await;
    assert!(
        too_many["detail"].as_str().unwrap().contains("3 credits"),
        "{too_many}"
    );
    let id = ann.json("/api/v1/me").await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let granted = admin
        .post(
            &format!("/api/v1/admin/users/{id}/credits"),
            json!({"amount": 10, "note": "welcome"}),
        )
        .await;
    assert_eq!(granted.status(), StatusCode::OK);
    assert_eq!(balance(&ann).await, 12);
    problem(
        ann.post(
            &format!("/api/v1/admin/users/{id}/credits"),
            json!({"amount": 10}),
        )
        .await,
        StatusCode::FORBIDDEN,
    )
    .await;
}

#[tokio::test]
async fn without_a_model_generation_says_how_to_get_one() {
    let server = Server::start().await;
    let ann = server.verified_user("ann").await;
    let models = ann.json("/api/v1/models").await;
    assert_eq!(models["available"], json!(false));
    assert!(
        models["problem"]["fix"]
            .as_str()
            .unwrap()
            .contains("stratamake models import"),
        "{models}"
    );
    problem(
        generate(&ann, json!({"prompt": "x"})).await,
        StatusCode::SERVICE_UNAVAILABLE,
    )
    .await;
    // The test-only model is never offered on a normal instance.
    let admin = server.admin().await;
    admin
        .post("/api/v1/admin/models", json!({ "path": tiny_model() }))
        .await;
    assert_eq!(ann.json("/api/v1/models").await["available"], json!(false));
}

#[tokio::test]
async fn the_openai_compatible_endpoint_answers_like_openai() {
    let (server, _admin) = server_with_model(&[]).await;
    let ann = server.verified_user("ann").await;
    let created: Value = ann
        .post(
            "/api/v1/me/tokens",
            json!({"name": "openai client", "scopes": ["read", "generate"]}),
        )
        .await
        .json()
        .await
        .unwrap();
    let mut client = server.api();
    client.token = Some(created["token"].as_str().unwrap().to_string());

    let answer = client
        .post(
            "/v1/images/generations",
            json!({"model": "dall-e-3", "prompt": "an owl", "n": 2, "size": "64x64",
                   "response_format": "b64_json", "quality": "standard"}),
        )
        .await;
    assert_eq!(answer.status(), StatusCode::OK);
    let body: Value = answer.json().await.unwrap();
    assert!(body["created"].as_i64().unwrap() > 0);
    let data = body["data"].as_array().unwrap();
    assert_eq!(data.len(), 2);
    use base64::Engine;
    let png = base64::engine::general_purpose::STANDARD
        .decode(data[0]["b64_json"].as_str().unwrap())
        .unwrap();
    assert!(
        png_parameters(&png).starts_with("an owl\nSteps: 4"),
        "default model's steps"
    );
    assert_eq!(data[0]["revised_prompt"], "an owl");

    let answer: Value = openai_images(&client, json!({"prompt": "a fox", "size": "64x64"})).await;
    let url = answer["data"][0]["url"].as_str().unwrap().to_string();
    assert!(url.starts_with(&server.url), "{url}");
    // The link works without signing in; a changed signature does not.
    let anonymous = reqwest::Client::new();
    let fetched = anonymous.get(&url).send().await.unwrap();
    assert_eq!(fetched.status(), StatusCode::OK);
    assert_eq!(fetched.headers()["content-type"], "image/png");
    let tampered = format!("{}x", url);
    assert_eq!(
        anonymous.get(&tampered).send().await.unwrap().status(),
        StatusCode::NOT_FOUND
    );

    let bad: Value = openai_images(&client, json!({"prompt": "x", "size": "big"})).await;
    assert_eq!(bad["error"]["type"], "invalid_request_error");
    assert_eq!(bad["error"]["param"], "size");
    let too_many = client
        .post(
            "/v1/images/generations",
            json!({"prompt": "x", "n": 9, "size": "64x64"}),
        )
        .await;
    assert_eq!(too_many.status(), StatusCode::BAD_REQUEST);
    assert_eq!(
        too_many.json::<Value>().await.unwrap()["error"]["param"],
        "n"
    );
    let unsigned = server
        .api()
        .post("/v1/images/generations", json!({"prompt": "x"}))
        .await;
    assert_eq!(unsigned.status(), StatusCode::UNAUTHORIZED);
    assert!(unsigned.json::<Value>().await.unwrap()["error"]["message"].is_string());
}

#[tokio::test]
async fn a_finished_generation_mails_those_who_asked_with_one_click_unsubscribe() {
    let (server, _admin) = server_with_model(&[]).await;
    let ann = server.verified_user("ann").await;
    let settings = ann.json("/api/v1/me/notifications").await;
    assert_eq!(
        settings["generation_done"],
        json!(false),
        "off unless chosen"
    );
    let set = ann
        .put("/api/v1/me/notifications", json!({"generation_done": true}))
        .await;
    assert_eq!(set.status(), StatusCode::OK);
    let job: Value = generate(
        &ann,
        json!({"prompt": "a mailed owl", "width": 64, "height": 64}),
    )
    .await
    .json()
    .await
    .unwrap();
    ann.follow(job["id"].as_str().unwrap()).await;
    let mail = server
        .smtp
        .wait_for("ann@example.org", "Your images are ready");
    assert!(mail.text.contains("a mailed owl"), "{}", mail.text);
    let header = mail.header("List-Unsubscribe").expect("List-Unsubscribe");
    assert_eq!(
        mail.header("List-Unsubscribe-Post").as_deref(),
        Some("List-Unsubscribe=One-Click")
    );
    let url = header
        .trim_start_matches('<')
        .trim_end_matches('>')
        .to_string();
    assert!(url.starts_with(&format!("{}/api/v1/unsubscribe?token=", server.url)));

    // The one-click POST a mail client makes: no sign-in, RFC 8058 body.
    let clicked = reqwest::Client::new()
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("List-Unsubscribe=One-Click")
        .send()
        .await
        .unwrap();
    assert_eq!(clicked.status(), StatusCode::OK);
    assert_eq!(
        ann.json("/api/v1/me/notifications").await["generation_done"],
        json!(false)
    );
    let forged = reqwest::Client::new()
        .post(format!("{url}x"))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::BAD_REQUEST);

    let before = server.smtp.count_to("ann@example.org");
    let job: Value = generate(&ann, json!({"prompt": "quiet", "width": 64, "height": 64}))
        .await
        .json()
        .await
        .unwrap();
    ann.follow(job["id"].as_str().unwrap()).await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(
        server.smtp.count_to("ann@example.org"),
        before,
        "no mail after unsubscribing"
    );
}

/// A static HTTP server (Python's) for a folder, on a free port.
struct Static {
    child: std::process::Child,
    url: String,
}

impl Static {
    fn serve(dir: &Path) -> Self {
        let port = support::free_port();
        let child = std::process::Command::new("python3")
            .args([
                "-m",
                "http.server",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--directory",
            ])
            .arg(dir)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("python3 serves the model folder");
        let url = format!("http://127.0.0.1:{port}/");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                break;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Static { child, url }
    }
}

impl Drop for Static {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).unwrap();
        }
    }
}

#[tokio::test]
async fn models_pull_fetches_over_http_and_refuses_a_changed_file() {
    let server = Server::start().await;
    let folder = tempfile::tempdir().unwrap();
    copy_dir(Path::new(&tiny_model()), folder.path());
    let http = Static::serve(folder.path());

    // A damaged file on the server: the SHA-256 in model.toml catches it, nothing stays.
    let weights = folder.path().join("unet/model.onnx_data");
    let original = std::fs::read(&weights).unwrap();
    let mut damaged = original.clone();
    damaged[1000] ^= 0xFF;
    std::fs::write(&weights, &damaged).unwrap();
    let refused = server
        .command()
        .args(["models", "pull", &http.url])
        .output()
        .unwrap();
    assert!(!refused.status.success());
    let said = String::from_utf8_lossy(&refused.stderr);
    assert!(
        said.contains("unet/model.onnx_data") && said.contains("SHA-256"),
        "{said}"
    );
    let models_dir = server.data_dir().join("models");
    let left: Vec<_> = std::fs::read_dir(&models_dir)
        .map(|d| d.filter_map(|e| e.ok()).collect())
        .unwrap_or_default();
    assert!(left.is_empty(), "nothing of a refused pull stays: {left:?}");

    std::fs::write(&weights, &original).unwrap();
    let pulled = server
        .command()
        .args(["models", "pull", &http.url])
        .output()
        .unwrap();
    assert!(
        pulled.status.success(),
        "{}",
        String::from_utf8_lossy(&pulled.stderr)
    );
    let listed = server.command().args(["models", "list"]).output().unwrap();
    assert!(String::from_utf8_lossy(&listed.stdout).contains("tiny-sd-test"));
    let verified = server
        .command()
        .args(["models", "verify", "tiny-sd-test"])
        .output()
        .unwrap();
    assert!(verified.status.success());
    let unknown = server
        .command()
        .args(["models", "pull", "no-such-model"])
        .output()
        .unwrap();
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("sd-turbo"));
}

#[tokio::test]
async fn a_requested_gpu_provider_that_is_missing_is_an_error_not_a_silent_fallback() {
    let (server, _admin) =
        server_with_model(&[("STRATAMAKE_GENERATION__EXECUTION_PROVIDER", "cuda")]).await;
    let doctor = server.command().arg("doctor").output().unwrap();
    assert!(!doctor.status.success());
    let report = String::from_utf8_lossy(&doctor.stdout);
    assert!(
        report
            .lines()
            .any(|l| l.starts_with("FAIL") && l.contains("cuda")),
        "{report}"
    );
    let ann = server.verified_user("ann").await;
    let job: Value = generate(&ann, json!({"prompt": "x", "width": 64, "height": 64}))
        .await
        .json()
        .await
        .unwrap();
    let events = &ann.follow(job["id"].as_str().unwrap()).await;
    let (name, failed) = events.last().unwrap();
    assert_eq!(name, "failed");
    assert!(
        failed["error"].as_str().unwrap().contains("cuda"),
        "{failed}"
    );
}

#[tokio::test]
async fn image_to_image_starts_from_a_library_image() {
    let (server, _admin) = server_with_model(&[]).await;
    let ann = server.verified_user("ann").await;
    let source = first_image(
        &ann,
        json!({"prompt": "a house", "width": 64, "height": 64, "seed": 3}),
    )
    .await;
    let job: Value = generate(
        &ann,
        json!({"prompt": "a house in snow", "width": 64, "height": 64, "steps": 8,
               "source_asset_id": source, "strength": 0.5, "seed": 3}),
    )
    .await
    .json()
    .await
    .unwrap();
    assert_eq!(job["params"]["strength"], 0.5);
    let events = &ann.follow(job["id"].as_str().unwrap()).await;
    let (name, result) = events.last().unwrap();
    assert_eq!(name, "succeeded", "{result}");
    // Strength 0.5 of 8 steps runs the last 4.
    let steps: Vec<i64> = events
        .iter()
        .filter_map(|(_, g)| g["progress"]["steps"].as_i64())
        .collect();
    assert!(steps.iter().all(|&s| s == 4), "{steps:?}");
    let asset_id = result["images"][0]["asset_id"].as_str().unwrap();
    let asset = ann.json(&format!("/api/v1/assets/{asset_id}")).await;
    assert_eq!(asset["params"]["source_asset_id"], source.as_str());
    assert!(
        asset_parameters(&ann, &asset)
            .await
            .contains("Denoising strength: 0.5")
    );
    // Someone else's image cannot be the start.
    let bob = server.verified_user("bob").await;
    problem(
        generate(&bob, json!({"prompt": "x", "source_asset_id": source})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
    )
    .await;
}

#[tokio::test]
async fn shutting_down_ends_event_streams_and_the_job_resumes_after_restart() {
    let (mut server, _admin) = server_with_model(&[]).await;
    let ann = server.verified_user("ann").await;
    let job: Value = generate(
        &ann,
        json!({"prompt": "long", "width": 256, "height": 256, "steps": 150, "count": 2}),
    )
    .await
    .json()
    .await
    .unwrap();
    let id = job["id"].as_str().unwrap().to_string();
    wait_for_status(&ann, &id, "running").await;
    let stream = ann.get(&format!("/api/v1/generations/{id}/events")).await;
    let reader = tokio::spawn(async move {
        let mut body = stream.bytes_stream();
        while let Some(Ok(_)) = body.next().await {}
    });
    let status = server.terminate();
    assert!(status.success(), "clean exit on SIGTERM: {status}");
    reader.await.unwrap();
    server.restart().await;
    let ann = server.login("ann", support::PASSWORD).await;
    let resumed = ann.json(&format!("/api/v1/generations/{id}")).await;
    assert!(
        ["queued", "running"].contains(&resumed["status"].as_str().unwrap()),
        "{resumed}"
    );
    ann.delete(&format!("/api/v1/generations/{id}")).await;
    wait_for_status(&ann, &id, "cancelled").await;
}

#[tokio::test]
async fn without_onnx_runtime_the_server_runs_and_says_how_to_install_it() {
    let server = Server::start_with(&[
        ("STRATAMAKE_GENERATION__ALLOW_TEST_MODELS", "true"),
        (
            "STRATAMAKE_GENERATION__ONNXRUNTIME_LIBRARY",
            "/nonexistent/libonnxruntime.so",
        ),
    ])
    .await;
    let admin = server.admin().await;
    admin
        .post("/api/v1/admin/models", json!({ "path": tiny_model() }))
        .await;
    let ann = server.verified_user("ann").await;
    let models = ann.json("/api/v1/models").await;
    assert_eq!(models["available"], json!(false));
    let fix = models["problem"]["fix"].as_str().unwrap();
    assert!(
        fix.contains("scripts/setup.sh run") && fix.contains("ORT_DYLIB_PATH"),
        "{fix}"
    );
    let refused = problem(
        generate(&ann, json!({"prompt": "x"})).await,
        StatusCode::SERVICE_UNAVAILABLE,
    )
    .await;
    assert!(
        refused["detail"]
            .as_str()
            .unwrap()
            .contains("libonnxruntime"),
        "{refused}"
    );
    let doctor = server.command().arg("doctor").output().unwrap();
    assert!(!doctor.status.success());
    let report = String::from_utf8_lossy(&doctor.stdout);
    assert!(
        report
            .lines()
            .any(|l| l.starts_with("FAIL") && l.contains("onnxruntime")),
        "{report}"
    );
    assert_eq!(ann.get("/api/v1/me").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn prompt_to_3d_makes_the_image_then_the_model_as_one_job() {
    let (server, _admin) = server_with_model(&[]).await;
    let ann = server.verified_user("ann").await;
    let before = balance(&ann).await;
    let created = generate(
        &ann,
        json!({"kind": "prompt_to_3d", "prompt": "a lighthouse on a cliff", "width": 64,
               "height": 64, "steps": 3, "seed": 7, "mode": "lithophane", "width_mm": 50,
               "resolution": 64}),
    )
    .await;
    assert_eq!(created.status(), StatusCode::ACCEPTED);
    let job: Value = created.json().await.unwrap();
    assert_eq!(job["kind"], "prompt_to_3d");
    assert_eq!(job["cost"], 2, "the image model's cost and the model's");
    let events = &ann.follow(job["id"].as_str().unwrap()).await;
    let progress: Vec<&Value> = events
        .iter()
        .filter_map(|(_, g)| g.get("progress").filter(|p| !p.is_null()))
        .collect();
    // One progress bar: the denoising steps, then the model's stages, out of 3 + 4.
    // (A follower sees the latest state when it looks, so which steps it sees varies.)
    assert!(!progress.is_empty(), "progress events: {events:?}");
    assert!(progress.iter().all(|p| p["steps"] == 7), "{progress:?}");
    for p in &progress {
        let step = p["step"].as_u64().unwrap();
        let staged = p["stage"].is_string();
        assert!(if staged { step >= 3 } else { step <= 3 }, "{p}");
    }
    let (last, done) = events.last().unwrap();
    assert_eq!(last, "succeeded", "{done}");
    assert_eq!(balance(&ann).await, before - 2);

    // The image is in the library too, and the model says it was made from it.
    let image_id = done["images"][0]["asset_id"].as_str().unwrap();
    let model = done["model"].clone();
    assert_eq!(model["mesh"]["printable"], true, "{model}");
    let asset = ann
        .json(&format!(
            "/api/v1/assets/{}",
            model["asset_id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(asset["kind"], "model");
    assert_eq!(asset["params"]["source_asset_id"], image_id);
    assert_eq!(asset["params"]["prompt"], "a lighthouse on a cliff");
    assert_eq!(asset["params"]["seed"], 7);
    assert!(
        asset["title"]
            .as_str()
            .unwrap()
            .starts_with("Lithophane: a lighthouse")
    );
    let size = asset["mesh"]["size_mm"][0].as_f64().unwrap();
    assert!((size - 50.0).abs() <= 0.01, "{size}");

    // Its GLB, STL and 3MF pass the glTF Validator, admesh and PrusaSlicer.
    let dir = tempfile::tempdir().unwrap();
    save_all_formats(&ann, &asset, "prompt-lithophane", dir.path()).await;
    validate_meshes(dir.path(), 3);
}
