//! The README's sign-up and sign-in, against the emulator's Cognito: a user pool and app client
//! made as the template makes them when no `JwtIssuer` is given, then the three unauthenticated
//! calls exactly as README.md sends them (no signature). The ID token they end with carries what the
//! template's JWT authorizer checks: `iss` is the pool's issuer URL as the template writes it,
//! `aud` is the app client, and `sub` is the caller the handlers see.
mod support;

use base64::Engine as _;
use serde_json::{Value, json};

/// One call as README.md's `idp` shell function makes it: unsigned JSON with a target header.
async fn idp(operation: &str, body: Value) -> Value {
    let resp = reqwest::Client::new()
        .post(support::endpoint())
        .header("content-type", "application/x-amz-json-1.1")
        .header(
            "x-amz-target",
            format!("AWSCognitoIdentityProviderService.{operation}"),
        )
        .body(body.to_string())
        .send()
        .await
        .expect("request");
    let status = resp.status();
    let text = resp.text().await.expect("body");
    assert!(status.is_success(), "{operation}: {status} {text}");
    serde_json::from_str(&text).expect("json")
}

#[tokio::test]
async fn the_readme_sign_up_and_sign_in_end_with_a_token_the_authorizer_accepts() {
    // template.yaml: UserPool (UsernameAttributes email, AutoVerifiedAttributes email, a pass phrase
    // of 12 characters or more) and UserPoolClient (no secret, USER_PASSWORD_AUTH).
    let pool = support::aws_json(
        "cognito-idp",
        "AWSCognitoIdentityProviderService.CreateUserPool",
        json!({"PoolName": format!("pool-{}", uuid::Uuid::new_v4().simple()),
               "UsernameAttributes": ["email"], "AutoVerifiedAttributes": ["email"],
               "Policies": {"PasswordPolicy": {"MinimumLength": 12, "RequireLowercase": false,
                   "RequireUppercase": false, "RequireNumbers": false, "RequireSymbols": false}}}),
    )
    .await["UserPool"]["Id"]
        .as_str()
        .expect("pool id")
        .to_owned();
    let client = support::aws_json(
        "cognito-idp",
        "AWSCognitoIdentityProviderService.CreateUserPoolClient",
        json!({"UserPoolId": pool, "ClientName": "app", "GenerateSecret": false,
               "ExplicitAuthFlows": ["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"]}),
    )
    .await["UserPoolClient"]["ClientId"]
        .as_str()
        .expect("client id")
        .to_owned();

    let (user, password) = ("you@example.com", "a long pass phrase");
    let signed_up = idp(
        "SignUp",
        json!({"ClientId": client, "Username": user, "Password": password}),
    )
    .await;
    let sub = signed_up["UserSub"].as_str().expect("UserSub").to_owned();
    idp(
        "ConfirmSignUp",
        json!({"ClientId": client, "Username": user, "ConfirmationCode": "123456"}),
    )
    .await;
    let auth = idp(
        "InitiateAuth",
        json!({"ClientId": client, "AuthFlow": "USER_PASSWORD_AUTH",
               "AuthParameters": {"USERNAME": user, "PASSWORD": password}}),
    )
    .await;
    let token = auth["AuthenticationResult"]["IdToken"]
        .as_str()
        .expect("an ID token");
    let payload = token.split('.').nth(1).expect("a JWT");
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload.trim_end_matches('='))
            .expect("base64url"),
    )
    .expect("claims");
    // The authorizer's issuer, as the template writes it for the stack's region.
    assert_eq!(
        claims["iss"],
        format!("https://cognito-idp.us-east-1.amazonaws.com/{pool}"),
        "{claims}"
    );
    assert_eq!(claims["aud"], client, "{claims}");
    assert_eq!(claims["sub"], sub, "{claims}");
}
