//! Identity as on AWS: without `--dev` the runtime accepts only JWTs of its development issuer
//! (signature, `iss`, `aud`, `exp`/`nbf`/`iat` checked like the HTTP API's JWT authorizer) and the
//! handlers see the `sub`; unsigned `dev:` tokens and `/_local/*` exist only in development mode,
//! which runs on loopback only.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::support::*;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64
}

/// The header and claims of a JWT, read without verifying it.
fn parts(token: &str) -> (Value, Value) {
    let mut it = token.split('.');
    let mut next = || {
        let seg = it.next().expect("JWT segment");
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(seg).expect("base64url")).expect("JSON")
    };
    let header = next();
    let claims = next();
    (header, claims)
}

/// The development issuer's signing key (PKCS#8 in PEM) from a data dir.
fn issuer_key(data_dir: &std::path::Path) -> EncodingKey {
    let pem = std::fs::read_to_string(data_dir.join("dev-issuer.key")).expect("dev-issuer.key");
    let b64: String = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .concat();
    let der = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("PEM body");
    EncodingKey::from_ed_der(&der)
}

/// A token signed with the data dir's real key but with `claims` of the test's choosing.
fn forge(rt: &Local, kid: &str, claims: Value) -> String {
    let mut header = Header::new(Algorithm::EdDSA);
    header.kid = Some(kid.to_string());
    jsonwebtoken::encode(&header, &claims, &issuer_key(&rt.data_dir)).expect("sign")
}

async fn get(rt: &Local, path: &str, authorization: Option<&str>) -> (u16, String, Value, String) {
    let mut req = rt.http.get(format!("{}{}", rt.base, path));
    if let Some(a) = authorization {
        req = req.header("authorization", a);
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    let header = |n: &str| {
        resp.headers()
            .get(n)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    };
    let (ctype, www) = (header("content-type"), header("www-authenticate"));
    let text = resp.text().await.expect("body");
    (
        status,
        ctype,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
        www,
    )
}

#[tokio::test]
async fn a_minted_token_makes_its_sub_the_caller_and_nobody_else() {
    let rt = Local::start_jwt("jwt-caller", &[]).await;
    assert_eq!(rt.auth, Auth::Jwt);
    let place = rt.place("olivia", 1, 10_000, true).await;
    let (s, r) = rt.reserve("alice", &place, &day(3), &day(4), 1).await;
    assert_eq!(s, 202, "{r}");
    let id = r["reservationId"].as_str().expect("id").to_string();
    let done = rt.wait_status("alice", &id, "CONFIRMED", None).await;
    assert_eq!(done["userId"], "alice", "{done}");
    // Another subject's token sees nothing of it.
    let (s, _) = rt
        .call(
            "GET",
            &format!("/v1/reservations/{id}"),
            Some("mallory"),
            None,
        )
        .await;
    assert_eq!(s, 404);
    let (s, list) = rt.call("GET", "/v1/mypages", Some("alice"), None).await;
    assert_eq!(s, 200, "{list}");
}

#[tokio::test]
async fn tokens_the_jwt_authorizer_would_refuse_are_401_problems() {
    let rt = Local::start_jwt("jwt-refuse", &[]).await;
    let genuine = mint_token(&rt.data_dir, "alice", &[]);
    let (header, claims) = parts(&genuine);
    let kid = header["kid"].as_str().expect("kid").to_string();
    assert_eq!(header["alg"], "EdDSA", "{header}");
    assert_eq!(claims["sub"], "alice");
    let (iss, aud) = (claims["iss"].clone(), claims["aud"].clone());
    assert!(iss.is_string() && !aud.is_null(), "{claims}");
    let t = now();

    // The genuine token, and one just past its expiry (within the small clock leeway), pass.
    let (s, _, body, _) = get(&rt, "/v1/mypages", Some(&format!("Bearer {genuine}"))).await;
    assert_eq!(s, 200, "{body}");
    let leeway = forge(
        &rt,
        &kid,
        json!({"sub": "alice", "iss": iss, "aud": aud, "exp": t - 5, "iat": t - 60}),
    );
    let (s, _, body, _) = get(&rt, "/v1/mypages", Some(&format!("Bearer {leeway}"))).await;
    assert_eq!(s, 200, "within leeway: {body}");

    let mut tampered = genuine.clone().into_bytes();
    let sig_start = genuine.rfind('.').expect("signature") + 1;
    let i = sig_start + 5;
    tampered[i] = if tampered[i] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(tampered).expect("ascii");
    let other_dir = fresh_dir("jwt-other-issuer");
    let other_key = mint_token(&other_dir, "alice", &[]);
    let _ = std::fs::remove_dir_all(&other_dir);
    let hs256 = {
        let mut h = Header::new(Algorithm::HS256);
        h.kid = Some(kid.clone());
        jsonwebtoken::encode(
            &h,
            &json!({"sub": "alice", "iss": iss, "aud": aud, "exp": t + 600}),
            &EncodingKey::from_secret(b"guessable").expect("hmac key"),
        )
        .expect("hs256")
    };
    let none_alg = format!(
        "{}.{}.",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#),
        URL_SAFE_NO_PAD.encode(
            json!({"sub": "alice", "iss": iss, "aud": aud, "exp": t + 600})
                .to_string()
                .as_bytes()
        )
    );
    let claims_of = |c: Value| forge(&rt, &kid, c);
    let cases: Vec<(&str, String)> = vec![
        ("bad signature", format!("Bearer {tampered}")),
        ("another issuer's key", format!("Bearer {other_key}")),
        ("HS256 instead of EdDSA", format!("Bearer {hs256}")),
        ("alg none", format!("Bearer {none_alg}")),
        (
            "wrong iss",
            format!(
                "Bearer {}",
                claims_of(
                    json!({"sub": "alice", "iss": "https://evil.example", "aud": aud, "exp": t + 600})
                )
            ),
        ),
        (
            "wrong aud",
            format!(
                "Bearer {}",
                claims_of(
                    json!({"sub": "alice", "iss": iss, "aud": "someone-else", "exp": t + 600})
                )
            ),
        ),
        (
            "expired",
            format!(
                "Bearer {}",
                claims_of(json!({"sub": "alice", "iss": iss, "aud": aud, "exp": t - 3600}))
            ),
        ),
        (
            "not yet valid",
            format!(
                "Bearer {}",
                claims_of(
                    json!({"sub": "alice", "iss": iss, "aud": aud, "exp": t + 7200, "nbf": t + 3600})
                )
            ),
        ),
        (
            "issued in the future",
            format!(
                "Bearer {}",
                claims_of(
                    json!({"sub": "alice", "iss": iss, "aud": aud, "exp": t + 7200, "iat": t + 3600})
                )
            ),
        ),
        (
            "no exp",
            format!(
                "Bearer {}",
                claims_of(json!({"sub": "alice", "iss": iss, "aud": aud}))
            ),
        ),
        (
            "no sub",
            format!(
                "Bearer {}",
                claims_of(json!({"iss": iss, "aud": aud, "exp": t + 600}))
            ),
        ),
        (
            "unknown kid",
            format!(
                "Bearer {}",
                forge(
                    &rt,
                    "some-other-key",
                    json!({"sub": "alice", "iss": iss, "aud": aud, "exp": t + 600})
                )
            ),
        ),
        ("dev token without --dev", "Bearer dev:alice".to_string()),
        ("not a JWT", "Bearer abc.def".to_string()),
        ("not a bearer token", "Basic YWxpY2U6c2VjcmV0".to_string()),
    ];
    for (what, authorization) in cases {
        let (s, ctype, body, www) = get(&rt, "/v1/mypages", Some(&authorization)).await;
        assert_eq!(s, 401, "{what}: {body}");
        assert_eq!(ctype, "application/problem+json", "{what}");
        assert_eq!(body["type"], "/problems/unauthenticated", "{what}: {body}");
        assert!(
            www.starts_with("Bearer"),
            "{what}: www-authenticate {www:?}"
        );
    }
    // No token at all: the handler itself asks for one, as before.
    let (s, ctype, body, _) = get(&rt, "/v1/mypages", None).await;
    assert_eq!(
        (s, ctype.as_str()),
        (401, "application/problem+json"),
        "{body}"
    );
}

#[tokio::test]
async fn without_dev_mode_there_is_no_local_namespace() {
    let rt = Local::start_jwt("jwt-no-local", &[]).await;
    let auth = rt.bearer("alice");
    for path in [
        "/_local/events",
        "/_local/faults",
        "/_local/executions/x",
        "/_local/token",
    ] {
        for a in [None, Some(auth.as_str())] {
            let (s, ctype, body, _) = get(&rt, path, a).await;
            assert_eq!(s, 404, "{path}: {body}");
            assert_eq!(ctype, "application/problem+json", "{path}");
        }
    }
    let resp = rt
        .http
        .put(format!("{}/_local/faults", rt.base))
        .body(r#"{"payment":{"outage":true}}"#)
        .send()
        .await
        .expect("put");
    assert_eq!(resp.status(), 404);
}

#[tokio::test]
async fn dev_mode_takes_dev_tokens_and_mints_jwts_for_the_page() {
    let rt = Local::start("dev-mode", &[]).await;
    let (s, _, body, _) = get(&rt, "/v1/mypages", Some("Bearer dev:alice")).await;
    assert_eq!(s, 200, "{body}");
    let (s, _, events, _) = get(&rt, "/_local/events", None).await;
    assert_eq!(s, 200, "{events}");
    // The page signs in through the dev-only mint endpoint; the token is a real JWT.
    let resp = rt
        .http
        .post(format!("{}/_local/token", rt.base))
        .json(&json!({"sub": "bob"}))
        .send()
        .await
        .expect("mint");
    assert_eq!(resp.status(), 200);
    let minted: Value = resp.json().await.expect("json");
    let token = minted["token"].as_str().expect("token");
    assert_eq!(parts(token).1["sub"], "bob", "{minted}");
    let (s, _, body, _) = get(&rt, "/v1/mypages", Some(&format!("Bearer {token}"))).await;
    assert_eq!(s, 200, "{body}");
    let resp = rt
        .http
        .post(format!("{}/_local/token", rt.base))
        .json(&json!({"sub": ""}))
        .send()
        .await
        .expect("mint");
    assert_eq!(resp.status(), 422);
}

#[tokio::test]
async fn the_issuer_publishes_its_key_as_a_jwks() {
    let rt = Local::start_jwt("jwks", &[]).await;
    let token = mint_token(&rt.data_dir, "alice", &[]);
    let (s, ctype, jwks, _) = get(&rt, "/.well-known/jwks.json", None).await;
    assert_eq!(s, 200, "{jwks}");
    assert!(ctype.starts_with("application/json"), "{ctype}");
    let set: jsonwebtoken::jwk::JwkSet = serde_json::from_value(jwks.clone()).expect("a JWKS");
    let kid = parts(&token).0["kid"].as_str().expect("kid").to_string();
    let jwk = set.find(&kid).expect("the token's kid is published");
    assert_eq!(jwks["keys"][0]["kty"], "OKP", "{jwks}");
    assert_eq!(jwks["keys"][0]["crv"], "Ed25519", "{jwks}");
    let (_, claims) = parts(&token);
    let mut v = jsonwebtoken::Validation::new(Algorithm::EdDSA);
    v.set_issuer(&[claims["iss"].as_str().expect("iss")]);
    v.set_audience(&[claims["aud"].as_str().expect("aud")]);
    let key = jsonwebtoken::DecodingKey::from_jwk(jwk).expect("key from JWK");
    let data = jsonwebtoken::decode::<Value>(&token, &key, &v).expect("verifies with the JWKS");
    assert_eq!(data.claims["sub"], "alice");
}

#[tokio::test]
async fn the_key_is_made_once_and_kept_across_restarts() {
    let dir = fresh_dir("jwt-key");
    // The token command creates the issuer before the runtime ever ran on this dir.
    let early = mint_token(&dir, "alice", &["--ttl", "600"]);
    let (_, claims) = parts(&early);
    let exp = claims["exp"].as_i64().expect("exp");
    assert!((exp - now() - 600).abs() <= 5, "--ttl 600 gives exp {exp}");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("dev-issuer.key"))
            .expect("key file")
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o077,
            0,
            "the signing key is private to its owner: {mode:o}"
        );
    }
    let rt = Local::start_mode(dir, Auth::Jwt, &[]).await;
    let auth = format!("Bearer {early}");
    let (s, _, body, _) = get(&rt, "/v1/mypages", Some(&auth)).await;
    assert_eq!(s, 200, "{body}");
    let rt = rt.restart().await;
    let (s, _, body, _) = get(&rt, "/v1/mypages", Some(&auth)).await;
    assert_eq!(s, 200, "after restart: {body}");
    assert_eq!(
        mint_token(&rt.data_dir, "alice", &[]).split('.').next(),
        early.split('.').next()
    );
}

/// Starts the binary with `args` and returns (its exit status if it ended within 20 s, stderr).
fn run_briefly(args: &[&str], envs: &[(&str, &str)]) -> (Option<i32>, String) {
    let dir = fresh_dir("addr");
    let mut child = Command::new(bin())
        .args(args)
        .arg("--data-dir")
        .arg(&dir)
        .envs(envs.iter().copied())
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start");
    let deadline = Instant::now() + Duration::from_secs(20);
    let code = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break Some(status.code().unwrap_or(-1));
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    let mut err = String::new();
    if let Some(mut e) = child.stderr.take() {
        let _ = std::io::Read::read_to_string(&mut e, &mut err);
    }
    let _ = std::fs::remove_dir_all(&dir);
    (code, err)
}

#[test]
fn dev_mode_refuses_a_non_loopback_address() {
    for (args, envs) in [
        (vec!["--dev", "--addr", "0.0.0.0:0"], vec![]),
        (vec!["--addr", "0.0.0.0:0"], vec![("RESERVEPLACE_DEV", "1")]),
    ] {
        let (code, err) = run_briefly(&args, &envs);
        assert!(
            matches!(code, Some(c) if c != 0),
            "{args:?} {envs:?}: exit {code:?}, stderr: {err}"
        );
        assert!(
            err.contains("loopback") && err.contains("0.0.0.0"),
            "{args:?}: a clear reason on stderr: {err}"
        );
    }
}

#[test]
fn a_non_loopback_bind_without_dev_mode_warns_on_stderr() {
    let dir = fresh_dir("addr-warn");
    let mut child = Command::new(bin())
        .args(["--addr", "0.0.0.0:0", "--data-dir"])
        .arg(&dir)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let (mut banner, mut warned) = (String::new(), None);
    while let Ok(line) = rx.recv_timeout(Duration::from_secs(5)) {
        let json: serde_json::Value = serde_json::from_str(&line).expect("stderr is JSON lines");
        if line.contains("listening on http://") {
            banner = json["url"].as_str().unwrap_or_default().to_string();
        } else if line.contains("warning") {
            warned = Some(line);
        }
        if !banner.is_empty() && warned.is_some() {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(banner.contains("http://0.0.0.0:"), "it serves: {banner}");
    let warned = warned.expect("a warning on stderr");
    assert!(warned.contains("0.0.0.0"), "{warned}");
}

/// On AWS only the authorizer's verified claims name the caller: a `dev:` token in the header
/// (which the authorizer would have refused anyway) names nobody.
#[test]
fn the_lambda_adapter_takes_the_caller_only_from_the_authorizer() {
    let sample: Value = serde_json::from_str(
        &std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../events/mypage-list.json"
        ))
        .expect("sample"),
    )
    .expect("JSON");
    let user = |event: &Value| {
        let req = lambda_http::request::from_str(&event.to_string()).expect("HTTP API event");
        reserveplace_lambda::http::api_request(req).user
    };
    let mut verified = sample.clone();
    verified["headers"]["authorization"] = json!("Bearer dev:mallory");
    verified["requestContext"]["authorizer"]["jwt"]["claims"]["sub"] = json!("alice");
    assert_eq!(user(&verified).as_deref(), Some("alice"));
    let mut unverified = verified.clone();
    if let Some(ctx) = unverified["requestContext"].as_object_mut() {
        ctx.remove("authorizer");
    }
    assert_eq!(user(&unverified), None, "a dev: header alone names nobody");
}

/// As the HTTP API: the JWT authorizer runs before the function on the routes it guards, and
/// never on the seed facade's `Authorizer: NONE` routes, which take the header unchecked.
#[tokio::test]
async fn the_authorizer_guards_exactly_the_routes_the_template_protects() {
    let rt = Local::start_jwt("jwt-routes", &[]).await;
    // No token on a guarded route: the authorizer's 401 (its challenge, its detail), not the
    // handler's own, which has no WWW-Authenticate.
    let (s, ctype, body, www) = get(&rt, "/v1/mypages", None).await;
    assert_eq!(s, 401, "{body}");
    assert!(ctype.starts_with("application/problem+json"), "{ctype}");
    assert!(
        body["type"]
            .as_str()
            .is_some_and(|t| t.ends_with("/problems/unauthenticated")),
        "{body}"
    );
    assert_eq!(www, "Bearer", "{body}");
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("this route requires")),
        "{body}"
    );
    // A POST without a token is refused before its body is read or its function runs.
    let resp = rt
        .http
        .post(format!("{}/v1/places", rt.base))
        .header("content-type", "application/json")
        .body(r#"{"name":"x"}"#)
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 401);
    assert_eq!(
        resp.headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer")
    );

    // Whatever Authorization says on an open route, nothing checks it.
    for garbage in ["Bearer not-a-jwt", "dev:alice", "Basic Zm9vOmJhcg=="] {
        let resp = rt
            .http
            .post(format!("{}/reservationManagements", rt.base))
            .header("content-type", "application/json")
            .header("authorization", garbage)
            .body(json!({"placeId": "7", "stock": "1"}).to_string())
            .send()
            .await
            .expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("body");
        assert!(status == 200 || status == 201, "{garbage}: {status} {text}");
        let (s, _, body, _) = get(&rt, "/mypages/1", Some(garbage)).await;
        assert_ne!(s, 401, "{garbage}: {body}");
    }
}
