//! A user signed in on one side (the app through the gateway, or the Django
//! stand-in directly), and the requests such a user sends.

use crate::common::served_by;
use e2e::{client, Stack};
use reqwest::blocking::multipart::{Form, Part};
use reqwest::blocking::RequestBuilder;
use reqwest::Method;
use serde_json::{json, Value};

/// A signed-in user on one side.
pub struct User<'s> {
    pub base: String,
    pub app: bool,
    pub access: String,
    /// Gives each request a fresh client address (the gateway limits credential
    /// attempts per address).
    stack: &'s Stack,
}

impl<'s> User<'s> {
    pub fn register(stack: &'s Stack, app: bool, name: &str) -> User<'s> {
        let base = if app {
            stack.gateway.clone()
        } else {
            stack.legacy.clone()
        };
        let mut user = User {
            base,
            app,
            access: String::new(),
            stack,
        };
        let password = "correct horse 42";
        let resp = user
            .side(client().post(format!("{}/api/accounts/register/", user.base)))
            .json(
                &json!({"username": name, "email": format!("{name}@example.org"),
                      "password": password, "password2": password}),
            )
            .send()
            .expect("register");
        assert!(resp.status().is_success(), "register: {:?}", resp.text());
        // Legacy's register answers no tokens: log in on both sides.
        let resp = user
            .side(client().post(format!("{}/api/accounts/login/", user.base)))
            .json(&json!({"username": name, "password": password}))
            .send()
            .expect("login");
        let body: Value = resp.json().expect("login body");
        user.access = body["access"]
            .as_str()
            .unwrap_or_else(|| panic!("no access token: {body}"))
            .to_string();
        user
    }

    /// An app-side user signed in elsewhere (e.g. an imported legacy account).
    pub fn app_with_token(stack: &'s Stack, access: String) -> User<'s> {
        User {
            base: stack.gateway.clone(),
            app: true,
            access,
            stack,
        }
    }

    /// A request to `/api/list_cutter/<path>`.
    pub fn req(&self, method: Method, path: &str) -> RequestBuilder {
        self.api(method, &format!("/api/list_cutter/{path}"))
    }

    /// A signed-in request to any path of this side.
    pub fn api(&self, method: Method, path: &str) -> RequestBuilder {
        self.side(client().request(method, format!("{}{path}", self.base)))
            .bearer_auth(&self.access)
    }

    fn side(&self, req: RequestBuilder) -> RequestBuilder {
        let req = req.header("CF-Connecting-IP", self.stack.ip());
        if self.app {
            req.header("X-Beta-User", "true")
        } else {
            req
        }
    }
}

/// Sends; returns (status, JSON body or Null, raw body). On the app side checks
/// that the app answered.
pub fn send(user: &User, req: RequestBuilder) -> (u16, Value, Vec<u8>) {
    let resp = req.send().expect("request");
    if user.app {
        assert_eq!(served_by(&resp), "app-blue");
    }
    let status = resp.status().as_u16();
    let bytes = resp.bytes().expect("body").to_vec();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    (status, body, bytes)
}

pub fn file_form(name: &str, bytes: &[u8]) -> Form {
    Form::new().part(
        "file",
        Part::bytes(bytes.to_vec()).file_name(name.to_string()),
    )
}

/// `upload/` of the legacy surface.
pub fn upload(user: &User, name: &str, bytes: &[u8]) -> (u16, Value) {
    let (status, body, _) = send(
        user,
        user.req(Method::POST, "upload/")
            .multipart(file_form(name, bytes)),
    );
    (status, body)
}

pub fn str_of(body: &Value, key: &str) -> String {
    body[key]
        .as_str()
        .unwrap_or_else(|| panic!("no {key} in {body}"))
        .to_string()
}
